"""Truncation markers: what a truncate leaves in a group's store, and which records it hides.

A truncate (``commands.Truncate``) is one log entry per partition group. Applying it
deletes nothing: it records a marker ``(namespace, set) -> lut_ms`` in the group's store
(set "" stands for the whole namespace), in the entry's write batch. From then on every
read of the group (apply, local reads, scans) treats a record of that namespace/set whose
``last_update_ms`` is at or below the marker's lut as absent — whether or not its row is
still on disk. A marker only grows (a later truncate keeps the larger lut) and is never
removed, so a hidden row stays hidden until a write replaces it; the state machine gives
such a write a last-update above the lut (see ``state_machine._store_bins``), so a write
after a truncate always survives it.

The rows themselves are deleted later, by each replica on its own, in bounded slices
(``hidden_rows`` then ``RecordStore.purge``, driven by the node's sweeper). That is not
proposed through the log and needs no determinism: deleting a row that every read
already treats as absent changes no result of any command on any replica. A replica that
crashes before its deletes are durable, or installs a snapshot holding hidden rows (the
markers travel in the snapshot: they are rows of the group's store), sweeps again.

Pure: imports no clock, no RocksDB.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from raftstore.records import Record, decode_record
from raftstore.storage.base import RecordStore

Markers = Mapping[tuple[str, str], int]
"""(namespace, set) -> lut_ms; set "" is the whole namespace."""

MARKER_PREFIX = b"t"
_LUT = struct.Struct(">q")
NO_LUT = -1


def marker_row(namespace: str, set_name: str) -> bytes:
    """Store key of a marker: b"t" + len(ns) + ns + set."""
    ns = namespace.encode("utf-8")
    return MARKER_PREFIX + bytes((len(ns),)) + ns + set_name.encode("utf-8")


def parse_marker_row(key: bytes) -> tuple[str, str]:
    """Inverse of ``marker_row``."""
    n = key[1]
    return key[2 : 2 + n].decode("utf-8"), key[2 + n :].decode("utf-8")


def encode_lut(lut_ms: int) -> bytes:
    return _LUT.pack(lut_ms)


def decode_lut(data: bytes) -> int:
    return _LUT.unpack(data)[0]


def lut_for(markers: Markers, namespace: str, set_name: str) -> int:
    """The lut that applies to records of ``namespace``/``set_name`` (NO_LUT: none)."""
    if not markers:
        return NO_LUT
    return max(markers.get((namespace, ""), NO_LUT), markers.get((namespace, set_name), NO_LUT))


def hides(markers: Markers, namespace: str, record: Record) -> bool:
    """True when a truncation marker makes ``record`` absent."""
    return bool(markers) and record.last_update_ms <= lut_for(markers, namespace, record.set_name)


def hidden_rows(
    store: RecordStore, namespace: str, after: bytes | None, limit: int
) -> tuple[list[bytes], bytes | None]:
    """One bounded slice of a sweep: read at most ``limit`` rows of ``namespace`` after the
    digest ``after`` (None: from the start); return the digests the store's markers hide
    and the cursor to continue from (None: the namespace is done). Synchronous: a caller
    that purges the digests before yielding deletes only rows that are hidden."""
    markers = store.truncations()
    hidden: list[bytes] = []
    last: bytes | None = None
    count = 0
    rows = store.scan(namespace, None, after)
    try:
        for digest, data in rows:
            last = digest
            if hides(markers, namespace, decode_record(data)):
                hidden.append(digest)
            count += 1
            if count >= limit:
                return hidden, last
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # releases the RocksDB iterator now, not at garbage collection
    return hidden, None
