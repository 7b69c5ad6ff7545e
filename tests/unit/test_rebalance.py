"""The rebalancer's membership logic on an in-process multi-node, multi-group cluster of
in-memory replicas (``raftstore.replication.memory``): joins, drains and dead nodes move
replicas one single-server change at a time, never shrink a group below its replication
factor while its nodes are alive, and keep every acknowledged record."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from raftstore_node import meta
from raftstore_node.cluster_state import SYSTEM_GROUP, ClusterState, founding_state
from raftstore_node.config import Member
from raftstore_node.membership import Membership
from raftstore_node.rebalance import AUDIT_ROUNDS, Rebalancer

from raftstore.commands import Put, Read, Request
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig
from raftstore.replication.memory import InMemoryGroup
from raftstore.state_machine import StateMachine

NS = NamespaceConfig("test", replication_factor=3, partition_groups=8)
MACHINE = StateMachine({"test": NS, "_system": meta.SYSTEM_NAMESPACE_CONFIG})


def member(i: int) -> Member:
    return Member(f"n{i}", f"127.0.0.1:{3000 + 10 * i}", f"127.0.0.1:{3001 + 10 * i}")


class TwinCluster:
    """Nodes that are only views over shared in-memory groups; peer calls are direct."""

    def __init__(self, n: int) -> None:
        self.state = founding_state(tuple(member(i) for i in range(1, n + 1)), (NS,))
        self.groups = {
            gid: InMemoryGroup(gid, replicas, MACHINE)
            for gid, replicas in self.state.placement.items()
        }
        for g in self.groups.values():
            g.replicate()
        self.min_members: dict[str, int] = {gid: len(g.members) for gid, g in self.groups.items()}
        self.nodes: dict[str, Any] = {}
        self.rebalancers: dict[str, Rebalancer] = {}

    def node(self, node_id: str) -> Any:
        if node_id not in self.nodes:
            view = SimpleNamespace(config=SimpleNamespace(node_id=node_id))
            view.groups = _HostedGroups(self, node_id)
            view.membership = _Adopter(self)
            view.peer_rpc = _DirectRPC(self)
            view.router = SimpleNamespace(group=lambda gid: SimpleNamespace(leader_id=None))
            self.nodes[node_id] = view
            self.rebalancers[node_id] = Rebalancer(view)
        return self.nodes[node_id]

    async def round(self) -> None:
        leader = self.groups[SYSTEM_GROUP].leader
        assert leader is not None
        self.node(leader)
        await self.rebalancers[leader].round()
        for gid, g in self.groups.items():
            g.replicate()
            if not set(g.members) & self.state.dead:
                self.min_members[gid] = min(self.min_members[gid], len(g.members))

    async def settle(self, rounds: int = 400) -> ClusterState:
        for _ in range(rounds):
            await self.round()
            state = self.state
            if not state.moving() and not state.leaving and not state.dead:
                return state
        raise AssertionError(f"not settled: moving {self.state.moving()}")

    async def change_roster(self, **changes: Any) -> None:
        node = self.node(self.groups[SYSTEM_GROUP].leader or "")
        stored, generation = await meta.read(node)
        assert stored is not None
        await meta.write(node, stored.evolve(**changes), generation)


class _HostedGroups(dict):  # type: ignore[type-arg]
    """node.groups: the replicas the shared groups have on this node."""

    def __init__(self, cluster: TwinCluster, node_id: str) -> None:
        super().__init__()
        self._cluster, self._node_id = cluster, node_id

    def get(self, gid: Any, default: Any = None) -> Any:
        group = self._cluster.groups.get(gid)
        if group is None or self._node_id not in group.replicas:
            return default
        return group.replicas[self._node_id]

    def __getitem__(self, gid: Any) -> Any:
        return self.get(gid)


class _Adopter:
    def __init__(self, cluster: TwinCluster) -> None:
        self._cluster = cluster

    @property
    def state(self) -> ClusterState:
        return self._cluster.state

    def adopt(self, state: ClusterState, source: str) -> bool:
        if state.epoch <= self._cluster.state.epoch:
            return False
        self._cluster.state = state
        for gid, group in self._cluster.groups.items():  # nodes left out delete replicas
            for node_id in list(group.replicas):
                if node_id not in state.placement.get(gid, ()) and node_id not in group.members:
                    group.replicas[node_id].destroy()
        return True


class _DirectRPC:
    def __init__(self, cluster: TwinCluster) -> None:
        self._cluster = cluster

    async def call(self, node_id: str, method: str, args: dict[str, Any], timeout: float) -> Any:
        group = self._cluster.groups[args["group"]]
        if node_id in group.down:
            raise meta.PartitionUnavailable(f"{node_id} is down")
        view = SimpleNamespace(groups={args["group"]: group.replica(node_id)})
        handler = getattr(Membership(view, self._cluster.state), f"_{method}")
        return await handler(args)


def write_records(cluster: TwinCluster, n: int) -> list[Key]:
    keys = [Key.of("test", "s", i) for i in range(n)]

    async def put_all() -> None:
        for key in keys:
            gid = f"test/{key.partition * NS.partition_groups // 4096}"
            group = cluster.groups[gid]
            await group.replica(group.leader or "").propose(Request(Put(key, {"v": 1})))

    asyncio.run(put_all())
    return keys


def assert_converged(cluster: TwinCluster, keys: list[Key]) -> None:
    state = cluster.state
    for gid, group in cluster.groups.items():
        assert set(group.members) == set(state.placement[gid]), gid
        assert set(group.members) == set(state.plan[gid]), gid
        assert len(group.members) == (3 if gid != SYSTEM_GROUP else min(3, len(state.active)))
    for key in keys:
        gid = f"test/{key.partition * NS.partition_groups // 4096}"
        for node_id in cluster.groups[gid].members:
            replica = cluster.groups[gid].replicas[node_id]
            assert replica.read_local(Read(key), 0).bins == {"v": 1}, (key, node_id)


def test_growing_three_to_five_moves_replicas_and_never_shrinks_a_group() -> None:
    from raftstore_node.metrics import REGISTRY

    def moves(event: str) -> float:
        return REGISTRY.get_sample_value("raftstore_replica_moves_total", {"event": event}) or 0

    before = {e: moves(e) for e in ("started", "completed", "removed")}
    cluster = TwinCluster(3)
    keys = write_records(cluster, 200)

    async def scenario() -> None:
        await cluster.round()  # stores the founding state
        await cluster.change_roster(members=(*cluster.state.members, member(4), member(5)))
        await cluster.settle()

    asyncio.run(scenario())
    assert_converged(cluster, keys)
    assert all(n >= 3 for n in cluster.min_members.values()), cluster.min_members
    per_node = {
        f"n{i}": sum(
            f"n{i}" in g.members for g in cluster.groups.values() if g.group_id != SYSTEM_GROUP
        )
        for i in range(1, 6)
    }
    assert all(4 <= c <= 5 for c in per_node.values()), per_node  # 24 replicas over 5 nodes
    moved = per_node["n4"] + per_node["n5"]
    assert moves("started") - before["started"] >= moved  # every one placed by a move
    assert moves("completed") - before["completed"] == moves("started") - before["started"]
    assert moves("removed") - before["removed"] >= moved  # and one replica removed for each


def test_draining_a_node_moves_its_replicas_away_and_drops_it_from_the_roster() -> None:
    cluster = TwinCluster(4)
    keys = write_records(cluster, 100)

    async def scenario() -> None:
        await cluster.round()
        await cluster.change_roster(leaving=frozenset({"n2"}))
        await cluster.settle()

    asyncio.run(scenario())
    assert_converged(cluster, keys)
    assert [m.id for m in cluster.state.members] == ["n1", "n3", "n4"]
    assert all(n >= 3 for n in cluster.min_members.values()), cluster.min_members


def test_a_dead_node_is_removed_before_its_replacement_is_added() -> None:
    cluster = TwinCluster(4)
    keys = write_records(cluster, 100)
    for group in cluster.groups.values():
        group.down.add("n3")
        if group.leader == "n3":
            group.elect(next(m for m in group.members if m != "n3"))

    async def scenario() -> None:
        await cluster.round()
        await cluster.change_roster(dead=frozenset({"n3"}))
        for _ in range(400):
            await cluster.round()
            for gid, group in cluster.groups.items():
                up = [m for m in group.members if m not in group.down]
                assert len(up) * 2 > len(group.members), (gid, group.members)
            if not cluster.state.moving() and not cluster.state.dead:
                return
        raise AssertionError("not settled")

    asyncio.run(scenario())
    assert_converged(cluster, keys)
    assert "n3" not in {m.id for m in cluster.state.members}


@pytest.mark.parametrize("leader", ["n1", "n2"])
def test_a_leader_that_must_leave_hands_over_before_it_is_removed(leader: str) -> None:
    cluster = TwinCluster(4)
    for group in cluster.groups.values():
        if leader in group.members:
            group.elect(leader)

    async def scenario() -> None:
        await cluster.round()
        await cluster.change_roster(leaving=frozenset({leader}))
        await cluster.settle()

    asyncio.run(scenario())
    assert all(leader not in g.members and g.leader != leader for g in cluster.groups.values())


def test_a_replica_removed_from_its_group_but_still_placed_is_added_back() -> None:
    """A move interrupted after the Raft removal of the old replica (its node died, the new
    plan keeps the old one): the placement lists a node that is no longer a member. The
    rebalancer makes it a member again instead of only re-ordering the placement, which
    would leave the group one replica short for good."""
    cluster = TwinCluster(3)
    keys = write_records(cluster, 50)
    gid = "test/0"
    group = cluster.groups[gid]
    leader = group.leader
    assert leader is not None
    out = next(m for m in group.members if m != leader)

    async def scenario() -> None:
        await cluster.round()  # stores the founding state
        assert group.replica(leader).change_members(remove=out)
        group.replicate()
        assert out not in group.members and out in cluster.state.placement[gid]
        for _ in range(3 * AUDIT_ROUNDS):
            await cluster.round()
            if out in group.members:
                break
        await cluster.settle()

    asyncio.run(scenario())
    assert out in group.members
    assert_converged(cluster, keys)


def test_a_member_that_is_not_placed_is_removed_from_its_group() -> None:
    cluster = TwinCluster(4)
    keys = write_records(cluster, 50)
    gid = next(g for g, grp in cluster.groups.items() if "n4" not in grp.members)
    group = cluster.groups[gid]
    assert group.leader is not None

    async def scenario() -> None:
        await cluster.round()
        assert group.replica(group.leader or "").change_members(add="n4")
        group.replicate()
        assert "n4" in group.members and "n4" not in cluster.state.placement[gid]
        for _ in range(3 * AUDIT_ROUNDS):
            await cluster.round()
            if "n4" not in group.members:
                break
        await cluster.settle()

    asyncio.run(scenario())
    assert "n4" not in group.members
    assert_converged(cluster, keys)
