"""An elastic cluster on real node processes: nodes join and leave while clients write,
replicas move by Raft membership changes, and nothing acknowledged is lost — also when a
node, or the whole cluster, is killed in the middle of a migration."""

from __future__ import annotations

import collections
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from raftstore_client import Client, RaftstoreError

from raftstore.errors import Forbidden, ParameterError
from tests.integration.helpers import wait_until
from tests.jepsen.cluster import Cluster

GROUPS = 8
RF = 3


class Writer:
    """A bounded background write load that records every acknowledged write."""

    def __init__(self, cluster: Cluster, prefix: str, limit: int = 20000) -> None:
        self.cluster = cluster
        self.prefix = prefix
        self.limit = limit
        self.acked: dict[str, int] = {}
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with Client(self.cluster.hosts, timeout=10) as c:
            i = 0
            while not self._stop.is_set() and i < self.limit:
                key = f"{self.prefix}{i}"
                try:
                    c.put(("test", "elastic", key), {"i": i})
                    self.acked[key] = i
                except RaftstoreError:
                    self.errors += 1
                    time.sleep(0.05)
                i += 1

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def assert_all_readable(cluster: Cluster, acked: dict[str, int]) -> None:
    hosts = [cluster.address(n) for n in cluster.ids if cluster.is_running(n)]
    with Client(hosts, timeout=15) as c:
        for key, i in acked.items():
            assert c.get(("test", "elastic", key)).bins == {"i": i}, key


def assert_balanced(cluster: Cluster, nodes: list[str]) -> None:
    pmap = cluster.wait_settled()
    per_node: collections.Counter[str] = collections.Counter()
    for g in pmap.groups:
        assert len(set(g.replica_node_ids)) == len(g.replica_node_ids)
        if g.namespace == "test":
            assert len(g.replica_node_ids) == RF, g
            per_node.update(g.replica_node_ids)
    assert set(per_node) == set(nodes), per_node
    lo, hi = RF * GROUPS // len(nodes), -(-RF * GROUPS // len(nodes))
    assert all(lo <= per_node[n] <= hi for n in nodes), per_node
    for node in nodes:  # each node runs exactly the replicas the map gives it
        hosted = {g.group_id for g in cluster.status(node).groups}
        assert hosted == {g.group_id for g in pmap.groups if node in g.replica_node_ids}


@contextmanager
def elastic_cluster(directory: Path, nodes: int = 3) -> Iterator[Cluster]:
    with Cluster(
        directory,
        nodes=nodes,
        replication_factor=RF,
        partition_groups=GROUPS,
        raft={"snapshot_entries": 200, "snapshot_seconds": 3600},
    ) as cluster:
        yield cluster


def wait_moving(cluster: Cluster, timeout: float = 30) -> None:
    wait_until(lambda: bool(cluster.partition_map("n1").moving_group_ids), timeout, "a migration")


def test_growing_three_to_five_under_writes_moves_replicas_and_loses_nothing(
    tmp_path: Path,
) -> None:
    with elastic_cluster(tmp_path / "c") as cluster:
        with Writer(cluster, "grow") as writer:
            wait_until(lambda: len(writer.acked) > 100, 30, "writes before the join")
            cluster.add_node()
            cluster.add_node()
            cluster.wait_settled()
            count = len(writer.acked)
            wait_until(lambda: len(writer.acked) > count + 50, 30, "writes after the move")
        assert_balanced(cluster, ["n1", "n2", "n3", "n4", "n5"])
        assert_all_readable(cluster, writer.acked)


def test_draining_two_of_five_under_writes_shrinks_to_three(tmp_path: Path) -> None:
    with elastic_cluster(tmp_path / "c", nodes=5) as cluster:
        with Writer(cluster, "shrink") as writer:
            wait_until(lambda: len(writer.acked) > 100, 30, "writes before the drain")
            cluster.remove_node("n1")
            epoch = cluster.remove_node("n4")
            cluster.wait_settled(min_epoch=epoch)
            wait_until(lambda: not cluster.is_running("n1"), 30, "n1 to stop once drained")
            wait_until(lambda: not cluster.is_running("n4"), 30, "n4 to stop once drained")
            count = len(writer.acked)
            wait_until(lambda: len(writer.acked) > count + 50, 30, "writes after the drain")
        pmap = cluster.partition_map("n2")
        assert sorted(n.node_id for n in pmap.nodes) == ["n2", "n3", "n5"]
        assert_balanced(cluster, ["n2", "n3", "n5"])
        assert_all_readable(cluster, writer.acked)


