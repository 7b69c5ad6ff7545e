"""A durable, checksummed Raft log for one partition group, and the journal contract.

Nodes keep every group's log in one write-ahead log (``wal.py``, whose ``GroupJournal`` has
this module's interface and durability contract, with one fdatasync for all groups).
``DurableJournal`` is the single-group implementation: the journal of a replica run on its
own (tests), and the per-group layout (``groups/<ns>-<i>/journal``) that nodes import into
their WAL on upgrade. The failpoint names and ``on_fdatasync`` hook defined here serve both.

pysyncobj 0.3.17 keeps its log in an mmap that is never fsynced, so a follower acknowledges
entries that a power loss erases. ``DurableJournal`` is a drop-in replacement for its
``FileJournal`` (same interface: entries are ``(command, idx, term)`` tuples held in a list in
memory, positions passed to the ``deleteEntries*`` methods are list positions) that writes an
append-only, checksummed file and makes it durable on ``sync()``. ``attach_journal`` swaps it
into a freshly constructed ``SyncObj``.

Files in the journal's directory::

    journal.log    header, then one record per entry in index order (append-only)
    journal.meta   JSON {"version", "current_term", "voted_for", "commit_index"}
    *.tmp          a rewrite that was interrupted; removed on open

    header  = magic b"RSJRNL\\r\\n" | u16 format version | u16 flags (0) | u32 crc32 of the above
    record  = u32 payload length | u32 crc32(payload) | payload
    payload = u64 idx | u64 term | command bytes          (everything little-endian)

Durability contract:

- ``add`` writes the record to the file (the OS page cache) with one ``os.write``; it survives
  a crash of the process but not of the machine until ``sync()``. ``deleteEntriesFrom``
  truncates the file at a record boundary, likewise durable at the next ``sync()``.
- ``sync()`` fdatasyncs the log if anything changed since the last one (see ``needs_sync``
  and ``durable_last_index``); call it before acknowledging entries to anybody.
- ``deleteEntriesTo`` (compaction) and ``clear`` write the surviving entries to a new file,
  fsync it, rename it over the log and fsync the directory: a crash leaves the old log or
  the new one, and everything in the journal is durable afterwards.
- ``setCurrentTerm`` replaces ``journal.meta`` atomically and durably before it returns, as
  Raft requires before a vote or a vote request leaves the node. The commit index is only a
  hint: ``onOneSecondTimer`` and ``close`` persist it, and on open it is clamped to the log.
- ``fsync=False`` skips every fsync/fdatasync (the bookkeeping behaves as if they had run).
  UNSAFE: a machine crash can lose acknowledged entries and votes. For benchmarks only.

Recovery on open reads the records in order and stops at the first one that is short, has an
impossible length (over ``MAX_PAYLOAD`` or past the end of the file), fails its checksum, or
whose idx is not the previous idx + 1. The file is truncated there, the loss is logged as a
warning and the result is fsynced; a corrupt record is never returned. A missing, corrupt or
unknown header, or an unreadable meta file, raises ``JournalCorruptError`` instead: resetting
the term or the vote silently would break Raft's safety.

Thread: a journal belongs to the raft loop thread of its node; nothing in it is locked.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pysyncobj.journal import Journal, MemoryJournal
from pysyncobj.syncobj import _COMMAND_TYPE, SyncObj, _bchr

from raftstore.errors import ServerError

__all__ = [
    "FORMAT_VERSION",
    "MAX_PAYLOAD",
    "DurableJournal",
    "Entry",
    "JournalCorruptError",
    "JournalError",
    "SyncToken",
    "attach_journal",
]

logger = logging.getLogger(__name__)

Entry = tuple[bytes, int, int]
"""A log entry as pysyncobj stores it: (command, Raft index, term)."""

LOG_NAME = "journal.log"
META_NAME = "journal.meta"
TMP_SUFFIX = ".tmp"
MAGIC = b"RSJRNL\r\n"
FORMAT_VERSION = 1
MAX_PAYLOAD = 64 * 1024 * 1024
"""Largest record payload (idx + term + command) written or accepted on recovery."""

_HEADER = struct.Struct("<8sHHI")
_HEADER_BODY = struct.Struct("<8sHH")
_FRAME = struct.Struct("<II")  # payload length, crc32(payload)
_IDX_TERM = struct.Struct("<QQ")
_OVERHEAD = _FRAME.size + _IDX_TERM.size  # bytes of a record besides its command
_MAX_COMMAND = MAX_PAYLOAD - _IDX_TERM.size
_REWRITE_CHUNK = 1 << 20
COMMIT_HINT_SECONDS = 10


class JournalError(ServerError):
    """The journal cannot be used: closed, or an fsync failed (restart the node)."""


class JournalCorruptError(JournalError):
    """The journal's header or meta file is missing, corrupt or of an unknown version."""


