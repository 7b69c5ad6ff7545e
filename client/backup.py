"""Backup and restore of a namespace or one set (``raftstore backup`` / ``raftstore restore``).

    from raftstore_client import Client
    from raftstore_client.backup import backup, restore

    with Client("127.0.0.1:3000") as c:
        report = backup(c, "/backups/test", "test", "users")   # resumable: rerun to finish
    with Client("10.0.0.9:3000") as c:
        report = restore(c, "/backups/test", policy="create-only")
        print(report.codes)     # {"OK": 19990, "KEY_EXISTS": 10}

Backup splits the 4096 partitions into ranges (64 by default) and scans them in parallel
threads, each range with its own ``Client.scan`` into its own data file (see
``_backup_format``); each completed range is recorded in the manifest, so a rerun after an
interruption skips it and rewrites only the unfinished ranges, from their start. Index
definitions (``list_indexes``) are saved in the manifest. Records a truncate hides are not
returned by scans, hence not backed up.

Restore checks the whole backup first (manifest, every file's size and CRC, the target
namespace) so that bad input changes nothing, recreates the indexes, then writes the
records with ``Client.batch_write`` in batches, ranges in parallel, under one exists
policy (``POLICIES``), each record with the time it had left to live (records that expired
since the backup are skipped and counted), the user key sent when the backup has it and
the digest alone otherwise. Generation and last-update time are the server's: a restored
record has generation 1 (or its old one + 1) and is last updated at restore time.
Every item's result code is counted; per-item failures are never fatal.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raftstore_client import _backup_format as fmt
from raftstore_client.batch import BatchWrite
from raftstore_client.types import Record

from raftstore.errors import BackupError, ResultCode
from raftstore.policy import MAX_TTL, TTL_NEVER, GenPolicy, RecordExistsAction, WritePolicy

Progress = Callable[[int, int, int], None]  # (records, ranges done, ranges total)

POLICIES = {
    # create the record; one that exists is kept and counted KEY_EXISTS
    "create-only": WritePolicy(RecordExistsAction.CREATE_ONLY),
    # create or replace every bin
    "replace": WritePolicy(RecordExistsAction.REPLACE),
    # create, or replace only a record whose generation is lower than the backup's
    # (GENERATION_ERROR counted otherwise)
    "generation": WritePolicy(RecordExistsAction.REPLACE, GenPolicy.EXPECT_GEN_GT),
}


@dataclass(slots=True)
class BackupReport:
    directory: str
    records: int  # in the whole backup (skipped ranges included)
    records_written: int  # by this run
    ranges_written: int
    ranges_skipped: int  # done by an earlier run
    bytes: int
    seconds: float


@dataclass(slots=True)
class RestoreReport:
    records: int  # read from the backup
    codes: dict[str, int]  # result code name -> items
    expired: int  # expired since the backup: not written
    indexes: list[str]
    seconds: float
    digest_only: int = 0  # records without a stored user key (written by digest)
    in_doubt: int = 0

    @property
    def written(self) -> int:
        return self.codes.get("OK", 0)


# --- backup --------------------------------------------------------------------------


def backup(
    client: Any,
    directory: str | Path,
    namespace: str,
    set: str | None = None,
    *,
    ranges: int = fmt.DEFAULT_RANGES,
    parallel: int = 8,
    page_size: int = 0,
    records_per_second: int = 0,
    progress: Progress | None = None,
) -> BackupReport:
    """Back ``namespace`` (only ``set`` when given) up into ``directory``, resuming the
    backup already there. Raises BackupError (a directory holding another backup),
    NamespaceNotFound, or the scan's error once it gives up (rerun to resume)."""
    started = time.monotonic()
    path = Path(directory)
    client.scan(namespace, set, partition_count=1)  # NamespaceNotFound before any file
    manifest = _open_or_start(client, path, namespace, set, ranges)
    job = _BackupJob(client, path, manifest, page_size, records_per_second, progress)
    todo = [r for r in manifest.ranges if r.state != "done"]
    job.run(todo, parallel)
    if not manifest.finished_ms:
        manifest.finished_ms = fmt.now_ms()
        fmt.write_manifest(path, manifest)
    return BackupReport(
        str(path),
        manifest.records,
        job.records,
        len(todo),
        len(manifest.ranges) - len(todo),
        sum(r.bytes for r in manifest.ranges),
        time.monotonic() - started,
    )


