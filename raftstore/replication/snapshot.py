"""Group snapshots: a RocksDB checkpoint packed with a manifest into one file.

pysyncobj compacts its log by serializing the state machine to ``fullDumpFile`` and
sends that file in chunks to a follower whose next entry was compacted away. raftstore's
state is the group's RocksDB, so a snapshot is a checkpoint of it (hard links, no fork)
packed into an uncompressed tar::

    manifest.json   {"format", "group", "last_entry", "prev_entry", "cluster", "applied_index"}
    db/...          the checkpoint

``last_entry``/``prev_entry`` are the log entries pysyncobj needs to resume after the
snapshot; ``applied_index`` is the store's applied index inside the checkpoint.
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

FORMAT = 1
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

    def to_json(self) -> bytes:
        def entry(e: LogEntry) -> list[object]:
            return [base64.b64encode(e[0]).decode(), e[1], e[2]]

        return json.dumps(
            {
                "format": FORMAT,
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
            if doc.get("format") != FORMAT:
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
            )
        except SnapshotError:
            raise
        except Exception as e:
            raise SnapshotError(f"malformed snapshot manifest: {e!r}") from None


def write_snapshot(path: str | Path, manifest: Manifest, checkpoint_dir: Path) -> None:
    """Pack ``checkpoint_dir`` and the manifest into ``path`` and fsync it."""
    with open(path, "wb") as f:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
            raw = manifest.to_json()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
            tar.add(checkpoint_dir, arcname="db")
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


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under ``root`` (an installed snapshot must be durable
    before the journal that follows it is)."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def extract_db(path: str | Path, target: Path) -> None:
    """Extract the checkpoint of a snapshot file into ``target`` (replaced if present)."""
    shutil.rmtree(target, ignore_errors=True)
    staging = target.with_name(target.name + ".extract")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with tarfile.open(path, mode="r") as tar:
            members = [m for m in tar.getmembers() if m.name == "db" or m.name.startswith("db/")]
            tar.extractall(staging, members=members, filter="data")
        fsync_tree(staging / "db")
        os.rename(staging / "db", target)
    except (tarfile.TarError, OSError) as e:
        raise SnapshotError(f"{path}: cannot extract: {e}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
