"""The counter checker for increment-only counters.

Operations: ``add`` (invoke value: a positive delta) and ``read`` (ok value: an integer). For
each ok read R, with ``initial`` the counter's starting value:

- lower bound: initial + the deltas of ok adds that completed before R was invoked
  (they had certainly taken effect);
- upper bound: initial + the deltas of every add, ok or indeterminate, invoked before R
  completed (failed adds never took effect).

Valid iff every ok read lies within its bounds; UNKNOWN if there is no ok read. Runs in
O((adds + reads) log adds) with prefix sums and binary search.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from tests.jepsen.checkers.result import Verdict, verdict_of
from tests.jepsen.history import HistoryError, Op, Operation, OpType, pair_operations

__all__ = ["CounterResult", "CounterViolation", "check_counter"]


@dataclass(frozen=True, slots=True)
class CounterViolation:
    """An ok read outside [lower, upper]; ``value`` is what it returned."""

    read: Operation
    value: object
    lower: int
    upper: int


@dataclass(frozen=True, slots=True)
class CounterResult:
    """Verdict of `check_counter` and the violating reads, in history order."""

    verdict: Verdict
    read_count: int
    add_count: int
    violations: tuple[CounterViolation, ...]

    @property
    def valid(self) -> bool | None:
        return self.verdict.valid


@dataclass(frozen=True, slots=True)
class _Timeline:
    """Sorted event positions with the running sum of deltas up to each."""

    positions: list[int]
    sums: list[int]

    @classmethod
    def of(cls, events: Iterable[tuple[int, int]]) -> _Timeline:
        ordered = sorted(events)
        return cls([p for p, _ in ordered], [0, *accumulate(d for _, d in ordered)])

    def total_before(self, position: int) -> int:
        """Sum of the deltas of events strictly before ``position``."""
        return self.sums[bisect.bisect_left(self.positions, position)]


def check_counter(history: Iterable[Op], initial: int = 0) -> CounterResult:
    """Check an increment-only counter history (see the module docstring).

    Raises HistoryError for functions other than add/read or a delta that is not a
    positive integer.
    """
    ops = pair_operations(history)
    adds = _adds(ops)
    done = _Timeline.of((a.complete_index, a.invoke.value) for a in adds if a.type is OpType.OK)
    begun = _Timeline.of((a.invoke_index, a.invoke.value) for a in adds if a.type != OpType.FAIL)
    reads = [op for op in ops if op.f == "read" and op.type is OpType.OK]
    violations = []
    for read in reads:
        lower = initial + done.total_before(read.invoke_index)
        upper = initial + begun.total_before(read.complete_index or 0)
        if not (_is_int(read.value) and lower <= read.value <= upper):
            violations.append(CounterViolation(read, read.value, lower, upper))
    verdict = verdict_of(checked=bool(reads), violated=bool(violations))
    return CounterResult(verdict, len(reads), len(adds), tuple(violations))


def _adds(ops: Sequence[Operation]) -> list[Operation]:
    """The add operations, after checking that every function and delta is supported."""
    other = {op.f for op in ops} - {"add", "read"}
    if other:
        raise HistoryError(f"the counter checker has no function(s) {sorted(other)}")
    adds = [op for op in ops if op.f == "add"]
    for add in adds:
        if not (_is_int(add.invoke.value) and add.invoke.value > 0):
            raise HistoryError(f"add at index {add.invoke_index}: delta must be a positive int")
    return adds


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
