"""The node's write-ahead log: every group's journal in one log, one fdatasync per round.

Per-group semantics are pysyncobj's journal (a list of (command, idx, term) addressed by list
position) and must survive reopening and crashes; the log as a whole must sync every group
with one fdatasync, recover a torn tail, refuse corruption elsewhere, and reclaim segments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shutil
import socket
import stat
import struct
import time
import zlib
from pathlib import Path

import pytest
from pysyncobj import SyncObj, SyncObjConf, replicated

from raftstore.replication import journal as journal_module
from raftstore.replication.driver import RaftDriver
from raftstore.replication.journal import (
    COMMIT_HINT_SECONDS,
    DurableJournal,
    JournalCorruptError,
    JournalError,
    attach_journal,
)
from raftstore.replication.wal import WriteAheadLog

HEADER = 24


def entry(idx: int, term: int = 1, size: int = 10) -> tuple[bytes, int, int]:
    return (bytes([idx % 251]) * size, idx, term)


def segment(directory: Path, seq: int) -> Path:
    return directory / f"{seq:016x}.wal"


def encode_entry(gid: str, command: bytes, idx: int, term: int) -> bytes:
    """An ENTRY record as documented in wal_format.py, written independently of it."""
    payload = struct.pack("<BH", 1, len(gid)) + gid.encode() + struct.pack("<QQ", idx, term)
    payload += command
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


@pytest.fixture
def wdir(tmp_path: Path) -> Path:
    return tmp_path / "wal"


@pytest.fixture
def open_wal(wdir: Path):
    opened: list[WriteAheadLog] = []

    def _open(directory: Path = wdir, **kwargs) -> WriteAheadLog:
        wal = WriteAheadLog(directory, **kwargs)
        opened.append(wal)
        return wal

    yield _open
    for wal in opened:
        with contextlib.suppress(Exception):
            wal.close()


def fill(wal: WriteAheadLog, gid: str, entries) -> None:
    group = wal.open_group(gid)
    for e in entries:
        group.add(*e)
    group.close()


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def count_fdatasyncs(monkeypatch) -> list[float]:
    seen: list[float] = []
    monkeypatch.setattr(journal_module, "on_fdatasync", seen.append)
    return seen


# -- round trip and format -------------------------------------------------------------------


def test_each_groups_entries_term_and_helpers_survive_reopen(open_wal, wdir):
    wal = open_wal()
    a, b = wal.open_group("test/0"), wal.open_group("test/1")
    entries = [(b"", 1, 0), (os.urandom(100_000), 2, 1), (b"\x00\xff" * 3, 3, 4)]
    for i, e in enumerate(entries):
        a.add(*e)
        b.add(*entry(10 + i))
    a.setCurrentTerm(4, "n2")
    wal.close()
    wal = open_wal()
    a, b = wal.open_group("test/0"), wal.open_group("test/1")
    assert a[:] == entries and b[:] == [entry(10), entry(11), entry(12)]
    assert (a.first_index, a.last_index, a.durable_last_index) == (1, 3, 3)
    assert [a.term_at(i) for i in (0, 1, 2, 3, 4)] == [None, 0, 1, 4, None]
    assert a.entries_from(2) == entries[1:] and a.entries_from(9) == []
    assert (a.getCurrentTerm(), a.getVotedForNodeId(), b.getCurrentTerm()) == (4, "n2", 0)
    assert sorted(wal.group_ids()) == ["test/0", "test/1"]
    with pytest.raises(ValueError, match="open already"):
        wal.open_group("test/0")


def test_segment_follows_the_documented_format(open_wal, wdir):
    wal = open_wal()
    fill(wal, "g/7", [entry(5, 2), entry(6, 3)])
    wal.close()
    data = segment(wdir, 1).read_bytes()
    assert data[:8] == b"RSWAL\r\n\x00"
    assert struct.unpack_from("<HHQ", data, 8) == (1, 0, 1)
    assert struct.unpack_from("<I", data, 20)[0] == zlib.crc32(data[:20])
    expected = encode_entry("g/7", *entry(5, 2)) + encode_entry("g/7", *entry(6, 3))
    assert data[HEADER : HEADER + len(expected)] == expected


def test_add_rejects_a_gap_or_an_oversized_command_and_writes_nothing(open_wal):
    wal = open_wal()
    group = wal.open_group("g/0")
    group.add(*entry(1))
    with pytest.raises(ValueError):
        group.add(*entry(3))
    with pytest.raises(ValueError):
        group.add(bytes(64 * 1024 * 1024), 2, 1)
    assert group[:] == [entry(1)] and not wal._buf[1:]


# -- the model: random operations on several groups, reopen and crash ---------------------------


class Model:
    """Expected state of each group, and every state it passed through since the last sync
    (a crash may recover any of those, and nothing else)."""

    def __init__(self, gids: list[str]) -> None:
        self.state = {g: ([], 0, None) for g in gids}
        self.since_sync = {g: [self.state[g]] for g in gids}

    def set(self, gid: str, entries: list, term: int, vote: str | None) -> None:
        self.state[gid] = (list(entries), term, vote)
        self.since_sync[gid].append(self.state[gid])

    def synced(self) -> None:
        self.since_sync = {g: [s] for g, s in self.state.items()}


def observed(group) -> tuple[list, int, str | None]:
    return (group[:], group.getCurrentTerm(), group.getVotedForNodeId())


def crash_image(wal: WriteAheadLog, wdir: Path, dest: Path, rng, synced_size: dict) -> Path:
    """The files as a kill -9 leaves them (unflushed records lost), with a torn tail cut
    somewhere after what the last sync made durable."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(wdir, dest)
    last = segment(dest, wal.segments[-1])
    size = last.stat().st_size
    floor = synced_size.get(wal.segments[-1], HEADER)
    if size > floor and rng.random() < 0.7:
        with open(last, "r+b") as f:
            f.truncate(rng.randint(floor, size))
    return dest


