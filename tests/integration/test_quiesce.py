"""Quiesced idle groups on real nodes (64 groups, 3 nodes): idle CPU drops; after a long
idle period writes and linearizable reads are prompt and no election happened; a node cut
off or killed still loses its leaderships to new leaders within a few election timeouts."""

from __future__ import annotations

import os
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from raftstore_client import Client, ReadMode

from raftstore.v1 import cluster_pb2
from tests.integration.helpers import group_terms, key_in_group, wait_until
from tests.jepsen.cluster import Cluster

GROUPS = 64
ELECTION_MAX = 2.0  # RaftTiming's default
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def idle_cpu(cluster: Cluster, seconds: float) -> float:
    """Mean percent of one core a node used over ``seconds`` with no load."""
    pids = [cluster.pid(n) for n in cluster.ids]
    before = [_cpu(p) for p in pids if p]
    t0 = time.monotonic()
    time.sleep(seconds)
    spent = sum(_cpu(p) for p in pids if p) - sum(before)
    return 100.0 * spent / (time.monotonic() - t0) / len(before)


def quiesced(cluster: Cluster, node_id: str) -> int:
    url = f"http://{cluster.node(node_id).metrics}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    m = re.search(r"^raftstore_groups_quiesced (\S+)$", text, re.M)
    assert m, "no raftstore_groups_quiesced metric"
    return int(float(m.group(1)))


def all_quiesced(cluster: Cluster, nodes: list[str] | None = None) -> bool:
    return all(quiesced(cluster, n) == GROUPS for n in nodes or cluster.ids)


def led_by(cluster: Cluster, node_id: str) -> list[str]:
    st = cluster.status(node_id)
    return [g.group_id for g in st.groups if g.role == cluster_pb2.RAFT_ROLE_LEADER]


@pytest.fixture(scope="module")
def quiet_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(
        tmp_path_factory.mktemp("quiet"),
        nodes=3,
        partition_groups=GROUPS,
        raft={"quiesce": True},
        node_args=["--enable-fault-injection"],
    ) as cluster:
        cluster.wait_ready(timeout=120)
        yield cluster


def test_idle_groups_quiesce_and_idle_cpu_drops(tmp_path: Path, quiet_cluster: Cluster) -> None:
    with Cluster(
        tmp_path / "ticking", nodes=3, partition_groups=GROUPS, raft={"quiesce": False}
    ) as ticking:
        ticking.wait_ready(timeout=120)
        time.sleep(3.0)
        assert not any(quiesced(ticking, n) for n in ticking.ids)
        before = idle_cpu(ticking, 10.0)
    wait_until(lambda: all_quiesced(quiet_cluster), 120, "every group to quiesce")
    after = idle_cpu(quiet_cluster, 10.0)
    print(f"idle CPU per node, {GROUPS} groups: ticking {before:.1f}%, quiesced {after:.1f}%")
    assert after < 0.7 * before, (before, after)  # measured: 0.45-0.47


def test_after_a_long_idle_period_writes_and_linearizable_reads_are_prompt(
    quiet_cluster: Cluster,
) -> None:
    wait_until(lambda: all_quiesced(quiet_cluster), 120, "every group to quiesce")
    terms = group_terms(quiet_cluster)
    time.sleep(3 * ELECTION_MAX)  # no per-group heartbeat for several election timeouts
    assert all_quiesced(quiet_cluster)
    assert group_terms(quiet_cluster) == terms, "an election happened while idle"
    with Client(quiet_cluster.hosts, timeout=10) as c:
        for i in (0, 17, 42, 63):
            key = key_in_group(f"test/{i}", "idle", GROUPS)
            t0 = time.monotonic()
            c.put(key, {"n": i})
            wrote = time.monotonic() - t0
            t0 = time.monotonic()
            assert c.get(key, read_mode=ReadMode.LINEARIZE).bins == {"n": i}
            read = time.monotonic() - t0
            print(f"test/{i}: write {wrote * 1000:.0f} ms, linearizable read {read * 1000:.0f} ms")
            assert wrote < 2.0 and read < 2.0, (wrote, read)
    # The woken groups quiesce again.
    wait_until(lambda: all_quiesced(quiet_cluster), 30, "the groups to quiesce again")
    assert group_terms(quiet_cluster) == terms


def test_a_cut_off_leader_node_loses_its_quiesced_groups(quiet_cluster: Cluster) -> None:
    wait_until(lambda: all_quiesced(quiet_cluster), 120, "every group to quiesce")
    victim = max(quiet_cluster.ids, key=lambda n: len(led_by(quiet_cluster, n)))
    lost = led_by(quiet_cluster, victim)
    assert lost
    others = [n for n in quiet_cluster.ids if n != victim]
    t0 = time.monotonic()
    quiet_cluster.partition([{victim}, set(others)])
    try:
        # Check-quorum: the cut-off leader steps down; its quiesced followers campaign.
        wait_until(lambda: not led_by(quiet_cluster, victim), 6 * ELECTION_MAX, "step-downs")
        stepped_down = time.monotonic() - t0

        def new_leaders() -> bool:
            return set(lost) <= {g for n in others for g in led_by(quiet_cluster, n)}

        wait_until(new_leaders, 6 * ELECTION_MAX, "new leaders among the majority")
        elected = time.monotonic() - t0
        print(f"cut off: {victim} led none after {stepped_down:.1f}s, new leaders {elected:.1f}s")
    finally:
        quiet_cluster.heal()
    with Client(quiet_cluster.hosts, timeout=10) as c:
        key = key_in_group(lost[0], "cut", GROUPS)
        c.put(key, {"v": 1})
        assert c.get(key).bins == {"v": 1}


def test_killing_the_leader_node_of_quiesced_groups_elects_new_leaders(
    quiet_cluster: Cluster,
) -> None:
    wait_until(lambda: all_quiesced(quiet_cluster), 120, "every group to quiesce")
    victim = max(quiet_cluster.ids, key=lambda n: len(led_by(quiet_cluster, n)))
    lost = led_by(quiet_cluster, victim)
    assert lost
    others = [n for n in quiet_cluster.ids if n != victim]
    t0 = time.monotonic()
    quiet_cluster.kill(victim)

    def new_leaders() -> bool:
        return set(lost) <= {g for n in others for g in led_by(quiet_cluster, n)}

    wait_until(new_leaders, 3 * ELECTION_MAX + 2.0, "new leaders after the kill")
    print(f"killed {victim} (led {len(lost)} groups): new leaders in {time.monotonic() - t0:.1f}s")
    with Client([quiet_cluster.address(n) for n in others], timeout=10) as c:
        key = key_in_group(lost[-1], "kill", GROUPS)
        c.put(key, {"v": 2})
        assert c.get(key).bins == {"v": 2}
