"""One write-ahead log per node: every group's Raft log, term and vote, one fdatasync per round.

``WriteAheadLog`` owns ``<data>/wal/``: segment files of checksummed records (format in
``wal_format.py``) holding every group replica's entries, truncations, compactions, term and
vote, commit hints, group resets and drops. ``open_group(gid)`` returns the group's
``GroupJournal`` (``wal_group.py``): pysyncobj's Journal interface plus raftstore's
additions, exactly as ``journal.DurableJournal`` offers them (entries stay in memory in a
list, the positions given to ``deleteEntries*`` are list positions). A group's writes go
into the shared log; one sync of the log (``begin_sync`` → ``token.run()`` on any thread
→ ``finish_sync``) makes every group that wrote durable with one fdatasync (TiKV's
raft-engine, etcd's WAL).

Records are buffered in memory and written with one ``os.write`` when a sync starts (or the
buffer passes ``FLUSH_BYTES``): a kill -9 loses what was not synced, which nobody was told
about.

Durability contract, per group (as ``journal.py`` states it for one group):

- ``add`` and ``deleteEntriesFrom``/``clear`` (a truncation) are durable at the next sync;
  ``needs_sync`` is True until then, and ``durable_last_index`` says which entries are on
  stable storage. The driver ticks no group that needs a sync, and acknowledgements wait
  for ``durable_last_index``.
- ``setCurrentTerm`` syncs the log before it returns (term and vote durable before a vote or
  a vote request leaves).
- ``deleteEntriesTo`` (compaction) and the commit-index hint are lazy: durable with the next
  sync. A crash may leave a group's log starting before its snapshot; the replica trims it
  on open (``GroupReplica._reconcile_with_snapshot``). The hint is clamped to the log on open.
- ``destroy`` (the replica left its group) writes a DROP record and syncs.
- ``fsync=False`` skips every fsync/fdatasync (UNSAFE, benchmarks only).

Recovery on open replays the segments in order. The last segment ends at its first short,
torn or corrupt record (or an unfinished group reset, or an entry whose index does not
follow): the file is truncated there with a warning. A corrupt header, or a corrupt record in
any other segment, raises ``JournalCorruptError``: that loss would not be a torn tail.

Segments and reclamation. The active segment is rolled over once it holds ``segment_bytes``
(the old one is fdatasynced first, so only the last segment can have a torn tail). A group
*pins* the oldest segment holding a record its live state depends on (its oldest live entry,
its term record, its commit hint). A sync deletes every segment older than all pins as they
stood when it began (everything up to then is durable, so a replay from the next segment
yields every group's state). When there are more than ``purge_segments`` segments, a roll-over
rewrites the groups pinning the oldest ones — a RESET record with the group's whole state,
into the active segment (raft-engine's purge) — oldest segment first, at most
``segment_bytes // 2`` bytes of live state per roll-over, so rewriting adds at most half of
what was written; a group too large for that budget waits for its own compaction.

Upgrade: ``open_group(gid, legacy=<old journal dir>)`` imports a ``DurableJournal`` directory
(``groups/<ns>-<i>/journal``) as a RESET record, syncs, renames the directory to
``journal.imported`` (fsynced) and deletes it; a crash in between re-imports or finishes
the deletion.

Failpoints (the names the per-group journal had): ``journal.write`` before each entry is
recorded, ``journal.before_fsync``/``journal.after_fsync`` around every fdatasync of a sync
with something to flush. An OSError from a write, a failpoint or an fdatasync closes the whole
log (``JournalError``): the node must stop and recover.

Thread: the raft loop thread owns the log and every group journal; only ``WalSyncToken.run``
runs elsewhere (an fdatasync on a duplicated descriptor).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from raftstore.replication import journal as _journal
from raftstore.replication.journal import (
    DurableJournal,
    Entry,
    JournalCorruptError,
    JournalError,
)
from raftstore.replication.wal_format import (
    HEADER,
    IDX_TERM,
    RESET_HEAD,
    U64,
    Kind,
    RecordError,
    SegmentReader,
    check_header,
    decode_vote,
    header,
    segment_name,
    segment_seq,
)
from raftstore.replication.wal_group import GroupJournal

__all__ = ["SEGMENT_BYTES", "GroupJournal", "WalSyncToken", "WriteAheadLog"]

logger = logging.getLogger(__name__)

SEGMENT_BYTES = 64 * 1024 * 1024
PURGE_SEGMENTS = 4
FLUSH_BYTES = 1 << 20
LEGACY_DONE_SUFFIX = ".imported"


class WriteAheadLog:
    """The node's log of every group (see module doc).

    Args:
        directory: the WAL's directory (``<data>/wal``); created if missing.
        fsync: False skips every fsync (UNSAFE, benchmarks only).
        failpoints: test hook called with ``journal.write``/``journal.before_fsync``/
            ``journal.after_fsync``; it may raise OSError (a failing disk) or kill the process.
        segment_bytes: roll over to a new segment past this size.
        purge_segments: rewrite pinning groups once there are more segments than this.

    Raises:
        JournalCorruptError: a segment header or a record outside the tail is corrupt.
        OSError: the directory cannot be read or written.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        fsync: bool = True,
        failpoints: Callable[[str], None] | None = None,
        segment_bytes: int = SEGMENT_BYTES,
        purge_segments: int = PURGE_SEGMENTS,
    ) -> None:
        self._dir = Path(directory)
        self._fsync = fsync
        self._failpoints = failpoints
        self._segment_bytes = segment_bytes
        self._purge_segments = max(1, purge_segments)
        self._groups: dict[str, GroupJournal] = {}
        self._dirty: dict[str, GroupJournal] = {}
        self._segments: dict[int, int] = {}  # seq -> bytes, oldest first
        self._active = 0
        self._size = 0  # of the active segment, without the buffer
        self._buf: list[bytes] = []
        self._buf_bytes = 0
        self._appends = 0
        self._synced_appends = 0
        self._in_flight = False
        self._closed = False
        self._fd = -1
        self._dir.mkdir(parents=True, exist_ok=True)
        self._dir_fd = os.open(self._dir, os.O_RDONLY)
        try:
            self._recover()
        except BaseException:
            self._close_fds()
            raise

    # -- recovery ---------------------------------------------------------------------

    def _recover(self) -> None:
        for tmp in self._dir.glob("*.tmp"):
            tmp.unlink()
        seqs = sorted(s for s in map(segment_seq, os.listdir(self._dir)) if s is not None)
        seqs = self._after_last_gap(seqs)
        if not seqs:
            self._fd = self._create_segment(1)
            self._active, self._size, self._segments[1] = 1, HEADER.size, HEADER.size
            return
        for i, seq in enumerate(seqs):
            self._replay(seq, last=i == len(seqs) - 1)
        self._active = seqs[-1]
        self._size = self._segments[self._active]
        path = self._dir / segment_name(self._active)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        if path.stat().st_size != self._size:
            os.ftruncate(self._fd, self._size)
        if self._fsync:  # what was read back may sit only in the page cache
            _journal._fdatasync(self._fd)

    def _after_last_gap(self, seqs: list[int]) -> list[int]:
        """Segments before a gap in the numbering were being reclaimed: finish that."""
        for i in range(len(seqs) - 1, 0, -1):
            if seqs[i] != seqs[i - 1] + 1:
                for seq in seqs[:i]:
                    logger.warning("wal %s: deleting reclaimed segment %d", self._dir, seq)
                    (self._dir / segment_name(seq)).unlink()
                return seqs[i:]
        return seqs

    def _replay(self, seq: int, last: bool) -> None:
        path = self._dir / segment_name(seq)
        data = path.read_bytes()
        check_header(data, path, seq)
        reader = SegmentReader(data)
        pending: dict[str, _PendingReset] = {}
        end, reason = len(data), ""
        for offset, kind, gid, body in reader.records():
            try:
                self._replay_record(offset, kind, gid, body, seq, pending)
            except RecordError as exc:
                end, reason = offset, str(exc)
                break
        else:
            end, reason = reader.end, reader.reason
        if pending:
            end = min(end, *(p.offset for p in pending.values()))
            reason = reason or "unfinished group reset"
        if end < len(data):
            if not last:
                raise JournalCorruptError(
                    f"{path}: corrupt record at offset {end} ({reason}) in a segment that "
                    "is not the last: refusing to recover"
                )
            logger.warning(
                "wal %s: dropping %d bytes at offset %d (%s)", path, len(data) - end, end, reason
            )
        self._segments[seq] = end

    def _replay_record(
        self,
        offset: int,
        kind: Kind,
        gid: str,
        body: bytes,
        seg: int,
        pending: dict[str, _PendingReset],
    ) -> None:
        reset = pending.get(gid)
        if reset is not None:
            if kind != Kind.ENTRY:
                raise RecordError(f"group {gid}: reset interrupted by a {kind.name} record")
            reset.entries.append(_decode_entry(body))
            if len(reset.entries) == reset.count:
                del pending[gid]
                group = self._group(gid)
                group._apply_reset(reset.term, reset.vote, reset.commit, reset.entries, seg)
            return
        if kind == Kind.DROP:
            self._groups.pop(gid, None)
            return
        group = self._group(gid)
        if kind == Kind.ENTRY:
            command, idx, term = _decode_entry(body)
            if group._entries and idx != group._entries[-1][1] + 1:
                raise RecordError(f"group {gid}: index {idx} does not follow {group.last_index}")
            group._apply_add(command, idx, term, seg)
        elif kind == Kind.TRUNCATE:
            group._apply_truncate(_decode_u64(body))
        elif kind == Kind.COMPACT:
            group._apply_compact(_decode_u64(body))
        elif kind == Kind.TERM:
            group._apply_term(_decode_u64(body[:8]), decode_vote(body[8:]), seg)
        elif kind == Kind.COMMIT:
            group._apply_commit(_decode_u64(body), seg)
        else:  # RESET
            if len(body) < RESET_HEAD.size:
                raise RecordError("short reset record")
            term, commit, count = RESET_HEAD.unpack_from(body)
            vote = decode_vote(body[RESET_HEAD.size :])
            if count == 0:
                group._apply_reset(term, vote, commit, [], seg)
            else:
                pending[gid] = _PendingReset(offset, term, vote, commit, count)

    def _group(self, gid: str) -> GroupJournal:
        group = self._groups.get(gid)
        if group is None:
            group = self._groups[gid] = GroupJournal(self, gid)
        return group

    # -- groups -----------------------------------------------------------------------

    def open_group(self, gid: str, legacy: Path | None = None) -> GroupJournal:
        """The journal of group ``gid`` (empty if the log holds nothing of it).

        ``legacy``: the group's journal directory of the per-group layout; imported (and
        then deleted) if it exists.

        Raises:
            ValueError: the group's journal is open already.
            JournalError: the log is closed or failed; JournalCorruptError from a legacy
                journal that cannot be read.
        """
        self._require_open()
        group = self._group(gid)
        if group._open:
            raise ValueError(f"wal: the journal of group {gid} is open already")
        if legacy is not None:
            self._import_legacy(group, legacy)
        group._on_open()
        return group

    def group_ids(self) -> list[str]:
        """Every group the log holds state of."""
        return list(self._groups)

    def retain(self, keep: set[str]) -> list[str]:
        """Drop (durably) every group not in ``keep`` whose journal is not open; returns them."""
        dropped = [g for g, j in self._groups.items() if g not in keep and not j._open]
        for gid in dropped:
            self._groups[gid]._drop()
        if dropped:
            self.sync()
            logger.info("wal %s: dropped groups not placed here: %s", self._dir, dropped)
        return dropped

    def _import_legacy(self, group: GroupJournal, legacy: Path) -> None:
        done = legacy.with_name(legacy.name + LEGACY_DONE_SUFFIX)
        if done.exists():
            shutil.rmtree(done)
        if not legacy.exists():
            return
        old = DurableJournal(legacy, fsync=self._fsync)
        try:
            term, vote = old.getCurrentTerm(), old.getVotedForNodeId()
            group._reset(term, vote, old.getRaftCommitIndex(), list(old))
        finally:
            old.close()
        self.sync()
        os.replace(legacy, done)
        if self._fsync:
            dir_fd = os.open(legacy.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        shutil.rmtree(done)
        logger.info(
            "group %s: imported %d journal entries from %s into the WAL",
            group._gid,
            len(group),
            legacy,
        )

    # -- state ----------------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def needs_sync(self) -> bool:
        """Some group wrote entries or a truncation that are not durable yet."""
        return bool(self._dirty)

    @property
    def sync_in_flight(self) -> bool:
        return self._in_flight

    @property
    def segments(self) -> list[int]:
        """Sequence numbers of the segment files, oldest first."""
        return list(self._segments)

    # -- writing --------------------------------------------------------------------------

    def _require_open(self) -> None:
        if self._closed:
            raise JournalError(f"wal {self._dir} is closed")

    def _write_failpoint(self) -> None:
        if self._failpoints is None:
            return
        try:
            self._failpoints("journal.write")
        except OSError as exc:
            self._fail()
            raise JournalError(f"wal {self._dir}: write failed: {exc}") from exc

    def _append(self, records: list[bytes], roll: bool = True) -> int:
        """Buffer ``records`` (kept in one segment); returns the segment they go to."""
        if roll and self._size + self._buf_bytes >= self._segment_bytes:
            self._roll()
        for record in records:
            self._buf.append(record)
            self._buf_bytes += len(record)
        self._appends += 1
        if self._buf_bytes >= FLUSH_BYTES:
            self._flush()
        return self._active

    def _flush(self) -> None:
        if not self._buf:
            return
        data = b"".join(self._buf)
        self._buf.clear()
        self._buf_bytes = 0
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            self._fail()
            raise JournalError(f"wal {self._dir}: write failed: {exc}") from exc
        self._size += len(data)
        self._segments[self._active] = self._size

    def _roll(self) -> None:
        """Start a new segment (the old one durable first), then rewrite pinning groups."""
        self._flush()
        try:
            if self._fsync:
                _journal._fdatasync(self._fd)
            fd = self._create_segment(self._active + 1)
        except OSError as exc:
            self._fail()
            raise JournalError(f"wal {self._dir}: segment roll-over failed: {exc}") from exc
        os.close(self._fd)
        self._fd = fd
        self._active += 1
        self._size = self._segments[self._active] = HEADER.size
        self._purge()

    def _create_segment(self, seq: int) -> int:
        path = self._dir / segment_name(seq)
        tmp = path.with_name(path.name + ".tmp")
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o644)
        try:
            _write_all(fd, header(seq))
            if self._fsync:
                os.fsync(fd)
            os.replace(tmp, path)
            if self._fsync:
                os.fsync(self._dir_fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        return fd

    def _purge(self) -> None:
        """Rewrite the groups pinning the oldest segments, oldest first, within budget."""
        seqs = list(self._segments)
        budget = self._segment_bytes // 2
        pins: dict[int, list[GroupJournal]] = {}
        for group in self._groups.values():
            pin = group._pin
            if pin is not None:
                pins.setdefault(pin, []).append(group)
        for seq in seqs[: len(seqs) - self._purge_segments]:
            pinning = pins.get(seq, [])
            cost = sum(g._live_bytes for g in pinning)
            if cost > budget:
                return
            budget -= cost
            for group in pinning:
                group._rewrite()

    def _min_pin(self) -> int | None:
        """The oldest segment any group's state needs (None: one segment, nothing to do)."""
        if len(self._segments) < 2:
            return None
        pins = (g._pin for g in self._groups.values())
        return min((p for p in pins if p is not None), default=self._active)

    def _reclaim(self, pin: int | None) -> None:
        """Delete the segments older than ``pin`` (oldest first)."""
        if pin is None:
            return
        for seq in list(self._segments):
            if seq >= min(pin, self._active):
                return
            (self._dir / segment_name(seq)).unlink(missing_ok=True)
            del self._segments[seq]

    # -- syncing --------------------------------------------------------------------------

    def sync(self) -> None:
        """Make everything written so far durable, now, on this thread.

        Raises:
            JournalError: the write or fdatasync failed; the log is closed then.
        """
        self._require_open()
        if self._synced_appends == self._appends and not self._dirty:
            return
        appends = self._appends
        self._flush()
        try:
            self._fire("journal.before_fsync")
            if self._fsync:
                _journal._fdatasync(self._fd)
            self._fire("journal.after_fsync")
        except OSError as exc:
            self._fail()
            raise JournalError(f"wal {self._dir}: fdatasync failed: {exc}") from exc
        self._synced_appends = appends
        for group in self._dirty.values():
            group._durable_last = group.last_index
            group._dirty = False
        self._dirty.clear()
        self._reclaim(self._min_pin())

    def _fire(self, point: str) -> None:
        if self._failpoints is not None:
            self._failpoints(point)

    def begin_sync(self) -> WalSyncToken | None:
        """Start making every group's writes durable, off the raft loop thread.

        Returns None when no group needs a sync or a sync is in flight. Otherwise run
        ``token.run()`` on any thread, then ``finish_sync(token)`` on the raft loop thread.

        Raises:
            JournalError: the log is closed, or writing the buffered records failed.
        """
        if self._in_flight or not self._dirty:
            return None
        self._require_open()
        self._flush()
        groups = [(g, g.last_index, g._generation, g._writes) for g in self._dirty.values()]
        token = WalSyncToken(self, os.dup(self._fd), groups, self._appends, self._min_pin())
        self._in_flight = True
        return token

    def finish_sync(self, token: WalSyncToken) -> list[str]:
        """Record what ``token`` made durable; returns the ids of the groups it covered.

        Raises:
            JournalError: the fdatasync failed (the log closes itself).
        """
        self._in_flight = False
        if token.error is not None:
            self._fail()
            raise JournalError(f"wal {self._dir}: fdatasync failed: {token.error}")
        if self._closed:
            return []
        for group, last_index, generation, writes in token.groups:
            if group._generation == generation:
                group._durable_last = max(group._durable_last, last_index)
            if group._writes == writes and group._dirty:
                group._dirty = False
                self._dirty.pop(group._gid, None)
        self._synced_appends = max(self._synced_appends, token.appends)
        self._reclaim(token.min_pin)
        return [g[0]._gid for g in token.groups]

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Sync and close the files. Idempotent."""
        if self._closed:
            return
        try:
            self.sync()
        finally:
            self._closed = True
            self._close_fds()

    def _fail(self) -> None:
        self._closed = True
        self._buf.clear()
        self._buf_bytes = 0
        self._close_fds()

    def _close_fds(self) -> None:
        for fd in (self._fd, self._dir_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._dir_fd = -1


class _PendingReset:
    __slots__ = ("commit", "count", "entries", "offset", "term", "vote")

    def __init__(self, offset: int, term: int, vote: str | None, commit: int, count: int) -> None:
        self.offset, self.term, self.vote = offset, term, vote
        self.commit, self.count = commit, count
        self.entries: list[Entry] = []


class WalSyncToken:
    """One fdatasync of the WAL, run off the raft loop thread (see ``begin_sync``)."""

    __slots__ = ("appends", "error", "fd", "groups", "min_pin", "wal")

    def __init__(
        self,
        wal: WriteAheadLog,
        fd: int,
        groups: list[tuple[GroupJournal, int, int, int]],
        appends: int,
        min_pin: int | None,
    ) -> None:
        self.wal = wal
        self.fd = fd
        self.groups = groups
        self.appends = appends
        self.min_pin = min_pin
        self.error: OSError | None = None

    def run(self) -> None:
        """fdatasync (any thread); failpoints fire around it. Never raises OSError."""
        failpoints = self.wal._failpoints
        try:
            if failpoints is not None:
                failpoints("journal.before_fsync")
            if self.wal._fsync:
                _journal._fdatasync(self.fd)
            if failpoints is not None:
                failpoints("journal.after_fsync")
        except OSError as exc:
            self.error = exc
        finally:
            os.close(self.fd)


def _decode_u64(body: bytes) -> int:
    if len(body) != U64.size:
        raise RecordError(f"expected 8 bytes, got {len(body)}")
    return int(U64.unpack(body)[0])


def _decode_entry(body: bytes) -> Entry:
    if len(body) < IDX_TERM.size:
        raise RecordError("short entry record")
    idx, term = IDX_TERM.unpack_from(body)
    return body[IDX_TERM.size :], idx, term


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    while written < len(data):
        written += os.write(fd, memoryview(data)[written:])
