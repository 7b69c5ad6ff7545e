"""Scans: what a scan asks for, which stored rows it returns, in what steps, how fast.

Pure logic shared by the node (``raftstore_node.scan`` drives it on the event loop) and
tested without a cluster. Nothing here touches gRPC, Raft or the event loop; time enters
through an injected clock.

- ``ScanSpec``: the validated parameters of one scan stream.
- ``Cursor``: where a scan resumes — every partition below ``partition`` is done, and so is
  ``partition`` up to and including ``digest`` (empty: nothing of it yet).
- ``PartitionReader``: one partition's raw rows from **one consistent state**, read in
  steps of at most ``step_rows`` rows so that no step holds the event loop long. Each
  step opens a fresh store iterator and drops it before returning (an iterator pins the
  store's files, and the store may be replaced by a snapshot install or destroyed while
  the caller is suspended). The steps see one state when the store's applied index did
  not move between them; if it moved, the partition is read again from its start (no row
  of it has left yet: rows are returned only once the partition is complete). After
  ``max_restarts`` restarts the last attempt reads the rest in one step (a partition that
  large under a steady write load is rare: 4096 rows is a namespace of ~16 M records).
- ``select``: a stored row → what the scan returns of it (set filter, expiry, bin
  selection, metadata only), or None.
- ``Throttle``: records per second, as a due time per record.
- ``Pager``: when a page of records leaves (page size, bytes, or progress every so often).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from raftstore.errors import ParameterError
from raftstore.expressions import Node, Subject, selects
from raftstore.keys import DIGEST_SIZE, N_PARTITIONS, Key, partition_id
from raftstore.policy import ReadMode
from raftstore.records import Record, decode_record, is_expired
from raftstore.storage.base import RecordStore
from raftstore.truncation import Markers, hides
from raftstore.values import validate_bin_name

DEFAULT_PAGE_SIZE = 256
MAX_PAGE_SIZE = 10_000
PAGE_BYTES = 1024 * 1024  # a page leaves once its records' stored size reaches this
PROGRESS_INTERVAL = 0.5  # seconds: a page (perhaps empty) leaves at least this often
STEP_ROWS = 4096  # rows one PartitionReader step reads at most (~1 µs each from RocksDB)


@dataclass(frozen=True, slots=True)
class Cursor:
    partition: int
    digest: bytes = b""


@dataclass(frozen=True, slots=True)
class ScanSpec:
    """Partitions [begin, end) of ``namespace``; partition ``begin`` after ``after_digest``.

    ``set_name`` "" scans every set; ``bins`` None returns every bin; ``metadata_only``
    returns no bins; ``records_per_second`` 0 is unthrottled.
    """

    namespace: str
    set_name: str = ""
    bins: tuple[str, ...] | None = None
    metadata_only: bool = False
    begin: int = 0
    end: int = N_PARTITIONS
    after_digest: bytes = b""
    records_per_second: int = 0
    page_size: int = DEFAULT_PAGE_SIZE
    mode: ReadMode = ReadMode.LINEARIZE
    filter: Node | None = None  # a parsed filter expression (raftstore.expressions)

    def validate(self) -> ScanSpec:
        """Self, or ParameterError naming the first problem."""
        if not 0 <= self.begin < N_PARTITIONS or not self.begin < self.end <= N_PARTITIONS:
            raise ParameterError(
                f"partition range begin={self.begin} count={self.end - self.begin} is outside "
                f"0..{N_PARTITIONS - 1} (count must be at least 1)"
            )
        if self.after_digest:
            if len(self.after_digest) != DIGEST_SIZE:
                raise ParameterError(f"after_digest must be {DIGEST_SIZE} bytes")
            if partition_id(self.after_digest) != self.begin:
                raise ParameterError(
                    f"after_digest belongs to partition {partition_id(self.after_digest)}, "
                    f"not to the first partition {self.begin}"
                )
        if self.metadata_only and self.bins:
            raise ParameterError("metadata_only returns no bins: do not name bins too")
        for name in self.bins or ():
            validate_bin_name(name)
        if self.records_per_second < 0:
            raise ParameterError("records_per_second must be 0 (no limit) or positive")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ParameterError(f"page_size must be 1..{MAX_PAGE_SIZE} (0: the default)")
        return self

    @property
    def start(self) -> Cursor:
        return Cursor(self.begin, self.after_digest)


# --- reading a partition --------------------------------------------------------------


@dataclass(slots=True)
class PartitionReader:
    """The rows of one partition after ``after``, from one state, in bounded steps.

    Call ``step()`` until it returns the rows (a list of (digest, stored bytes)); between
    two calls the caller may yield to the event loop (nothing of the store is held).
    ``restarts`` counts reads started again because the state moved between steps.
    """

    store: RecordStore
    namespace: str
    partition: int
    after: bytes = b""
    step_rows: int = STEP_ROWS
    max_restarts: int = 2
    restarts: int = 0
    _rows: list[tuple[bytes, bytes]] = field(default_factory=list)
    _applied: int = -1

    def step(self) -> list[tuple[bytes, bytes]] | None:
        applied = self.store.applied_index()
        if self._rows and applied != self._applied:
            self._rows = []
            self.restarts += 1
        self._applied = applied
        start = self._rows[-1][0] if self._rows else self.after
        limit = self.step_rows if self.restarts < self.max_restarts else 0
        rows = self.store.scan(self.namespace, self.partition, start or None)
        taken = 0
        try:
            for row in rows:
                self._rows.append(row)
                taken += 1
                if taken == limit:
                    return None  # more may follow: the next step goes on after this row
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()  # release the store iterator now, not when garbage is collected
        return self._rows


# --- what a row becomes -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selected:
    """A row the scan returns: its record (``bins`` already selected) and digest."""

    digest: bytes
    record: Record
    size: int  # stored bytes, what a page's byte bound counts


def select(
    spec: ScanSpec, digest: bytes, data: bytes, now_ms: int, markers: Markers | None = None
) -> Selected | None:
    """What the scan returns of a stored row: None when its set is not the one asked for,
    it has expired or a truncation marker (``markers``, the store's) hides it; else the
    record with only the asked bins (none: metadata only)."""
    record = decode_record(data)
    if spec.set_name and record.set_name != spec.set_name:
        return None
    if is_expired(record, now_ms):
        return None
    if markers and hides(markers, spec.namespace, record):
        return None
    if spec.filter is not None:
        key = Key(spec.namespace, record.set_name, record.user_key, digest)
        if not selects(spec.filter, Subject(record, key, now_ms)):
            return None
    if spec.metadata_only:
        bins: dict = {}
    elif spec.bins is not None:
        bins = {n: record.bins[n] for n in spec.bins if n in record.bins}
    else:
        bins = record.bins
    if bins is not record.bins:
        record = Record(
            bins,
            record.generation,
            record.void_time_ms,
            record.last_update_ms,
            record.set_name,
            record.user_key,
        )
    return Selected(digest, record, len(data))


# --- pace and pages ---------------------------------------------------------------------


class Throttle:
    """At most ``per_second`` records per second from the first one on (0: no limit)."""

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_second
        self._clock = clock
        self._start: float | None = None

    def wait(self, sent: int) -> float:
        """Seconds to wait before record number ``sent + 1`` may leave (0: now)."""
        if self._rate <= 0:
            return 0.0
        now = self._clock()
        if self._start is None:
            self._start = now
        return max(0.0, self._start + sent / self._rate - now)


class Pager:
    """Counts the page being built and says when it must leave: ``page_size`` records,
    ``PAGE_BYTES`` of them, or — so that the client's cursor keeps up even when the set
    filter returns nothing — ``PROGRESS_INTERVAL`` after the last page once the cursor has
    moved. The caller keeps the page itself (the message it fills)."""

    def __init__(
        self,
        start: Cursor,
        page_size: int,
        clock: Callable[[], float] = time.monotonic,
        page_bytes: int = PAGE_BYTES,
    ) -> None:
        self.count = 0
        self.cursor = start
        self._sent_cursor = start
        self._bytes = 0
        self._page_size = page_size
        self._page_bytes = page_bytes
        self._clock = clock
        self._last = clock()

    def add(self, size: int) -> None:
        """One more record of ``size`` stored bytes is on the page."""
        self.count += 1
        self._bytes += size

    def advance(self, cursor: Cursor) -> None:
        self.cursor = cursor

    @property
    def full(self) -> bool:
        return self.count >= self._page_size or self._bytes >= self._page_bytes

    @property
    def pending(self) -> bool:
        """Records on the page, or a cursor the client has not been told."""
        return bool(self.count) or self.cursor != self._sent_cursor

    @property
    def due(self) -> bool:
        """Worth sending now: full, or anything pending and the interval is over."""
        if self.full:
            return True
        return self.pending and self._clock() - self._last >= PROGRESS_INTERVAL

    def take(self) -> Cursor:
        """The cursor that goes with the page; the pager starts a new page."""
        self.count, self._bytes = 0, 0
        self._sent_cursor = self.cursor
        self._last = self._clock()
        return self.cursor
