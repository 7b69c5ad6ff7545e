"""A node that crashes at any failpoint (as kill -9 there) restarts and loses nothing
acknowledged."""

from __future__ import annotations

import time

import pytest
from raftstore_client import Client, RaftstoreError, ReadMode

from tests.integration.helpers import replicas_caught_up, wait_until
from tests.jepsen.cluster import Cluster


def _write_until_dead(cluster: Cluster, victim: str, prefix: str) -> dict[int, int]:
    """Write records until ``victim`` has crashed, then a few more; return those acknowledged."""
    acked: dict[int, int] = {}
    with Client(cluster.hosts, timeout=15, attempt_timeout=2) as c:
        i = 0
        deadline = time.monotonic() + 60
        after_death = 0
        while after_death < 30 and time.monotonic() < deadline:
            try:
                c.put(("test", prefix, i), {"i": i})
                acked[i] = i
            except RaftstoreError:
                pass
            i += 1
            if not cluster.is_running(victim):
                after_death += 1
    assert not cluster.is_running(victim), f"{victim} never reached the failpoint"
    return acked


def _assert_everywhere(cluster: Cluster, prefix: str, acked: dict[int, int]) -> None:
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 60, "replicas to converge")
    keys = [("test", prefix, i) for i in sorted(acked)]
    for node in cluster.ids:
        with Client([cluster.address(node)], pinned=True, read_mode=ReadMode.ALLOW_REPLICA) as c:
            got = c.get_many(keys)
        missing = [k[2] for k, r in zip(keys, got, strict=True) if r is None]
        assert not missing, f"{node} lost acknowledged writes {missing[:10]}"
    with Client(cluster.hosts, timeout=10) as c:
        assert all(r is not None for r in c.get_many(keys))


@pytest.mark.parametrize(
    "point", ["journal.before_fsync", "journal.after_fsync", "apply.before", "apply.after"]
)
@pytest.mark.parametrize("role", ["leader", "follower"])
def test_a_node_crashing_at_a_failpoint_loses_no_acknowledged_write(
    fresh_cluster: Cluster, point: str, role: str
) -> None:
    cluster = fresh_cluster
    leader = cluster.leaders()["test/0"]
    victim = leader if role == "leader" else next(n for n in cluster.ids if n != leader)
    cluster.arm_failpoint(victim, point, "crash", skip=25)
    acked = _write_until_dead(cluster, victim, f"{point}-{role}")
    assert len(acked) > 25
    cluster.restart(victim)
    cluster.wait_ready()
    _assert_everywhere(cluster, f"{point}-{role}", acked)


def test_a_node_crashing_while_installing_a_snapshot_recovers(
    compacting_cluster: Cluster,
) -> None:
    cluster = compacting_cluster
    cluster.stop("n3")
    acked = {}
    with Client(cluster.hosts[:2], timeout=10) as c:
        for i in range(1500):
            c.put(("test", "install", i), {"i": i})
            acked[i] = i
    cluster.restart("n3", extra_env={"RAFTSTORE_FAILPOINTS": "snapshot.install=crash"})
    wait_until(lambda: not cluster.is_running("n3"), 30, "n3 to crash while installing")
    assert "failpoint snapshot.install: crashing" in cluster.log_text("n3")
    cluster.restart("n3")
    cluster.wait_ready()
    _assert_everywhere(cluster, "install", acked)
    assert "installed snapshot" in cluster.log_text("n3")