def test_random_operations_on_interleaved_groups_match_the_model_across_crashes(
    open_wal, wdir, tmp_path
):
    rng = random.Random(20261128)
    gids = ["a/0", "b/1", "c/2"]
    kwargs = {"segment_bytes": 2048, "purge_segments": 2}
    wal = open_wal(**kwargs)
    groups = {g: wal.open_group(g) for g in gids}
    model = Model(gids)
    synced_size: dict[int, int] = {}
    ops = ["add", "from", "to", "clear", "sync", "term", "reopen", "crash"]
    for step in range(1500):
        gid = rng.choice(gids)
        group, (entries, term, vote) = groups[gid], model.state[gid]
        n = len(entries)
        op = rng.choices(ops, [60, 6, 6, 1, 6, 3, 2, 3])[0]
        if op == "add":
            idx = entries[-1][1] + 1 if entries else rng.randint(1, 1000)
            e = (rng.randbytes(rng.randint(0, 60)), idx, term)
            group.add(*e)
            model.set(gid, [*entries, e], term, vote)
        elif op == "from":
            pos = rng.randint(-n - 1, n + 1)
            group.deleteEntriesFrom(pos)
            model.set(gid, entries[:pos], term, vote)
        elif op == "to":
            pos = rng.randint(-n - 1, n + 1)
            group.deleteEntriesTo(pos)
            model.set(gid, entries[pos:], term, vote)
        elif op == "clear":
            group.clear()
            model.set(gid, [], term, vote)
        elif op in ("sync", "term"):
            if op == "term":
                term, vote = term + 1, rng.choice([None, "n1", "n2"])
                group.setCurrentTerm(term, vote)
                model.set(gid, entries, term, vote)
            else:
                wal.sync()
        elif op == "reopen":
            wal.close()
            wal = open_wal(**kwargs)
            groups = {g: wal.open_group(g) for g in gids}
        else:
            image = crash_image(wal, wdir, tmp_path / "crash", rng, synced_size)
            wal._fail()  # the process died: nothing more reaches the files
            shutil.rmtree(wdir)
            image.rename(wdir)
            wal = open_wal(**kwargs)
            groups = {g: wal.open_group(g) for g in gids}
            for g in gids:
                assert observed(groups[g]) in model.since_sync[g], (step, g)
                model.state[g] = observed(groups[g])
        if op in ("sync", "term", "reopen", "crash"):  # all that is in the files is durable
            model.synced()
            synced_size = {wal.segments[-1]: segment(wdir, wal.segments[-1]).stat().st_size}
        for g in gids:
            assert observed(groups[g]) == model.state[g], (step, op, g)
    assert wal.segments[0] > 10  # segments rolled over and were reclaimed along the way