def _header() -> bytes:
    body = _HEADER_BODY.pack(MAGIC, FORMAT_VERSION, 0)
    return body + struct.pack("<I", zlib.crc32(body))


def _encode(command: bytes, idx: int, term: int) -> bytes:
    idx_term = _IDX_TERM.pack(idx, term)
    crc = zlib.crc32(command, zlib.crc32(idx_term))
    return _FRAME.pack(len(command) + _IDX_TERM.size, crc) + idx_term + command


def _check_header(data: bytes, path: Path) -> None:
    if len(data) < _HEADER.size:
        raise JournalCorruptError(f"{path}: header truncated ({len(data)} bytes)")
    magic, version, _flags, crc = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise JournalCorruptError(f"{path}: not a raftstore journal (magic {magic!r})")
    if crc != zlib.crc32(data[: _HEADER_BODY.size]):
        raise JournalCorruptError(f"{path}: header checksum mismatch")
    if version != FORMAT_VERSION:
        raise JournalCorruptError(
            f"{path}: unsupported journal format version {version} "
            f"(this build reads version {FORMAT_VERSION})"
        )


def _scan(data: bytes) -> tuple[list[Entry], int, str]:
    """Decode the records after the header: (entries, end of the valid prefix, why it ended)."""
    entries: list[Entry] = []
    view = memoryview(data)
    pos, size = _HEADER.size, len(data)
    prev_idx = -1
    while pos < size:
        if size - pos < _OVERHEAD:
            return entries, pos, "short record"
        length, crc = _FRAME.unpack_from(data, pos)
        end = pos + _FRAME.size + length
        if length < _IDX_TERM.size or length > MAX_PAYLOAD or end > size:
            return entries, pos, f"bad record length {length}"
        if zlib.crc32(view[pos + _FRAME.size : end]) != crc:
            return entries, pos, "checksum mismatch"
        idx, term = _IDX_TERM.unpack_from(data, pos + _FRAME.size)
        if prev_idx >= 0 and idx != prev_idx + 1:
            return entries, pos, f"index {idx} does not follow {prev_idx}"
        entries.append((data[pos + _OVERHEAD : end], idx, term))
        prev_idx, pos = idx, end
    return entries, pos, ""


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    while written < len(data):  # rare: regular files only write short when nearly full
        written += os.write(fd, memoryview(data)[written:])


# Called with the seconds each fdatasync of a journal took, on the thread that ran it (the
# node's metrics set it; None measures nothing).
on_fdatasync: Callable[[float], None] | None = None


def _fdatasync(fd: int) -> None:
    start = time.perf_counter()
    (os.fdatasync if hasattr(os, "fdatasync") else os.fsync)(fd)
    if on_fdatasync is not None:
        on_fdatasync(time.perf_counter() - start)


