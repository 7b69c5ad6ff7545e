"""A corrupt RocksDB file or Raft WAL segment is detected when the node starts: it refuses
to start with a clear message (exit 65) instead of serving missing or wrong rows, and the
rest of the cluster keeps every acknowledged write."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from raftstore_client import Client, ReadMode

from tests.integration.helpers import replicas_caught_up, wait_until
from tests.jepsen.cluster import Cluster

DATA_CORRUPT_EXIT = 65  # raftstore_node.main.DATA_CORRUPT_EXIT
VICTIM = "n3"


def _write(cluster: Cluster, prefix: str, count: int) -> list[tuple[str, str, int]]:
    keys = [("test", prefix, i) for i in range(count)]
    with Client(cluster.hosts, timeout=15) as c:
        for k in keys:
            c.put(k, {"i": k[2], "pad": secrets.token_hex(100)})  # incompressible
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 60, "replicas to catch up")
    return keys


def _refused_start(cluster: Cluster) -> str:
    """Start the victim again; it must exit by itself with DATA_CORRUPT_EXIT. Its log."""
    cluster.restart(VICTIM)
    proc = cluster.procs[VICTIM]
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is not None, f"{VICTIM} started on corrupt data"
    assert proc.returncode == DATA_CORRUPT_EXIT, proc.returncode
    log = cluster.log_text(VICTIM)
    assert "refusing to start, its data is corrupt" in log
    return log


def _others_hold(cluster: Cluster, keys: list[tuple[str, str, int]]) -> None:
    for node in cluster.ids:
        if node == VICTIM:
            continue
        with Client([cluster.address(node)], pinned=True, read_mode=ReadMode.ALLOW_REPLICA) as c:
            got = c.get_many(keys)
        missing = [k[2] for k, r in zip(keys, got, strict=True) if r is None]
        assert not missing, f"{node} lost acknowledged writes {missing[:10]}"
    with Client(cluster.hosts, timeout=15) as c:  # the cluster still writes
        c.put(("test", "after", 1), {"ok": True})


def _flip(path: Path, at: int, length: int = 32) -> None:
    data = bytearray(path.read_bytes())
    data[at : at + length] = bytes(b ^ 0x5A for b in data[at : at + length])
    path.write_bytes(bytes(data))


def test_a_corrupt_rocksdb_file_is_refused_at_start(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster
    keys = _write(cluster, "rocks", 1500)
    cluster.stop(VICTIM)  # a clean stop flushes the memtables into SST files
    store = cluster.node(VICTIM).config.parent / "data" / "store"
    tables = sorted(store.glob("*.sst"), key=lambda p: p.stat().st_size)
    assert tables, f"no SST file in {store}"
    biggest = tables[-1]
    assert biggest.stat().st_size > 16 * 1024, biggest.stat().st_size
    _flip(biggest, biggest.stat().st_size // 3)  # inside a data block, not the metadata
    log = _refused_start(cluster)
    assert "Corruption" in log and biggest.name in log, log[-2000:]
    _others_hold(cluster, keys)


def test_a_corrupt_wal_segment_is_refused_at_start(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster
    keys = _write(cluster, "wal", 300)
    cluster.stop(VICTIM)
    wal = cluster.node(VICTIM).config.parent / "data" / "wal"
    segments = sorted(p for p in wal.iterdir() if p.is_file())
    assert segments, f"no WAL segment in {wal}"
    _flip(segments[0], 0, 16)  # the segment header
    log = _refused_start(cluster)
    assert segments[0].name in log, log[-2000:]
    _others_hold(cluster, keys)
