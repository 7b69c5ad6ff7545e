"""The per-read set checker (Jepsen's ``set-full``): every read must hold what was known
before it began, not only the final one.

Operations: ``add`` (invoke value: the element) and ``read`` (ok value: a list of
elements). Keys are ignored: the adds and reads of one history are one set. Unlike
`check_set`, which judges only the final read, every ok read is judged against the
moment it was *invoked*: reads are linearizable (a scan or an index query at LINEARIZE),
so a read that began after an element was known to be in the set must return it.

An element is *known* from the earliest of: the completion of an ok add of it, and the
completion of an ok read that returned it (something in the set was certainly written).

- lost: an element whose add completed ok before a read was invoked, missing from that read.
- unstable: an element an earlier ok read returned (its add not yet acknowledged), missing
  from a read invoked after that earlier read completed.
- unexpected (phantoms): elements of an ok read for which no add was invoked before that
  read completed.
- failed_present: elements whose every add failed (definitely not added) that an ok read
  returned.
- Elements of indeterminate adds (info, never completed) may or may not appear, until a
  read returns one (then it is known).

Reads that did not complete ok constrain nothing (a failed scan is not an empty set).
Valid iff lost, unstable, unexpected and failed_present are all empty; UNKNOWN if there is
no ok read. O(reads x elements) in the worst case, with a set lookup per known element.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from tests.jepsen.checkers.models import freeze
from tests.jepsen.checkers.result import Verdict, verdict_of
from tests.jepsen.history import HistoryError, Op, Operation, OpType, pair_operations

__all__ = ["Missing", "SetFullResult", "check_set_full"]

EXAMPLES = 10  # violations kept as evidence (the counts cover all of them)


@dataclass(frozen=True, slots=True)
class Missing:
    """One element missing from one read: when it became known and how."""

    element: Hashable
    read: Operation
    known_at: int  # event index from which the element was known
    how: str  # "acknowledged" or "observed"


@dataclass(frozen=True, slots=True)
class SetFullResult:
    """Verdict and evidence of `check_set_full`; element tuples are sorted."""

    verdict: Verdict
    attempted_count: int  # distinct elements of invoked adds
    acknowledged_count: int  # distinct elements of ok adds
    read_count: int  # ok reads judged
    lost: tuple[Hashable, ...]  # acknowledged, then missing from a later-started read
    unstable: tuple[Hashable, ...]  # observed, then missing from a later-started read
    unexpected: tuple[Hashable, ...]
    failed_present: tuple[Hashable, ...]
    missing_examples: tuple[Missing, ...]  # the first EXAMPLES misses, in read order
    lost_count: int
    unstable_count: int
    unexpected_count: int
    failed_present_count: int

    @property
    def valid(self) -> bool | None:
        return self.verdict.valid


@dataclass(slots=True)
class _Known:
    """Elements ordered by the event index from which each is known."""

    at: dict[Hashable, int]
    how: dict[Hashable, str]

    def ordered(self) -> tuple[list[int], list[Hashable]]:
        pairs = sorted((index, repr(e), e) for e, index in self.at.items())
        return [p[0] for p in pairs], [p[2] for p in pairs]


def check_set_full(history: Iterable[Op]) -> SetFullResult:
    """Check every read of a set history (module docstring). Raises HistoryError for
    functions other than add/read or an ok read whose value is not a list."""
    ops = pair_operations(history)
    other = {op.f for op in ops} - {"add", "read"}
    if other:
        raise HistoryError(f"the set-full checker has no function(s) {sorted(other)}")
    adds = [op for op in ops if op.f == "add"]
    reads = sorted(
        (op for op in ops if op.f == "read" and op.type is OpType.OK),
        key=lambda r: r.invoke_index,
    )
    contents = [_elements(r) for r in reads]
    first_invoke, acked_at, possible = _summarise_adds(adds)
    known = _known(acked_at, reads, contents)
    indexes, ordered = known.ordered()
    missing: list[Missing] = []
    lost: set[Hashable] = set()
    unstable: set[Hashable] = set()
    unexpected: set[Hashable] = set()
    seen: set[Hashable] = set()
    for read, elements in zip(reads, contents, strict=True):
        seen |= elements
        unexpected |= {e for e in elements if not _invoked_before(first_invoke, e, read)}
        for element in ordered[: bisect.bisect_left(indexes, read.invoke_index)]:
            if element not in elements:
                how = known.how[element]
                (lost if how == "acknowledged" else unstable).add(element)
                if len(missing) < EXAMPLES:
                    missing.append(Missing(element, read, known.at[element], how))
    failed_present = (seen & first_invoke.keys()) - possible
    violated = bool(lost or unstable or unexpected or failed_present)
    return SetFullResult(
        verdict=verdict_of(checked=bool(reads), violated=violated),
        attempted_count=len(first_invoke),
        acknowledged_count=len(acked_at),
        read_count=len(reads),
        lost=_sorted(lost),
        unstable=_sorted(unstable),
        unexpected=_sorted(unexpected),
        failed_present=_sorted(failed_present),
        missing_examples=tuple(missing),
        lost_count=len(lost),
        unstable_count=len(unstable),
        unexpected_count=len(unexpected),
        failed_present_count=len(failed_present),
    )


def _summarise_adds(
    adds: Iterable[Operation],
) -> tuple[dict[Hashable, int], dict[Hashable, int], set[Hashable]]:
    """(element -> first invoke index, element -> earliest ok completion, non-failed)."""
    first_invoke: dict[Hashable, int] = {}
    acked_at: dict[Hashable, int] = {}
    possible: set[Hashable] = set()
    for op in adds:
        element = freeze(op.invoke.value)
        first_invoke[element] = min(op.invoke_index, first_invoke.get(element, op.invoke_index))
        if op.type is not OpType.FAIL:
            possible.add(element)
        if op.type is OpType.OK and op.complete_index is not None:
            acked_at[element] = min(op.complete_index, acked_at.get(element, op.complete_index))
    return first_invoke, acked_at, possible


def _known(
    acked_at: dict[Hashable, int], reads: list[Operation], contents: list[frozenset[Hashable]]
) -> _Known:
    at = dict(acked_at)
    how = dict.fromkeys(acked_at, "acknowledged")
    for read, elements in zip(reads, contents, strict=True):
        done = read.complete_index
        assert done is not None  # an ok read has completed
        for element in elements:
            if done < at.get(element, done + 1):
                at[element], how[element] = done, "observed"
    return _Known(at, how)


def _elements(read: Operation) -> frozenset[Hashable]:
    if not isinstance(read.value, list):
        raise HistoryError(f"read at index {read.invoke_index} must return a list")
    return frozenset(freeze(e) for e in read.value)


def _invoked_before(first_invoke: dict[Hashable, int], element: Hashable, read: Operation) -> bool:
    first = first_invoke.get(element)
    return first is not None and read.complete_index is not None and first < read.complete_index


def _sorted(elements: Iterable[Hashable]) -> tuple[Hashable, ...]:
    elements = list(elements)
    try:
        return tuple(sorted(elements))  # type: ignore[type-var]
    except TypeError:
        return tuple(sorted(elements, key=repr))
