"""A GroupReplica's pysyncobj snapshot hooks: ``_serialize`` packs only the group's rows,
``_deserialize`` installs them into a replica that is behind (a new one included) and leaves
a replica that is ahead alone.

Real GroupReplicas (RocksDB engine, journal) in temporary directories; no network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pysyncobj.node import Node

from raftstore.replication.group import GroupReplica, RaftTiming
from raftstore.replication.snapshot import read_manifest
from raftstore.state_machine import StateMachine
from raftstore.storage.base import Changes


class _NullMesh:
    def send(self, peer_id: str, group_id: str, message: dict[str, Any]) -> bool:
        return True


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[GroupReplica, GroupReplica]]:
    loop = asyncio.new_event_loop()
    made = [
        GroupReplica(
            group_id="test/0",
            self_id=node,
            member_ids=["n1", "n2"],
            directory=tmp_path / node,
            state_machine=StateMachine({}),
            mesh=_NullMesh(),
            timing=RaftTiming(),
            loop=loop,
            fsync=False,
        )
        for node in ("n1", "n2")
    ]
    yield made[0], made[1]
    for group in made:
        group.close()
    loop.close()


def _rows(group: GroupReplica) -> dict[bytes, bytes]:
    return dict(group.store.db.items())


def test_a_snapshot_carries_the_rows_and_installs_into_a_replica_behind(
    replicas: tuple[GroupReplica, GroupReplica], tmp_path: Path
) -> None:
    source, target = replicas
    source.store.commit(Changes({("test", bytes(range(16))): b"rec"}, {b"c": b"s"}), 40)
    path = str(tmp_path / "snap")
    source._serialize(path, ((b"", 40, 3), (b"", 39, 3), {Node("n1"), Node("n2")}))
    assert read_manifest(path).applied_index == 40 and source.snapshot_index == 40

    last, prev, cluster = target._deserialize(path)
    assert _rows(target) == _rows(source) and target.store.applied_index() == 40
    assert (last, prev) == ((b"", 40, 3), (b"", 39, 3))
    assert sorted(n.id for n in cluster) == ["n1", "n2"] and target.snapshot_index == 40


def test_a_replica_ahead_of_the_snapshot_keeps_its_rows(
    replicas: tuple[GroupReplica, GroupReplica], tmp_path: Path
) -> None:
    source, target = replicas
    source.store.commit(Changes({("test", bytes(16)): b"old"}, {}), 10)
    path = str(tmp_path / "snap")
    source._serialize(path, ((b"", 10, 1), (b"", 9, 1), {Node("n1"), Node("n2")}))
    target.store.commit(Changes({("test", bytes(16)): b"newer"}, {}), 12)
    target._deserialize(path)
    assert target.store.get("test", bytes(16)) == b"newer" and target.store.applied_index() == 12


def test_snapshot_events_reach_the_metrics_counters(
    replicas: tuple[GroupReplica, GroupReplica], tmp_path: Path
) -> None:
    from raftstore_node import metrics

    from raftstore.replication import group as replica_group

    def value(family: str, event: str) -> float:
        return metrics.REGISTRY.get_sample_value(family, {"event": event}) or 0.0

    before = {
        (f, e): value(f, e)
        for f in ("raftstore_snapshots_total", "raftstore_snapshot_bytes_total")
        for e in ("taken", "sent", "installed")
    }
    source, target = replicas
    source.store.commit(Changes({("test", bytes(range(16))): b"rec"}, {b"c": b"s"}), 40)
    path = tmp_path / "snap"
    replica_group.on_snapshot = metrics.observe_snapshot
    try:
        source._serialize(str(path), ((b"", 40, 3), (b"", 39, 3), {Node("n1"), Node("n2")}))
        target._deserialize(str(path))
        data = path.read_bytes()
        send = source.transport.send  # a leader sends a snapshot in chunks
        send(Node("n2"), {"type": "append_entries", "serialized": (data[:10], True, False)})
        send(Node("n2"), {"type": "append_entries", "serialized": (data[10:], False, True)})
    finally:
        replica_group.on_snapshot = None
    size = path.stat().st_size
    for event in ("taken", "installed", "sent"):
        count = value("raftstore_snapshots_total", event)
        assert count == before[("raftstore_snapshots_total", event)] + 1, event
        got = value("raftstore_snapshot_bytes_total", event)
        assert got == before[("raftstore_snapshot_bytes_total", event)] + size