def _open_or_start(
    client: Any, path: Path, namespace: str, set_name: str | None, ranges: int
) -> fmt.Manifest:
    if (path / fmt.MANIFEST).exists():
        manifest = fmt.load_manifest(path)
        fmt.check_ranges(manifest)
        if (manifest.namespace, manifest.set) != (namespace, set_name or None):
            raise BackupError(
                f"{path} holds a backup of {_what(manifest.namespace, manifest.set)}, "
                f"not of {_what(namespace, set_name)}: use another directory"
            )
        return manifest
    path.mkdir(parents=True, exist_ok=True)
    manifest = fmt.new_manifest(namespace, set_name, client.partition_map().cluster_id, ranges)
    manifest.indexes = _index_definitions(client, namespace, set_name)
    fmt.write_manifest(path, manifest)
    return manifest


def _what(namespace: str, set_name: str | None) -> str:
    return f"namespace {namespace}" + (f" set {set_name}" if set_name else "")


def _index_definitions(client: Any, namespace: str, set_name: str | None) -> list[dict[str, str]]:
    """Indexes of the namespace that cover the backed-up records (all of them for a
    namespace backup; those of the set or of every set for a set backup)."""
    return [
        {"name": i.name, "set": i.set, "bin": i.bin, "type": i.type, "collection": i.collection}
        for i in client.list_indexes(namespace)
        if not set_name or i.set in ("", set_name)
    ]


class _BackupJob:
    """The ranges of one backup run, scanned by a pool of threads; the manifest is
    rewritten (under ``_lock``) each time a range completes."""

    def __init__(
        self,
        client: Any,
        path: Path,
        manifest: fmt.Manifest,
        page_size: int,
        records_per_second: int,
        progress: Progress | None,
    ) -> None:
        self.client, self.path, self.manifest = client, path, manifest
        self.page_size, self.rps, self.progress = page_size, records_per_second, progress
        self.records = 0
        self.base = manifest.records  # in ranges done by earlier runs
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self, todo: list[fmt.RangeState], parallel: int) -> None:
        if not todo:
            return
        rps = self.rps // min(parallel, len(todo)) if self.rps else 0
        with ThreadPoolExecutor(max(1, min(parallel, len(todo))), "backup") as pool:
            futures = [pool.submit(self._range, r, rps) for r in todo]
            errors = []
            for f in futures:
                try:
                    f.result()
                except BaseException as e:
                    self._stop.set()
                    errors.append(e)
        if errors:
            raise errors[0]

    def _range(self, r: fmt.RangeState, rps: int) -> None:
        if self._stop.is_set():
            return
        writer = fmt.RecordWriter(self.path / r.file)
        try:
            self._copy(r, writer, rps)
            size, crc = writer.close()
        except BaseException:
            writer.abort()
            raise
        with self._lock:
            r.state, r.records, r.bytes, r.crc32 = "done", writer.count, size, crc
            fmt.write_manifest(self.path, self.manifest)
        self._report(0)

    def _copy(self, r: fmt.RangeState, writer: fmt.RecordWriter, rps: int) -> None:
        scan = self.client.scan(
            self.manifest.namespace,
            self.manifest.set,
            partition_begin=r.begin,
            partition_count=r.count,
            page_size=self.page_size,
            records_per_second=rps,
        )
        pending = 0
        for record in scan:
            writer.write(*fmt.encode_record(record, fmt.now_ms()))
            pending += 1
            if pending >= 1000:
                if self._stop.is_set():
                    raise BackupError("backup stopped: another range failed")
                self._report(pending)
                pending = 0
        self._report(pending)

    def _report(self, n: int) -> None:
        with self._lock:
            self.records += n
            done = sum(1 for r in self.manifest.ranges if r.state == "done")
            if self.progress is not None:
                self.progress(self.base + self.records, done, len(self.manifest.ranges))


# --- restore -------------------------------------------------------------------------


def restore(
    client: Any,
    directory: str | Path,
    *,
    policy: str = "replace",
    namespace: str | None = None,
    batch_size: int = 250,
    parallel: int = 4,
    indexes: bool = True,
    progress: Progress | None = None,
) -> RestoreReport:
    """Write the backup in ``directory`` back (into ``namespace`` when given, else the
    backup's). Raises BackupError (missing, incomplete or corrupt backup, unknown policy)
    or NamespaceNotFound before writing anything."""
    started = time.monotonic()
    if policy not in POLICIES:
        raise BackupError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    if not 1 <= batch_size <= 5000:
        raise BackupError("batch_size must be 1..5000")
    path = Path(directory)
    manifest = verify(path)
    target = namespace or manifest.namespace
    client.scan(target, partition_count=1)  # NamespaceNotFound before any write
    created = _create_indexes(client, target, manifest) if indexes else []
    job = _RestoreJob(client, path, manifest, target, POLICIES[policy], batch_size, progress)
    job.run(parallel)
    return RestoreReport(
        job.records,
        {c.name: n for c, n in sorted(job.codes.items())},
        job.expired,
        created,
        time.monotonic() - started,
        job.digest_only,
        job.in_doubt,
    )


