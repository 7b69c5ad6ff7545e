"""Expiry (nsup) and stop-writes on real node processes.

Records written with a 1 s TTL are deleted from disk — their rows and their index rows,
on every replica — by the leaders' nsup sweeps, counted in ``raftstore info``; a
namespace with a small ``stop_writes_size`` refuses growing writes with FORBIDDEN (22)
once full, keeps serving reads and deletes, and takes writes again after a truncate.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from raftstore_client import Client, Forbidden
from raftstore_client.batch import BatchDelete, BatchWrite
from raftstore_client.info import cluster_info

from raftstore.errors import ResultCode
from raftstore.records import decode_record
from raftstore.sindex import index_prefix
from raftstore.storage.engine import Engine
from tests.integration.helpers import wait_until
from tests.jepsen.cluster import Cluster

NAMESPACES = [
    {
        "name": "test",
        "replication_factor": 3,
        "partition_groups": 2,
        "nsup_period": 1,
        "nsup_deletes_per_second": 2000,
    },
    {
        "name": "capped",
        "replication_factor": 3,
        "partition_groups": 1,
        "nsup_period": 0,
        "stop_writes_size": "1M",
    },
]
EXPIRING, REWRITTEN, KEPT = 300, 20, 30


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("expiry"), nodes=3, namespaces=NAMESPACES) as c:
        yield c


def _namespace_stats(client: Client, namespace: str) -> list[dict]:
    info = cluster_info(client)
    return [n["namespaces"][namespace] for n in info["nodes"] if n["up"]]


def _metric(cluster: Cluster, name: str, namespace: str) -> list[float]:
    """The value of ``name``{namespace=...} on every node's /metrics."""
    values = []
    for node_id in cluster.ids:
        url = f"http://{cluster.node(node_id).metrics}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        for family in text_string_to_metric_families(text):
            values += [
                s.value
                for s in family.samples
                if s.name == name and s.labels.get("namespace") == namespace
            ]
    return values


def test_stop_writes_refuses_growing_writes_until_a_truncate_makes_room(cluster: Cluster) -> None:
    with Client(cluster.hosts, timeout=10) as client:
        client.put(("capped", "s", "first"), {"v": 0})
        refused: Forbidden | None = None
        deadline = time.monotonic() + 90
        for i in range(3000):  # 4 KiB each: 12 MiB at most, far past the 1 MiB cap
            if time.monotonic() > deadline:
                break
            key, bins = ("capped", "s", i), {"blob": os.urandom(4096), "i": i}
            try:
                client.put(key, bins)
            except Forbidden:
                # The size is RocksDB's estimate: a memtable flush can lower it below the
                # cap again. Stopped for good once refused after the next refresh too.
                time.sleep(1.5)
                try:
                    client.put(key, bins)
                except Forbidden as e:
                    refused = e
                    break
        assert refused is not None, "writes were never refused"
        assert refused.code == ResultCode.FORBIDDEN
        assert "'capped'" in str(refused) and "stop_writes_size 1048576" in str(refused)
        stats = _namespace_stats(client, "capped")
        assert any(s["stop_writes"] and s["stored_bytes"] >= 1048576 for s in stats), stats
        assert 1.0 in _metric(cluster, "raftstore_namespace_stop_writes", "capped")
        assert (
            _metric(cluster, "raftstore_namespace_stop_writes_size_bytes", "capped")
            == [1048576.0] * 3
        )
        # Growing batch items are refused too; reads, deletes and other namespaces go on.
        (item,) = client.batch_write([BatchWrite(("capped", "s", "b"), bins={"v": 1})])
        assert item.result_code == ResultCode.FORBIDDEN
        assert client.get(("capped", "s", "first")).bins == {"v": 0}
        client.delete(("capped", "s", "first"))
        (gone,) = client.batch_write([BatchDelete(("capped", "s", 0))])
        assert gone.result_code == ResultCode.OK
        client.put(("test", "other", "x"), {"v": 1})
        # The operator's way out: truncate; once swept and compacted, writes resume.
        client.truncate("capped")

        def writable() -> bool:
            try:
                client.put(("capped", "s", "after"), {"v": 2})
                return True
            except Forbidden:
                return False

        wait_until(writable, 60, "writes accepted again after the truncate")
        assert client.get(("capped", "s", "after")).bins == {"v": 2}
        wait_until(
            lambda: not any(s["stop_writes"] for s in _namespace_stats(client, "capped")),
            30,
            "every node below the cap (swept and compacted)",
        )


def _rows_on_disk(cluster: Cluster, node_id: str) -> tuple[list[str], int]:
    """Set names of the records of namespace test stored by ``node_id`` (stopped), and
    how many rows its index ``ttl_n`` holds."""
    engine = Engine(Path(cluster.directory) / node_id / "data" / "store")
    try:
        sets: list[str] = []
        index_rows = 0
        for gid in sorted(engine.groups()):
            if not gid.startswith("test/"):
                continue
            store = engine.store(gid)
            sets += [decode_record(data).set_name for _, data in store.scan("test")]
            prefix = index_prefix("ttl_n")
            index_rows += sum(1 for _ in store.index_keys(prefix, prefix))
        return sets, index_rows
    finally:
        engine.close()


def test_expired_records_are_deleted_from_disk_with_their_index_rows(cluster: Cluster) -> None:
    with Client(cluster.hosts, timeout=10) as client:
        client.create_index("test", "ttl", "n", "NUMERIC", name="ttl_n")
        client.wait_for_index("test", "ttl_n", timeout=60)
        before = sum(s["expired_records"] for s in _namespace_stats(client, "test"))
        for i in range(EXPIRING):
            client.put(("test", "ttl", i), {"n": i}, ttl=1)
            if i < REWRITTEN:  # written again at once with a long TTL: they stay
                client.put(("test", "ttl", i), {"n": i}, ttl=3600)
        for i in range(KEPT):
            client.put(("test", "keep", i), {"n": i})
        want = EXPIRING - REWRITTEN

        def expired() -> int:
            return sum(s["expired_records"] for s in _namespace_stats(client, "test")) - before

        wait_until(lambda: expired() >= want, 60, f"{want} expired records deleted")
        assert expired() == want
        found = sorted(
            r.bins["n"] for r in client.query("test", "ttl", bin="n", between=(0, 10**6))
        )
        assert found == list(range(REWRITTEN))
        stats = _namespace_stats(client, "test")
        assert all(s["nsup_period_s"] == 1 for s in stats), stats
        assert sum(s["sweeps"] for s in stats) > 0  # by the nodes leading the groups
        shown = subprocess.run(
            [
                sys.executable,
                "-m",
                "raftstore_client.cli",
                "info",
                "--hosts",
                ",".join(cluster.hosts),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0, shown.stderr
        assert "expired=" in shown.stdout and "cap=1048576" in shown.stdout, shown.stdout
        assert sum(_metric(cluster, "raftstore_expired_records_total", "test")) == want
    # On disk, on every replica: only the rewritten and kept records, and their index rows.
    time.sleep(1.0)  # let followers apply the last Expire entries
    cluster.kill_all()
    for node_id in cluster.ids:
        sets, index_rows = _rows_on_disk(cluster, node_id)
        assert sets.count("ttl") == REWRITTEN, (node_id, sets.count("ttl"))
        assert sets.count("keep") == KEPT
        assert index_rows == REWRITTEN
