"""Admission control: bounded work in flight, and an immediate answer beyond it.

A node serves a bounded number of KV requests at a time; a request beyond a bound is
answered at once with a retryable code instead of joining a queue that grows without
limit (and with it every request's latency, and the time the event loop spends away from
Raft). The bounds, all counted while a request is being served:

- per node: ``max_in_flight`` requests, ``max_in_flight_bytes`` of request bytes, and
  ``max_large_in_flight`` requests over ``LARGE_REQUEST`` bytes → DEVICE_OVERLOAD (18).
  A large request costs every replica time on its event loop when applied (about 1 µs per
  list item or map entry, see ``max_elements``), so few may be under way at once;
- per partition group this node leads: ``max_in_flight_per_group`` proposals and reads →
  DEVICE_OVERLOAD (18), so one busy group cannot take the whole node's share;
- per record: ``max_in_flight_per_key`` writes (Aerospike's transaction-pending-limit) →
  KEY_BUSY (14), so a hot key cannot take its group's share;
- the event loop running late by more than ``max_loop_lag_ms`` (``LoopMonitor``) → new
  requests are answered DEVICE_OVERLOAD (18) until it catches up, so that the loop's time
  goes to Raft (heartbeats, votes, ReadIndex rounds) and to the requests already admitted;
- per KV stream: ``max_in_flight_per_stream`` commands (``stream.py``: the stream is not
  read further meanwhile; each command is admitted by the bounds above as a call);
- free space on the data directory's file system below ``min_free_bytes`` → writes are
  answered OUT_OF_SPACE (8) before the journal or RocksDB run out of room (reads go on).

Nothing refused here was proposed: the client may retry (it does, with jittered backoff,
for 14 and 18). Each kind of refusal is counted in one rate-limited log line.

Thread: the node's event loop thread only; nothing is locked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from raftstore_node.parsing import RateLimitedLog

from raftstore.errors import DeviceOverload, KeyBusy, OutOfSpace
from raftstore.namespaces import ConfigError

log = logging.getLogger("raftstore.node.admission")

LARGE_REQUEST = 64 * 1024  # bytes: a request over this counts against max_large_in_flight
DISK_CHECK_INTERVAL = 1.0  # seconds between two statvfs of the data directory
LOOP_PROBE_INTERVAL = 0.02  # seconds between two measurements of the loop's lateness


@dataclass(frozen=True, slots=True)
class Limits:
    """The ``[limits]`` table of a node's configuration."""

    max_in_flight: int = 256
    max_in_flight_bytes: int = 64 * 1024 * 1024
    max_large_in_flight: int = 2
    max_elements: int = 20_000  # list items and map entries in one request's values
    max_in_flight_per_group: int = 128
    max_in_flight_per_key: int = 16
    max_streams_per_connection: int = 128
    max_in_flight_per_stream: int = 256  # commands under way on one KV Stream (stream.py)
    max_loop_lag_ms: int = 200
    min_free_bytes: int = 64 * 1024 * 1024

    @classmethod
    def from_toml(cls, raw: object) -> Limits:
        raw = raw or {}
        allowed = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) - allowed:
            raise ConfigError(f"[limits] allowed keys are {sorted(allowed)}")
        for name, value in raw.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"limits.{name} must be an integer >= 0, got {value!r}")
            if value == 0 and name != "min_free_bytes":
                raise ConfigError(f"limits.{name} must be at least 1")
        return cls(**raw)


