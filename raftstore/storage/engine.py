"""The node's storage engine: one RocksDB per node process, one column family per group.

Layout of ``<data>/store``::

    default CF                    b"catalog:" + group id  -> name of the group's live CF
    CF "<group id>#<generation>"  the group's rows (row layout in rocks.py), applied index included

A group's rows live in exactly one column family (CF), the one its catalog entry names, so
a group's snapshot is its CF and moving a group copies only that group. Replacing a
group's rows (installing a snapshot, importing a directory of the previous layout) never
writes into the live CF:

1. create the CF ``<group>#<g+1>`` and ingest the new rows' SST file into it (both recorded
   in RocksDB's MANIFEST, which is synced);
2. point the catalog entry at it: one write with a synced WAL — the commit point;
3. drop the old CF.

Opening the engine drops every CF that the catalog does not name, so a crash before step 2
leaves the old rows and a crash after it the new ones, never a mix. Creating a group's
store is the same without the ingest; destroying one deletes the catalog entry (synced),
then drops the CF.

Memory does not grow with the number of CFs (figures for a node hosting 64 groups):

- one LRU block cache shared by every CF: ``BLOCK_CACHE_BYTES`` = 64 MiB (the per-group
  layout had RocksDB's default 8 MiB per group: 512 MiB);
- memtables: ``CF_WRITE_BUFFER`` = 4 MiB per CF, at most ``CF_WRITE_BUFFERS`` = 2 per CF,
  and ``WRITE_BUFFER_BUDGET`` = 64 MiB for all CFs together (``db_write_buffer_size``,
  RocksDB's write buffer manager: reaching it flushes the largest memtable). The per-group
  layout allowed 8 MiB x 3 per group: 1.5 GiB;
- WAL: shared, at most ``MAX_TOTAL_WAL`` = 128 MiB: beyond it RocksDB flushes the CFs that
  pin the oldest WAL file, so an idle group does not keep old WAL files alive;
- open files: 512 for the node (256 per group before).

Measured (2-core machine, 28 Nov 2026): each group written 3 MB of 1 KiB rows, memtables
total 56 MiB with 16 groups and still 56 MiB with 64 (process RSS +56 / +101 MiB); the
per-group layout held 48 and 192 MiB of memtables (RSS +71 / +276 MiB).

Durability: the WAL is not synced per write (the Raft journal is the durable record, see
rocks.py); ``make_durable`` syncs it. Catalog changes are synced writes.

Thread: the node's raft loop thread only (RocksDB's own threads aside).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import rocksdict

from raftstore.storage.rocks import GroupStore, StoreCorruption, check_iterator, export_db_dir

log = logging.getLogger(__name__)

MiB = 1024 * 1024
BLOCK_CACHE_BYTES = 64 * MiB
WRITE_BUFFER_BUDGET = 64 * MiB
CF_WRITE_BUFFER = 4 * MiB
CF_WRITE_BUFFERS = 2
MAX_TOTAL_WAL = 128 * MiB
MAX_OPEN_FILES = 512

_CATALOG = b"catalog:"
_DEFAULT = "default"


COMPRESSIONS = ("lz4", "zstd", "snappy", "none")


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """RocksDB tuning, from the node configuration's ``[storage]`` table.

    - ``block_cache_bytes``: the LRU cache of data blocks shared by every group; index and
      filter blocks are kept in it too (bounded memory), those of level 0 pinned.
    - ``write_buffer_budget``: memtables of all groups together (RocksDB's write buffer
      manager flushes the largest one beyond it).
    - ``bloom_bits_per_key``: a Bloom filter per table file (10 bits: ~1 % false
      positives), so a read of an absent key (creates, exists checks, expired or deleted
      records) reads no data block; 0 disables it.
    - ``block_size``: bytes per data block (the unit of reads, caching and checksums).
    - ``compression``: of data blocks, lz4 (default), zstd, snappy or none.
    - ``dynamic_level_bytes``: RocksDB's recommended level sizing (bounded space
      amplification as data grows).
    - ``background_jobs``: flush and compaction threads.
    """

    block_cache_bytes: int = BLOCK_CACHE_BYTES
    write_buffer_budget: int = WRITE_BUFFER_BUDGET
    bloom_bits_per_key: int = 10
    block_size: int = 4096
    compression: str = "lz4"
    dynamic_level_bytes: bool = True
    background_jobs: int = 2

    def __post_init__(self) -> None:
        if self.compression not in COMPRESSIONS:
            raise ValueError(
                f"compression: expected one of {COMPRESSIONS}, not {self.compression!r}"
            )
        for name, low, high in (
            ("block_cache_bytes", 1 << 20, 1 << 40),
            ("write_buffer_budget", 4 << 20, 1 << 40),
            ("bloom_bits_per_key", 0, 64),
            ("block_size", 1024, 1 << 20),
            ("background_jobs", 1, 64),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name}: expected an integer in {low}..{high}, not {value!r}")


class StorageError(Exception):
    """The engine's files are inconsistent (a catalog entry names a missing column family)."""