# -- durability bookkeeping and the one sync per round ---------------------------------------


def test_one_fdatasync_makes_every_dirty_group_durable(open_wal, monkeypatch):
    wal = open_wal()
    groups = [wal.open_group(f"test/{i}") for i in range(16)]
    for i, g in enumerate(groups):
        for idx in range(1, i + 2):
            g.add(*entry(idx))
    assert wal.needs_sync and all(g.needs_sync for g in groups)
    syncs = count_fdatasyncs(monkeypatch)
    token = wal.begin_sync()
    assert token is not None and wal.begin_sync() is None  # one in flight at a time
    token.run()
    covered = wal.finish_sync(token)
    assert len(syncs) == 1
    assert sorted(covered) == sorted(f"test/{i}" for i in range(16))
    assert [g.durable_last_index for g in groups] == list(range(1, 17))
    assert not wal.needs_sync and wal.begin_sync() is None


def test_writes_during_a_sync_wait_for_the_next_and_a_truncation_is_not_covered(open_wal):
    wal = open_wal()
    a, b = wal.open_group("a/0"), wal.open_group("b/0")
    for i in range(1, 6):
        a.add(*entry(i))
        b.add(*entry(i))
    token = wal.begin_sync()
    a.add(*entry(6))  # after the sync began
    b.deleteEntriesFrom(2)  # truncates entries the sync is writing out
    assert b.durable_last_index == 0
    token.run()
    wal.finish_sync(token)
    assert (a.durable_last_index, a.needs_sync) == (5, True)
    assert (b.durable_last_index, b.needs_sync) == (0, True)
    token = wal.begin_sync()
    token.run()
    assert sorted(wal.finish_sync(token)) == ["a/0", "b/0"]
    assert (a.durable_last_index, b.durable_last_index) == (6, 2)
    assert not a.needs_sync and not b.needs_sync


def test_term_and_vote_are_durable_before_setCurrentTerm_returns(open_wal, monkeypatch):
    wal = open_wal()
    group = wal.open_group("g/0")
    group.add(*entry(1))
    syncs = count_fdatasyncs(monkeypatch)
    group.setCurrentTerm(7, "10.0.0.1:4321")
    assert len(syncs) == 1
    assert (group.durable_last_index, group.needs_sync) == (1, False)  # the sync covered it
    wal._fail()  # crash
    reopened = open_wal().open_group("g/0")
    assert (reopened.getCurrentTerm(), reopened.getVotedForNodeId()) == (7, "10.0.0.1:4321")


def test_commit_hint_is_written_by_the_timer_and_clamped_on_open(open_wal):
    wal = open_wal()
    group = wal.open_group("g/0")
    for i in range(1, 11):
        group.add(*entry(i))
    group.setRaftCommitIndex(8)
    for _ in range(COMMIT_HINT_SECONDS):
        group.onOneSecondTimer()
    group.setRaftCommitIndex(9)  # not written: the timer has not fired again
    wal.sync()
    wal._fail()
    assert open_wal().open_group("g/0").getRaftCommitIndex() == 8
    wal = open_wal()
    group = wal.open_group("g/0")
    group.setRaftCommitIndex(50)
    group.close()
    wal.close()
    assert open_wal().open_group("g/0").getRaftCommitIndex() == 10


# -- the driver: one sync per round --------------------------------------------------------


class _Transport:
    def __init__(self) -> None:
        self.released = 0

    def release(self) -> None:
        self.released += 1


