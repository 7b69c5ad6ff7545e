"""After a run: do all replicas hold the same records? (``replicas-converge``)

Once the workers have stopped and the final reads are done, every replica must end in
the same state. `check_replicas` waits until every group's applied index is the same on
every node (the followers have caught up), then reads each of the workload's records
from each node's own applied state (ALLOW_REPLICA through a client pinned to that node)
and compares generation and bins.

- INVALID: two replicas hold different versions of a record (diverged state machines);
- UNKNOWN: the applied indexes did not settle in time, or a replica could not be read;
- VALID otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from raftstore_client import Client, ReadMode, RecordNotFound

from tests.jepsen.checkers import Verdict

__all__ = ["ReplicasResult", "check_replicas"]


class _Status(Protocol):
    ids: list[str]

    def status(self, node_id: str, timeout: float = ...) -> Any: ...


@dataclass(frozen=True, slots=True)
class ReplicasResult:
    """``unsettled``: group -> node -> applied index, for groups whose replicas disagree;
    ``differences``: the records whose replicas differ, with each node's (gen, bins)."""

    verdict: Verdict
    keys_compared: int
    unsettled: Mapping[str, Mapping[str, int]]
    differences: tuple[Mapping[str, Any], ...]
    unreadable: tuple[str, ...]

    @property
    def valid(self) -> bool | None:
        return self.verdict.valid


def check_replicas(
    cluster: _Status, clients: Mapping[str, Client], keys: Iterable[Any], timeout: float = 30.0
) -> ReplicasResult:
    """Compare ``keys`` across the nodes of ``clients`` (node id -> pinned client)."""
    unsettled = _wait_settled(cluster, timeout)
    differences: list[Mapping[str, Any]] = []
    unreadable: list[str] = []
    count = 0
    for key in keys:
        count += 1
        views: dict[str, Any] = {}
        for node, client in clients.items():
            try:
                views[node] = _replica_view(client, key)
            except Exception as exc:
                unreadable.append(f"{node} {key!r}: {type(exc).__name__}")
        if len({json.dumps(v, sort_keys=True, default=repr) for v in views.values()}) > 1:
            differences.append({"key": list(key), "replicas": views})
    if differences:
        verdict = Verdict.INVALID
    elif unsettled or unreadable or not count:
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.VALID
    return ReplicasResult(verdict, count, unsettled, tuple(differences), tuple(unreadable))


def _replica_view(client: Client, key: Any) -> tuple[int, dict[str, Any]] | None:
    try:
        record = client.get(key, read_mode=ReadMode.ALLOW_REPLICA)
    except RecordNotFound:
        return None
    return record.meta.gen, record.bins


def _wait_settled(cluster: _Status, timeout: float) -> dict[str, dict[str, int]]:
    """Wait until each group has one applied index on every node; return the groups that
    still disagree at ``timeout`` (empty when settled)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            applied = _applied_indexes(cluster)
            unsettled = {g: nodes for g, nodes in applied.items() if len(set(nodes.values())) > 1}
        except Exception:  # a node that does not answer: not settled
            unsettled = {"(node status unavailable)": {}}
        if not unsettled or time.monotonic() > deadline:
            return unsettled
        time.sleep(0.2)


def _applied_indexes(cluster: _Status) -> dict[str, dict[str, int]]:
    """group id -> node id -> applied index."""
    applied: dict[str, dict[str, int]] = {}
    for node in cluster.ids:
        for group in cluster.status(node).groups:
            applied.setdefault(group.group_id, {})[node] = group.applied_index
    return applied
