"""The set checker: acknowledged adds survive, and nothing appears that was not added.

Operations: ``add`` (invoke value: the element) and ``read`` (ok value: a list of elements), all
on one set (one key). The final read is the ok read that completed last.

- lost: elements of ok adds missing from the final read.
- unexpected (phantoms): elements of any ok read for which no add was invoked before that
  read completed.
- failed_present: elements whose every add failed (so were never added) but that an ok
  read returned.
- recovered: elements of indeterminate adds (info or never completed), with no ok add,
  that the final read returned. Allowed; reported for information.

Valid iff lost, unexpected and failed_present are empty; UNKNOWN if there is no ok read.
Runs in O(total size of reads + number of operations).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from tests.jepsen.checkers.models import freeze
from tests.jepsen.checkers.result import Verdict, verdict_of
from tests.jepsen.history import HistoryError, Op, Operation, OpType, pair_operations

__all__ = ["SetResult", "check_set"]


@dataclass(frozen=True, slots=True)
class SetResult:
    """Verdict and evidence of `check_set`; element tuples are sorted."""

    verdict: Verdict
    attempted_count: int  # distinct elements of invoked adds
    acknowledged_count: int  # distinct elements of ok adds
    read_count: int  # ok reads
    final_read: Operation | None
    lost: tuple[Hashable, ...]
    unexpected: tuple[Hashable, ...]
    failed_present: tuple[Hashable, ...]
    recovered: tuple[Hashable, ...]
    lost_count: int
    unexpected_count: int
    failed_present_count: int
    recovered_count: int

    @property
    def valid(self) -> bool | None:
        return self.verdict.valid


@dataclass(frozen=True, slots=True)
class _Adds:
    """Add operations summarised per element."""

    first_invoke: dict[Hashable, int]  # element -> earliest invoke index
    acknowledged: frozenset[Hashable]  # some add ok
    possible: frozenset[Hashable]  # some add ok, info or never completed


def check_set(history: Iterable[Op]) -> SetResult:
    """Check a set history (see the module docstring). Raises HistoryError for functions
    other than add/read, more than one key, or a read value that is not a list."""
    ops = pair_operations(history)
    _require_set_ops(ops)
    adds = _summarise_adds(op for op in ops if op.f == "add")
    reads = [op for op in ops if op.f == "read" and op.type is OpType.OK]
    final = max(reads, key=lambda r: r.complete_index or 0, default=None)
    final_elements = _elements(final) if final is not None else frozenset()
    seen, unexpected = _scan_reads(adds, reads)
    return _result(
        adds,
        reads,
        final,
        lost=adds.acknowledged - final_elements,
        unexpected=unexpected,
        failed_present=(seen & adds.first_invoke.keys()) - adds.possible,
        recovered=(final_elements & adds.possible) - adds.acknowledged,
    )


def _require_set_ops(ops: tuple[Operation, ...]) -> None:
    other = {op.f for op in ops} - {"add", "read"}
    if other:
        raise HistoryError(f"the set checker has no function(s) {sorted(other)}")
    keys = {freeze(op.key) for op in ops}
    if len(keys) > 1:
        raise HistoryError(f"the set checker checks one set, found keys {sorted(keys, key=repr)}")


def _summarise_adds(adds: Iterable[Operation]) -> _Adds:
    first_invoke: dict[Hashable, int] = {}
    acknowledged: set[Hashable] = set()
    possible: set[Hashable] = set()
    for op in adds:
        element = freeze(op.invoke.value)
        first_invoke.setdefault(element, op.invoke_index)
        if op.type is not OpType.FAIL:
            possible.add(element)
        if op.type is OpType.OK:
            acknowledged.add(element)
    return _Adds(first_invoke, frozenset(acknowledged), frozenset(possible))


def _elements(read: Operation) -> frozenset[Hashable]:
    if not isinstance(read.value, list):
        raise HistoryError(f"read at index {read.invoke_index} must return a list")
    return frozenset(freeze(e) for e in read.value)


def _scan_reads(adds: _Adds, reads: list[Operation]) -> tuple[set[Hashable], set[Hashable]]:
    """(every element read, elements read with no add invoked before the read completed)."""
    seen: set[Hashable] = set()
    unexpected: set[Hashable] = set()
    for read in reads:
        elements = _elements(read)
        seen |= elements
        unexpected |= {e for e in elements if not _invoked_before(adds, e, read)}
    return seen, unexpected


def _invoked_before(adds: _Adds, element: Hashable, read: Operation) -> bool:
    first = adds.first_invoke.get(element)
    return first is not None and read.complete_index is not None and first < read.complete_index


def _result(
    adds: _Adds,
    reads: list[Operation],
    final: Operation | None,
    lost: Iterable[Hashable],
    unexpected: Iterable[Hashable],
    failed_present: Iterable[Hashable],
    recovered: Iterable[Hashable],
) -> SetResult:
    lost, unexpected = _sorted(lost), _sorted(unexpected)
    failed_present, recovered = _sorted(failed_present), _sorted(recovered)
    violated = bool(lost or unexpected or failed_present)
    verdict = verdict_of(checked=final is not None, violated=violated)
    return SetResult(
        verdict=verdict,
        attempted_count=len(adds.first_invoke),
        acknowledged_count=len(adds.acknowledged),
        read_count=len(reads),
        final_read=final,
        lost=lost,
        unexpected=unexpected,
        failed_present=failed_present,
        recovered=recovered,
        lost_count=len(lost),
        unexpected_count=len(unexpected),
        failed_present_count=len(failed_present),
        recovered_count=len(recovered),
    )


def _sorted(elements: Iterable[Hashable]) -> tuple[Hashable, ...]:
    """Elements in natural order when comparable, else ordered by repr."""
    elements = list(elements)
    try:
        return tuple(sorted(elements))  # type: ignore[type-var]
    except TypeError:
        return tuple(sorted(elements, key=repr))
