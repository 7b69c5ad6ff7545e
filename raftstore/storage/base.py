"""The record store contract: the committed state of one partition group.

A store holds encoded records keyed by (namespace, digest), the deduplication sessions
of exactly-once clients, secondary index definitions and rows (``raftstore.sindex``), and
the index of the last Raft entry applied. ``commit`` writes
all changes of one log entry together with that entry's index atomically, so a restart
never applies an entry twice and never sees half of one.

Implementations: ``raftstore.storage.memory.MemoryStore`` (tests) and
``raftstore.storage.rocks.GroupStore`` (a column family of the node's one RocksDB,
``raftstore.storage.engine.Engine``: what a node runs).

Thread: the raft loop thread of the owning node is the only writer; readers on the same
thread see every committed change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class Changes:
    """Everything one log entry changes. A value of None deletes the row."""

    records: dict[tuple[str, bytes], bytes | None] = field(default_factory=dict)
    sessions: dict[bytes, bytes | None] = field(default_factory=dict)
    # (namespace, set) -> lut_ms of truncation markers set or raised (raftstore.truncation)
    truncations: dict[tuple[str, str], int] = field(default_factory=dict)
    # Secondary indexes: every row of each dropped index is removed first, then
    # definitions (by name) and index rows (raw keys, see raftstore.sindex) are written.
    dropped_indexes: list[str] = field(default_factory=list)
    index_defs: dict[str, bytes | None] = field(default_factory=dict)
    index_rows: dict[bytes, bytes | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.records
            or self.sessions
            or self.truncations
            or self.dropped_indexes
            or self.index_defs
            or self.index_rows
        )


class RecordStore(Protocol):
    def get(self, namespace: str, digest: bytes) -> bytes | None:
        """The encoded record, or None if absent."""
        ...

    def get_session(self, client_id: bytes) -> bytes | None:
        """The encoded deduplication session of a client, or None."""
        ...

    def scan_sessions(self, after: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """(client id, encoded session) of every session, in client id order; with
        ``after``, only those after that client id. Same rules as ``scan``."""
        ...

    def index_defs(self) -> dict[str, bytes]:
        """Encoded state (``sindex.encode_state``) of every secondary index, by name."""
        ...

    def index_keys(self, prefix: bytes, start: bytes) -> Iterator[bytes]:
        """Keys of the index rows that start with ``prefix``, from ``start`` (inclusive)
        on, in byte order. Same iterator rules as ``scan``: never hold it across a yield."""
        ...

    def applied_index(self) -> int:
        """Index of the last log entry whose changes are committed (0 if none)."""
        ...

    def commit(self, changes: Changes, applied_index: int) -> None:
        """Write ``changes`` and ``applied_index`` atomically. Raises nothing on success."""
        ...

    def truncations(self) -> Mapping[tuple[str, str], int]:
        """The group's truncation markers, (namespace, set) -> lut_ms (set "": the whole
        namespace); see ``raftstore.truncation``. Cheap: held in memory, do not mutate."""
        ...

    @property
    def truncation_epoch(self) -> int:
        """Grows whenever the markers change or the rows are replaced (a snapshot install):
        a sweep of hidden rows that finished at an older epoch must run again."""
        ...

    def purge(self, namespace: str, digests: list[bytes]) -> None:
        """Delete these record rows outside the log (no applied index). Only for rows that
        truncation markers hide: every reader already treats them as absent."""
        ...

    def scan(
        self, namespace: str, partition: int | None = None, after_digest: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """(digest, encoded record) of a namespace, optionally of one partition, in key order
        (partition, then digest); with ``after_digest``, only rows after that digest's
        position (its partition, then the digest).

        The rows come from one consistent state, taken when iteration starts. The iterator
        may pin the store's files: finish or drop it before the store can be closed,
        replaced by a snapshot or destroyed — never hold it across a yield to the event
        loop (``raftstore.scan.read_partition`` shows how to read in bounded steps).
        """
        ...
