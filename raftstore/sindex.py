"""Secondary indexes: definitions, what a record contributes, and the stored row layout.

Pure: used by the state machine (index maintenance in the same write batch as the record),
by the stores (row keys) and by the node (queries). Nothing here reads a clock or a store.

An index ``name`` of a namespace covers the records of one set (``set_name`` "" : every
set) through one bin: ``NUMERIC`` indexes int64 values (a bool is not an int), ``STRING``
indexes str values. ``collection`` says which values of the bin count: DEFAULT the bin's
own value, LIST each item of a list bin, MAPKEYS each key of a map bin, MAPVALUES each
value. A value of another type contributes nothing (Aerospike's rule).

Rows, in the group's column family (so they travel with the group's snapshot)::

    b"x" + name                                              -> definition and build state
    b"i" + len(name) (1 byte) + name + value + partition (2 bytes BE) + digest (16) -> b""

``value`` is order-preserving: an int as its sign-flipped 8-byte big-endian form, a
string as its UTF-8 bytes with 0x00 escaped as 0x00 0xFF and terminated by 0x00 0x00 (so
no string's encoding is a prefix of another's and byte order is string order). The
trailing 18 bytes are fixed, so an index row decodes back to (value, partition, digest).

Build state: an index created over existing records is BUILDING until slices of
``BuildIndex`` entries (proposed by the group's leader) have indexed every record up to
the end of the namespace's rows; ``cursor`` is the digest of the last record indexed
(b"" none yet) and ``indexed`` counts records examined. Writes maintain every index,
building or ready, so the slices and the writes together leave an exact index.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import IntEnum
from functools import lru_cache

from raftstore.errors import IndexNameMaxLen, ParameterError
from raftstore.keys import DIGEST_SIZE, partition_id
from raftstore.records import Record
from raftstore.values import decode_value, encode_value, validate_bin_name

DEF_FORMAT_VERSION = 1
MAX_NAME_BYTES = 63
BUILD_SLICE = 256  # records one BuildIndex entry examines at most (~3 ms to apply)
_SUFFIX = 2 + DIGEST_SIZE
_I64 = struct.Struct(">Q")
_SIGN = 1 << 63


class IndexType(IntEnum):
    NUMERIC = 1
    STRING = 2


class Collection(IntEnum):
    DEFAULT = 0
    LIST = 1
    MAPKEYS = 2
    MAPVALUES = 3


@dataclass(frozen=True, slots=True)
class IndexDef:
    """What an index covers; equal definitions make ``create_index`` idempotent."""

    namespace: str
    name: str
    set_name: str
    bin: str
    type: IndexType
    collection: Collection = Collection.DEFAULT

    def validate(self) -> IndexDef:
        """Self, or ParameterError / IndexNameMaxLen naming the problem."""
        if not isinstance(self.namespace, str) or not self.namespace:
            raise ParameterError("an index needs a namespace")
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError("an index needs a name")
        if len(self.name.encode("utf-8")) > MAX_NAME_BYTES:
            raise IndexNameMaxLen(f"index name is longer than {MAX_NAME_BYTES} bytes")
        if not isinstance(self.set_name, str):
            raise ParameterError("index set must be a string")
        validate_bin_name(self.bin)
        IndexType(self.type)
        Collection(self.collection)
        return self


@dataclass(frozen=True, slots=True)
class IndexState:
    """An index as one group holds it: definition and build progress."""

    definition: IndexDef
    ready: bool = False
    cursor: bytes = b""
    indexed: int = 0


# --- definitions ------------------------------------------------------------------------


def def_key(name: str) -> bytes:
    return b"x" + name.encode("utf-8")


def encode_state(state: IndexState) -> bytes:
    d = state.definition
    row = [
        DEF_FORMAT_VERSION,
        d.namespace,
        d.name,
        d.set_name,
        d.bin,
        int(d.type),
        int(d.collection),
    ]
    return encode_value([*row, state.ready, state.cursor, state.indexed])


@lru_cache(maxsize=1024)
def decode_state(data: bytes) -> IndexState:
    """Inverse of ``encode_state`` (cached: the same rows are decoded for every entry)."""
    version, ns, name, set_name, bin_name, type_, coll, ready, cursor, indexed = decode_value(data)
    if version != DEF_FORMAT_VERSION:
        raise ValueError(f"unknown index definition format {version}")
    definition = IndexDef(ns, name, set_name, bin_name, IndexType(type_), Collection(coll))
    return IndexState(definition, ready, cursor, indexed)


def advanced(state: IndexState, cursor: bytes, examined: int, done: bool) -> IndexState:
    return replace(state, cursor=cursor, indexed=state.indexed + examined, ready=done)


# --- values and rows --------------------------------------------------------------------


def encode_index_value(itype: IndexType, value: object) -> bytes | None:
    """The order-preserving bytes of ``value`` in an index of ``itype``; None when the
    value is not of the index's type."""
    if itype is IndexType.NUMERIC:
        if isinstance(value, int) and not isinstance(value, bool) and -_SIGN <= value < _SIGN:
            return _I64.pack((value + _SIGN) & 0xFFFFFFFFFFFFFFFF)
        return None
    if isinstance(value, str):
        return value.encode("utf-8").replace(b"\x00", b"\x00\xff") + b"\x00\x00"
    return None