class DiskSpace:
    """Free bytes of the file system holding ``path``, sampled at most once a second."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.monotonic,
        statvfs: Callable[[Path], os.statvfs_result] = os.statvfs,
    ) -> None:
        self._path = path
        self._clock = clock
        self._statvfs = statvfs
        self._next = 0.0
        self._free = 0

    def free_bytes(self) -> int:
        now = self._clock()
        if now >= self._next:
            st = self._statvfs(self._path)
            self._free = st.f_bavail * st.f_frsize
            self._next = now + DISK_CHECK_INTERVAL
        return self._free


class LoopMonitor:
    """How late the event loop runs: a callback due every ``LOOP_PROBE_INTERVAL`` seconds
    records by how much it was late (``lag``, seconds; ``worst``: the largest since the
    last ``take_worst``). A late loop is a loop whose Raft timers are late too."""

    LATE = 0.25  # seconds: a lag this large is logged (rate-limited)

    def __init__(self) -> None:
        self.lag = 0.0
        self.worst = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._late = RateLimitedLog(log, "times the event loop ran over 250 ms late")

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._schedule(loop)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def take_worst(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        due = loop.time() + LOOP_PROBE_INTERVAL
        self._handle = loop.call_at(due, self._probe, loop, due)

    def _probe(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        self.lag = max(0.0, loop.time() - due)
        self.worst = max(self.worst, self.lag)
        if self.lag > self.LATE:
            self._late.note(f"{self.lag * 1000:.0f} ms")
        self._schedule(loop)


class Admission:
    """Counts the requests being served and refuses those beyond ``limits``."""

    def __init__(self, limits: Limits, disk: DiskSpace, monitor: LoopMonitor | None = None) -> None:
        self.limits = limits
        self._disk = disk
        self.monitor = monitor or LoopMonitor()
        self.in_flight = 0
        self.in_flight_bytes = 0
        self.large_in_flight = 0
        self._groups: Counter[str] = Counter()
        self._keys: Counter[tuple[str, bytes]] = Counter()
        self.shed = RateLimitedLog(log, "requests shed (DEVICE_OVERLOAD, KEY_BUSY)")
        self.out_of_space = RateLimitedLog(log, "writes refused for lack of disk space")

    @contextmanager
    def node(self, size: int) -> Iterator[None]:
        """Hold one of the node's places (and ``size`` bytes) while the block runs."""
        lim = self.limits
        if self.in_flight >= lim.max_in_flight or (
            self.in_flight and self.in_flight_bytes + size > lim.max_in_flight_bytes
        ):
            self.shed.note(f"node: {self.in_flight} requests, {self.in_flight_bytes} bytes")
            raise DeviceOverload(
                f"node overloaded: {self.in_flight} requests in flight (limit "
                f"{lim.max_in_flight}); retry later"
            )
        large = size > LARGE_REQUEST
        if large and self.large_in_flight >= lim.max_large_in_flight:
            self.shed.note(f"node: {self.large_in_flight} large requests")
            raise DeviceOverload(
                f"node overloaded: {self.large_in_flight} requests over {LARGE_REQUEST} bytes "
                "in flight; retry later"
            )
        if self.monitor.lag * 1000 > lim.max_loop_lag_ms:
            self.shed.note(f"node: event loop {self.monitor.lag * 1000:.0f} ms late")
            raise DeviceOverload(
                f"node overloaded: its event loop runs {self.monitor.lag * 1000:.0f} ms late; "
                "retry later"
            )
        self.in_flight += 1
        self.in_flight_bytes += size
        self.large_in_flight += large
        try:
            yield
        finally:
            self.in_flight -= 1
            self.in_flight_bytes -= size
            self.large_in_flight -= large

    @contextmanager
    def group(self, group_id: str, digest: bytes | None) -> Iterator[None]:
        """Hold a place of ``group_id`` (and, for a write, of its record) while the block runs.

        ``digest`` is the record of a write (None for reads, which have no per-key bound).
        """
        self._check_group(group_id)
        key = (group_id, digest) if digest is not None else None
        if key is not None:
            self._check_key(key)
            self._check_disk()
            self._keys[key] += 1
        self._groups[group_id] += 1
        try:
            yield
        finally:
            _release(self._groups, group_id)
            if key is not None:
                _release(self._keys, key)

    def _check_group(self, group_id: str) -> None:
        count = self._groups[group_id]
        if count >= self.limits.max_in_flight_per_group:
            self.shed.note(f"group {group_id}: {count} requests")
            raise DeviceOverload(
                f"group {group_id} overloaded: {count} requests in flight; retry later"
            )

    def _check_key(self, key: tuple[str, bytes]) -> None:
        count = self._keys[key]
        if count >= self.limits.max_in_flight_per_key:
            self.shed.note(f"key {key[1].hex()} of group {key[0]}: {count} writes")
            raise KeyBusy(f"record busy: {count} writes in flight on it; retry later")

    def check_writable(self) -> None:
        """Raise OutOfSpace when the disk is below ``min_free_bytes`` (as ``group`` does for
        a single write); for writes admitted without a per-record place (batches)."""
        self._check_disk()

    def _check_disk(self) -> None:
        free = self._disk.free_bytes()
        if free < self.limits.min_free_bytes:
            self.out_of_space.note(f"{free} bytes free")
            raise OutOfSpace(
                f"node's disk has {free} bytes free, below min_free_bytes "
                f"{self.limits.min_free_bytes}: writes refused"
            )


def _release(counter: Counter[str] | Counter[tuple[str, bytes]], key: object) -> None:
    counter[key] -= 1  # type: ignore[index]
    if counter[key] <= 0:  # type: ignore[index]
        del counter[key]  # type: ignore[arg-type]