class _Group:
    """What the driver sees of a replica: each tick appends one entry while work remains."""

    def __init__(self, wal: WriteAheadLog, gid: str, work: int) -> None:
        self.group_id = gid
        self.journal = wal.open_group(gid)
        self.transport = _Transport()
        self.work = work
        self.unsynced_ticks = 0

    def tick(self) -> None:
        if self.journal.needs_sync:
            self.unsynced_ticks += 1
        if self.work:
            self.work -= 1
            self.journal.add(*entry(self.journal.last_index + 1))
            self.on_dirty(self)


def test_the_driver_syncs_every_dirty_group_with_one_fdatasync_per_round(open_wal, monkeypatch):
    wal = open_wal()
    groups = [_Group(wal, f"test/{i}", work=5) for i in range(32)]
    syncs = count_fdatasyncs(monkeypatch)

    async def run() -> None:
        driver = RaftDriver(asyncio.get_running_loop(), wal, tick_interval=3600)
        for g in groups:
            driver.add(g)  # type: ignore[arg-type]
            driver.mark_dirty(g)  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while any(g.work or g.journal.needs_sync for g in groups):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.005)
        driver.stop()

    asyncio.run(run())
    assert all(g.journal.durable_last_index == 5 for g in groups)
    assert all(g.unsynced_ticks == 0 for g in groups)  # never ticked with unsynced writes
    assert all(g.transport.released >= 5 for g in groups)
    assert len(syncs) == 5  # 32 groups x 5 rounds of writes: one fdatasync per round


# -- recovery ------------------------------------------------------------------------------


def test_torn_tail_at_every_byte_of_the_last_record_is_dropped(open_wal, wdir, tmp_path, caplog):
    wal = open_wal()
    fill(wal, "g/0", [entry(1), entry(2), entry(3)])
    wal.close()
    data = segment(wdir, 1).read_bytes()
    last_start = len(data) - len(encode_entry("g/0", *entry(3)))
    for cut in range(last_start, len(data)):
        caplog.clear()
        directory = tmp_path / f"cut-{cut}"
        directory.mkdir()
        segment(directory, 1).write_bytes(data[:cut])
        wal = open_wal(directory)
        group = wal.open_group("g/0")
        assert group[:] == [entry(1), entry(2)], cut
        assert segment(directory, 1).stat().st_size == last_start, cut
        assert any(f"offset {last_start}" in m for m in warnings(caplog)) == (cut > last_start)
        group.add(*entry(3))
        wal.close()
        assert open_wal(directory).open_group("g/0")[:] == [entry(1), entry(2), entry(3)]


def test_flipped_bit_in_the_last_segment_drops_that_record_and_the_rest(open_wal, wdir, caplog):
    wal = open_wal()
    fill(wal, "g/0", [entry(1), entry(2), entry(3)])
    wal.close()
    data = bytearray(segment(wdir, 1).read_bytes())
    record = len(encode_entry("g/0", *entry(1)))
    data[HEADER + record + 10] ^= 0x10
    segment(wdir, 1).write_bytes(bytes(data))
    assert open_wal().open_group("g/0")[:] == [entry(1)]
    assert any("checksum mismatch" in m for m in warnings(caplog))


def _two_segments(open_wal, wdir) -> None:
    wal = open_wal(segment_bytes=512)
    group = wal.open_group("g/0")
    for i in range(1, 40):
        group.add(*entry(i, size=40))
        wal.sync()
    assert len(wal.segments) >= 3
    wal.close()


def test_a_corrupt_record_in_a_segment_that_is_not_the_last_is_refused(open_wal, wdir):
    _two_segments(open_wal, wdir)
    first = segment(wdir, 1)
    data = bytearray(first.read_bytes())
    data[HEADER + 30] ^= 0x01
    first.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError, match="not the last"):
        open_wal(segment_bytes=512)
    assert first.read_bytes() == bytes(data)  # kept for inspection


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda h: b"XSWAL\r\n\x00" + h[8:],
        lambda h: h[:8] + struct.pack("<HHQ", 2, 0, 1) + struct.pack("<I", zlib.crc32(h[:8])),
        lambda h: h[:12] + bytes([h[12] ^ 1]) + h[13:],
        lambda h: h[:10],
    ],
    ids=["magic", "unknown-version", "header-crc", "truncated"],
)
def test_a_corrupt_segment_header_is_refused(open_wal, wdir, corrupt):
    wal = open_wal()
    fill(wal, "g/0", [entry(1)])
    wal.close()
    data = segment(wdir, 1).read_bytes()
    segment(wdir, 1).write_bytes(corrupt(data[:HEADER]) + data[HEADER:])
    with pytest.raises(JournalCorruptError):
        open_wal()