def test_draining_below_the_replication_factor_is_refused(tmp_path: Path) -> None:
    with (
        elastic_cluster(tmp_path / "c") as cluster,
        pytest.raises(RaftstoreError, match="replication factor"),
    ):
        cluster.remove_node("n2")


def test_a_node_killed_during_a_migration_restarts_and_the_migration_completes(
    tmp_path: Path,
) -> None:
    with elastic_cluster(tmp_path / "c") as cluster:
        with Writer(cluster, "kill") as writer:
            wait_until(lambda: len(writer.acked) > 300, 30, "writes before the join")
            cluster.add_node()
            wait_moving(cluster)
            cluster.kill("n4")  # the node receiving replicas
            cluster.kill("n2")  # and one sending them
            time.sleep(2)
            cluster.restart("n2")
            cluster.restart("n4")
            cluster.wait_settled(timeout=180)
        assert_balanced(cluster, ["n1", "n2", "n3", "n4"])
        assert_all_readable(cluster, writer.acked)


def test_remove_dead_rebuilds_the_replicas_of_a_node_whose_disk_is_gone(tmp_path: Path) -> None:
    with elastic_cluster(tmp_path / "c", nodes=4) as cluster:
        with Writer(cluster, "dead") as writer:
            wait_until(lambda: len(writer.acked) > 300, 30, "writes before the loss")
            cluster.kill("n3")
            shutil.rmtree(cluster.node("n3").config.parent / "data")
            epoch = cluster.remove_node("n3", dead=True)
            cluster.wait_settled(timeout=180, min_epoch=epoch)
            count = len(writer.acked)
            wait_until(lambda: len(writer.acked) > count + 50, 30, "writes after the rebuild")
        pmap = cluster.partition_map("n1")
        assert "n3" not in {n.node_id for n in pmap.nodes}
        assert_balanced(cluster, ["n1", "n2", "n4"])
        assert_all_readable(cluster, writer.acked)


def test_the_whole_cluster_killed_during_a_migration_loses_nothing(tmp_path: Path) -> None:
    with elastic_cluster(tmp_path / "c") as cluster:
        with Writer(cluster, "crash") as writer:
            wait_until(lambda: len(writer.acked) > 300, 30, "writes before the join")
            cluster.add_node()
            wait_moving(cluster)
            time.sleep(0.5)
        cluster.kill_all()
        cluster.restart_all()
        cluster.wait_settled(timeout=180)
        assert_balanced(cluster, ["n1", "n2", "n3", "n4"])
        assert_all_readable(cluster, writer.acked)


def test_revive_lets_a_group_whose_majority_died_continue_with_its_survivor(
    tmp_path: Path,
) -> None:
    """Two of three nodes die for good: every group has lost its majority (unavailable).
    `admin revive` forces the survivor's memberships; reads and writes resume on it, the
    dead nodes leave the roster, and the revived membership survives a restart."""
    with elastic_cluster(tmp_path / "c") as cluster:
        with Client(cluster.hosts, timeout=10) as c:
            for i in range(100):
                c.put(("test", "elastic", f"r{i}"), {"i": i})
        for node_id in ("n2", "n3"):
            cluster.kill(node_id)
        with Client([cluster.address("n1")], timeout=3) as c, pytest.raises(RaftstoreError):
            c.put(("test", "elastic", "lost-majority"), {"i": -1})
        secret = (cluster.directory / "cluster.secret").read_bytes().strip()
        with Client([cluster.address("n1")], timeout=60) as c:
            with pytest.raises(Forbidden):
                c.revive(["n2", "n3"], b"not the secret")
            with pytest.raises(ParameterError):
                c.revive(["n9"], secret)
            with pytest.raises(ParameterError):
                c.revive(["n1"], secret)  # the node answering is alive
            revived, lost = c.revive(["n2", "n3"], secret)
            assert set(revived) == {g.group_id for g in c.partition_map().groups}
            assert lost == []
            for node_id in ("n2", "n3"):
                c.remove_node(node_id, secret, dead=True)
            for i in range(100, 150):
                c.put(("test", "elastic", f"r{i}"), {"i": i})
        cluster.kill("n1")
        cluster.restart("n1")
        cluster.wait_ready(nodes=["n1"])
        with Client([cluster.address("n1")], timeout=30) as c:
            for i in range(150):
                assert c.get(("test", "elastic", f"r{i}")).bins == {"i": i}
            c.put(("test", "elastic", "after-restart"), {"i": 0})
            wait_until(
                lambda: {n.node_id for n in c.partition_map().nodes} == {"n1"},
                90,
                "the dead nodes to leave the roster",
            )
            assert all(g.replica_node_ids == ["n1"] for g in c.partition_map().groups)