class DurableJournal(Journal):
    """pysyncobj's Journal interface over a durable, checksummed log file (see module doc).

    Args:
        directory: where the journal's files live; created if missing. One journal per
            directory.
        fsync: False skips every fsync (UNSAFE, benchmarks only).
        failpoints: test hook called with "journal.before_fsync" and "journal.after_fsync"
            around the fdatasync of a ``sync()`` that has something to flush (also with
            fsync=False, where the fdatasync itself is skipped), and with "journal.write"
            before each entry is written; it may raise (OSError: a failing disk) or kill
            the process (a crash). None (the default) calls nothing.

    Raises:
        JournalCorruptError: the header or the meta file is corrupt or of an unknown version,
            or the log is missing while the meta file exists.
        OSError: the directory or files cannot be read or written.

    Thread: single-threaded; the raft loop thread of the node owns it.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        fsync: bool = True,
        failpoints: Callable[[str], None] | None = None,
    ) -> None:
        self._dir = Path(directory)
        self._fsync = fsync
        self._failpoints = failpoints
        self._fd = -1
        self._dir.mkdir(parents=True, exist_ok=True)
        self._dir_fd = os.open(self._dir, os.O_RDONLY)
        try:
            self._open()
        except BaseException:
            self._abandon()
            raise

    # -- opening and recovery ---------------------------------------------------------

    def _open(self) -> None:
        for name in (LOG_NAME, META_NAME):
            (self._dir / (name + TMP_SUFFIX)).unlink(missing_ok=True)
        meta_exists = self._load_meta()
        log = self._dir / LOG_NAME
        if not log.exists():
            if meta_exists:
                raise JournalCorruptError(f"{log} is missing but {META_NAME} exists")
            self._fd = self._create(LOG_NAME, [_header()])
        else:
            self._fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self._entries, self._size = self._recover(log)
        if self._fsync:
            _fdatasync(self._fd)
        self._dirty = False
        self._generation = 0
        self._sync_in_flight = False
        self._timer_calls = 0
        self._durable_last = self.last_index
        if self._entries:
            self._commit_index = min(self._commit_index, self.last_index)

    def _recover(self, log: Path) -> tuple[list[Entry], int]:
        data = log.read_bytes()
        _check_header(data, log)
        entries, end, reason = _scan(data)
        if end < len(data):
            logger.warning(
                "journal %s: dropping %d bytes at offset %d (%s); recovered %d entries",
                log,
                len(data) - end,
                end,
                reason,
                len(entries),
            )
            os.ftruncate(self._fd, end)
        return entries, end

    def _load_meta(self) -> bool:
        self._term, self._voted_for, self._commit_index = 0, None, 1
        self._commit_dirty = False
        path = self._dir / META_NAME
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return False
        try:
            meta = json.loads(raw)
            if meta["version"] != FORMAT_VERSION:
                raise ValueError(f"unsupported meta version {meta['version']}")
            self._term = int(meta["current_term"])
            self._voted_for = meta["voted_for"]
            self._commit_index = int(meta["commit_index"])
            if self._voted_for is not None and not isinstance(self._voted_for, str):
                raise TypeError(f"voted_for is {self._voted_for!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise JournalCorruptError(f"{path}: unreadable ({exc})") from exc
        return True

    # -- pysyncobj's Journal interface --------------------------------------------------

    def add(self, command: bytes, idx: int, term: int) -> None:
        """Append an entry; durable at the next ``sync()``.

        Raises:
            ValueError: idx does not follow the last entry, or the command exceeds
                MAX_PAYLOAD. Nothing is written then.
            JournalError: the journal is closed, or the write failed (EIO, ENOSPC...): the
                journal then closes itself, a torn record is left for recovery to truncate,
                and the node must stop (fail-stop) rather than go on without the entry.
        """
        entries = self._entries
        if entries and idx != entries[-1][1] + 1:
            raise ValueError(f"journal: index {idx} does not follow {entries[-1][1]}")
        if type(command) is not bytes:
            command = bytes(command)
        if len(command) > _MAX_COMMAND:
            raise ValueError(f"journal: command of {len(command)} bytes exceeds MAX_PAYLOAD")
        record = _encode(command, idx, term)
        self._require_open()
        try:
            if self._failpoints is not None:
                self._failpoints("journal.write")
            _write_all(self._fd, record)
        except OSError as exc:
            self._abandon()
            raise JournalError(f"journal {self._dir}: write failed: {exc}") from exc
        entries.append((command, idx, term))
        self._size += len(record)
        self._dirty = True

    def clear(self) -> None:
        """Remove every entry; atomic and durable when it returns."""
        self._rewrite([])

    def deleteEntriesFrom(self, entryFrom: int) -> None:
        """Drop the entries at list positions >= entryFrom; durable at the next ``sync()``."""
        self._require_open()
        start = slice(entryFrom, None).indices(len(self._entries))[0]
        dropped = sum(len(entry[0]) for entry in self._entries[start:])
        dropped += _OVERHEAD * (len(self._entries) - start)
        if not dropped:
            return
        os.ftruncate(self._fd, self._size - dropped)
        self._size -= dropped
        del self._entries[start:]
        self._dirty = True
        self._generation += 1
        self._durable_last = min(self._durable_last, self.last_index)

    def deleteEntriesTo(self, entryTo: int) -> None:
        """Drop the entries at list positions < entryTo; atomic and durable when it returns."""
        self._rewrite(self._entries[entryTo:])

    def __getitem__(self, item: int | slice) -> Any:
        return self._entries[item]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:
        """Remember the commit index; persisted lazily (a hint only)."""
        if raftCommitIndex != self._commit_index:
            self._commit_index = raftCommitIndex
            self._commit_dirty = True

    def getRaftCommitIndex(self) -> int:
        return self._commit_index

    def setCurrentTerm(self, term: int, votedForNodeId: str | None) -> None:
        """Store term and vote durably before returning (Raft §5.1, Figure 2).

        Raises:
            TypeError: votedForNodeId is neither a str nor None.
            OSError: the meta file could not be written; the previous values stay.
        """
        if votedForNodeId is not None and not isinstance(votedForNodeId, str):
            raise TypeError(f"journal: node id must be a str, got {votedForNodeId!r}")
        self._store_meta(int(term), votedForNodeId, self._commit_index)
        self._term, self._voted_for = int(term), votedForNodeId
        self._commit_dirty = False

    def getCurrentTerm(self) -> int:
        return self._term

    def getVotedForNodeId(self) -> str | None:
        return self._voted_for

    def onOneSecondTimer(self) -> None:
        """Persist the commit-index hint every ``COMMIT_HINT_SECONDS`` calls if it changed;
        a failure is logged and retried. (It is a hint: a restarted node learns the commit
        index from its leader; the hint only lets it apply its own log sooner.)"""
        self._timer_calls += 1
        if self._timer_calls % COMMIT_HINT_SECONDS:
            return
        if self._commit_dirty and self._fd >= 0:
            try:
                self._store_meta(self._term, self._voted_for, self._commit_index)
                self._commit_dirty = False
            except OSError:
                logger.exception("journal %s: cannot persist the commit index", self._dir)

    def _destroy(self) -> None:
        self.close()

    # -- raftstore's additions ----------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def needs_sync(self) -> bool:
        """True when an add or deleteEntriesFrom happened since the last ``sync()``."""
        return self._dirty

    @property
    def durable_last_index(self) -> int:
        """Every entry with idx <= this is on stable storage (0: none is)."""
        return self._durable_last

    @property
    def first_index(self) -> int:
        """Raft index of the first entry, 0 when the journal is empty."""
        return self._entries[0][1] if self._entries else 0

    @property
    def last_index(self) -> int:
        """Raft index of the last entry, 0 when the journal is empty."""
        return self._entries[-1][1] if self._entries else 0

    def term_at(self, idx: int) -> int | None:
        """Term of the entry with Raft index idx, None if it is not in the journal."""
        pos = idx - self.first_index
        if not self._entries or pos < 0 or pos >= len(self._entries):
            return None
        return self._entries[pos][2]

    def entries_from(self, idx: int) -> list[Entry]:
        """The entries with Raft index >= idx ([] past the end).

        Raises:
            IndexError: idx is below first_index (those entries were compacted away).
        """
        if self._entries and idx < self.first_index:
            raise IndexError(f"journal: entries before {self.first_index} were compacted")
        return self._entries[max(0, idx - self.first_index) :] if self._entries else []

    def sync(self) -> None:
        """Make every previous add and truncation durable; a no-op when nothing changed.

        Raises:
            JournalError: the fdatasync failed. The page cache may have dropped the data, so
                the journal closes itself and the node must restart and recover.
        """
        if not self._dirty:
            return
        self._require_open()
        try:
            if self._failpoints is not None:
                self._failpoints("journal.before_fsync")
            if self._fsync:
                _fdatasync(self._fd)
        except OSError as exc:
            self._abandon()
            raise JournalError(f"journal {self._dir}: fdatasync failed: {exc}") from exc
        self._dirty = False
        self._durable_last = self.last_index
        if self._failpoints is not None:
            self._failpoints("journal.after_fsync")

    # -- two-phase sync: the fdatasync runs on another thread ---------------------------

    @property
    def sync_in_flight(self) -> bool:
        return self._sync_in_flight

    def begin_sync(self) -> SyncToken | None:
        """Start making everything written so far durable, off the raft loop thread.

        Returns None when there is nothing to sync or a sync is already in flight.
        Otherwise run ``token.run()`` on any thread, then ``finish_sync(token)`` back on
        the raft loop thread. The token holds its own duplicate of the file descriptor,
        so a rewrite of the log in between cannot make it fsync another file.
        """
        if not self._dirty or self._sync_in_flight:
            return None
        self._require_open()
        self._sync_in_flight = True
        return SyncToken(self, os.dup(self._fd), self.last_index, self._generation)

    def finish_sync(self, token: SyncToken) -> None:
        """Record what ``token`` made durable (raft loop thread).

        Raises:
            JournalError: the fdatasync failed (the journal closes itself).
        """
        self._sync_in_flight = False
        if token.error is not None:
            self._abandon()
            raise JournalError(f"journal {self._dir}: fdatasync failed: {token.error}")
        if token.generation != self._generation:
            return  # truncated or rewritten meanwhile: the next sync decides
        self._durable_last = max(self._durable_last, token.last_index)
        if self.last_index == token.last_index:
            self._dirty = False

    def close(self) -> None:
        """Sync, persist the commit-index hint and close the files. Idempotent."""
        try:
            if self._fd >= 0:
                self.sync()
                if self._commit_dirty:
                    self._store_meta(self._term, self._voted_for, self._commit_index)
                    self._commit_dirty = False
        finally:
            self._abandon()

    def destroy(self) -> None:
        """Close the journal and delete its files (the replica left its group)."""
        self._abandon()
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- file plumbing ------------------------------------------------------------------

    def _require_open(self) -> None:
        if self._fd < 0:
            raise JournalError(f"journal {self._dir} is closed")

    def _abandon(self) -> None:
        for fd in (self._fd, self._dir_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._dir_fd = -1

    def _rewrite(self, entries: list[Entry]) -> None:
        """Replace the log by one holding exactly ``entries``, atomically and durably."""
        self._require_open()
        fd = self._create(LOG_NAME, self._chunks(entries))
        os.close(self._fd)
        self._fd = fd
        self._entries = entries
        self._size = _HEADER.size + sum(_OVERHEAD + len(entry[0]) for entry in entries)
        self._dirty = False
        self._generation += 1
        self._durable_last = self.last_index

    @staticmethod
    def _chunks(entries: list[Entry]) -> Iterator[bytes]:
        buf = [_header()]
        size = 0
        for entry in entries:
            record = _encode(*entry)
            buf.append(record)
            size += len(record)
            if size >= _REWRITE_CHUNK:
                yield b"".join(buf)
                buf, size = [], 0
        yield b"".join(buf)

    def _create(self, name: str, chunks: Iterator[bytes] | list[bytes]) -> int:
        """Write ``name`` via a fsynced temp file renamed into place; returns an O_APPEND fd."""
        tmp = self._dir / (name + TMP_SUFFIX)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o644)
        try:
            for chunk in chunks:
                _write_all(fd, chunk)
            if self._fsync:
                os.fsync(fd)
            os.replace(tmp, self._dir / name)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        if self._fsync:
            try:
                os.fsync(self._dir_fd)
            except OSError as exc:  # the rename may or may not be durable: stop here
                os.close(fd)
                self._abandon()
                raise JournalError(f"journal {self._dir}: directory fsync failed: {exc}") from exc
        return fd

    def _store_meta(self, term: int, voted_for: str | None, commit_index: int) -> None:
        self._require_open()
        meta = {
            "version": FORMAT_VERSION,
            "current_term": term,
            "voted_for": voted_for,
            "commit_index": commit_index,
        }
        os.close(self._create(META_NAME, [json.dumps(meta).encode() + b"\n"]))


class SyncToken:
    """One fdatasync of a journal, run off the raft loop thread (see ``begin_sync``)."""

    __slots__ = ("error", "fd", "generation", "journal", "last_index")

    def __init__(self, journal: DurableJournal, fd: int, last_index: int, generation: int) -> None:
        self.journal = journal
        self.fd = fd
        self.last_index = last_index
        self.generation = generation
        self.error: OSError | None = None

    def run(self) -> None:
        """fdatasync (any thread); failpoints fire around it. Never raises OSError."""
        failpoints = self.journal._failpoints
        try:
            if failpoints is not None:
                failpoints("journal.before_fsync")
            if self.journal._fsync:
                _fdatasync(self.fd)
            if failpoints is not None:
                failpoints("journal.after_fsync")
        except OSError as exc:
            self.error = exc
        finally:
            os.close(self.fd)


def attach_journal(syncobj: SyncObj, journal: Journal) -> None:
    """Make ``syncobj`` use ``journal`` as its Raft log and restore term, vote and commit.

    Replays what ``SyncObj.__init__`` does with its own journal. It touches pysyncobj 0.3.17
    internals (name-mangled ``_SyncObj__*`` attributes); re-check it when upgrading. Call it
    right after ``SyncObj.__init__`` with ``conf.journalFile=None`` and ``autoTick=False``,
    before the first tick: the first tick loads the snapshot and applies the log.

    Raises:
        ValueError: the SyncObj has its own journal file or ticks on its own thread.
        RuntimeError: the SyncObj has already ticked (its log or term moved).
    """
    conf = syncobj._getConf()
    if conf.journalFile is not None or conf.autoTick:
        raise ValueError("attach_journal needs a SyncObj with journalFile=None, autoTick=False")
    old = getattr(syncobj, "_SyncObj__raftLog", None)
    if not isinstance(old, MemoryJournal) or len(old) != 1 or syncobj._getTerm() != 0:
        raise RuntimeError("attach_journal must run before the SyncObj's first tick")
    if len(journal) == 0:
        journal.add(_bchr(_COMMAND_TYPE.NO_OP), 1, 0)
    state = {
        "raftLog": journal,
        "raftCurrentTerm": max(journal.getCurrentTerm(), journal[-1][2]),
        "votedForNodeId": journal.getVotedForNodeId(),
        "raftCommitIndex": journal.getRaftCommitIndex(),
    }
    for name, value in state.items():
        setattr(syncobj, "_SyncObj__" + name, value)