def test_a_reset_cut_short_in_the_last_segment_is_ignored(open_wal, wdir):
    wal = open_wal()
    fill(wal, "g/0", [entry(1), entry(2)])
    wal.sync()
    size = segment(wdir, 1).stat().st_size
    group = wal.open_group("g/0")
    group._reset(5, "n1", 2, [entry(7), entry(8)])  # as a purge writes it
    wal.sync()
    wal.close()
    data = segment(wdir, 1).read_bytes()
    segment(wdir, 1).write_bytes(data[: len(data) - 5])  # the reset's last entry torn
    group = open_wal().open_group("g/0")
    assert (group[:], group.getCurrentTerm()) == ([entry(1), entry(2)], 0)
    assert segment(wdir, 1).stat().st_size == size


# -- segments: roll-over, reclamation, purge, drop ---------------------------------------------


def test_an_idle_group_pinning_an_old_segment_is_rewritten_and_old_segments_deleted(open_wal, wdir):
    wal = open_wal(segment_bytes=4096, purge_segments=2)
    idle, busy = wal.open_group("idle/0"), wal.open_group("busy/0")
    for i in range(1, 4):
        idle.add(*entry(i))
    idle.setCurrentTerm(3, "n1")
    for i in range(1, 2000):
        busy.add(*entry(i, size=50))
        if i % 20 == 0:
            token = wal.begin_sync()
            token.run()
            wal.finish_sync(token)
            busy.deleteEntriesTo(len(busy) - 10)  # the busy group compacts: pins little
    assert wal.segments[0] > 10  # rolled over many times, old segments deleted
    assert len(wal.segments) <= 4
    assert sorted(int(p.name[:16], 16) for p in wdir.glob("*.wal")) == wal.segments
    wal.close()
    wal = open_wal(segment_bytes=4096, purge_segments=2)
    idle = wal.open_group("idle/0")
    assert idle[:] == [entry(1), entry(2), entry(3)]
    assert (idle.getCurrentTerm(), idle.getVotedForNodeId()) == (3, "n1")
    assert wal.open_group("busy/0").last_index == 1999


def test_a_group_too_large_for_the_purge_budget_is_not_rewritten(open_wal, monkeypatch):
    wal = open_wal(segment_bytes=4096, purge_segments=2)
    big, busy = wal.open_group("big/0"), wal.open_group("busy/0")
    for i in range(1, 80):
        big.add(*entry(i, size=40))  # ~5 KiB live: more than half a segment
    rewrites: list[str] = []
    real = type(big)._rewrite
    monkeypatch.setattr(type(big), "_rewrite", lambda g: (rewrites.append(g._gid), real(g)))
    for i in range(1, 400):
        busy.add(*entry(i, size=50))
        if i % 10 == 0:
            wal.sync()
            busy.deleteEntriesTo(len(busy) - 2)
    assert "big/0" not in rewrites and wal.segments[0] == 1  # pinned by big, as allowed
    big.deleteEntriesTo(len(big) - 1)  # its own compaction releases the segments
    for i in range(400, 500):
        busy.add(*entry(i, size=50))
        if i % 10 == 0:
            wal.sync()
            busy.deleteEntriesTo(len(busy) - 2)
    assert wal.segments[0] > 1


def test_a_dropped_group_is_gone_after_reopen_and_pins_nothing(open_wal, wdir):
    wal = open_wal(segment_bytes=2048, purge_segments=100)  # no purge: only drops free
    gone, busy = wal.open_group("gone/0"), wal.open_group("busy/0")
    gone.add(*entry(1))
    gone.setCurrentTerm(2, None)
    for i in range(1, 200):
        busy.add(*entry(i, size=50))
        if i % 10 == 0:
            wal.sync()
            busy.deleteEntriesTo(len(busy) - 2)
    assert wal.segments[0] == 1  # pinned by gone/0
    gone.destroy()
    with pytest.raises(JournalError):
        gone.add(*entry(2))
    busy.add(*entry(200))
    wal.sync()
    assert wal.segments[0] > 1
    wal.close()
    wal = open_wal()
    assert wal.group_ids() == ["busy/0"]
    assert wal.open_group("gone/0")[:] == []


