"""Clusters whose replication factor is below the node count, and single-node clusters:
each group lives on RF nodes chosen by the placement function; every node serves every key
(forwarding to the leader of groups it does not replicate)."""

from __future__ import annotations

import collections
import subprocess
import sys
from pathlib import Path

import pytest
from raftstore_client import Client, ParameterError, ReadMode

from tests.integration.helpers import wait_until
from tests.jepsen.cluster import Cluster

GROUPS = 8


@pytest.fixture(scope="module")
def five_rf3(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    with Cluster(
        tmp_path_factory.mktemp("five"),
        nodes=5,
        replication_factor=3,
        partition_groups=GROUPS,
        node_args=["--enable-fault-injection"],
    ) as cluster:
        yield cluster


def test_each_group_has_three_replicas_on_distinct_nodes_balanced_over_five(
    five_rf3: Cluster,
) -> None:
    pmap = five_rf3.partition_map("n1")
    assert {g.group_id for g in pmap.groups} == {f"test/{i}" for i in range(GROUPS)} | {
        "_system/0"  # the metadata group: roster and placement map
    }
    per_node: collections.Counter[str] = collections.Counter()
    for g in pmap.groups:
        if g.namespace != "test":
            continue
        assert len(set(g.replica_node_ids)) == 3, g
        per_node.update(g.replica_node_ids)
    lo, hi = (3 * GROUPS) // 5, -(-3 * GROUPS // 5)
    assert all(lo <= per_node[n] <= hi for n in five_rf3.ids), per_node
    for node in five_rf3.ids:  # each node runs exactly the replicas the map gives it
        hosted = {g.group_id for g in five_rf3.status(node).groups}
        assert hosted == {g.group_id for g in pmap.groups if node in g.replica_node_ids}
    # every node's map agrees on the replicas (placement is computed alike everywhere)
    for node in five_rf3.ids[1:]:
        other = {g.group_id: list(g.replica_node_ids) for g in five_rf3.partition_map(node).groups}
        assert other == {g.group_id: list(g.replica_node_ids) for g in pmap.groups}


def test_every_node_serves_every_key_in_every_read_mode(five_rf3: Cluster) -> None:
    keys = [("test", "five", f"k{i}") for i in range(80)]
    with Client(five_rf3.hosts, timeout=10) as c:
        for i, key in enumerate(keys):
            c.put(key, {"i": i})
    for node in five_rf3.ids:
        for mode in (ReadMode.LINEARIZE, ReadMode.SESSION, ReadMode.ALLOW_REPLICA):
            # pinned: every command goes to this node, which forwards what it does not hold
            with Client([five_rf3.address(node)], pinned=True, read_mode=mode, timeout=10) as c:

                def all_read(c: Client = c) -> bool:
                    return [c.get(k).bins["i"] for k in keys] == list(range(len(keys)))

                wait_until(all_read, 10, f"{node} to answer every key ({mode.name})")
            with Client([five_rf3.address(node)], pinned=True, timeout=10) as c:
                c.put(("test", "five", f"via-{node}"), {"node": node})
    with Client(five_rf3.hosts, timeout=10) as c:
        for node in five_rf3.ids:
            assert c.get(("test", "five", f"via-{node}")).bins == {"node": node}


def test_non_replicas_learn_leaders_and_clients_route_straight_to_them(five_rf3: Cluster) -> None:
    for node in five_rf3.ids:
        pmap = five_rf3.partition_map(node)
        for g in pmap.groups:
            assert g.leader_node_id in g.replica_node_ids, (node, g)


def test_losing_one_node_of_five_keeps_every_group_writable(tmp_path: Path) -> None:
    with Cluster(
        tmp_path / "c",
        nodes=5,
        replication_factor=3,
        partition_groups=GROUPS,
        node_args=["--enable-fault-injection"],
    ) as cluster:
        keys = [("test", "loss", f"k{i}") for i in range(60)]
        with Client(cluster.hosts, timeout=15) as c:
            for key in keys:
                c.put(key, {"v": 1})
            cluster.kill("n2")
            for key in keys:
                c.put(key, {"v": 2})
            assert all(c.get(k).bins == {"v": 2} for k in keys)


def test_a_single_node_cluster_with_replication_factor_one_serves(tmp_path: Path) -> None:
    with Cluster(tmp_path / "one", nodes=1, partition_groups=4) as cluster:
        with Client(cluster.hosts, timeout=10) as c:
            for i in range(20):
                c.put(("test", "one", i), {"i": i})
            assert [c.get(("test", "one", i)).bins["i"] for i in range(20)] == list(range(20))
        cluster.stop("n1")
        cluster.restart("n1")
        cluster.wait_ready()
        with Client(cluster.hosts, timeout=10) as c:
            assert [c.get(("test", "one", i)).bins["i"] for i in range(20)] == list(range(20))


def test_leaders_settle_on_their_preferred_replicas_spread_evenly(five_rf3: Cluster) -> None:
    preferred = {g.group_id: g.replica_node_ids[0] for g in five_rf3.partition_map("n1").groups}
    wait_until(lambda: five_rf3.leaders() == preferred, 30, "leaders to reach preferred replicas")
    per_node = collections.Counter(v for g, v in preferred.items() if g.startswith("test/"))
    counts = [per_node[n] for n in five_rf3.ids]
    assert max(counts) - min(counts) <= 1, per_node


def test_transfer_leader_moves_a_group_and_writes_continue(tmp_path: Path) -> None:
    with Cluster(
        tmp_path / "t", nodes=3, partition_groups=2, node_args=["--no-balance-leaders"]
    ) as cluster:
        with Client([cluster.address("n1")], timeout=15) as c:
            for target in ("n1", "n2", "n3", "n2"):
                assert c.transfer_leader("test/0", target)[0] == target
                assert cluster.leaders()["test/0"] == target
                c.put(("test", "moved", target), {"to": target})
            for target in ("n1", "n2", "n3"):
                assert c.get(("test", "moved", target)).bins == {"to": target}
            with pytest.raises(ParameterError):
                c.transfer_leader("test/0", "n9")
            with pytest.raises(ParameterError):
                c.transfer_leader("nope/0", "n1")
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "raftstore_client.cli",
                "admin",
                "transfer-leader",
                "test/1",
                "n3",
                "--hosts",
                cluster.address("n2"),
                "--timeout",
                "15",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert "test/1: led by n3" in out.stdout
        assert cluster.leaders()["test/1"] == "n3"
