"""The on-disk form of a backup: data files of framed records and the manifest.

A backup directory holds ``manifest.json`` and one data file per partition range,
``range-NNNN.rsb.gz``: a gzip stream of::

    magic      b"RSBK" + format version (1 byte)
    frame*     length u32 (> 0) | crc32 u32 | expires_at_ms u64 | payload (length bytes)
    trailer    0 u32 | record count u64

big-endian. ``payload`` is a ``raftstore.v1.Record`` (key with namespace, set, user key when
stored and digest; metadata generation, TTL, last update; bins as typed ``Value``
messages), serialized deterministically: the repository's own wire form, so int and float,
str and bytes, bool, nested lists and maps come back exactly. ``expires_at_ms`` is the
record's void time (unix ms, 0: never expires) estimated when it was read (the TTL has
one-second resolution), so a restore gives it the time it had left. The CRC covers
``expires_at_ms`` and the payload; gzip's own CRC covers the stream; the trailer proves
the file was closed. Any mismatch, a short read or a missing trailer raises
``BackupError``.

The manifest (JSON, written to a temporary file, fsynced, then renamed over the old one)
says what the backup is (format version, cluster id, namespace, set, times, index
definitions) and the state of each range: ``pending`` or ``done`` with its record count,
byte size and CRC32 of the data file. A range is written to ``<file>.part`` and renamed
when complete, then marked done; a rerun skips done ranges and rewrites the others from
their start, so an interrupted backup resumes without duplicating a record.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from raftstore_client.types import Meta, Record

from raftstore.errors import BackupError
from raftstore.keys import N_PARTITIONS, Key
from raftstore.v1 import values_pb2
from raftstore.wire import bins_from_pb, bins_to_pb, key_to_pb

FORMAT_VERSION = 1
MAGIC = b"RSBK" + bytes((FORMAT_VERSION,))
MANIFEST = "manifest.json"
DEFAULT_RANGES = 64
_FRAME = struct.Struct(">IIQ")
_TRAILER = struct.Struct(">IQ")
_EXPIRES = _COUNT = struct.Struct(">Q")
_LENGTH = struct.Struct(">I")
_CHECK = struct.Struct(">IQ")
MAX_FRAME = 64 << 20  # a record is at most a few MiB; anything larger is corruption


# --- records -------------------------------------------------------------------------


def encode_record(record: Record, now_ms: int) -> tuple[bytes, int]:
    """(payload, expires_at_ms) of a scanned record; ``now_ms`` is when it was read."""
    ns, set_name, user_key, digest = record.key
    msg = values_pb2.Record()
    key_to_pb(Key(ns, set_name, user_key, digest), msg.key)
    msg.metadata.generation = record.meta.gen
    msg.metadata.ttl = record.meta.ttl
    msg.metadata.last_update_ms = record.meta.last_update_ms
    bins_to_pb(record.bins, msg.bins)
    # the node rounds the time left up to whole seconds: take the middle of that second
    expires = 0 if record.meta.ttl < 0 else now_ms + record.meta.ttl * 1000 - 500
    return msg.SerializeToString(deterministic=True), expires


def decode_record(payload: bytes) -> Record:
    """The record of a frame's payload (BackupError if it does not parse)."""
    msg = values_pb2.Record()
    try:
        msg.ParseFromString(payload)
        bins = bins_from_pb(msg.bins)
    except Exception as e:
        raise BackupError(f"record does not parse: {e}") from None
    key = msg.key
    kind = key.WhichOneof("user_key")
    user_key = getattr(key, kind) if kind else None
    md = msg.metadata
    return Record(
        (key.namespace, key.set, user_key, key.digest),
        Meta(md.generation, md.ttl, md.last_update_ms),
        bins,
    )


def canonical(record: Record) -> bytes:
    """Key and bins as deterministic bytes: two records with equal ``canonical`` have the
    same namespace, set, user key, digest and bins, each value of the same type."""
    ns, set_name, user_key, digest = record.key
    msg = values_pb2.Record()
    key_to_pb(Key(ns, set_name, user_key, digest), msg.key)
    bins_to_pb(record.bins, msg.bins)
    return msg.SerializeToString(deterministic=True)


# --- data files ----------------------------------------------------------------------


class RecordWriter:
    """Writes one range's data file at ``path + ".part"``; ``close`` adds the trailer,
    fsyncs and renames it to ``path``. Not thread-safe (one writer per range)."""

    def __init__(self, path: Path, level: int = 1) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self._raw = open(self.part, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=level, mtime=0)
        self._gz.write(MAGIC)
        self.count = 0

    def write(self, payload: bytes, expires_ms: int) -> None:
        exp = _EXPIRES.pack(expires_ms)
        crc = zlib.crc32(payload, zlib.crc32(exp))
        self._gz.write(_FRAME.pack(len(payload), crc, expires_ms))
        self._gz.write(payload)
        self.count += 1

    def close(self) -> tuple[int, int]:
        """Finish the file; returns (byte size, CRC32 of the file)."""
        self._gz.write(_TRAILER.pack(0, self.count))
        self._gz.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self.part, self.path)
        return self.path.stat().st_size, file_crc(self.path)

    def abort(self) -> None:
        for f in (self._gz, self._raw):
            try:
                f.close()
            except Exception:
                pass


