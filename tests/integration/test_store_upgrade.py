"""A node whose data dir has the previous layout (one RocksDB per group replica, format-1
snapshots) imports it into its one RocksDB at start and loses nothing."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import rocksdict
from raftstore_client import Client, ReadMode

from raftstore.replication.snapshot import Manifest, read_manifest
from raftstore.storage.engine import Engine
from tests.integration.helpers import replicas_caught_up, wait_until
from tests.jepsen.cluster import Cluster


def _to_previous_layout(data: Path) -> list[str]:
    """Rewrite a stopped node's data dir as the per-group layout wrote it: each group's rows
    in ``groups/<ns>-<i>/db``, its snapshot file a format-1 checkpoint; no ``store``."""
    engine = Engine(data / "store")
    gids = sorted(engine.groups())
    for gid in gids:
        directory = data / "groups" / gid.replace("/", "-")
        legacy = rocksdict.Rdict(str(directory / "db"), rocksdict.Options(raw_mode=True))
        for key, value in engine.store(gid).db.items():
            legacy.put(key, value)
        snapshot = directory / "snapshot"
        if snapshot.exists():
            _rewrite_as_format_1(snapshot, legacy, directory / "checkpoint")
        legacy.close()
    engine.close()
    shutil.rmtree(data / "store")
    return gids


def _rewrite_as_format_1(snapshot: Path, legacy: rocksdict.Rdict, checkpoint: Path) -> None:
    m = read_manifest(snapshot)
    old = Manifest(m.group, m.last_entry, m.prev_entry, m.cluster, m.applied_index, format=1)
    rocksdict.Checkpoint(legacy).create_checkpoint(str(checkpoint))
    with tarfile.open(snapshot, "w", format=tarfile.PAX_FORMAT) as tar:
        raw = old.to_json()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
        tar.add(checkpoint, arcname="db")
    shutil.rmtree(checkpoint)


def test_a_node_of_the_per_group_layout_imports_its_groups_and_keeps_serving(
    compacting_cluster: Cluster,
) -> None:
    cluster = compacting_cluster
    n = 600
    with Client(cluster.hosts, timeout=10) as c:
        for i in range(n):
            c.put(("test", "up", i), {"i": i})
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 60, "replicas to converge")
    cluster.stop("n3")
    data = cluster.node("n3").config.parent / "data"
    gids = _to_previous_layout(data)
    assert {"test/0", "test/1", "_system/0"} <= set(gids)
    assert any(read_manifest(p).format == 1 for p in data.glob("groups/*/snapshot"))

    cluster.restart("n3")
    cluster.wait_ready()
    log = cluster.log_text("n3")
    assert all(f"group {gid}: imported" in log for gid in gids), log[-3000:]
    assert not list(data.glob("groups/*/db"))
    keys = [("test", "up", i) for i in range(n)]
    with Client([cluster.address("n3")], pinned=True, read_mode=ReadMode.ALLOW_REPLICA) as c:
        assert [r.bins["i"] if r else None for r in c.get_many(keys)] == list(range(n))
    with Client(cluster.hosts, timeout=10) as c:  # and it keeps replicating new writes
        for i in range(n, n + 50):
            c.put(("test", "up", i), {"i": i})
    wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 60, "n3 to catch up")
    with Client([cluster.address("n3")], pinned=True, read_mode=ReadMode.ALLOW_REPLICA) as c:
        assert all(r is not None for r in c.get_many([("test", "up", i) for i in range(n + 50)]))
