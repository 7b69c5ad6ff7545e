"""Quiescence with real pysyncobj replicas: three "nodes" in one event loop, each a
RaftDriver with its WAL and a GroupReplica per group, linked by an in-memory mesh whose
links can be cut. Fast Raft timing (heartbeat 50 ms, elections 0.5-1 s)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from raftstore.commands import Read, Request
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig
from raftstore.replication.driver import RaftDriver
from raftstore.replication.group import GroupReplica, RaftTiming
from raftstore.replication.readindex import PROBE
from raftstore.replication.wal import WriteAheadLog
from raftstore.state_machine import StateMachine

NODES = ["n1", "n2", "n3"]
GROUPS = [f"test/{i}" for i in range(4)]
TIMING = RaftTiming(heartbeat=0.05, election_min=0.5, election_max=1.0, leader_lease=0.5)
NODE_CHANNEL = "@node"


class Net:
    """In-memory links between the nodes; a cut link drops everything both ways."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.nodes: dict[str, SimNode] = {}
        self.cut: set[frozenset[str]] = set()
        self.sent: list[tuple[str, str, str, Any]] = []

    def up(self, a: str, b: str) -> bool:
        return frozenset((a, b)) not in self.cut

    def send(self, src: str, dst: str, gid: str, message: Any) -> bool:
        if not self.up(src, dst):
            return False
        self.sent.append((src, dst, gid, message))
        wire = msgpack.packb(message, use_bin_type=True)  # as the PeerMesh carries it
        self.loop.call_soon(self._deliver, src, dst, gid, wire)
        return True

    def _deliver(self, src: str, dst: str, gid: str, wire: bytes) -> None:
        if self.up(src, dst):
            message = msgpack.unpackb(wire, raw=False, use_list=False, strict_map_key=False)
            self.nodes[dst].receive(src, gid, message)

    def isolate(self, node: str) -> None:
        for other in self.nodes:
            if other != node:
                self.cut.add(frozenset((node, other)))
                self.nodes[node].peer_down(other)
                self.nodes[other].peer_down(node)


class NodeMesh:
    def __init__(self, net: Net, node_id: str) -> None:
        self.net, self.node_id = net, node_id

    def send(self, peer: str, gid: str, message: Any) -> bool:
        return self.net.send(self.node_id, peer, gid, message)

    def is_connected(self, peer: str) -> bool:
        return self.net.up(self.node_id, peer)


class SimNode:
    def __init__(self, net: Net, node_id: str, directory: Path) -> None:
        self.id = node_id
        self.net = net
        self.wal = WriteAheadLog(directory / "wal", fsync=False)
        self.driver = RaftDriver(net.loop, self.wal, tick_interval=0.01)
        mesh = NodeMesh(net, node_id)
        self.driver.enable_quiesce(
            send=lambda p, m: mesh.send(p, NODE_CHANNEL, m),
            connected=mesh.is_connected,
            heartbeat=TIMING.heartbeat,
            leader_lease=TIMING.leader_lease,
        )
        self.groups: dict[str, GroupReplica] = {}
        for gid in GROUPS:
            g = GroupReplica(
                group_id=gid,
                self_id=node_id,
                member_ids=NODES,
                directory=directory / gid.replace("/", "-"),
                state_machine=StateMachine({"test": NamespaceConfig("test")}),
                mesh=mesh,
                timing=TIMING,
                loop=net.loop,
                fsync=False,
                journal=self.wal.open_group(gid),
            )
            self.groups[gid] = g
            self.driver.add(g)

    def receive(self, src: str, gid: str, message: Any) -> None:
        if gid == NODE_CHANNEL:
            self.driver.on_node_message(src, message)
        else:
            self.groups[gid].deliver(src, message)

    def peer_down(self, peer: str) -> None:
        for g in self.groups.values():
            g.peer_down(peer)
        self.driver.wake_all()

    def close(self) -> None:
        self.driver.stop()
        for g in self.groups.values():
            g.close()
        self.wal.close()


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def leader_of(net: Net, gid: str, among: list[str] | None = None) -> str | None:
    leaders = [n for n in among or NODES if net.nodes[n].groups[gid].is_leader]
    return leaders[0] if len(leaders) == 1 else None


def all_quiet(net: Net, nodes: list[str] | None = None) -> bool:
    return all(g.quiet for n in nodes or NODES for g in net.nodes[n].groups.values())