def decode_index_value(itype: IndexType, data: bytes) -> int | str:
    if itype is IndexType.NUMERIC:
        return _I64.unpack(data)[0] - _SIGN
    return data[:-2].replace(b"\x00\xff", b"\x00").decode("utf-8")


def index_prefix(name: str) -> bytes:
    raw = name.encode("utf-8")
    return b"i" + bytes((len(raw),)) + raw


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key starting with ``prefix`` (an index name's prefix
    never ends in 0xFF: its last byte is a UTF-8 byte or the length)."""
    return prefix[:-1] + bytes((prefix[-1] + 1,))


def index_row(name: str, value: bytes, digest: bytes) -> bytes:
    return index_prefix(name) + value + partition_id(digest).to_bytes(2, "big") + digest


def split_row(prefix: bytes, key: bytes) -> tuple[bytes, int, bytes]:
    """(encoded value, partition, digest) of an index row key under ``prefix``."""
    return (
        key[len(prefix) : -_SUFFIX],
        int.from_bytes(key[-_SUFFIX:-DIGEST_SIZE], "big"),
        key[-DIGEST_SIZE:],
    )


def values_of(definition: IndexDef, record: Record | None) -> frozenset[bytes]:
    """The encoded values ``record`` contributes to the index (none for a record of
    another set, without the bin, or whose values are of another type)."""
    if record is None or (definition.set_name and record.set_name != definition.set_name):
        return frozenset()
    value = record.bins.get(definition.bin)
    if value is None:
        return frozenset()
    items: Iterable[object]
    if definition.collection is Collection.DEFAULT:
        items = (value,)
    elif definition.collection is Collection.LIST:
        items = value if isinstance(value, list) else ()
    elif definition.collection is Collection.MAPKEYS:
        items = value.keys() if isinstance(value, dict) else ()
    else:
        items = value.values() if isinstance(value, dict) else ()
    encoded = (encode_index_value(definition.type, item) for item in items)
    return frozenset(e for e in encoded if e is not None)


def row_changes(
    states: Mapping[str, IndexState], digest: bytes, old: Record | None, new: Record | None
) -> dict[bytes, bytes | None]:
    """Index rows to delete (None) and put (b"") when ``old`` becomes ``new``."""
    out: dict[bytes, bytes | None] = {}
    for name, state in states.items():
        before = values_of(state.definition, old)
        after = values_of(state.definition, new)
        for value in before - after:
            out[index_row(name, value, digest)] = None
        for value in after - before:
            out[index_row(name, value, digest)] = b""
    return out


def purged_rows(
    defs: Mapping[str, bytes], namespace: str, rows: Iterable[tuple[bytes, Record | None]]
) -> list[bytes]:
    """The index rows of records ``rows`` ((digest, record)) of ``namespace`` that go with
    them when they are purged outside the log (truncated records swept by each node)."""
    states = {n: decode_state(d) for n, d in defs.items()}
    states = {n: st for n, st in states.items() if st.definition.namespace == namespace}
    if not states:
        return []
    return [k for digest, rec in rows for k in row_changes(states, digest, rec, None)]


# --- queries ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValueRange:
    """Encoded bounds, both inclusive, of an equality (lo == hi) or range query."""

    lo: bytes
    hi: bytes

    def holds(self, encoded: bytes) -> bool:
        return self.lo <= encoded <= self.hi


def value_range(definition: IndexDef, lo: object, hi: object) -> ValueRange:
    """The encoded range [lo, hi] over an index; ParameterError when a bound is not of
    the index's type (naming both) or lo > hi."""
    bounds = []
    for bound in (lo, hi):
        encoded = encode_index_value(definition.type, bound)
        if encoded is None:
            raise ParameterError(
                f"index {definition.name!r} on bin {definition.bin!r} is "
                f"{definition.type.name}; a query value {bound!r} "
                f"({type(bound).__name__}) does not match it"
            )
        bounds.append(encoded)
    if bounds[0] > bounds[1]:
        raise ParameterError(f"query range is empty: {lo!r} > {hi!r}")
    return ValueRange(bounds[0], bounds[1])


def matches(definition: IndexDef, record: Record, bounds: ValueRange) -> bool:
    """Whether ``record`` (re-read for a query hit) still has a value in ``bounds``."""
    return any(bounds.holds(v) for v in values_of(definition, record))
