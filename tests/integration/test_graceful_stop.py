"""A clean stop (SIGTERM) hands the node's leaderships to caught-up replicas first, so a
rolling restart costs no election timeout and no client call is cancelled with the server.
"""

from __future__ import annotations

import threading
import time

from raftstore_client import Client, RaftstoreError

from tests.jepsen.cluster import Cluster

ELECTION_MIN = 1.0  # seconds (RaftTiming): without a hand-off, no leader before this


def _groups(cluster: Cluster) -> set[str]:
    groups: set[str] = set()
    for node_id in cluster.ids:
        if cluster.is_running(node_id):
            groups |= {g.group_id for g in cluster.status(node_id).groups}
    return groups


def test_a_clean_stop_hands_every_leadership_over_before_exiting(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster
    errors: list[str] = []
    acked = 0
    stop = threading.Event()

    def write() -> None:
        nonlocal acked
        with Client(cluster.hosts, timeout=15) as c:
            i = 0
            while not stop.is_set() and i < 100_000:
                i += 1
                try:
                    c.put(("test", "rolling", i % 500), {"i": i})
                    acked += 1
                except RaftstoreError as exc:
                    errors.append(str(exc))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        for victim in cluster.ids:  # a rolling restart
            cluster.wait_ready()
            groups = _groups(cluster)
            led = [g for g, n in cluster.leaders().items() if n == victim]
            cluster.stop(victim)
            assert cluster.procs[victim].returncode == 0
            stopped = time.monotonic()
            leaders = cluster.leaders()
            # Without a hand-off the victim's groups would have no leader for at least an
            # election timeout after it exits; with one, the others already lead them.
            assert time.monotonic() - stopped < ELECTION_MIN
            assert set(leaders) == groups, (
                f"leaderless after {victim} stopped: {groups - set(leaders)}"
            )
            if led:
                assert "leaderships over before stopping" in cluster.log_text(victim)
            cluster.restart(victim)
        cluster.wait_ready()
    finally:
        stop.set()
        writer.join(30)
    assert acked > 50
    assert not errors, errors[:5]
