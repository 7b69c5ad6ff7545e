"""pysyncobj's gaps, closed, shown on real node processes: snapshots without fork, a Raft port
that trusts nobody, check-quorum, exactly-once retries."""

from __future__ import annotations

import os
import pickle
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from raftstore_client import Client, ReadMode
from raftstore_client import operations as op

from tests.integration.helpers import replicas_caught_up, wait_until
from tests.jepsen.cluster import Cluster


def test_a_follower_that_missed_compacted_entries_installs_a_snapshot_and_converges(
    compacting_cluster: Cluster,
) -> None:
    cluster = compacting_cluster
    cluster.stop("n3")
    n = 3000
    with Client(cluster.hosts[:2], timeout=10) as c:
        for i in range(n):
            c.put(("test", "snap", i), {"i": i, "pad": "x" * 50})
        c.delete(("test", "snap", 7))
    for node in ("n1", "n2"):
        groups = [g for g in cluster.status(node).groups if g.group_id.startswith("test/")]
        assert all(g.snapshot_index > 0 for g in groups), "the log was not compacted"
        assert all(g.first_log_index > 1 for g in groups)
    cluster.restart("n3")
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 60, "n3 to catch up")
    assert "installed snapshot" in cluster.log_text("n3")
    keys = [("test", "snap", i) for i in range(n)]
    views = {}
    for node in cluster.ids:
        with Client([cluster.address(node)], pinned=True, read_mode=ReadMode.ALLOW_REPLICA) as c:
            views[node] = [(r.meta.gen, r.bins) if r else None for r in c.get_many(keys)]
    assert views["n3"] == views["n1"] == views["n2"]
    assert views["n3"][7] is None and views["n3"][8] == (1, {"i": 8, "pad": "x" * 50})
    cluster.stop("n3")  # and it restarts from its snapshot plus journal
    cluster.restart("n3")
    cluster.wait_ready()
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 30, "n3 to come back")


def _frames(kind: str, marker: Path) -> bytes:
    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    evil = pickle.dumps(Payload())
    return {
        "garbage": os.urandom(20000),
        "pickle": struct.pack(">I", len(evil)) + evil,
        "pysyncobj-style pickle": struct.pack("i", len(evil)) + evil,
        "truncated": struct.pack(">I", 4096) + os.urandom(100),
        "oversized": struct.pack(">I", 2**31 - 1) + os.urandom(100),
    }[kind]


@pytest.mark.parametrize(
    "kind", ["garbage", "pickle", "pysyncobj-style pickle", "truncated", "oversized"]
)
def test_hostile_bytes_on_the_raft_port_are_dropped_and_the_node_stays_in_the_cluster(
    shared_cluster: Cluster, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / "executed"
    host, port = shared_cluster.node("n1").peer.rsplit(":", 1)
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(_frames(kind, marker))
            s.settimeout(1)
            try:
                s.recv(100)
            except (TimeoutError, ConnectionError):
                pass
    time.sleep(0.5)
    assert not marker.exists(), "a payload sent to the Raft port was executed"
    assert shared_cluster.is_running("n1")
    peers = {p.node_id for p in shared_cluster.status("n1").peers if p.connected}
    assert peers == {"n1", "n2", "n3"}, "n1 lost its peers"
    with Client(shared_cluster.hosts) as c:
        c.put(("test", "hostile", kind), {"ok": 1})
        assert c.get(("test", "hostile", kind)).bins == {"ok": 1}


def test_a_leader_cut_off_from_the_majority_steps_down_within_an_election_timeout(
    fresh_cluster: Cluster,
) -> None:
    cluster = fresh_cluster
    victim = max(set(cluster.leaders().values()), key=list(cluster.leaders().values()).count)
    led = {g for g, n in cluster.leaders().items() if n == victim}
    others = set(cluster.ids) - {victim}
    cluster.partition([{victim}, others])
    cut = time.monotonic()
    wait_until(
        lambda: not {g.group_id for g in cluster.status(victim).groups if g.role == 3} & led,
        5,
        "the isolated leader to step down",
    )
    stepped_down = time.monotonic() - cut
    assert stepped_down < 2.5, f"stepped down after {stepped_down:.2f}s"
    cluster.heal()


def test_retried_increments_after_injected_timeouts_are_applied_once(
    fresh_cluster: Cluster,
) -> None:
    """Every node stalls 1.5 s after applying each of its next 3 entries (failpoint
    apply.after, count 3), so the client's 1 s attempts time out in doubt and are retried
    with the same identity; the state machine applies each increment once and answers
    retries from its session."""
    cluster = fresh_cluster
    key = ("test", "counter", "c")
    with Client(cluster.hosts, timeout=10) as c:
        c.put(key, {"n": 0})
    for node in cluster.ids:
        cluster.arm_failpoint(node, "apply.after", "delay:1500", count=3)
    results: list[Any] = []

    def increments() -> None:
        with Client(cluster.hosts, timeout=60, attempt_timeout=1.0, max_retries=100) as c:
            for _ in range(5):
                results.append(c.operate(key, [op.increment("n", 1), op.read("n")]).bins["n"])
            results.append(("retries", c.retries))

    worker = threading.Thread(target=increments)
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    *values, (_, retries) = results
    assert retries > 0, "no attempt timed out: the test did not exercise retries"
    assert values == [1, 2, 3, 4, 5], values
    with Client(cluster.hosts, timeout=10) as c:
        assert c.get(key).bins["n"] == 5
