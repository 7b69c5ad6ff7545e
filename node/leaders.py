"""Who leads the groups this node holds no replica of.

With a replication factor below the node count, a node serves clients for groups it does
not replicate: it forwards their commands to the leader. Every node tells every peer, a few
times a second, what it knows of the groups it replicates (``[group, leader, term]``, the
leader empty during an election); a receiver keeps, per group, the claim of the highest
term. The table is only a routing hint: a stale entry costs one forwarded call that is
answered with a leader hint (a forwarded call is never forwarded again), never a wrong
answer, because only the real leader proposes or confirms reads.

Thread: the node's raft loop thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CHANNEL = "@node"  # the mesh "group" of node-level messages (no group id contains '@')
GOSSIP_INTERVAL = 0.25
MAX_CLAIMS = 65536


class LeaderTable:
    def __init__(self) -> None:
        self._known: dict[str, tuple[str, int]] = {}

    def observe(self, group_id: str, leader: str, term: int) -> None:
        """A claim that ``leader`` ("" = none known) leads ``group_id`` in ``term``."""
        have = self._known.get(group_id)
        if have is None or term > have[1] or (term == have[1] and leader and not have[0]):
            self._known[group_id] = (leader, term)

    def leader(self, group_id: str) -> str | None:
        have = self._known.get(group_id)
        return have[0] or None if have else None

    def term(self, group_id: str) -> int:
        have = self._known.get(group_id)
        return have[1] if have else 0


def claims_message(replicas: Iterable[Any], epoch: int, stopping: bool = False) -> dict[str, Any]:
    """The gossip message: this node's cluster-state epoch, its view of every group it
    replicates, and whether it is stopping (its peers then hand it no leadership)."""
    message: dict[str, Any] = {
        "type": "leaders",
        "epoch": epoch,
        "claims": [[r.group_id, r.leader_id or "", r.term] for r in replicas],
    }
    if stopping:
        message["stopping"] = True
    return message


def read_claims(message: Any) -> list[tuple[str, str, int]]:
    """The claims of a peer's gossip message; [] for anything malformed."""
    if not isinstance(message, dict) or message.get("type") != "leaders":
        return []
    claims = message.get("claims")
    if not isinstance(claims, (list, tuple)) or len(claims) > MAX_CLAIMS:
        return []
    out = []
    for c in claims:
        if (
            isinstance(c, (list, tuple))
            and len(c) == 3
            and isinstance(c[0], str)
            and isinstance(c[1], str)
            and isinstance(c[2], int)
            and not isinstance(c[2], bool)
        ):
            out.append((c[0], c[1], c[2]))
    return out