def test_retain_drops_groups_that_are_not_placed_here(open_wal):
    wal = open_wal()
    fill(wal, "keep/0", [entry(1)])
    fill(wal, "stale/0", [entry(1)])
    assert wal.retain({"keep/0"}) == ["stale/0"]
    wal.close()
    assert open_wal().group_ids() == ["keep/0"]


def test_segments_before_a_gap_were_being_reclaimed_and_are_deleted(open_wal, wdir):
    _two_segments(open_wal, wdir)
    seqs = sorted(int(p.name[:16], 16) for p in wdir.glob("*.wal"))
    segment(wdir, seqs[1]).unlink()  # a crash kept one unlink and lost an earlier one
    wal = open_wal(segment_bytes=512)
    assert wal.segments == seqs[2:]
    assert not segment(wdir, seqs[0]).exists()


# -- fsync=False, failpoints, failures ----------------------------------------------------------


def record_syncs(monkeypatch) -> list[str]:
    events: list[str] = []
    real_fsync, real_fdatasync = os.fsync, os.fdatasync

    def fsync(fd):
        events.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def fdatasync(fd):
        events.append("fdatasync")
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    return events


def test_fsync_false_never_fsyncs_but_writes_everything(open_wal, monkeypatch):
    def forbidden(fd):
        raise AssertionError("fsync called with fsync=False")

    monkeypatch.setattr(os, "fsync", forbidden)
    monkeypatch.setattr(os, "fdatasync", forbidden)
    wal = open_wal(fsync=False, segment_bytes=1024)
    group = wal.open_group("g/0")
    for i in range(1, 60):
        group.add(*entry(i, size=30))
    token = wal.begin_sync()
    token.run()
    wal.finish_sync(token)
    group.deleteEntriesFrom(50)
    group.deleteEntriesTo(2)
    group.setCurrentTerm(4, "n1")
    wal.close()
    monkeypatch.undo()
    reopened = open_wal(segment_bytes=1024).open_group("g/0")
    assert reopened[:] == [entry(i, size=30) for i in range(3, 51)]
    assert (reopened.getCurrentTerm(), reopened.getVotedForNodeId()) == (4, "n1")


def test_failpoints_fire_around_the_one_fdatasync_of_a_sync(open_wal, monkeypatch):
    events = record_syncs(monkeypatch)
    wal = open_wal(failpoints=events.append)
    a, b = wal.open_group("a/0"), wal.open_group("b/0")
    events.clear()
    a.add(*entry(1))
    b.add(*entry(1))
    assert events == ["journal.write", "journal.write"]
    events.clear()
    token = wal.begin_sync()
    token.run()
    wal.finish_sync(token)
    wal.sync()  # nothing left to flush
    assert events == ["journal.before_fsync", "fdatasync", "journal.after_fsync"]


def test_a_failed_write_closes_the_whole_log_and_recovery_keeps_the_rest(open_wal):
    def failpoint(name):
        if name == "journal.write" and armed:
            raise OSError(28, "failpoint journal.write: ENOSPC")

    armed = False
    wal = open_wal(failpoints=failpoint)
    a, b = wal.open_group("a/0"), wal.open_group("b/0")
    a.add(b"one", 1, 1)
    wal.sync()
    armed = True
    with pytest.raises(JournalError, match="write failed"):
        a.add(b"two", 2, 1)
    with pytest.raises(JournalError, match="closed"):
        b.add(b"x", 1, 1)  # every group: the log is one
    assert [e[1] for e in open_wal().open_group("a/0")] == [1]


