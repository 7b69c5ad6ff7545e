"""One group's view of the node's write-ahead log (``wal.WriteAheadLog``).

``GroupJournal`` has ``journal.DurableJournal``'s interface and durability contract (see
``wal.py``'s module doc): entries in memory, list positions for ``deleteEntries*``; every
change is a record of the shared log, and the log's one sync makes it durable. The state
changes (``_apply_*``) are shared by writing and by the log's replay on open, so a replayed
group is exactly the group that was written.

Thread: the raft loop thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pysyncobj.journal import Journal

from raftstore.replication.journal import COMMIT_HINT_SECONDS, Entry, JournalError
from raftstore.replication.wal_format import (
    ENTRY_OVERHEAD,
    IDX_TERM,
    MAX_PAYLOAD,
    RESET_HEAD,
    U64,
    Kind,
    encode_vote,
    entry_record,
    frame,
    prefix,
)

if TYPE_CHECKING:
    from raftstore.replication.wal import WalSyncToken, WriteAheadLog

__all__ = ["GroupJournal"]


class GroupJournal(Journal):
    """One group's view of the node's WAL: ``DurableJournal``'s interface (see module doc).

    Obtained from ``WriteAheadLog.open_group``. Thread: the raft loop thread.
    """

    def __init__(self, wal: WriteAheadLog, gid: str) -> None:
        self._wal = wal
        self._gid = gid
        gid_bytes = gid.encode()
        self._entry_prefix = prefix(Kind.ENTRY, gid_bytes)
        self._gid_bytes = gid_bytes
        self._overhead = ENTRY_OVERHEAD + len(gid_bytes)
        self._max_command = MAX_PAYLOAD - len(self._entry_prefix) - IDX_TERM.size
        self._entries: list[Entry] = []
        self._term, self._voted_for, self._commit_index = 0, None, 1
        self._commit_written = 1
        self._runs: list[tuple[int, int]] = []  # (first idx, segment) per stretch of entries
        self._term_seg: int | None = None
        self._commit_seg: int | None = None
        self._live_bytes = 0
        self._dirty = False
        self._generation = 0
        self._writes = 0
        self._durable_last = 0
        self._open = False
        self._timer_calls = 0

    # -- state changes, shared by writing and replay ------------------------------------

    def _apply_add(self, command: bytes, idx: int, term: int, seg: int) -> None:
        self._entries.append((command, idx, term))
        if not self._runs or self._runs[-1][1] != seg:
            self._runs.append((idx, seg))
        self._live_bytes += len(command) + self._overhead

    def _apply_truncate(self, idx: int) -> None:
        """Drop the entries with index >= idx."""
        if not self._entries:
            return
        start = max(0, idx - self._entries[0][1])
        self._forget(self._entries[start:])
        del self._entries[start:]
        while self._runs and (not self._entries or self._runs[-1][0] >= idx):
            self._runs.pop()

    def _apply_compact(self, idx: int) -> None:
        """Drop the entries with index < idx."""
        if not self._entries:
            return
        keep = min(len(self._entries), max(0, idx - self._entries[0][1]))
        self._forget(self._entries[:keep])
        del self._entries[:keep]
        if not self._entries:
            self._runs.clear()
            return
        first = self._entries[0][1]
        while len(self._runs) > 1 and self._runs[1][0] <= first:
            del self._runs[0]
        self._runs[0] = (first, self._runs[0][1])

    def _forget(self, entries: list[Entry]) -> None:
        self._live_bytes -= sum(len(e[0]) for e in entries) + self._overhead * len(entries)

    def _apply_term(self, term: int, voted_for: str | None, seg: int) -> None:
        self._term, self._voted_for, self._term_seg = term, voted_for, seg

    def _apply_commit(self, commit: int, seg: int) -> None:
        self._commit_index = self._commit_written = commit
        self._commit_seg = seg

    def _apply_reset(
        self, term: int, voted_for: str | None, commit: int, entries: list[Entry], seg: int
    ) -> None:
        self._apply_term(term, voted_for, seg)
        self._apply_commit(commit, seg)
        self._entries = entries
        self._runs = [(entries[0][1], seg)] if entries else []
        self._live_bytes = sum(len(e[0]) for e in entries) + self._overhead * len(entries)

    @property
    def _pin(self) -> int | None:
        segs = [s for s in (self._term_seg, self._commit_seg) if s is not None]
        if self._runs:
            segs.append(self._runs[0][1])
        return min(segs) if segs else None

    # -- writing ----------------------------------------------------------------------------

    def _record(self, kind: Kind, body: bytes) -> bytes:
        return frame(prefix(kind, self._gid_bytes) + body)

    def _require_open(self) -> None:
        self._wal._require_open()
        if not self._open:
            raise JournalError(f"wal: the journal of group {self._gid} is closed")

    def _changed(self) -> None:
        self._dirty = True
        self._writes += 1
        self._wal._dirty[self._gid] = self

    def _reset(self, term: int, voted_for: str | None, commit: int, entries: list[Entry]) -> None:
        """Write this group's whole state as a RESET record plus its entries."""
        self._write_reset(term, voted_for, commit, entries, roll=True)

    def _rewrite(self) -> None:
        """Copy the live state into the active segment (during a roll-over: no roll)."""
        self._write_reset(
            self._term, self._voted_for, self._commit_index, self._entries, roll=False
        )

    def _write_reset(
        self, term: int, voted_for: str | None, commit: int, entries: list[Entry], roll: bool
    ) -> None:
        head = RESET_HEAD.pack(term, commit, len(entries)) + encode_vote(voted_for)
        records = [self._record(Kind.RESET, head)]
        records += [entry_record(self._entry_prefix, *e) for e in entries]
        seg = self._wal._append(records, roll=roll)
        self._apply_reset(term, voted_for, commit, entries, seg)

    def _drop(self) -> None:
        self._wal._append([self._record(Kind.DROP, b"")])
        self._wal._groups.pop(self._gid, None)
        self._wal._dirty.pop(self._gid, None)
        self._dirty = False

    def _on_open(self) -> None:
        self._open = True
        if not self._dirty:
            self._durable_last = self.last_index
        if self._entries:
            self._commit_index = min(self._commit_index, self.last_index)

    # -- pysyncobj's Journal interface --------------------------------------------------

    def add(self, command: bytes, idx: int, term: int) -> None:
        """Append an entry; durable at the next sync.

        Raises:
            ValueError: idx does not follow the last entry, or the command is too large.
                Nothing is written then.
            JournalError: the journal or the log is closed, or writing failed (the whole
                log closes itself; the node must stop).
        """
        entries = self._entries
        if entries and idx != entries[-1][1] + 1:
            raise ValueError(f"journal: index {idx} does not follow {entries[-1][1]}")
        if type(command) is not bytes:
            command = bytes(command)
        if len(command) > self._max_command:
            raise ValueError(f"journal: command of {len(command)} bytes exceeds MAX_PAYLOAD")
        self._require_open()
        self._wal._write_failpoint()
        seg = self._wal._append([entry_record(self._entry_prefix, command, idx, term)])
        self._apply_add(command, idx, term, seg)
        self._changed()

    def clear(self) -> None:
        """Remove every entry; durable at the next sync (a truncation)."""
        self.deleteEntriesFrom(0)

    def deleteEntriesFrom(self, entryFrom: int) -> None:
        """Drop the entries at list positions >= entryFrom; durable at the next sync."""
        self._require_open()
        start = slice(entryFrom, None).indices(len(self._entries))[0]
        if start >= len(self._entries):
            return
        idx = self._entries[start][1]
        self._wal._append([self._record(Kind.TRUNCATE, U64.pack(idx))])
        self._apply_truncate(idx)
        self._generation += 1
        self._durable_last = min(self._durable_last, self.last_index)
        self._changed()

    def deleteEntriesTo(self, entryTo: int) -> None:
        """Drop the entries at list positions < entryTo (compaction); lazily durable."""
        self._require_open()
        start = slice(entryTo, None).indices(len(self._entries))[0]
        if start == 0:
            return
        idx = self._entries[start][1] if start < len(self._entries) else self.last_index + 1
        self._wal._append([self._record(Kind.COMPACT, U64.pack(idx))])
        self._apply_compact(idx)

    def __getitem__(self, item: int | slice) -> Any:
        return self._entries[item]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:
        """Remember the commit index; written lazily (a hint only)."""
        self._commit_index = raftCommitIndex

    def getRaftCommitIndex(self) -> int:
        return self._commit_index

    def setCurrentTerm(self, term: int, votedForNodeId: str | None) -> None:
        """Store term and vote durably (the whole log is synced) before returning.

        Raises:
            TypeError: votedForNodeId is neither a str nor None.
            JournalError: the log could not be written or synced (it closes itself).
        """
        if votedForNodeId is not None and not isinstance(votedForNodeId, str):
            raise TypeError(f"journal: node id must be a str, got {votedForNodeId!r}")
        self._require_open()
        body = U64.pack(int(term)) + encode_vote(votedForNodeId)
        seg = self._wal._append([self._record(Kind.TERM, body)])
        self._apply_term(int(term), votedForNodeId, seg)
        self._wal.sync()

    def getCurrentTerm(self) -> int:
        return self._term

    def getVotedForNodeId(self) -> str | None:
        return self._voted_for

    def onOneSecondTimer(self) -> None:
        """Write the commit-index hint every ``COMMIT_HINT_SECONDS`` calls if it changed."""
        self._timer_calls += 1
        if self._timer_calls % COMMIT_HINT_SECONDS == 0 and self._open:
            self._write_commit_hint()

    def _write_commit_hint(self) -> None:
        if self._commit_index != self._commit_written:
            commit = self._commit_index
            seg = self._wal._append([self._record(Kind.COMMIT, U64.pack(commit))])
            self._apply_commit(commit, seg)

    def _destroy(self) -> None:
        self.close()

    # -- raftstore's additions ----------------------------------------------------------

    @property
    def directory(self) -> Path:
        """The WAL's directory (shared by every group)."""
        return self._wal.directory

    @property
    def needs_sync(self) -> bool:
        """True when an add or truncation happened that no finished sync covers."""
        return self._dirty

    @property
    def durable_last_index(self) -> int:
        """Every entry with idx <= this is on stable storage (0: none is)."""
        return self._durable_last

    @property
    def first_index(self) -> int:
        return self._entries[0][1] if self._entries else 0

    @property
    def last_index(self) -> int:
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
        """Make this group's writes durable now (syncs the whole log); no-op when clean."""
        if self._dirty:
            self._wal.sync()

    @property
    def sync_in_flight(self) -> bool:
        """A sync of the log is running (it covers this group if it was dirty when it began)."""
        return self._wal.sync_in_flight

    def begin_sync(self) -> WalSyncToken | None:
        """``WriteAheadLog.begin_sync`` (one sync for every group)."""
        return self._wal.begin_sync()

    def finish_sync(self, token: WalSyncToken) -> list[str]:
        return self._wal.finish_sync(token)

    def close(self) -> None:
        """Write the commit hint, sync if this group has unsynced writes, detach. Idempotent."""
        if not self._open:
            return
        try:
            if not self._wal._closed:
                self._write_commit_hint()
                if self._dirty:
                    self._wal.sync()
        finally:
            self._open = False

    def destroy(self) -> None:
        """Forget this group durably (a DROP record, synced): it pins nothing any more."""
        self._open = False
        if self._wal._closed or self._wal._groups.get(self._gid) is not self:
            return
        self._drop()
        self._wal.sync()
