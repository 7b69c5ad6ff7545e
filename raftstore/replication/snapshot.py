"""Group snapshots: the group's rows as one SST file, packed with a manifest into one file.

pysyncobj compacts its log by serializing the state machine to ``fullDumpFile`` and
sends that file in chunks to a follower whose next entry was compacted away. raftstore's
state is the group's column family in the node's RocksDB, so a snapshot is that column
family exported to an SST file (no fork, only this group's rows), packed into an
uncompressed tar (format 2)::

    manifest.json   {"format", "group", "last_entry", "prev_entry", "cluster", "applied_index"}
    rows.sst        every row of the group, applied index included (absent: no row)

``last_entry``/``prev_entry`` are the log entries pysyncobj needs to resume after the
snapshot; ``applied_index`` is the store's applied index inside the rows.

Format 1 (a whole per-group RocksDB checkpoint under ``db/``, written before a node kept
one RocksDB for all its groups) is still read: such a file stays on disk as a replica's
last snapshot after an upgrade, pysyncobj loads it at every restart and sends it to
lagging followers until the next compaction replaces it, and in a rolling upgrade a node
of the new version can receive one from a leader of the old. Its checkpoint is converted
into rows on extraction (``extract_rows``). Only format 2 is written.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import rocksdict

from raftstore.storage.rocks import export_db_dir

FORMAT = 2
READABLE_FORMATS = (1, 2)
ROWS = "rows.sst"
LogEntry = tuple[bytes, int, int]


class SnapshotError(Exception):
    """A snapshot file is unreadable or inconsistent."""


@dataclass(frozen=True, slots=True)
class Manifest:
    group: str
    last_entry: LogEntry
    prev_entry: LogEntry
    cluster: tuple[str, ...]
    applied_index: int
    format: int = FORMAT

    def to_json(self) -> bytes:
        def entry(e: LogEntry) -> list[object]:
            return [base64.b64encode(e[0]).decode(), e[1], e[2]]

        return json.dumps(
            {
                "format": self.format,
                "group": self.group,
                "last_entry": entry(self.last_entry),
                "prev_entry": entry(self.prev_entry),
                "cluster": list(self.cluster),
                "applied_index": self.applied_index,
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            doc = json.loads(raw)
            if doc.get("format") not in READABLE_FORMATS:
                raise SnapshotError(f"unsupported snapshot format {doc.get('format')!r}")

            def entry(v: list[object]) -> LogEntry:
                cmd, idx, term = v
                assert isinstance(cmd, str) and isinstance(idx, int) and isinstance(term, int)
                return (base64.b64decode(cmd), idx, term)

            return cls(
                str(doc["group"]),
                entry(doc["last_entry"]),
                entry(doc["prev_entry"]),
                tuple(str(n) for n in doc["cluster"]),
                int(doc["applied_index"]),
                int(doc["format"]),
            )
        except SnapshotError:
            raise
        except Exception as e:
            raise SnapshotError(f"malformed snapshot manifest: {e!r}") from None


def write_snapshot(path: str | Path, manifest: Manifest, rows: Path | None) -> None:
    """Pack the manifest and the SST file ``rows`` (None: the group has no row) into
    ``path`` and fsync it."""
    with open(path, "wb") as f:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
            raw = manifest.to_json()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
            if rows is not None:
                tar.add(rows, arcname=ROWS)
        f.flush()
        os.fsync(f.fileno())


def read_manifest(path: str | Path) -> Manifest:
    try:
        with tarfile.open(path, mode="r") as tar:
            member = tar.next()
            if member is None or member.name != "manifest.json":
                raise SnapshotError(f"{path}: manifest.json is not the first member")
            data = tar.extractfile(member)
            assert data is not None
            return Manifest.from_json(data.read())
    except (tarfile.TarError, OSError) as e:
        raise SnapshotError(f"{path}: {e}") from None


def extract_rows(path: str | Path, staging: Path, options: rocksdict.Options) -> Path | None:
    """The rows of a snapshot file as an SST file under ``staging`` (created; the caller
    removes it), or None when the snapshot holds no row. A format-1 snapshot's checkpoint
    is extracted and its rows copied into the SST file (``options``: the SST's)."""
    manifest = read_manifest(path)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with tarfile.open(path, mode="r") as tar:
            wanted = ("db", "db/") if manifest.format == 1 else (ROWS, ROWS)
            members = [
                m for m in tar.getmembers() if m.name == wanted[0] or m.name.startswith(wanted[1])
            ]
            tar.extractall(staging, members=members, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise SnapshotError(f"{path}: cannot extract: {e}") from None
    if manifest.format == 1:
        sst = staging / ROWS
        try:
            has_rows, _applied = export_db_dir(staging / "db", sst, options)
        except Exception as e:
            raise SnapshotError(f"{path}: unreadable format-1 checkpoint: {e}") from None
        return sst if has_rows else None
    return staging / ROWS if (staging / ROWS).exists() else None
