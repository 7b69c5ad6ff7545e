"""A follower's GroupReplica keeps log entries that match the leader's when an
append_entries repeats or lags (pysyncobj alone deletes everything after prevLogIdx).

A real GroupReplica (RocksDB store; its journal a view of a node's WAL, as nodes run it, or
a journal of its own) in a temporary directory; the mesh only records what the replica
sends, and messages are delivered by hand from "n2", the leader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from raftstore.replication.group import GroupReplica, RaftTiming
from raftstore.replication.wal import WriteAheadLog
from raftstore.state_machine import StateMachine


class _RecordingMesh:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, peer_id: str, group_id: str, message: dict[str, Any]) -> bool:
        self.sent.append((peer_id, message))
        return True


@pytest.fixture(params=["wal", "own-journal"])
def follower(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GroupReplica]:
    loop = asyncio.new_event_loop()
    wal = WriteAheadLog(tmp_path / "wal", fsync=False) if request.param == "wal" else None
    group = GroupReplica(
        group_id="test/0",
        self_id="n1",
        member_ids=["n1", "n2", "n3"],
        directory=tmp_path / "g",
        state_machine=StateMachine({}),
        mesh=_RecordingMesh(),
        timing=RaftTiming(),
        loop=loop,
        fsync=False,
        journal=wal.open_group("test/0") if wal is not None else None,
    )
    yield group
    group.close()
    if wal is not None:
        wal.close()
    loop.close()


def _append(prev: int, prev_term: int, *entries: tuple[int, int], term: int = 1) -> dict:
    return {
        "type": "append_entries",
        "term": term,
        "commit_index": 0,
        "prevLogIdx": prev,
        "prevLogTerm": prev_term,
        "entries": tuple((b"x", idx, t) for idx, t in entries),
    }


def _last_ack(group: GroupReplica) -> int:
    """next_node_idx of the replica's last acknowledgement (sent or held until durable)."""
    acks = [m for _, m in group.transport.held if m["type"] == "next_node_idx"]
    assert acks and acks[-1]["success"]
    return int(acks[-1]["next_node_idx"])


def _log(group: GroupReplica) -> list[int | None]:
    return [group.journal.term_at(i) for i in range(1, group.journal.last_index + 1)]


def test_a_stale_append_entries_does_not_remove_acknowledged_entries(
    follower: GroupReplica,
) -> None:
    assert _log(follower) == [0]  # pysyncobj's initial no-op entry
    follower.transport.deliver("n2", _append(1, 0, (2, 1), (3, 1), (4, 1)))
    assert _log(follower) == [0, 1, 1, 1] and _last_ack(follower) == 5
    follower.transport.deliver("n2", _append(1, 0, (2, 1)))  # a repeat of an older message
    assert _log(follower) == [0, 1, 1, 1]
    assert _last_ack(follower) == 5


def test_a_lagging_heartbeat_keeps_the_leaders_entries(follower: GroupReplica) -> None:
    follower.transport.deliver("n2", _append(1, 0, (2, 1), (3, 1)))
    follower.transport.deliver("n2", _append(2, 1))
    assert _log(follower) == [0, 1, 1]
    assert _last_ack(follower) == 4


def test_a_conflicting_entry_still_truncates_from_the_conflict(follower: GroupReplica) -> None:
    follower.transport.deliver("n2", _append(1, 0, (2, 1), (3, 1), (4, 1)))
    follower.transport.deliver("n2", _append(1, 0, (2, 1), (3, 2), term=2))
    assert _log(follower) == [0, 1, 2]
    assert _last_ack(follower) == 4