def file_crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def read_records(path: Path) -> Iterator[tuple[bytes, int]]:
    """(payload, expires_at_ms) of every record of a data file, in order. Raises
    BackupError when the file is missing, corrupt, truncated or of another version."""
    try:
        with gzip.open(path, "rb") as f:
            yield from _frames(f, path)
    except (OSError, EOFError, zlib.error) as e:
        raise BackupError(f"{path}: cannot read ({e})") from None


def _frames(f: IO[bytes], path: Path) -> Iterator[tuple[bytes, int]]:
    magic = f.read(len(MAGIC))
    if magic[:4] != MAGIC[:4]:
        raise BackupError(f"{path}: not a raftstore backup data file")
    if magic != MAGIC:
        version = magic[4] if len(magic) > 4 else "?"
        raise BackupError(f"{path}: format version {version}, this client reads {FORMAT_VERSION}")
    count = 0
    while True:
        (length,) = _LENGTH.unpack(_exact(f, 4, path))
        if length == 0:
            (n,) = _COUNT.unpack(_exact(f, 8, path))
            if n != count:
                raise BackupError(f"{path}: trailer says {n} records, file has {count}")
            if f.read(1):
                raise BackupError(f"{path}: data after the trailer")
            return
        if length > MAX_FRAME:
            raise BackupError(f"{path}: record {count} claims {length} bytes (corrupt)")
        crc, expires = _CHECK.unpack(_exact(f, _CHECK.size, path))
        payload = _exact(f, length, path)
        if zlib.crc32(payload, zlib.crc32(_EXPIRES.pack(expires))) != crc:
            raise BackupError(f"{path}: record {count} fails its CRC check (corrupt)")
        count += 1
        yield payload, expires


def _exact(f: IO[bytes], n: int, path: Path) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise BackupError(f"{path}: file ends early (truncated; no trailer)")
    return data


# --- manifest ------------------------------------------------------------------------


@dataclass(slots=True)
class RangeState:
    index: int
    begin: int
    count: int
    file: str
    state: str = "pending"  # pending | done
    records: int = 0
    bytes: int = 0
    crc32: int = 0


@dataclass(slots=True)
class Manifest:
    namespace: str
    set: str | None
    cluster_id: str
    ranges: list[RangeState]
    indexes: list[dict[str, str]] = field(default_factory=list)
    started_ms: int = 0
    finished_ms: int = 0
    truncation: str = (
        "records hidden by a truncate are not in the backup (scans never return them); "
        "restored records are last updated at restore time, so no truncate lut is restored"
    )
    format: str = "raftstore-backup"
    version: int = FORMAT_VERSION

    @property
    def complete(self) -> bool:
        return all(r.state == "done" for r in self.ranges)

    @property
    def records(self) -> int:
        return sum(r.records for r in self.ranges)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["records"] = self.records
        out["complete"] = self.complete
        return out


def split_ranges(n: int) -> list[RangeState]:
    """``n`` contiguous partition ranges covering 0..4095, as even as possible."""
    if not 1 <= n <= N_PARTITIONS:
        raise BackupError(f"ranges must be 1..{N_PARTITIONS}, not {n}")
    bounds = [i * N_PARTITIONS // n for i in range(n + 1)]
    return [
        RangeState(i, bounds[i], bounds[i + 1] - bounds[i], f"range-{i:04d}.rsb.gz")
        for i in range(n)
    ]


def new_manifest(namespace: str, set_name: str | None, cluster_id: str, ranges: int) -> Manifest:
    return Manifest(
        namespace, set_name or None, cluster_id, split_ranges(ranges), started_ms=now_ms()
    )


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically (temporary file, fsync, rename, fsync directory)."""
    tmp = directory / (MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        json.dump(manifest.to_json(), f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, directory / MANIFEST)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_manifest(directory: Path) -> Manifest:
    """The manifest of a backup directory (BackupError if missing or malformed)."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise BackupError(f"{directory}: no such directory")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{directory}: no {MANIFEST} (not a backup directory)") from None
    except (OSError, ValueError) as e:
        raise BackupError(f"{path}: unreadable ({e})") from None
    return _manifest_of(data, path)


def _manifest_of(data: Any, path: Path) -> Manifest:
    if not isinstance(data, dict) or data.get("format") != "raftstore-backup":
        raise BackupError(f"{path}: not a raftstore backup manifest")
    if data.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"{path}: format version {data.get('version')}, this client reads {FORMAT_VERSION}"
        )
    try:
        ranges = [RangeState(**r) for r in data["ranges"]]
        return Manifest(
            data["namespace"],
            data["set"],
            data["cluster_id"],
            ranges,
            list(data["indexes"]),
            int(data["started_ms"]),
            int(data["finished_ms"]),
            str(data["truncation"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise BackupError(f"{path}: malformed manifest ({e})") from None


def check_ranges(manifest: Manifest) -> None:
    """The ranges cover 0..4095 once each, in order (BackupError otherwise)."""
    expected = 0
    for r in manifest.ranges:
        if r.begin != expected or r.count < 1 or r.state not in ("pending", "done"):
            raise BackupError(f"manifest range {r.index} is malformed")
        expected += r.count
    if expected != N_PARTITIONS:
        raise BackupError("manifest ranges do not cover the 4096 partitions")


def now_ms() -> int:
    return int(time.time() * 1000)
