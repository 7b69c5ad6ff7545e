"""The client's partition table: key -> partition -> group -> leader -> address.

Built from the Cluster service's partition map. Leader hints from the server update one
group at once; a transport failure or an unknown leader makes the client refresh the
whole map from any node that answers.
"""

from __future__ import annotations

import itertools
import threading

from raftstore.errors import NamespaceNotFound
from raftstore.keys import Key
from raftstore.v1 import cluster_pb2


class PartitionTable:
    """Thread-safe; every method is cheap."""

    def __init__(self, seeds: list[str], pinned: bool = False) -> None:
        self._lock = threading.Lock()
        self._seeds = list(seeds)
        self.pinned = pinned  # send every command to the seeds, which forward to leaders
        self._nodes: dict[str, str] = {}
        self._partition_group: dict[str, list[int]] = {}
        self._leaders: dict[str, str] = {}
        self._rr = itertools.count()
        self.cluster_id = ""

    def update(self, pmap: cluster_pb2.PartitionMap) -> None:
        with self._lock:
            self.cluster_id = pmap.cluster_id
            self._nodes = {n.node_id: n.client_address for n in pmap.nodes}
            self._partition_group = {ns.name: list(ns.partition_group) for ns in pmap.namespaces}
            self._leaders = {g.group_id: g.leader_node_id for g in pmap.groups if g.leader_node_id}

    @property
    def loaded(self) -> bool:
        return bool(self._partition_group)

    def addresses(self) -> list[str]:
        """Every address worth trying for the partition map: known nodes, then seeds."""
        if self.pinned:
            return list(self._seeds)
        with self._lock:
            known = list(self._nodes.values())
        return known + [s for s in self._seeds if s not in known]

    def namespaces(self) -> list[str]:
        return sorted(self._partition_group)

    def group_of(self, key: Key) -> str:
        groups = self._partition_group.get(key.namespace)
        if groups is None:
            raise NamespaceNotFound(
                f"namespace {key.namespace!r} is not configured "
                f"(known: {', '.join(self.namespaces()) or 'none'})"
            )
        return f"{key.namespace}/{groups[key.partition]}"

    def group_of_partition(self, namespace: str, partition: int) -> str:
        """The group of one partition of ``namespace`` (NamespaceNotFound if unknown)."""
        groups = self._partition_group.get(namespace)
        if groups is None:
            raise NamespaceNotFound(
                f"namespace {namespace!r} is not configured "
                f"(known: {', '.join(self.namespaces()) or 'none'})"
            )
        return f"{namespace}/{groups[partition]}"

    def group_runs(self, namespace: str) -> list[tuple[int, int]]:
        """[first, last) partitions of each group of ``namespace``, in partition order
        (a group's partitions are contiguous); NamespaceNotFound if unknown."""
        self.group_of_partition(namespace, 0)  # NamespaceNotFound
        runs: list[tuple[int, int]] = []
        start = 0
        for _, members in itertools.groupby(self._partition_group[namespace]):
            count = sum(1 for _ in members)
            runs.append((start, start + count))
            start += count
        return runs

    def leader_address(self, group: str) -> str | None:
        """The address of ``group``'s leader, None when unknown. Pinned clients get it too:
        a scan stream is served by the leader itself, never forwarded."""
        with self._lock:
            leader = self._leaders.get(group)
            return self._nodes.get(leader) if leader else None

    def address_for(self, group: str, any_replica: bool = False) -> str:
        """The leader's address when known, otherwise any node (which will forward).

        ``any_replica``: spread the command over every node (reads any replica may answer).
        """
        if self.pinned:
            return self._seeds[next(self._rr) % len(self._seeds)]
        if any_replica:
            with self._lock:
                nodes = list(self._nodes.values()) or self._seeds
            return nodes[next(self._rr) % len(nodes)]
        with self._lock:
            leader = self._leaders.get(group)
            if leader and leader in self._nodes:
                return self._nodes[leader]
            nodes = list(self._nodes.values()) or self._seeds
        return nodes[next(self._rr) % len(nodes)]

    def set_leader(self, group: str, node_id: str, address: str) -> None:
        with self._lock:
            self._leaders[group] = node_id
            self._nodes.setdefault(node_id, address)

    def forget_leader(self, group: str) -> None:
        with self._lock:
            self._leaders.pop(group, None)

    def forget_address(self, address: str) -> None:
        """A node did not answer: stop routing groups to it until the map says otherwise."""
        with self._lock:
            dead = {n for n, a in self._nodes.items() if a == address}
            self._leaders = {g: n for g, n in self._leaders.items() if n not in dead}
