"""DurableJournal: pysyncobj's journal semantics, crash recovery and durability ordering."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import stat
import struct
import time
import zlib
from pathlib import Path

import pytest
from pysyncobj import SyncObj, SyncObjConf, replicated

from raftstore.replication.journal import (
    COMMIT_HINT_SECONDS,
    DurableJournal,
    JournalCorruptError,
    JournalError,
    attach_journal,
)

LOG = "journal.log"
META = "journal.meta"
RECORD_OVERHEAD = 24  # u32 length + u32 crc + u64 idx + u64 term


def entry(idx: int, term: int = 1, size: int = 10) -> tuple[bytes, int, int]:
    return (bytes([idx % 251]) * size, idx, term)


def encode_record(command: bytes, idx: int, term: int) -> bytes:
    """The record format as documented, written independently of the module."""
    payload = struct.pack("<QQ", idx, term) + command
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


@pytest.fixture
def jdir(tmp_path: Path) -> Path:
    return tmp_path / "group-1"


@pytest.fixture
def open_journal(jdir: Path):
    opened: list[DurableJournal] = []

    def _open(directory: Path = jdir, **kwargs) -> DurableJournal:
        journal = DurableJournal(directory, **kwargs)
        opened.append(journal)
        return journal

    yield _open
    for journal in opened:
        with contextlib.suppress(Exception):
            journal.close()


def write_journal(open_journal, entries) -> bytes:
    journal = open_journal()
    for e in entries:
        journal.add(*e)
    journal.close()
    return (journal.directory / LOG).read_bytes()


def dropped_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# -- round trip and the list model ---------------------------------------------------------


def test_entries_commands_and_helpers_survive_reopen(open_journal):
    entries = [(b"", 1, 0), (os.urandom(100_000), 2, 1), (b"\x00\xff" * 3, 3, 4)]
    write_journal(open_journal, entries)
    journal = open_journal()
    assert journal[:] == entries
    assert (journal.first_index, journal.last_index, journal.durable_last_index) == (1, 3, 3)
    assert [journal.term_at(i) for i in (0, 1, 2, 3, 4)] == [None, 0, 1, 4, None]
    assert journal.entries_from(2) == entries[1:]
    assert journal.entries_from(9) == []


def test_log_file_follows_documented_record_format(open_journal, jdir):
    data = write_journal(open_journal, [entry(5, 2), entry(6, 3)])
    assert data[:8] == b"RSJRNL\r\n"
    assert struct.unpack_from("<HH", data, 8) == (1, 0)
    assert struct.unpack_from("<I", data, 12)[0] == zlib.crc32(data[:12])
    assert data[16:] == encode_record(*entry(5, 2)) + encode_record(*entry(6, 3))


def test_random_operations_match_a_plain_list(open_journal):
    rng = random.Random(20240601)
    journal, model, term = open_journal(), [], 0
    for step in range(800):
        op = rng.choices(["add", "from", "to", "clear", "sync", "reopen"], [60, 8, 5, 1, 4, 3])[0]
        n = len(model)
        if op == "add":
            term += rng.random() < 0.1
            idx = model[-1][1] + 1 if model else rng.randint(1, 1000)
            e = (rng.randbytes(rng.randint(0, 40)), idx, term)
            journal.add(*e)
            model.append(e)
        elif op == "from":
            pos = rng.randint(-n - 1, n + 1)
            journal.deleteEntriesFrom(pos)
            del model[pos:]
        elif op == "to":
            pos = rng.randint(-n - 1, n + 1)
            journal.deleteEntriesTo(pos)
            model = model[pos:]
        elif op == "clear":
            journal.clear()
            model = []
        elif op == "sync":
            journal.sync()
        else:
            journal.close()
            journal = open_journal()
        assert_matches(journal, model, rng, step)


def assert_matches(journal, model, rng, step):
    n = len(model)
    assert len(journal) == n, step
    assert journal[:] == model, step
    a, b = rng.randint(-n - 2, n + 2), rng.randint(-n - 2, n + 2)
    assert journal[a:b] == model[a:b], step
    i = rng.randint(-n - 1, n)
    if -n <= i < n:
        assert journal[i] == model[i], step
    else:
        with pytest.raises(IndexError):
            journal[i]
    assert journal.last_index == (model[-1][1] if model else 0), step
    if model:
        probe = rng.choice(model)
        assert journal.term_at(probe[1]) == probe[2], step


def test_oversized_record_is_rejected_on_write_and_ends_the_log_on_recovery(
    open_journal, jdir, caplog
):
    journal = open_journal()
    journal.add(*entry(1))
    with pytest.raises(ValueError):
        journal.add(bytes(64 * 1024 * 1024 - 15), 2, 1)
    journal.close()
    with open(jdir / LOG, "ab") as f:  # a frame claiming MAX_PAYLOAD + 1 bytes, sparse body
        f.write(struct.pack("<II", 64 * 1024 * 1024 + 1, 0))
        f.truncate(f.tell() + 64 * 1024 * 1024 + 1)
    assert open_journal()[:] == [entry(1)]
    assert any("bad record length" in m for m in dropped_warnings(caplog))


def test_add_rejects_an_index_that_does_not_follow_and_changes_nothing(open_journal, jdir):
    journal = open_journal()
    journal.add(*entry(1))
    size = (jdir / LOG).stat().st_size
    with pytest.raises(ValueError):
        journal.add(*entry(3))
    assert journal[:] == [entry(1)]
    assert (jdir / LOG).stat().st_size == size


def test_closed_journal_refuses_writes_and_close_is_idempotent(open_journal):
    journal = open_journal()
    journal.close()
    journal.close()
    with pytest.raises(JournalError):
        journal.add(*entry(1))


# -- recovery --------------------------------------------------------------------------


def test_torn_tail_at_every_byte_of_last_record_is_dropped_and_appending_works(
    open_journal, tmp_path, caplog
):
    entries = [entry(1), entry(2), entry(3)]
    data = write_journal(open_journal, entries)
    last_start = len(data) - RECORD_OVERHEAD - len(entries[2][0])
    for cut in range(last_start, len(data)):
        caplog.clear()
        directory = tmp_path / f"cut-{cut}"
        directory.mkdir()
        (directory / LOG).write_bytes(data[:cut])
        journal = open_journal(directory)
        assert journal[:] == entries[:2], cut
        assert (directory / LOG).stat().st_size == last_start, cut
        torn = cut > last_start
        assert any(f"offset {last_start}" in m for m in dropped_warnings(caplog)) == torn, cut
        journal.add(*entries[2])
        journal.close()
        assert open_journal(directory)[:] == entries, cut


def test_flipped_bit_in_middle_record_drops_it_and_everything_after(open_journal, tmp_path, caplog):
    entries = [entry(1), entry(2), entry(3)]
    data = write_journal(open_journal, entries)
    record = RECORD_OVERHEAD + len(entries[0][0])
    middle = 16 + record
    for offset in range(middle, middle + record):
        caplog.clear()
        corrupted = bytearray(data)
        corrupted[offset] ^= 0x10
        directory = tmp_path / f"flip-{offset}"
        directory.mkdir()
        (directory / LOG).write_bytes(corrupted)
        journal = open_journal(directory)
        assert journal[:] == entries[:1], offset
        assert any(f"dropping {2 * record} bytes" in m for m in dropped_warnings(caplog)), offset
        assert (directory / LOG).read_bytes() == data[:middle], offset


def test_record_whose_index_skips_ahead_ends_the_log(open_journal, jdir, caplog):
    header = write_journal(open_journal, [])
    records = [encode_record(*entry(i)) for i in (1, 2, 4, 5)]
    (jdir / LOG).write_bytes(header + b"".join(records))
    assert open_journal()[:] == [entry(1), entry(2)]
    assert any("does not follow" in m for m in dropped_warnings(caplog))


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda h: b"XSJRNL\r\n" + h[8:],
        lambda h: with_crc(h[:8] + struct.pack("<HH", 2, 0)),
        lambda h: h[:12] + bytes([h[12] ^ 1]) + h[13:],
        lambda h: h[:10],
        lambda h: b"",
    ],
    ids=["magic", "unknown-version", "header-crc", "truncated", "empty"],
)
def test_corrupt_or_unknown_header_raises_and_keeps_the_file(open_journal, jdir, corrupt):
    data = write_journal(open_journal, [entry(1)])
    bad = corrupt(data[:16]) + data[16:]
    (jdir / LOG).write_bytes(bad)
    with pytest.raises(JournalCorruptError):
        open_journal()
    assert (jdir / LOG).read_bytes() == bad


def test_unreadable_meta_or_missing_log_raises(open_journal, jdir):
    journal = open_journal()
    journal.setCurrentTerm(3, None)
    journal.close()
    (jdir / META).write_bytes(b'{"version": 1, "current_te')
    with pytest.raises(JournalCorruptError):
        open_journal()
    (jdir / LOG).unlink()
    meta = {"version": 1, "current_term": 3, "voted_for": None, "commit_index": 1}
    (jdir / META).write_text(json.dumps(meta))
    with pytest.raises(JournalCorruptError, match="missing"):
        open_journal()


# -- term, vote and commit index -----------------------------------------------------------


def record_syncs(monkeypatch) -> list[str]:
    events: list[str] = []
    real_fsync, real_fdatasync, real_replace = os.fsync, os.fdatasync, os.replace

    def fsync(fd):
        events.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        real_fsync(fd)

    def fdatasync(fd):
        events.append("fdatasync")
        real_fdatasync(fd)

    def replace(src, dst):
        events.append(f"replace {Path(dst).name}")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def test_term_and_vote_are_durable_before_setCurrentTerm_returns(open_journal, jdir, monkeypatch):
    journal = open_journal()
    events = record_syncs(monkeypatch)
    journal.setCurrentTerm(7, "10.0.0.1:4321")
    assert events == ["fsync-file", f"replace {META}", "fsync-dir"]
    meta = json.loads((jdir / META).read_text())
    assert (meta["current_term"], meta["voted_for"]) == (7, "10.0.0.1:4321")
    journal.close()
    reopened = open_journal()
    assert (reopened.getCurrentTerm(), reopened.getVotedForNodeId()) == (7, "10.0.0.1:4321")


def test_commit_index_is_persisted_by_the_timer_every_few_seconds_and_clamped_on_open(
    open_journal, jdir
):
    journal = open_journal()
    assert journal.getRaftCommitIndex() == 1
    for i in range(1, 11):
        journal.add(*entry(i))
    journal.setCurrentTerm(1, None)
    journal.setRaftCommitIndex(8)
    assert json.loads((jdir / META).read_text())["commit_index"] == 1
    for _ in range(COMMIT_HINT_SECONDS - 1):
        journal.onOneSecondTimer()
    assert json.loads((jdir / META).read_text())["commit_index"] == 1  # not yet: it is a hint
    journal.onOneSecondTimer()
    assert json.loads((jdir / META).read_text())["commit_index"] == 8
    journal.setRaftCommitIndex(50)
    journal.close()
    reopened = open_journal()
    assert reopened.getRaftCommitIndex() == 10
    assert reopened.getCurrentTerm() == 1


# -- compaction, sync bookkeeping, fsync=False, failpoints -----------------------------------


def test_deleteEntriesTo_survives_reopen_and_leaves_no_temp_files(open_journal, jdir):
    entries = [entry(i) for i in range(1, 21)]
    journal = open_journal()
    for e in entries:
        journal.add(*e)
    journal.deleteEntriesTo(15)
    assert journal[:] == entries[15:]
    assert not journal.needs_sync and journal.durable_last_index == 20
    assert sorted(os.listdir(jdir)) == [LOG]
    journal.close()
    journal = open_journal()
    assert journal[:] == entries[15:]
    journal.add(*entry(21))
    journal.close()
    assert open_journal()[:] == [*entries[15:], entry(21)]


def test_failed_compaction_keeps_the_old_log(open_journal, jdir, monkeypatch):
    entries = [entry(i) for i in range(1, 6)]
    journal = open_journal()
    for e in entries:
        journal.add(*e)

    def crash(src, dst):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        journal.deleteEntriesTo(3)
    monkeypatch.undo()
    assert journal[:] == entries
    assert sorted(os.listdir(jdir)) == [LOG]
    (jdir / (LOG + ".tmp")).write_bytes(b"half-written rewrite")
    journal.close()
    assert open_journal()[:] == entries
    assert sorted(os.listdir(jdir)) == [LOG]


def test_needs_sync_and_durable_last_index_follow_unsynced_changes(open_journal):
    journal = open_journal()
    assert (journal.needs_sync, journal.durable_last_index) == (False, 0)
    for i in range(1, 6):
        journal.add(*entry(i))
    assert (journal.needs_sync, journal.durable_last_index) == (True, 0)
    journal.sync()
    assert (journal.needs_sync, journal.durable_last_index) == (False, 5)
    journal.deleteEntriesFrom(3)
    assert (journal.needs_sync, journal.durable_last_index) == (True, 3)
    journal.add(*entry(4, term=2))
    assert journal.durable_last_index == 3
    journal.sync()
    assert (journal.needs_sync, journal.durable_last_index) == (False, 4)
    journal.add(*entry(5, term=2))
    journal.clear()
    assert (journal.needs_sync, journal.durable_last_index, len(journal)) == (False, 0, 0)
    journal.add(*entry(9))
    assert (journal.needs_sync, journal.durable_last_index) == (True, 0)


def test_close_syncs_pending_entries(open_journal, monkeypatch):
    journal = open_journal()
    journal.add(*entry(1))
    events = record_syncs(monkeypatch)
    journal.close()
    assert events == ["fdatasync"]


def test_fsync_false_never_fsyncs_but_writes_everything(open_journal, monkeypatch):
    def forbidden(fd):
        raise AssertionError("fsync called with fsync=False")

    monkeypatch.setattr(os, "fsync", forbidden)
    monkeypatch.setattr(os, "fdatasync", forbidden)
    journal = open_journal(fsync=False)
    for i in range(1, 11):
        journal.add(*entry(i))
    journal.sync()
    journal.deleteEntriesFrom(8)
    journal.deleteEntriesTo(2)
    journal.setCurrentTerm(4, "n1")
    journal.setRaftCommitIndex(6)
    journal.close()
    monkeypatch.undo()
    reopened = open_journal()
    assert reopened[:] == [entry(i) for i in range(3, 9)]
    assert (reopened.getCurrentTerm(), reopened.getVotedForNodeId()) == (4, "n1")
    assert reopened.getRaftCommitIndex() == 6


def test_failpoints_are_called_around_fdatasync_only_when_dirty(open_journal, monkeypatch):
    events = record_syncs(monkeypatch)
    journal = open_journal(failpoints=events.append)
    journal.add(*entry(1))
    events.clear()
    journal.sync()
    journal.sync()
    assert events == ["journal.before_fsync", "fdatasync", "journal.after_fsync"]


def test_crash_at_before_fsync_failpoint_leaves_entries_unsynced(open_journal):
    def failpoint(name):
        if name == "journal.before_fsync":
            raise RuntimeError("crash")

    journal = open_journal(failpoints=failpoint)
    journal.add(*entry(1))
    with pytest.raises(RuntimeError):
        journal.sync()
    assert (journal.needs_sync, journal.durable_last_index) == (True, 0)


# -- integration with a real single-node SyncObj ---------------------------------------------


class Counter(SyncObj):
    def __init__(self, port: int, journal: DurableJournal) -> None:
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


def test_syncobj_with_attached_journal_restarts_with_its_log_and_term(jdir):
    port = free_port()
    journal = DurableJournal(jdir)
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
    assert results == [1, 2, 3, 4, 5]
    assert term >= 1 and entries[0] == (b"\x01", 1, 0) and len(entries) == 7

    journal = DurableJournal(jdir)
    restarted = Counter(port, journal)
    try:
        status = restarted.getStatus()
        assert (status["log_len"], status["commit_idx"], status["raft_term"]) == (7, 7, term)
        assert journal[:] == entries
        assert restarted._SyncObj__votedForNodeId == f"127.0.0.1:{port}"
        tick_until(restarted, lambda: restarted.value == 5)
        tick_until(restarted, restarted._isLeader)
        assert journal.getCurrentTerm() > term
    finally:
        restarted.destroy()
