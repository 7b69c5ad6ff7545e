"""Expiry (Aerospike's nsup): removing expired records from disk, through the log.

Reads treat a record whose void time has passed as absent (``records.is_expired``), but
its rows — the record and its secondary-index rows — stay on disk until deleted. The
leader of each group sweeps the group's records in bounded slices (``expired_rows``,
driven by the node's ``raftstore_node.nsup``), and proposes the expired ones it finds as
one ``commands.Expire`` per slice. Unlike the rows a truncate hides (deleted by each
replica on its own, ``raftstore.truncation``), an expired record can be revived by a
write that races the sweep (a put, a touch giving it a new TTL), so its deletion must be
ordered with the writes: it goes through the log, and applying it is deterministic on
every replica. The command carries the leader's clock reading and, for each record, the
generation and void time the sweep saw; ``still_expired`` deletes a record only when it
is unchanged and expired at that time (capped at the entry's ``now_ms``). A record
rewritten, touched, deleted or truncated since the sweep is left as it is.

A leader that loses leadership mid-sweep proposes nothing more (its proposals fail with
NotLeader, or are applied as harmless, checked deletes); the next leader sweeps again.

Pure: imports no clock, no RocksDB.
"""

from __future__ import annotations

from dataclasses import dataclass

from raftstore.commands import ExpiredRecord, ExpiredSession
from raftstore.records import Record, decode_record, is_expired
from raftstore.storage.base import RecordStore
from raftstore.truncation import hides


@dataclass(frozen=True, slots=True)
class SweepSlice:
    """What one slice of a sweep found: the expired records, the digest to continue after
    (None: the namespace is done), and how many rows it examined."""

    expired: tuple[ExpiredRecord, ...]
    cursor: bytes | None
    examined: int


def expired_rows(
    store: RecordStore, namespace: str, after: bytes | None, limit: int, now_ms: int
) -> SweepSlice:
    """Read at most ``limit`` rows of ``namespace`` after the digest ``after`` (None: from
    the start) and return those expired at ``now_ms`` (rows a truncation marker hides are
    left to the truncation sweeper). Synchronous and bounded by ``limit``."""
    markers = store.truncations()
    expired: list[ExpiredRecord] = []
    last: bytes | None = None
    count = 0
    rows = store.scan(namespace, None, after)
    try:
        for digest, data in rows:
            last = digest
            count += 1
            record = decode_record(data)
            if is_expired(record, now_ms) and not hides(markers, namespace, record):
                expired.append(ExpiredRecord(digest, record.generation, record.void_time_ms))
            if count >= limit:
                return SweepSlice(tuple(expired), last, count)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # releases the RocksDB iterator now, not at garbage collection
    return SweepSlice(tuple(expired), None, count)


@dataclass(frozen=True, slots=True)
class SessionSlice:
    """Idle sessions one slice found, the client id to continue after (None: done), and
    how many sessions it examined."""

    idle: tuple[ExpiredSession, ...]
    cursor: bytes | None
    examined: int


def idle_sessions(
    store: RecordStore, after: bytes | None, limit: int, now_ms: int, idle_ms: int
) -> SessionSlice:
    """Read at most ``limit`` deduplication sessions after client id ``after`` and return
    those unused for more than ``idle_ms`` at ``now_ms`` (exactly-once sessions of clients
    that went away: without this they would stay on disk forever). Bounded by ``limit``."""
    from raftstore.state_machine import decode_session  # the state machine imports us

    idle: list[ExpiredSession] = []
    last: bytes | None = None
    count = 0
    rows = store.scan_sessions(after)
    try:
        for client_id, data in rows:
            last = client_id
            count += 1
            session = decode_session(data)
            if now_ms - session.last_seen_ms > idle_ms:
                idle.append(ExpiredSession(client_id, session.last_seen_ms))
            if count >= limit:
                return SessionSlice(tuple(idle), last, count)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    return SessionSlice(tuple(idle), None, count)


def still_expired(record: Record | None, seen: ExpiredRecord, now_ms: int) -> bool:
    """True when ``record`` (None: absent) is the one the sweep saw — same generation and
    void time — and is expired at ``now_ms``: only then may an Expire delete it."""
    return (
        record is not None
        and record.generation == seen.generation
        and record.void_time_ms == seen.void_time_ms
        and is_expired(record, now_ms)
    )
