"""Routing: which partition group owns a key, and where its leader is.

``Router.group_for(key)`` gives this node's replica of the key's group, or a
``RemoteGroup`` when the placement puts no replica of that group here (replication factor
below the node count). ``Router.route(group)`` answers LOCAL (this node leads the group),
LEADER (another node leads it: its id and client address) or NO_LEADER (an election is in
progress, or this node cannot tell). Services never decide this themselves;
``dispatch.Dispatcher`` acts on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from raftstore_node.config import NodeConfig
from raftstore_node.leaders import LeaderTable

from raftstore.errors import NamespaceNotFound, PartitionUnavailable
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig, group_id, group_of_partition
from raftstore.replication.replica import Replica


class RouteKind(Enum):
    LOCAL = "local"
    LEADER = "leader"
    NO_LEADER = "no-leader"


class RemoteGroup:
    """A group this node holds no replica of: its leader is known from the peers' gossip."""

    is_leader = False

    def __init__(self, group_id: str, replicas: tuple[str, ...], leaders: LeaderTable) -> None:
        self.group_id = group_id
        self.members = replicas
        self._leaders = leaders

    @property
    def leader_id(self) -> str | None:
        return self._leaders.leader(self.group_id)

    @property
    def term(self) -> int:
        return self._leaders.term(self.group_id)


Group = Replica | RemoteGroup


@dataclass(frozen=True, slots=True)
class Route:
    kind: RouteKind
    group: Group
    leader_id: str | None = None
    leader_address: str | None = None

    @property
    def hint(self) -> str | None:
        """``<node id>=<client address>`` of the leader, for the raftstore-leader metadata."""
        if self.leader_id is None or self.leader_address is None:
            return None
        return f"{self.leader_id}={self.leader_address}"


class Router:
    def __init__(
        self,
        config: NodeConfig,
        groups: dict[str, Replica],
        placement: dict[str, tuple[str, ...]],
        leaders: LeaderTable,
    ) -> None:
        self._groups = groups
        self._leaders = leaders
        self.update(config, placement)
        self._namespaces: dict[str, NamespaceConfig] = {n.name: n for n in config.namespaces}

    def update(self, config: NodeConfig, placement: dict[str, tuple[str, ...]]) -> None:
        """The roster or the placement changed."""
        self._config = config
        self._remote = {
            gid: RemoteGroup(gid, replicas, self._leaders) for gid, replicas in placement.items()
        }

    def namespace(self, name: str) -> NamespaceConfig:
        ns = self._namespaces.get(name)
        if ns is None:
            raise NamespaceNotFound(
                f"namespace {name!r} is not configured "
                f"(known: {', '.join(sorted(self._namespaces))})"
            )
        return ns

    def group_for(self, key: Key) -> Group:
        ns = self.namespace(key.namespace)
        gid = group_id(ns.name, group_of_partition(key.partition, ns.partition_groups))
        group = self._groups.get(gid) or self._remote.get(gid)
        if group is None:
            raise PartitionUnavailable(f"group {gid} is not in this node's placement map")
        return group

    def group(self, gid: str) -> Group | None:
        """The group named ``gid`` (local replica or remote), None if no such group."""
        return self._groups.get(gid) or self._remote.get(gid)

    def hosts(self, group: Group) -> bool:
        """True when this node holds a replica of ``group`` (it can read its state)."""
        return not isinstance(group, RemoteGroup)

    def route(self, group: Group) -> Route:
        if group.is_leader:
            return Route(RouteKind.LOCAL, group, self._config.node_id, self._config.me.client)
        leader = group.leader_id
        member = self._config.member(leader) if leader else None
        if member is None:
            return Route(RouteKind.NO_LEADER, group)
        return Route(RouteKind.LEADER, group, member.id, member.client)