def test_a_failed_fdatasync_fails_the_sync_and_closes_the_log(open_wal):
    def failpoint(name):
        if name == "journal.before_fsync":
            raise OSError(5, "failpoint journal.before_fsync: EIO")

    wal = open_wal(failpoints=failpoint)
    group = wal.open_group("g/0")
    group.add(*entry(1))
    token = wal.begin_sync()
    token.run()
    with pytest.raises(JournalError, match="fdatasync failed"):
        wal.finish_sync(token)
    assert group.durable_last_index == 0
    with pytest.raises(JournalError, match="closed"):
        group.add(*entry(2))


def test_the_fdatasync_hook_sees_wal_syncs(open_wal, monkeypatch):
    seen = count_fdatasyncs(monkeypatch)
    wal = open_wal()
    wal.open_group("g/0").add(*entry(1))
    wal.sync()
    assert len(seen) == 1 and seen[0] >= 0


# -- upgrade from the per-group layout ---------------------------------------------------------


def test_a_per_group_journal_is_imported_then_removed(open_wal, tmp_path):
    legacy = tmp_path / "groups" / "test-0" / "journal"
    old = DurableJournal(legacy)
    for i in range(1, 6):
        old.add(*entry(i, term=2))
    old.setCurrentTerm(3, "n2")
    old.setRaftCommitIndex(4)
    old.close()
    wal = open_wal()
    group = wal.open_group("test/0", legacy=legacy)
    assert group[:] == [entry(i, term=2) for i in range(1, 6)]
    assert (group.getCurrentTerm(), group.getVotedForNodeId(), group.getRaftCommitIndex()) == (
        3,
        "n2",
        4,
    )
    assert group.durable_last_index == 5 and not group.needs_sync
    assert sorted(os.listdir(legacy.parent)) == []
    wal._fail()  # a crash right after: the import was durable
    group = open_wal().open_group("test/0", legacy=legacy)
    assert group.last_index == 5 and group.getVotedForNodeId() == "n2"


def test_an_interrupted_import_is_finished_on_the_next_open(open_wal, tmp_path):
    legacy = tmp_path / "g" / "journal"
    old = DurableJournal(legacy)
    old.add(*entry(1))
    old.close()
    wal = open_wal()
    wal.open_group("a/0", legacy=legacy).add(*entry(2))
    wal.close()
    done = legacy.with_name("journal.imported")
    done.mkdir()
    (done / "journal.log").write_bytes(b"leftover")  # crashed while deleting it
    group = open_wal().open_group("a/0", legacy=legacy)
    assert group[:] == [entry(1), entry(2)]
    assert not done.exists()


# -- with a real single-node SyncObj -----------------------------------------------------------


class Counter(SyncObj):
    def __init__(self, port: int, journal) -> None:
        conf = SyncObjConf(
            autoTick=False,
            journalFile=None,
            appendEntriesPeriod=0.01,
            raftMinTimeout=0.05,
            raftMaxTimeout=0.1,
        )
        super().__init__(f"127.0.0.1:{port}", [], conf)
        self.value = 0
        attach_journal(self, journal)

    @replicated
    def incr(self, n: int) -> int:
        self.value += n
        return self.value


def tick_until(obj: SyncObj, condition) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in 10 s"
        obj.doTick(0.005)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_syncobj_on_a_wal_group_restarts_with_its_log_and_term(open_wal):
    port = free_port()
    wal = open_wal()
    journal = wal.open_group("counter/0")
    counter = Counter(port, journal)
    results: list[int] = []
    try:
        tick_until(counter, counter._isLeader)
        for _ in range(5):
            counter.incr(1, callback=lambda res, err: results.append(res))
        tick_until(counter, lambda: len(results) == 5)
        entries, term = journal[:], counter._getTerm()
    finally:
        counter.destroy()
    wal.close()
    assert results == [1, 2, 3, 4, 5] and len(entries) == 7

    journal = open_wal().open_group("counter/0")
    restarted = Counter(port, journal)
    try:
        assert restarted.getStatus()["raft_term"] == term
        assert journal[:] == entries
        tick_until(restarted, lambda: restarted.value == 5)
        tick_until(restarted, restarted._isLeader)
        assert journal.getCurrentTerm() > term
    finally:
        restarted.destroy()