__all__ = ["Engine", "StorageError", "StorageSettings", "StoreCorruption"]


class Engine:
    """The node's RocksDB at ``path``: the catalog and one column family per group.

    ``failpoints`` (a name → None callable) is called between the steps of an install
    (``store.install.ingested``, ``store.install.switched``) so tests can crash there.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        failpoints: Callable[[str], None] | None = None,
        settings: StorageSettings | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._failpoints = failpoints or (lambda name: None)
        self.settings = settings or StorageSettings()
        self._cache = rocksdict.Cache(self.settings.block_cache_bytes)
        self._sync = rocksdict.WriteOptions()
        self._sync.sync = True
        existing = self._existing_cfs()
        try:
            self._db: rocksdict.Rdict | None = rocksdict.Rdict(
                str(self.path),
                self._db_options(),
                column_families={n: self.cf_options() for n in existing if n != _DEFAULT},
            )
        except Exception as exc:  # rocksdict raises a bare Exception with RocksDB's status
            if "Corruption" in str(exc):
                raise StoreCorruption(f"{self.path}: {exc}") from None
            raise
        self._cfs: dict[str, tuple[rocksdict.Rdict, rocksdict.ColumnFamily]] = {}
        self._catalog = self._read_catalog()
        self._generation = max((_generation(n) for n in existing if n != _DEFAULT), default=0)
        self._check_and_sweep(existing)

    @classmethod
    def standalone(cls, path: str | Path, group_id: str) -> GroupStore:
        """A group store with an engine of its own at ``path`` (closed with the store)."""
        return GroupStore(cls(path), group_id, owns_engine=True)

    # --- options ------------------------------------------------------------------------

    def cf_options(self) -> rocksdict.Options:
        """Options of a group's CF (and of the SST files written for it)."""
        tune = self.settings
        opts = rocksdict.Options(raw_mode=True)
        opts.set_write_buffer_size(CF_WRITE_BUFFER)
        opts.set_max_write_buffer_number(CF_WRITE_BUFFERS)
        opts.set_compression_type(getattr(rocksdict.DBCompressionType, tune.compression)())
        opts.set_level_compaction_dynamic_level_bytes(tune.dynamic_level_bytes)
        table = rocksdict.BlockBasedOptions()
        table.set_block_cache(self._cache)
        table.set_block_size(tune.block_size)
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        if tune.bloom_bits_per_key:
            table.set_bloom_filter(tune.bloom_bits_per_key, False)
        opts.set_block_based_table_factory(table)
        return opts

    def _db_options(self) -> rocksdict.Options:
        opts = self.cf_options()
        opts.create_if_missing(True)
        opts.set_db_write_buffer_size(self.settings.write_buffer_budget)
        opts.set_max_total_wal_size(MAX_TOTAL_WAL)
        opts.set_max_open_files(MAX_OPEN_FILES)
        opts.set_keep_log_file_num(2)
        opts.set_max_background_jobs(self.settings.background_jobs)
        return opts

    # --- opening --------------------------------------------------------------------------

    def _existing_cfs(self) -> list[str]:
        if not (self.path / "CURRENT").exists():
            return []
        return list(rocksdict.Rdict.list_cf(str(self.path), rocksdict.Options(raw_mode=True)))

    def _read_catalog(self) -> dict[str, str]:
        catalog: dict[str, str] = {}
        it = self.db.iter()
        it.seek(_CATALOG)
        while it.valid() and it.key().startswith(_CATALOG):
            catalog[it.key()[len(_CATALOG) :].decode()] = it.value().decode()
            it.next()
        check_iterator(it, f"{self.path}: catalog")
        del it
        return catalog

    def _check_and_sweep(self, existing: list[str]) -> None:
        """Drop the CFs that the catalog does not name (left by an interrupted install,
        creation or destruction); refuse a catalog that names a missing CF."""
        missing = {g: n for g, n in self._catalog.items() if n not in existing}
        if missing:
            raise StorageError(f"{self.path}: catalog names missing column families {missing}")
        live = set(self._catalog.values())
        for name in existing:
            if name != _DEFAULT and name not in live:
                log.info(
                    "store %s: dropping column family %s (not in the catalog)",
                    self.path,
                    name,
                )
                self.db.drop_column_family(name)

    # --- groups -------------------------------------------------------------------------

    @property
    def db(self) -> rocksdict.Rdict:
        if self._db is None:
            raise RuntimeError(f"engine {self.path} is closed")
        return self._db

    def groups(self) -> set[str]:
        """The groups that have rows here (an entry in the catalog)."""
        return set(self._catalog)

    def store(self, group_id: str) -> GroupStore:
        """The store of ``group_id`` (its CF is created, empty, if it has none)."""
        return GroupStore(self, group_id)

    def live_cf(self, group_id: str) -> tuple[rocksdict.Rdict, rocksdict.ColumnFamily]:
        """The group's live CF (an Rdict bound to it, and its handle for write batches);
        created empty, and entered in the catalog, if the group has none."""
        name = self._catalog.get(group_id)
        if name is None:
            name = self._create_cf(group_id)
            self._set_catalog(group_id, name)
        if name not in self._cfs:
            self._cfs[name] = (
                self.db.get_column_family(name),
                self.db.get_column_family_handle(name),
            )
        return self._cfs[name]

    def install(self, group_id: str, sst: Path | None) -> None:
        """Make the rows of the SST file ``sst`` (None: no rows) the group's rows, crash-
        atomically (module docstring). The file is moved into the DB. On an error the
        group's rows are unchanged."""
        old = self._catalog.get(group_id)
        name = self._create_cf(group_id)
        try:
            if sst is not None:
                _fsync(sst)  # RocksDB links a moved file; make its contents durable first
                ingest = rocksdict.IngestExternalFileOptions()
                ingest.set_move_files(True)
                self._cfs[name][0].ingest_external_file([str(sst)], ingest)
            self._failpoints("store.install.ingested")
        except BaseException:
            self._drop_cf(name)
            raise
        self._set_catalog(group_id, name)
        self._failpoints("store.install.switched")
        if old is not None:
            self._drop_cf(old)

    def drop_group(self, group_id: str) -> None:
        """Delete every row of the group: its catalog entry (synced), then its CF."""
        name = self._catalog.get(group_id)
        if name is not None:
            self._set_catalog(group_id, None)
            self._drop_cf(name)

    def retain(self, group_ids: Iterable[str]) -> None:
        """Drop the rows of every group not in ``group_ids`` (replicas no longer placed here)."""
        keep = set(group_ids)
        for gid in sorted(set(self._catalog) - keep):
            log.info("group %s is not placed here; dropping its rows", gid)
            self.drop_group(gid)

    def import_legacy(self, group_id: str, db_dir: Path) -> None:
        """Import a group's RocksDB of the previous layout (``groups/<ns>-<i>/db``).

        The rows are copied into a new CF of the group (an install); the directory is
        deleted only once the copy is durable. A directory left by a crash after that
        point (the group is already in the catalog) is just deleted.
        """
        if group_id in self._catalog:
            log.info("group %s: deleting %s, imported before a restart", group_id, db_dir)
            shutil.rmtree(db_dir)
            return
        staging = db_dir.with_name(db_dir.name + ".import")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            sst = staging / "rows.sst"
            has_rows, applied = export_db_dir(db_dir, sst, self.cf_options())
            self.install(group_id, sst if has_rows else None)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info(
            "group %s: imported %s (applied index %d) into the node's store %s",
            group_id,
            db_dir,
            applied,
            self.path,
        )
        shutil.rmtree(db_dir)

    def _create_cf(self, group_id: str) -> str:
        self._generation += 1
        name = f"{group_id}#{self._generation}"
        cf = self.db.create_column_family(name, self.cf_options())
        self._cfs[name] = (cf, self.db.get_column_family_handle(name))
        return name

    def _drop_cf(self, name: str) -> None:
        self._cfs.pop(name, None)
        self.db.drop_column_family(name)

    def _set_catalog(self, group_id: str, name: str | None) -> None:
        key = _CATALOG + group_id.encode()
        if name is None:
            self.db.delete(key, self._sync)
            self._catalog.pop(group_id, None)
        else:
            self.db.put(key, name.encode(), self._sync)
            self._catalog[group_id] = name

    # --- the whole DB -----------------------------------------------------------------------

    def write(self, batch: rocksdict.WriteBatch) -> None:
        """Write a batch (bound to a group's CF), WAL not synced."""
        self.db.write(batch)

    def make_durable(self) -> None:
        """Sync the WAL: everything written so far, in every group, survives a crash."""
        self.db.flush_wal(True)

    def memtable_bytes(self) -> int:
        """Memory held by the memtables of every group's CF (RocksDB's figure)."""
        return sum(
            int(cf.property_int_value("rocksdb.cur-size-all-mem-tables") or 0)
            for cf, _handle in self._cfs.values()
        )

    def block_cache_bytes(self) -> int:
        """Memory held by the shared block cache."""
        return int(self._cache.get_usage())

    def verify(self) -> tuple[int, int]:
        """Read every row of every column family, so RocksDB checks every data block's
        checksum; raise StoreCorruption at the first corrupt one (RocksDB itself checks
        only the files' metadata when it opens). Returns (rows, bytes) read.

        Cost: one pass over the data (measured: see node/DESIGN.md "Corruption")."""
        rows = size = 0
        targets: list[tuple[str, rocksdict.Rdict]] = [("default", self.db)]
        targets += [(name, self._cf_by_name(name)) for name in sorted(self._catalog.values())]
        for name, cf in targets:
            it = cf.iter()
            it.seek_to_first()
            while it.valid():
                rows += 1
                size += len(it.key()) + len(it.value())
                it.next()
            check_iterator(it, f"{self.path}: column family {name}")
            del it
        return rows, size

    def _cf_by_name(self, name: str) -> rocksdict.Rdict:
        if name not in self._cfs:  # kept, and closed with the others at close
            self._cfs[name] = (
                self.db.get_column_family(name),
                self.db.get_column_family_handle(name),
            )
        return self._cfs[name][0]

    def close(self) -> None:
        """Flush the memtables, sync the WAL and close the DB (every group store's handle
        is released). Flushing makes the next start quick: nothing to replay."""
        if self._db is None:
            return
        self.make_durable()
        try:
            for cf, _handle in self._cfs.values():
                cf.flush(True)
            self._db.flush(True)
        except Exception:
            log.warning("flushing the memtables at close failed", exc_info=True)
        for cf, _handle in self._cfs.values():
            cf.close()
        self._cfs.clear()
        self._db.close()
        self._db = None


def _generation(cf_name: str) -> int:
    _gid, _sep, gen = cf_name.rpartition("#")
    return int(gen) if gen.isdigit() else 0


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
