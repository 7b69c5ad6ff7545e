"""RocksDB record store: one RocksDB instance per partition group replica.

Row layout (raw bytes keys, so scans by partition are prefix scans)::

    b"r" + len(ns) (1 byte) + ns + partition (2 bytes big-endian) + digest  -> record
    b"s" + client_id                                                     -> session
    b"m:applied"                                                         -> u64 applied index

``commit`` writes one log entry's changes and its index in one WriteBatch. The WAL is
not synced per write: the Raft journal is the durable record of every committed entry,
and an entry lost from RocksDB by a crash is re-applied from the journal because the
applied index rolls back with it. ``make_durable`` (flush + synced WAL) runs before the
journal is compacted, so the journal never drops an entry RocksDB could still lose.

Thread: the node's raft loop thread only.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import rocksdict

from raftstore.keys import partition_id
from raftstore.storage.base import Changes

log = logging.getLogger(__name__)

_APPLIED = b"m:applied"
_U64 = struct.Struct(">Q")


def record_key(namespace: str, digest: bytes) -> bytes:
    ns = namespace.encode("utf-8")
    return b"r" + bytes((len(ns),)) + ns + partition_id(digest).to_bytes(2, "big") + digest


def _namespace_prefix(namespace: str) -> bytes:
    ns = namespace.encode("utf-8")
    return b"r" + bytes((len(ns),)) + ns


def _options() -> rocksdict.Options:
    opts = rocksdict.Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.set_write_buffer_size(8 * 1024 * 1024)
    opts.set_max_write_buffer_number(3)
    opts.set_max_open_files(256)
    opts.set_keep_log_file_num(2)
    opts.set_max_background_jobs(2)
    opts.set_compression_type(rocksdict.DBCompressionType.lz4())
    return opts


class RocksStore:
    """The RecordStore of one group replica, in the RocksDB at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db: rocksdict.Rdict | None = rocksdict.Rdict(str(self.path), _options())
        self._applied = self._read_applied()

    @property
    def db(self) -> rocksdict.Rdict:
        if self._db is None:
            raise RuntimeError(f"store {self.path} is closed")
        return self._db

    def _read_applied(self) -> int:
        raw = self.db.get(_APPLIED)
        return _U64.unpack(raw)[0] if raw else 0

    # --- RecordStore ------------------------------------------------------------------

    def get(self, namespace: str, digest: bytes) -> bytes | None:
        return self.db.get(record_key(namespace, digest))

    def get_session(self, client_id: bytes) -> bytes | None:
        return self.db.get(b"s" + client_id)

    def applied_index(self) -> int:
        return self._applied

    def commit(self, changes: Changes, applied_index: int) -> None:
        batch = rocksdict.WriteBatch(raw_mode=True)
        for (ns, digest), value in changes.records.items():
            _put_or_delete(batch, record_key(ns, digest), value)
        for client_id, value in changes.sessions.items():
            _put_or_delete(batch, b"s" + client_id, value)
        batch.put(_APPLIED, _U64.pack(applied_index))
        self.db.write(batch)
        self._applied = applied_index

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

    # --- durability, snapshots --------------------------------------------------------

    def make_durable(self) -> None:
        """Persist everything committed so far (memtables flushed, WAL synced)."""
        self.db.flush_wal(True)

    def checkpoint(self, target: str | Path) -> None:
        """Write a consistent copy of the store to ``target`` (must not exist)."""
        rocksdict.Checkpoint(self.db).create_checkpoint(str(target))

    def replace_with(self, checkpoint_dir: str | Path) -> None:
        """Replace the whole store by the checkpoint at ``checkpoint_dir`` (moved, not copied)."""
        self.close()
        old = self.path.with_name(self.path.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.path.exists():
            os.rename(self.path, old)
        os.rename(checkpoint_dir, self.path)
        _fsync_dir(self.path.parent)
        shutil.rmtree(old, ignore_errors=True)
        self._db = rocksdict.Rdict(str(self.path), _options())
        self._applied = self._read_applied()
        log.info("store %s replaced by a snapshot at applied index %d", self.path, self._applied)

    def approximate_size(self) -> int:
        try:
            return int(self.db.property_int_value("rocksdb.estimate-live-data-size") or 0)
        except Exception:
            return 0

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def destroy(self) -> None:
        """Close the store and delete its files."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)


def _put_or_delete(batch: rocksdict.WriteBatch, key: bytes, value: bytes | None) -> None:
    if value is None:
        batch.delete(key)
    else:
        batch.put(key, value)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_applied_index(checkpoint_dir: str | Path) -> int:
    """The applied index stored in a checkpoint directory (opened read-only, then closed)."""
    db = rocksdict.Rdict(str(checkpoint_dir), _options())
    try:
        raw = db.get(_APPLIED)
        return _U64.unpack(raw)[0] if raw else 0
    finally:
        db.close()