def scenario(tmp_path: Path, body: Callable[[Net], Any]) -> None:
    async def main() -> None:
        net = Net(asyncio.get_running_loop())
        for n in NODES:
            net.nodes[n] = SimNode(net, n, tmp_path / n)
        for n in NODES:
            for other in NODES:
                if other != n:
                    for g in net.nodes[n].groups.values():
                        g.peer_up(other)
            net.nodes[n].driver.start()
        try:
            await until(lambda: all(leader_of(net, g) for g in GROUPS), 10, "leaders")
            await until(lambda: all_quiet(net), 10, "every replica to quiesce")
            await body(net)
        finally:
            for n in NODES:
                net.nodes[n].close()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_quiesced_groups_keep_their_leaders_and_send_no_raft_messages(tmp_path: Path) -> None:
    async def body(net: Net) -> None:
        leaders = {g: leader_of(net, g) for g in GROUPS}
        terms = {g: net.nodes[leaders[g]].groups[g].term for g in GROUPS}  # type: ignore[index]
        net.sent.clear()
        await asyncio.sleep(5 * TIMING.election_max)  # several election timeouts idle
        assert all_quiet(net)
        assert {g: leader_of(net, g) for g in GROUPS} == leaders
        assert {g: net.nodes[leaders[g]].groups[g].term for g in GROUPS} == terms  # type: ignore[index]
        kinds = {m.get("type") for *_, m in net.sent}
        assert kinds == {"quiet", "quiet_ack"}, kinds  # no append_entries, no votes
        # One quiet list per leader node per peer per heartbeat, whatever the group count.
        per_second = len([m for *_, m in net.sent if m["type"] == "quiet"]) / (
            5 * TIMING.election_max
        )
        assert per_second <= 6 / TIMING.heartbeat * 1.5

    scenario(tmp_path, body)


def test_a_proposal_wakes_the_group_commits_and_it_quiesces_again(tmp_path: Path) -> None:
    async def body(net: Net) -> None:
        gid = GROUPS[1]
        leader = net.nodes[leader_of(net, gid)]  # type: ignore[index]
        group = leader.groups[gid]
        before = group.commit_index
        await asyncio.wait_for(group.propose(Request(Read(Key.of("test", "s", "k")))), 2)
        assert group.commit_index > before
        await until(lambda: all_quiet(net), 5, "the group to quiesce again")
        followers = [net.nodes[n].groups[gid] for n in NODES if net.nodes[n] is not leader]
        assert all(f.applied_index == group.applied_index for f in followers)

    scenario(tmp_path, body)


def test_a_linearizable_read_on_a_quiesced_leader_runs_a_real_probe_round(tmp_path: Path) -> None:
    async def body(net: Net) -> None:
        gid = GROUPS[2]
        group = net.nodes[leader_of(net, gid)].groups[gid]  # type: ignore[index]
        assert group.quiet
        net.sent.clear()
        index = await asyncio.wait_for(group.read_index(), 2)
        assert index == group.commit_index
        probes = [m for _, _, g, m in net.sent if g == gid and m["type"] == PROBE]
        assert len(probes) >= 2  # to both followers, after the read arrived

    scenario(tmp_path, body)


def test_an_isolated_quiet_leader_steps_down_and_the_others_elect(tmp_path: Path) -> None:
    async def body(net: Net) -> None:
        counts = {n: sum(net.nodes[n].groups[g].is_leader for g in GROUPS) for n in NODES}
        victim = max(counts, key=lambda n: counts[n])
        others = [n for n in NODES if n != victim]
        led = [g for g in GROUPS if net.nodes[victim].groups[g].is_leader]
        net.isolate(victim)
        await until(
            lambda: not any(net.nodes[victim].groups[g].is_leader for g in GROUPS),
            5 * TIMING.election_max,
            "the cut-off leader to step down (check-quorum)",
        )
        await until(
            lambda: all(leader_of(net, g, others) for g in led),
            5 * TIMING.election_max,
            "new leaders among the majority",
        )

    scenario(tmp_path, body)


def test_quiet_followers_campaign_when_the_leaders_quiet_lists_stop(tmp_path: Path) -> None:
    """No disconnect is reported: only the quiet lists (and all traffic) stop arriving."""

    async def body(net: Net) -> None:
        gid = GROUPS[3]
        victim = leader_of(net, gid)
        others = [n for n in NODES if n != victim]
        for o in others:  # silently drop traffic, no peer_down anywhere
            net.cut.add(frozenset((victim, o)))  # type: ignore[arg-type]
        await until(
            lambda: leader_of(net, gid, others) is not None,
            5 * TIMING.election_max,
            "a follower to campaign and win",
        )

    scenario(tmp_path, body)
