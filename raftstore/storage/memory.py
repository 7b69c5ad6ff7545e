"""An in-memory RecordStore: the test twin of the RocksDB store.

Same contract as ``raftstore.storage.base.RecordStore``: ``commit`` applies all of an
entry's changes and its index together (here trivially atomic), and ``scan`` yields a
namespace's records ordered by (partition as 2 big-endian bytes, digest), the order of
RocksDB keys. Not thread-safe: one writer thread, as the contract says.
"""

from __future__ import annotations

from collections.abc import Iterator

from raftstore.keys import partition_id
from raftstore.records import decode_record
from raftstore.sindex import index_prefix, purged_rows
from raftstore.storage.base import Changes


def scan_order(digest: bytes) -> bytes:
    """Sort key of a digest within its namespace: partition (2 bytes BE) + digest."""
    return partition_id(digest).to_bytes(2, "big") + digest


class MemoryStore:
    """Records, sessions and the applied index held in dicts."""

    __slots__ = (
        "_applied",
        "_index_defs",
        "_index_rows",
        "_records",
        "_sessions",
        "_truncations",
        "truncation_epoch",
    )

    def __init__(self) -> None:
        self._records: dict[tuple[str, bytes], bytes] = {}
        self._sessions: dict[bytes, bytes] = {}
        self._truncations: dict[tuple[str, str], int] = {}
        self.truncation_epoch = 0
        self._index_defs: dict[str, bytes] = {}
        self._index_rows: dict[bytes, bytes] = {}
        self._applied = 0

    def get(self, namespace: str, digest: bytes) -> bytes | None:
        """The encoded record, or None if absent."""
        return self._records.get((namespace, digest))

    def get_session(self, client_id: bytes) -> bytes | None:
        """The encoded deduplication session of a client, or None."""
        return self._sessions.get(client_id)

    def scan_sessions(self, after: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """(client id, encoded session) in client id order, after ``after`` (collected now)."""
        items = sorted(
            (cid, data) for cid, data in self._sessions.items() if after is None or cid > after
        )
        return iter(items)

    def index_defs(self) -> dict[str, bytes]:
        """Encoded state of every secondary index, by name."""
        return dict(self._index_defs)

    def index_keys(self, prefix: bytes, start: bytes) -> Iterator[bytes]:
        """Index row keys under ``prefix`` from ``start`` on, in byte order (collected now)."""
        keys = sorted(k for k in self._index_rows if k.startswith(prefix) and k >= start)
        return iter(keys)

    def applied_index(self) -> int:
        """Index of the last committed log entry (0 if none)."""
        return self._applied

    def commit(self, changes: Changes, applied_index: int) -> None:
        """Apply ``changes`` (None deletes a row) and record ``applied_index``.

        Raises ValueError, changing nothing, if ``applied_index`` is below the current
        one (an entry applied out of order is a caller bug the twin should expose).
        """
        if applied_index < self._applied:
            raise ValueError(f"applied index {applied_index} is below {self._applied}")
        _apply_rows(self._records, changes.records)
        _apply_rows(self._sessions, changes.sessions)
        if changes.truncations:
            self._truncations = {**self._truncations, **changes.truncations}
            self.truncation_epoch += 1
        for name in changes.dropped_indexes:
            prefix = index_prefix(name)
            for key in [k for k in self._index_rows if k.startswith(prefix)]:
                del self._index_rows[key]
        _apply_rows(self._index_defs, changes.index_defs)
        _apply_rows(self._index_rows, changes.index_rows)
        self._applied = applied_index

    def truncations(self) -> dict[tuple[str, str], int]:
        """The truncation markers (a fresh dict after every change: safe to keep)."""
        return self._truncations

    def purge(self, namespace: str, digests: list[bytes]) -> None:
        """Delete these record rows without an applied index (hidden rows only), with
        their index rows."""
        rows = [
            (d, decode_record(self._records[(namespace, d)]))
            for d in digests
            if (namespace, d) in self._records
        ]
        for key in purged_rows(self._index_defs, namespace, rows):
            self._index_rows.pop(key, None)
        for digest in digests:
            self._records.pop((namespace, digest), None)

    def scan(
        self, namespace: str, partition: int | None = None, after_digest: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """(digest, encoded record) of a namespace (or one of its partitions) in key order,
        after ``after_digest``'s position when given.

        The rows are collected when the scan starts; later commits do not affect it.
        """
        after = scan_order(after_digest) if after_digest is not None else b""
        rows = [
            (digest, data)
            for (ns, digest), data in self._records.items()
            if ns == namespace
            and (partition is None or partition_id(digest) == partition)
            and scan_order(digest) > after
        ]
        rows.sort(key=lambda row: scan_order(row[0]))
        return iter(rows)

    def dump(self) -> dict[str, object]:
        """A copy of every row and the applied index (for tests comparing stores)."""
        return {
            "records": dict(self._records),
            "sessions": dict(self._sessions),
            "truncations": dict(self._truncations),
            "index_defs": dict(self._index_defs),
            "index_rows": dict(self._index_rows),
            "applied_index": self._applied,
        }


def _apply_rows(rows: dict, changes: dict) -> None:
    for key, value in changes.items():
        if value is None:
            rows.pop(key, None)
        else:
            rows[key] = value