def verify(path: Path) -> fmt.Manifest:
    """The manifest of a complete backup whose files all match it (BackupError)."""
    manifest = fmt.load_manifest(path)
    fmt.check_ranges(manifest)
    pending = [r.index for r in manifest.ranges if r.state != "done"]
    if pending:
        raise BackupError(
            f"{path}: backup incomplete ({len(pending)} ranges not done): rerun the backup"
        )
    for r in manifest.ranges:
        f = path / r.file
        if not f.is_file():
            raise BackupError(f"{f}: missing")
        if f.stat().st_size != r.bytes or fmt.file_crc(f) != r.crc32:
            raise BackupError(f"{f}: does not match the manifest (size or CRC32; corrupt)")
    return manifest


def _create_indexes(client: Any, namespace: str, manifest: fmt.Manifest) -> list[str]:
    for d in manifest.indexes:
        client.create_index(
            namespace, d["set"] or None, d["bin"], d["type"], d["collection"], d["name"]
        )
    return [d["name"] for d in manifest.indexes]


@dataclass(slots=True)
class _RestoreJob:
    client: Any
    path: Path
    manifest: fmt.Manifest
    namespace: str
    policy: WritePolicy
    batch_size: int
    progress: Progress | None
    records: int = 0
    expired: int = 0
    digest_only: int = 0
    in_doubt: int = 0
    ranges_done: int = 0
    codes: Counter[ResultCode] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, parallel: int) -> None:
        with ThreadPoolExecutor(max(1, parallel), "restore") as pool:
            for f in [pool.submit(self._range, r) for r in self.manifest.ranges]:
                f.result()

    def _range(self, r: fmt.RangeState) -> None:
        items: list[BatchWrite] = []
        for payload, expires in fmt.read_records(self.path / r.file):
            item = self._item(fmt.decode_record(payload), expires)
            if item is not None:
                items.append(item)
            if len(items) >= self.batch_size:
                self._write(items)
                items = []
        self._write(items)
        with self._lock:
            self.ranges_done += 1
            self._report()

    def _item(self, record: Record, expires_ms: int) -> BatchWrite | None:
        ttl = remaining_ttl(expires_ms, fmt.now_ms())
        _, set_name, user_key, digest = record.key
        with self._lock:
            self.records += 1
            if ttl is None:
                self.expired += 1
                return None
            self.digest_only += user_key is None
        p = self.policy
        policy = WritePolicy(p.exists, p.gen, record.meta.gen, ttl, user_key is not None)
        key = (
            (self.namespace, set_name, None, digest)
            if user_key is None
            else (self.namespace, set_name, user_key)
        )
        return BatchWrite(key, record.bins, policy=policy)

    def _write(self, items: list[BatchWrite]) -> None:
        if not items:
            return
        results = self.client.batch_write(items)
        with self._lock:
            for res in results:
                self.codes[res.result_code] += 1
                self.in_doubt += res.in_doubt
            self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.records, self.ranges_done, len(self.manifest.ranges))


def remaining_ttl(expires_ms: int, now_ms: int) -> int | None:
    """The TTL to write for a record that expires at ``expires_ms`` (0: never):
    TTL_NEVER, the seconds left (rounded to the nearest, at least 1, at most MAX_TTL), or
    None when expired."""
    if expires_ms == 0:
        return TTL_NEVER
    left = expires_ms - now_ms
    if left <= 0:
        return None
    return min(MAX_TTL, max(1, (left + 500) // 1000))


# --- comparison ----------------------------------------------------------------------


def fingerprint(
    client: Any, namespace: str, set: str | None = None
) -> dict[bytes, tuple[bytes, int]]:
    """digest -> (``canonical`` bytes of key and bins, void time in unix ms, 0: never) of
    every record of ``namespace`` (``set``): two clusters hold the same data when
    ``differences`` of their fingerprints is empty."""
    out = {}
    for record in client.scan(namespace, set):
        expires = fmt.encode_record(record, fmt.now_ms())[1]
        out[record.key[3]] = (fmt.canonical(record), expires)
    return out


def differences(
    a: dict[bytes, tuple[bytes, int]], b: dict[bytes, tuple[bytes, int]], ttl_slack_ms: int = 5000
) -> list[bytes]:
    """Digests of the records that are in only one of two fingerprints, or whose key, bins
    or void time differ (void times by more than ``ttl_slack_ms``: a TTL has one-second
    resolution, and each scan estimates void times from when the client handles a record,
    seconds after the node read it on a loaded machine)."""
    out = [d for d in a.keys() ^ b.keys()]
    for d in a.keys() & b.keys():
        (ca, ea), (cb, eb) = a[d], b[d]
        if ca != cb or (ea == 0) != (eb == 0) or abs(ea - eb) > ttl_slack_ms:
            out.append(d)
    return sorted(out)
