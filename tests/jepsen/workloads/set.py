"""The set workload: unique adds to one set, periodic reads, final reads after healing.

The set is one record whose bin ``e`` is a list; ``add e`` is an ``operate`` with
``list_append`` (one atomic command, retried exactly once by the client's identity), and
``read`` returns the whole list (LINEARIZE). Elements are unique
(``worker * 10**6 + counter``). Reads are periodic: one read, by whichever worker comes
next, every ``read_interval`` seconds across all workers (a read returns every element,
so reading as often as adding would make the history grow quadratically).

Checked by `check_set` (acknowledged adds survive in the final read, no phantoms), plus
`check_no_duplicates`: no read returns an element twice (an add applied twice would).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raftstore_client import Client, RecordNotFound, operations

from tests.jepsen.checkers import Verdict, check_set
from tests.jepsen.checkers.result import verdict_of
from tests.jepsen.history import Op, OpType, pair_operations
from tests.jepsen.recorder import Invocation
from tests.jepsen.workloads.base import Check, OpStream, UniqueValues, WorkloadConfig

__all__ = ["DuplicatesResult", "SetWorkload", "check_no_duplicates"]

BIN = "e"
KEY = "set"
READ_INTERVAL = 1.0  # seconds between periodic reads, across all workers


@dataclass(frozen=True, slots=True)
class DuplicatesResult:
    """Elements some ok read returned more than once (each with its highest count)."""

    verdict: Verdict
    read_count: int
    duplicates: tuple[tuple[Any, int], ...]

    @property
    def valid(self) -> bool | None:
        return self.verdict.valid


def check_no_duplicates(history: Sequence[Op]) -> DuplicatesResult:
    """INVALID if an ok read returned an element twice; UNKNOWN with no ok read."""
    worst: dict[Any, int] = {}
    reads = 0
    for op in pair_operations(history):
        if op.f != "read" or op.type is not OpType.OK or not isinstance(op.value, list):
            continue
        reads += 1
        for element, count in Counter(op.value).items():
            if count > 1:
                worst[element] = max(count, worst.get(element, 0))
    verdict = verdict_of(checked=bool(reads), violated=bool(worst))
    return DuplicatesResult(verdict, reads, tuple(sorted(worst.items())))


class SetWorkload:
    name = "set"
    functions = frozenset({"add", "read"})

    def __init__(self, config: WorkloadConfig, *, read_interval: float = READ_INTERVAL) -> None:
        self.config = config
        self.read_interval = read_interval
        self._next_read = 0.0
        self._lock = threading.Lock()

    def setup(self, client: Client) -> None:
        """Nothing to create: the set starts absent (empty); the first add creates it."""

    def worker_ops(self, worker: int, rng: random.Random) -> OpStream:
        values = UniqueValues(worker)
        while True:
            if self._read_due():
                yield Invocation("read", KEY)
            else:
                yield Invocation("add", KEY, values.next())

    def _read_due(self) -> bool:
        """True for one caller per ``read_interval`` (thread-safe)."""
        with self._lock:
            now = time.monotonic()
            if now < self._next_read:
                return False
            self._next_read = now + self.read_interval
            return True

    def execute(self, client: Client, invocation: Invocation) -> Any:
        key = self.config.key(KEY)
        if invocation.f == "add":
            client.operate(key, [operations.list_append(BIN, invocation.value)])
            return invocation.value
        if invocation.f == "read":
            try:
                return list(client.get(key).bins.get(BIN, []))
            except RecordNotFound:
                return []
        raise ValueError(f"set has no function {invocation.f!r}")

    def final_reads(self) -> list[Invocation]:
        return [Invocation("read", KEY)]

    def check(self, history: Sequence[Op], time_limit: float) -> Mapping[str, Check]:
        return {"set": check_set(history), "no-duplicates": check_no_duplicates(history)}

    def describe(self) -> dict[str, Any]:
        return {"model": "set", "key": KEY, "read_interval": self.read_interval}
