"""A failing disk stops the node (fail-stop) without losing anything acknowledged, and a
nearly full one refuses writes with OUT_OF_SPACE (8) before the journal or RocksDB fail."""

from __future__ import annotations

import time

import pytest
from raftstore_client import Client, OutOfSpace, RaftstoreError, ReadMode

from tests.integration.helpers import group_of, replicas_caught_up, wait_until
from tests.jepsen.cluster import Cluster

FAIL_STOP_EXIT = 70  # raftstore.replication.driver.fail_stop


def _write_until_stopped(cluster: Cluster, victim: str, prefix: str, led: bool) -> set[int]:
    """Write records of the groups ``victim`` leads (``led``) or of the others until it has
    stopped, then 30 more; return the acknowledged ones."""
    leaders = cluster.leaders()
    acked: set[int] = set()
    with Client(cluster.hosts, timeout=15, attempt_timeout=2) as c:
        i, after, deadline = 0, 0, time.monotonic() + 60
        while after < 30 and time.monotonic() < deadline:
            i += 1
            if (leaders[group_of(("test", prefix, i))] == victim) != led:
                continue
            try:
                c.put(("test", prefix, i), {"i": i})
                acked.add(i)
            except RaftstoreError:
                pass
            after += not cluster.is_running(victim)
    assert not cluster.is_running(victim), f"{victim} kept running on a failing disk"
    return acked


def _assert_everywhere(cluster: Cluster, prefix: str, acked: set[int]) -> None:
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 60, "replicas to converge")
    keys = [("test", prefix, i) for i in sorted(acked)]
    for node in cluster.ids:
        with Client([cluster.address(node)], pinned=True, read_mode=ReadMode.ALLOW_REPLICA) as c:
            got = c.get_many(keys)
        missing = [k[2] for k, r in zip(keys, got, strict=True) if r is None]
        assert not missing, f"{node} lost acknowledged writes {missing[:10]}"


@pytest.mark.parametrize(
    ("point", "error", "role"),
    [
        ("journal.before_fsync", "EIO", "leader"),
        ("journal.write", "ENOSPC", "leader"),  # appending its own proposals
        ("journal.write", "ENOSPC", "follower"),  # appending the leader's entries
        ("journal.write", "EIO", "follower"),
        ("apply.before", "EIO", "follower"),  # RocksDB refuses to apply a committed entry
        ("apply.before", "ENOSPC", "leader"),
    ],
)
def test_a_journal_or_apply_io_error_stops_the_node_and_loses_nothing_acknowledged(
    fresh_cluster: Cluster, point: str, error: str, role: str
) -> None:
    cluster = fresh_cluster
    victim = cluster.leaders()["test/0"]  # leads some groups, follows the others
    cluster.arm_failpoint(victim, point, f"error:{error}", skip=20)
    acked = _write_until_stopped(cluster, victim, f"{point}-{error}", led=role == "leader")
    assert cluster.procs[victim].returncode == FAIL_STOP_EXIT
    log = cluster.log_text(victim)
    assert "stopping the node (fail-stop)" in log
    assert f"failpoint {point}" in log  # the OSError's message names the failpoint
    assert len(acked) > 20
    cluster.restart(victim)  # the disk is healthy again
    cluster.wait_ready()
    _assert_everywhere(cluster, f"{point}-{error}", acked)


def _set_min_free(cluster: Cluster, node: str, value: int) -> None:
    config = cluster.node(node).config
    text = config.read_text().split("\n[limits]\n")[0]
    config.write_text(text + f"\n[limits]\nmin_free_bytes = {value}\n")


def test_a_nearly_full_disk_refuses_writes_with_out_of_space(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster
    full = "n1"
    with Client(cluster.hosts, timeout=10) as c:
        for i in range(20):
            c.put(("test", "full", i), {"i": i})
    cluster.stop(full)
    _set_min_free(cluster, full, 1 << 62)  # more than any disk has: n1's disk is "full"
    cluster.restart(full)
    cluster.wait_ready()
    wait_until(lambda: full in cluster.leaders().values(), 30, "n1 to lead a group again")
    leaders = cluster.leaders()
    on_full = next(i for i in range(1000) if leaders[group_of(("test", "full", i))] == full)
    elsewhere = next(i for i in range(1000) if leaders[group_of(("test", "full", i))] != full)
    with Client(cluster.hosts, timeout=10) as c:
        with pytest.raises(OutOfSpace) as info:
            c.put(("test", "full", on_full), {"i": -1})
        assert info.value.code == 8 and not info.value.in_doubt
        c.put(("test", "full", elsewhere), {"i": -2})  # a leader with room writes
        assert all(c.get(("test", "full", i)).bins["i"] in (i, -2) for i in range(20))
    assert "writes refused for lack of disk space" in cluster.log_text(full)
    cluster.stop(full)  # space is freed: the node restarts and catches up
    _set_min_free(cluster, full, 0)
    cluster.restart(full)
    cluster.wait_ready()
    with Client(cluster.hosts, timeout=10) as c:
        c.put(("test", "full", on_full), {"i": -1})
        assert c.get(("test", "full", on_full)).bins["i"] == -1
    _assert_everywhere(cluster, "full", set(range(20)) - {on_full, elsewhere})
