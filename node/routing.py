"""Routing: which partition group owns a key, and where its leader is.

``Router.route(group)`` answers LOCAL (this node leads the group), LEADER (another node
leads it: its id and client address) or NO_LEADER (an election is in progress, or this
node cannot tell). Services never decide this themselves; ``dispatch.Dispatcher`` acts
on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from raftstore_node.config import NodeConfig

from raftstore.errors import NamespaceNotFound
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig, group_id, group_of_partition
from raftstore.replication.group import GroupReplica


class RouteKind(Enum):
    LOCAL = "local"
    LEADER = "leader"
    NO_LEADER = "no-leader"


@dataclass(frozen=True, slots=True)
class Route:
    kind: RouteKind
    group: GroupReplica
    leader_id: str | None = None
    leader_address: str | None = None

    @property
    def hint(self) -> str | None:
        """``<node id>=<client address>`` of the leader, for the raftstore-leader metadata."""
        if self.leader_id is None or self.leader_address is None:
            return None
        return f"{self.leader_id}={self.leader_address}"


class Router:
    def __init__(self, config: NodeConfig, groups: dict[str, GroupReplica]) -> None:
        self._config = config
        self._groups = groups
        self._namespaces: dict[str, NamespaceConfig] = {n.name: n for n in config.namespaces}

    def namespace(self, name: str) -> NamespaceConfig:
        ns = self._namespaces.get(name)
        if ns is None:
            raise NamespaceNotFound(
                f"namespace {name!r} is not configured "
                f"(known: {', '.join(sorted(self._namespaces))})"
            )
        return ns

    def group_for(self, key: Key) -> GroupReplica:
        ns = self.namespace(key.namespace)
        return self._groups[
            group_id(ns.name, group_of_partition(key.partition, ns.partition_groups))
        ]

    def route(self, group: GroupReplica) -> Route:
        if group.is_leader:
            return Route(RouteKind.LOCAL, group, self._config.node_id, self._config.me.client)
        leader = group.leader_id
        member = self._config.member(leader) if leader else None
        if member is None:
            return Route(RouteKind.NO_LEADER, group)
        return Route(RouteKind.LEADER, group, member.id, member.client)
