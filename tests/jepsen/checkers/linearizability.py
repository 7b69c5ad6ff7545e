"""Linearizability checking of a history against a model, key by key.

`check_linearizability` pairs the history's client events into operations, prepares them
for the model, partitions them by key (P-compositionality: a history is linearizable iff
each key's sub-history is) and runs `search.search` on each key, smallest first, under
one deadline for the whole check.

Semantics of completions:

- ``ok``: took effect at some point between its invoke and its completion.
- ``fail``: did not take effect; removed.
- ``info``, or no completion: may have taken effect at any point after its invoke, or
  never; its completion is taken as +infinity and the search may leave it out.
- A read (the model's ``read_functions``) that did not complete ``ok`` constrains
  nothing and is removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tests.jepsen.checkers.models import MODELS, Model
from tests.jepsen.checkers.result import Verdict, combine_verdicts
from tests.jepsen.checkers.search import Interval, search
from tests.jepsen.history import Op, Operation, OpType, pair_operations

__all__ = ["KeyResult", "LinearizabilityResult", "check_linearizability"]

DEFAULT_TIME_LIMIT = 30.0  # seconds, for a whole check


@dataclass(frozen=True, slots=True)
class KeyResult:
    """The verdict for one key.

    For an INVALID key: ``longest_prefix`` is the deepest linearizable prefix the search
    reached, in linearization order; ``stuck`` is the operation whose completion was
    reached before it could be placed after that prefix; ``concurrent`` holds the
    operations of the key whose intervals overlap ``stuck``'s. They are empty/None
    otherwise. ``op_count`` counts the operations searched (after removals).
    """

    key: Any
    verdict: Verdict
    op_count: int
    longest_prefix: tuple[Operation, ...] = ()
    stuck: Operation | None = None
    concurrent: tuple[Operation, ...] = ()
    elapsed: float = 0.0

    @property
    def valid(self) -> bool | None:
        return self.verdict.valid


@dataclass(frozen=True, slots=True)
class LinearizabilityResult:
    """The verdict for a history: INVALID if any key is, else UNKNOWN if any key is.

    ``keys`` holds every key with operations left after the removals, in order of first
    invocation; keys not decided before the deadline are UNKNOWN. ``op_count`` counts
    client operations in the history and ``removed_count`` those removed before the
    search (fail ops, reads not ok).
    """

    verdict: Verdict
    model: str
    keys: tuple[KeyResult, ...]
    op_count: int
    removed_count: int
    elapsed: float

    @property
    def valid(self) -> bool | None:
        """True (linearizable), False (not), None (unknown: treat as a failure)."""
        return self.verdict.valid

    @property
    def violation(self) -> KeyResult | None:
        """The first INVALID key, if any."""
        return next((k for k in self.keys if k.verdict is Verdict.INVALID), None)


def check_linearizability(
    history: Iterable[Op], model: str | Model = "register", time_limit: float = DEFAULT_TIME_LIMIT
) -> LinearizabilityResult:
    """Check ``history`` against ``model`` (a name in MODELS or a Model).

    ``time_limit`` (seconds) bounds the whole check; keys undecided by then are UNKNOWN.
    Raises HistoryError if the history is malformed or has operations the model lacks.
    """
    started = time.monotonic()
    deadline = started + time_limit
    spec = MODELS[model] if isinstance(model, str) else model
    operations = pair_operations(history)
    kept = [op for op in operations if _is_searched(op, spec)]
    keys = _check_keys(spec, _by_key(kept), deadline)
    verdict = combine_verdicts([k.verdict for k in keys])
    return LinearizabilityResult(
        verdict=verdict,
        model=spec.name,
        keys=keys,
        op_count=len(operations),
        removed_count=len(operations) - len(kept),
        elapsed=time.monotonic() - started,
    )


def _is_searched(op: Operation, model: Model) -> bool:
    if op.type is OpType.FAIL:
        return False
    return op.type is OpType.OK or op.f not in model.read_functions


def _by_key(ops: Iterable[Operation]) -> list[tuple[Any, list[Operation]]]:
    """Operations grouped by key, keys in order of first appearance."""
    groups: dict[Any, list[Operation]] = {}
    for op in ops:
        groups.setdefault(op.key, []).append(op)
    return list(groups.items())


def _check_keys(
    model: Model, groups: list[tuple[Any, list[Operation]]], deadline: float
) -> tuple[KeyResult, ...]:
    """Check the smallest keys first, so that one hard key cannot starve easy ones of the
    shared deadline; return the results in the order of ``groups``."""
    results: dict[int, KeyResult] = {}
    for i in sorted(range(len(groups)), key=lambda i: len(groups[i][1])):
        key, ops = groups[i]
        results[i] = _check_key(model, key, ops, deadline)
    return tuple(results[i] for i in range(len(groups)))


def _interval(op: Operation) -> Interval:
    end = op.complete_index if op.type is OpType.OK else None
    return Interval(op.invoke_index, end)


def _check_key(model: Model, key: Any, ops: Sequence[Operation], deadline: float) -> KeyResult:
    started = time.monotonic()
    intervals = [_interval(op) for op in ops]
    outcome = search(model, [model.prepare(op) for op in ops], intervals, deadline)
    elapsed = time.monotonic() - started
    if outcome.verdict is not Verdict.INVALID or outcome.stuck is None:
        return KeyResult(key, outcome.verdict, len(ops), elapsed=elapsed)
    stuck = outcome.stuck
    return KeyResult(
        key=key,
        verdict=outcome.verdict,
        op_count=len(ops),
        longest_prefix=tuple(ops[i] for i in outcome.order),
        stuck=ops[stuck],
        concurrent=tuple(ops[i] for i in _overlapping(intervals, stuck)),
        elapsed=elapsed,
    )


def _overlapping(intervals: Sequence[Interval], target: int) -> list[int]:
    """Positions of the intervals that overlap ``intervals[target]`` (excluding it)."""
    mine = intervals[target]
    return [
        i
        for i, other in enumerate(intervals)
        if i != target
        and (mine.end is None or other.start < mine.end)
        and (other.end is None or other.end > mine.start)
    ]
