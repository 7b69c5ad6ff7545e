"""RocksDB record store: one group replica's rows, in a column family of the node's engine.

Every group replica of a node keeps its rows in one column family (CF) of the node's single
RocksDB (``raftstore.storage.engine.Engine``). Row layout within the CF (raw bytes keys, so
scans by partition are prefix scans)::

    b"r" + len(ns) (1 byte) + ns + partition (2 bytes big-endian) + digest  -> record
    b"s" + client_id                                                     -> session
    b"t" + len(ns) (1 byte) + ns + set                                   -> i64 truncation lut
    b"x" + index name                                     -> secondary index state
    b"i" + len(name) + name + value + partition + digest  -> b"" (an index row)
    b"m:applied"                                                         -> u64 applied index

``commit`` writes one log entry's changes and its index in one WriteBatch bound to the
group's CF. The WAL (shared by every CF) is not synced per write: the Raft journal is the
durable record of every committed entry, and an entry lost from RocksDB by a crash is
re-applied from the journal because the applied index rolls back with it (RocksDB recovers
the WAL to one point in time across all CFs, and syncs closed WAL files before a flush of a
multi-CF DB). ``make_durable`` (synced WAL) runs before the journal is compacted, so the
journal never drops an entry RocksDB could still lose.

A group's snapshot is its CF exported to one SST file (``export``); ``install`` swaps a
snapshot's SST in as a new generation of the CF, crash-atomically (see engine.py).

Thread: the node's raft loop thread only.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import rocksdict

from raftstore.keys import partition_id
from raftstore.records import decode_record
from raftstore.sindex import def_key, index_prefix, prefix_end, purged_rows
from raftstore.storage.base import Changes
from raftstore.truncation import MARKER_PREFIX, decode_lut, encode_lut, marker_row, parse_marker_row

if TYPE_CHECKING:
    from raftstore.storage.engine import Engine

APPLIED_KEY = b"m:applied"
_U64 = struct.Struct(">Q")


def record_key(namespace: str, digest: bytes) -> bytes:
    ns = namespace.encode("utf-8")
    return b"r" + bytes((len(ns),)) + ns + partition_id(digest).to_bytes(2, "big") + digest


def _namespace_prefix(namespace: str) -> bytes:
    ns = namespace.encode("utf-8")
    return b"r" + bytes((len(ns),)) + ns


def decode_applied(raw: bytes | None) -> int:
    return _U64.unpack(raw)[0] if raw else 0


class StoreClosed(RuntimeError):
    """The group store was closed or destroyed; nothing was read or written."""


class StoreCorruption(Exception):
    """RocksDB found a corrupt file (a block checksum mismatch, a truncated table...).

    Raised instead of serving partial data: RocksDB's iterator simply becomes invalid at
    a corrupt block, which looks exactly like the end of the data unless its status is
    checked (``check_iterator``)."""


def check_iterator(it: rocksdict.RdictIter, what: str) -> None:
    """Raise StoreCorruption if ``it`` stopped at an error rather than at the end."""
    try:
        it.status()
    except Exception as exc:
        raise StoreCorruption(f"{what}: {exc}") from None


class GroupStore:
    """The RecordStore of one group replica: its column family in the node's engine.

    Obtained from ``Engine.store(group_id)``. ``close`` releases the CF handle but leaves
    the shared DB open (the engine closes it); ``destroy`` drops the group's rows.
    """

    def __init__(self, engine: Engine, group_id: str, *, owns_engine: bool = False) -> None:
        self._engine = engine
        self.group_id = group_id
        self._owns_engine = owns_engine
        self._cf: rocksdict.Rdict | None = None
        self._handle: rocksdict.ColumnFamily | None = None
        self._applied = 0
        self._truncations: dict[tuple[str, str], int] = {}
        self.truncation_epoch = 0
        self._defs: dict[str, bytes] | None = None  # cache of index_defs()
        self._bind()

    def _bind(self) -> None:
        """(Re)attach to the group's live CF, as the engine's catalog names it."""
        self._cf, self._handle = self._engine.live_cf(self.group_id)
        self._applied = decode_applied(self._cf.get(APPLIED_KEY))
        self._truncations = self._load_truncations()
        self.truncation_epoch += 1
        self._defs = None

    def _load_truncations(self) -> dict[tuple[str, str], int]:
        assert self._cf is not None
        out: dict[tuple[str, str], int] = {}
        it = self._cf.iter()
        it.seek(MARKER_PREFIX)
        while it.valid() and it.key().startswith(MARKER_PREFIX):
            out[parse_marker_row(it.key())] = decode_lut(it.value())
            it.next()
        check_iterator(it, f"group {self.group_id}: truncation markers")
        del it
        return out

    @property
    def db(self) -> rocksdict.Rdict:
        """The group's CF (an Rdict bound to it)."""
        if self._cf is None:
            raise StoreClosed(f"store of group {self.group_id} is closed")
        return self._cf

    # --- RecordStore ------------------------------------------------------------------

    def get(self, namespace: str, digest: bytes) -> bytes | None:
        return self.db.get(record_key(namespace, digest))

    def get_session(self, client_id: bytes) -> bytes | None:
        return self.db.get(b"s" + client_id)

    def scan_sessions(self, after: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        start = b"s" if after is None else b"s" + after + b"\x00"  # the next id after it
        for key, value in self._prefixed(b"s", start):
            yield key[1:], value

    def index_defs(self) -> dict[str, bytes]:
        if self._defs is None:
            self._defs = {k[1:].decode("utf-8"): v for k, v in self._prefixed(b"x")}
        return dict(self._defs)

    def index_keys(self, prefix: bytes, start: bytes) -> Iterator[bytes]:
        for key, _ in self._prefixed(prefix, start):
            yield key

    def _prefixed(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        it = self.db.iter()
        it.seek(max(prefix, start))
        while it.valid():
            key = it.key()
            if not key.startswith(prefix):
                break
            yield key, it.value()
            it.next()
        check_iterator(it, f"group {self.group_id}: rows {prefix!r}")

    def applied_index(self) -> int:
        return self._applied

    def commit(self, changes: Changes, applied_index: int) -> None:
        self.db  # noqa: B018 -- raises StoreClosed: a batch for a dropped CF would poison the DB
        batch = rocksdict.WriteBatch(raw_mode=True)
        batch.set_default_column_family(self._handle)
        for (ns, digest), value in changes.records.items():
            _put_or_delete(batch, record_key(ns, digest), value)
        for client_id, value in changes.sessions.items():
            _put_or_delete(batch, b"s" + client_id, value)
        for (ns, set_name), lut in changes.truncations.items():
            batch.put(marker_row(ns, set_name), encode_lut(lut))
        for name in changes.dropped_indexes:
            prefix = index_prefix(name)
            batch.delete_range(prefix, prefix_end(prefix))
        for name, value in changes.index_defs.items():
            _put_or_delete(batch, def_key(name), value)
        for key, value in changes.index_rows.items():
            _put_or_delete(batch, key, value)
        if changes.index_defs or changes.dropped_indexes:
            self._defs = None
        batch.put(APPLIED_KEY, _U64.pack(applied_index))
        self._engine.write(batch)
        self._applied = applied_index
        if changes.truncations:
            self._truncations = {**self._truncations, **changes.truncations}
            self.truncation_epoch += 1

    def truncations(self) -> dict[tuple[str, str], int]:
        """See ``RecordStore.truncations`` (a fresh dict after every change)."""
        return self._truncations

    def purge(self, namespace: str, digests: list[bytes]) -> None:
        """See ``RecordStore.purge``: one WriteBatch of deletes, the applied index untouched."""
        if not digests:
            return
        self.db  # noqa: B018 -- raises StoreClosed
        batch = rocksdict.WriteBatch(raw_mode=True)
        batch.set_default_column_family(self._handle)
        defs = self.index_defs()
        if defs:  # the records' index rows go with them
            stored = [(d, self.db.get(record_key(namespace, d))) for d in digests]
            rows = [(d, decode_record(v)) for d, v in stored if v is not None]
            for key in purged_rows(defs, namespace, rows):
                batch.delete(key)
        for digest in digests:
            batch.delete(record_key(namespace, digest))
        self._engine.write(batch)

    def scan(
        self, namespace: str, partition: int | None = None, after_digest: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """See ``RecordStore.scan``. The RocksDB iterator (created at the first ``next``)
        is a consistent view and keeps the database open while it lives: a store closed
        under a live iterator could not be reopened at the same path in this process."""
        prefix = _namespace_prefix(namespace)
        if partition is not None:
            prefix += partition.to_bytes(2, "big")
        it = self.db.iter()
        if after_digest is None:
            it.seek(prefix)
        else:
            start = record_key(namespace, after_digest)
            it.seek(start)
            if it.valid() and it.key() == start:
                it.next()
        while it.valid():
            key = it.key()
            if not key.startswith(prefix):
                break
            yield key[-16:], it.value()
            it.next()
        check_iterator(it, f"group {self.group_id}: scan of {namespace}")

    # --- durability, snapshots --------------------------------------------------------

    def make_durable(self) -> None:
        """Persist everything committed so far: the engine's WAL, synced (all groups)."""
        self._engine.make_durable()

    def export(self, target: Path) -> bool:
        """Write every row of the group (a consistent snapshot of its CF) to the SST file
        ``target``; False, writing nothing, when the group holds no row."""
        snapshot = self.db.snapshot()
        try:
            return write_sst(snapshot.iter(), target, self._engine.cf_options())
        finally:
            del snapshot

    def sst_options(self) -> rocksdict.Options:
        """Options for writing SST files that this store can ingest."""
        return self._engine.cf_options()

    def install(self, sst: Path | None) -> None:
        """Replace all of the group's rows by those of ``sst`` (None: no rows), atomically
        across crashes: a restart finds either the old rows or the new ones."""
        self.db  # noqa: B018 -- raises StoreClosed
        self._cf = self._handle = None
        self._engine.install(self.group_id, sst)
        self._bind()

    def approximate_size(self) -> int:
        """Live data plus memtables of the group's CF, in bytes (RocksDB's estimates)."""
        return self.property_int("rocksdb.estimate-live-data-size") + self.property_int(
            "rocksdb.cur-size-all-mem-tables"
        )

    def compact(self) -> None:
        """Compact the group's CF now, so that deleted rows stop counting in
        ``approximate_size``. RocksDB is thread-safe here and rocksdict releases the GIL:
        the node calls this off its event loop (the one exception to the thread rule)."""
        self.db.compact_range(None, None)

    def property_int(self, name: str) -> int:
        """An integer RocksDB property of the group's CF (0 when unavailable)."""
        try:
            return int(self.db.property_int_value(name) or 0)
        except Exception:
            return 0

    def close(self) -> None:
        """Release the group's CF; the shared DB stays open (unless this store owns it)."""
        self._cf = self._handle = None
        if self._owns_engine:
            self._engine.close()

    def destroy(self) -> None:
        """Drop every row of the group (its CF and catalog entry) and close the store."""
        self._cf = self._handle = None
        self._engine.drop_group(self.group_id)
        self.close()


def _put_or_delete(batch: rocksdict.WriteBatch, key: bytes, value: bytes | None) -> None:
    if value is None:
        batch.delete(key)
    else:
        batch.put(key, value)


def write_sst(it: rocksdict.RdictIter, target: Path, options: rocksdict.Options) -> bool:
    """Copy every row that ``it`` reaches (in key order) into the SST file ``target``;
    False, creating no file, when there is none (RocksDB refuses an empty SST)."""
    it.seek_to_first()
    if not it.valid():
        check_iterator(it, f"export to {target.name}")
        return False
    writer = rocksdict.SstFileWriter(options)
    writer.open(str(target))
    while it.valid():
        writer[it.key()] = it.value()
        it.next()
    check_iterator(it, f"export to {target.name}")  # never ship a truncated snapshot
    writer.finish()
    return True


def export_db_dir(db_dir: Path, target: Path, options: rocksdict.Options) -> tuple[bool, int]:
    """Copy the rows of a whole per-group RocksDB directory (the previous layout, and the
    checkpoint inside a format-1 snapshot) into the SST file ``target``.

    Returns (whether a file was written, the applied index found there).
    """
    db = rocksdict.Rdict(str(db_dir), rocksdict.Options(raw_mode=True))
    try:
        applied = decode_applied(db.get(APPLIED_KEY))
        it = db.iter()
        try:
            return write_sst(it, target, options), applied
        finally:
            del it
    finally:
        db.close()
