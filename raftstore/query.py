"""Index queries: which index answers, which records it points at, what is returned.

Pure logic shared by the node (``raftstore_node.query`` streams it on the event loop, with
the scan's pages, throttle and cursor) and the transcripts; no gRPC, Raft or clock.

- ``QuerySpec``: a scan's parameters (namespace, set, bins, partitions, cursor, page size,
  read mode) plus the index, the inclusive bounds and an optional filter expression.
- ``resolve``: the group's index for the query — by name, or the one on (set, bin,
  collection) whose type fits the bounds; INDEX_NOTFOUND (201) when there is none,
  PARAMETER_ERROR (4) when the bounds are not of the index's type, INDEX_NOTREADABLE
  (203) while it is being built.
- ``IndexReader``: the hits (partition, digest) of one group's index within the query's
  partitions and after its cursor, read in bounded steps from one state (as
  ``raftstore.scan.PartitionReader``: a fresh iterator per step, read again from the
  start if the applied index moved between steps), returned sorted by (partition,
  digest) — the scan's order, so the scan's cursor resumes a query.
- ``verify``: a hit's record, read again, is returned only if it still holds a value in
  the bounds, is of the index's set, has not expired and the filter selects it. An index
  row never outlives its record's write batch, so the re-check only matters for records
  that expired (expiry is lazy) or changed after the hits were collected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raftstore.errors import IndexNotFound, IndexNotReadable, ParameterError
from raftstore.expressions import Node, Subject, selects
from raftstore.keys import Key
from raftstore.records import decode_record, is_expired
from raftstore.scan import STEP_ROWS, Cursor, ScanSpec, Selected, select
from raftstore.sindex import (
    Collection,
    IndexState,
    ValueRange,
    index_prefix,
    matches,
    split_row,
    value_range,
)
from raftstore.storage.base import RecordStore


@dataclass(frozen=True, slots=True)
class QuerySpec:
    scan: ScanSpec
    bin: str
    lo: Any
    hi: Any
    index: str = ""
    collection: Collection = Collection.DEFAULT
    filter: Node | None = None


def resolve(states: Mapping[str, IndexState], spec: QuerySpec) -> tuple[IndexState, ValueRange]:
    """The index answering ``spec`` in a group holding ``states``, and its encoded bounds."""
    ns = spec.scan.namespace
    if spec.index:
        state = states.get(spec.index)
        if state is None or state.definition.namespace != ns:
            raise IndexNotFound(f"index {spec.index!r} does not exist in namespace {ns!r}")
    else:
        state = _by_bin(states, spec)
    definition = state.definition
    if spec.bin and spec.bin != definition.bin:
        raise ParameterError(f"index {definition.name!r} is on bin {definition.bin!r}")
    bounds = value_range(definition, spec.lo, spec.hi)
    if not state.ready:
        raise IndexNotReadable(f"index {definition.name!r} is still being built; retry later")
    return state, bounds


def _by_bin(states: Mapping[str, IndexState], spec: QuerySpec) -> IndexState:
    ns, set_name = spec.scan.namespace, spec.scan.set_name
    candidates = [
        s
        for s in states.values()
        if s.definition.namespace == ns
        and s.definition.set_name == set_name
        and s.definition.bin == spec.bin
        and s.definition.collection is spec.collection
    ]
    if not candidates:
        raise IndexNotFound(
            f"no {spec.collection.name} index on bin {spec.bin!r} of "
            f"{ns}.{set_name or '*'}; create one first"
        )
    for state in candidates:  # NUMERIC and STRING may both exist: the bounds choose
        try:
            value_range(state.definition, spec.lo, spec.hi)
            return state
        except ParameterError:
            continue
    return candidates[0]  # resolve() reports the type mismatch


@dataclass(slots=True)
class IndexReader:
    """Hits of one index in partitions [begin, end) after ``after``, from one state."""

    store: RecordStore
    name: str
    bounds: ValueRange
    begin: int
    end: int
    after: Cursor
    step_rows: int = STEP_ROWS
    max_restarts: int = 2
    restarts: int = 0
    _hits: list[tuple[int, bytes]] = field(default_factory=list)
    _next: bytes = b""
    _applied: int = -1

    def step(self) -> list[tuple[int, bytes]] | None:
        """None while more remains (call again, perhaps after yielding), else the hits
        sorted by (partition, digest)."""
        prefix = index_prefix(self.name)
        applied = self.store.applied_index()
        if self._next and applied != self._applied:
            self._hits, self._next = [], b""
            self.restarts += 1
        self._applied = applied
        limit = self.step_rows if self.restarts < self.max_restarts else 0
        keys = self.store.index_keys(prefix, self._next or prefix + self.bounds.lo)
        try:
            for n, key in enumerate(keys, 1):
                value, partition, digest = split_row(prefix, key)
                if value > self.bounds.hi:
                    break
                if self._wanted(partition, digest):
                    self._hits.append((partition, digest))
                if n == limit:
                    self._next = key + b"\x00"  # the next step goes on after this row
                    return None
        finally:
            close = getattr(keys, "close", None)
            if close is not None:
                close()
        self._hits.sort()
        return self._hits

    def _wanted(self, partition: int, digest: bytes) -> bool:
        if not self.begin <= partition < self.end:
            return False
        return (partition, digest) > (self.after.partition, self.after.digest)


def verify(
    spec: QuerySpec,
    state: IndexState,
    bounds: ValueRange,
    digest: bytes,
    data: bytes | None,
    now_ms: int,
) -> Selected | None:
    """What the query returns of a hit whose record is now ``data`` (None: gone)."""
    if data is None:
        return None
    record = decode_record(data)
    if is_expired(record, now_ms) or not matches(state.definition, record, bounds):
        return None
    if spec.filter is not None:
        key = Key(spec.scan.namespace, record.set_name, record.user_key, digest)
        if not selects(spec.filter, Subject(record, key, now_ms)):
            return None
    return select(spec.scan, digest, data, now_ms)
