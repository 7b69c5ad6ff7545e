"""The Wing-Gong / Lowe linearizability search over one key, after Porcupine's checker.go.

Operations with a finite completion become a doubly linked list of call and return
entries in real-time order (a call before a return at equal times). A configuration is
(finite operations linearized F, indeterminate operations applied I, model state); the
calls still in the list before its first return are the finite operations that may be
linearized next. In each configuration the search tries, in this order:

1. reads among those calls (one legal read is enough, see "Reads");
2. the other calls, in list order;
3. the indeterminate operations (completion at +infinity) invoked no later than that
   first return, in invocation order.

A move the model allows and that reaches an undominated configuration (see "Memo") is
pushed on an explicit stack as a frame; a finite operation's call and return are
unlinked ("lift") and the scan restarts from the head. When no move is left, the search
backtracks: it pops the frame, relinks (or un-applies) its operation and tries the next
move of the parent configuration. An empty list means every finite operation is
linearized; indeterminate operations not applied may never have taken effect, so the
history is linearizable. An empty stack with no move left means it is not.

Memo: (F, I, s) is dominated by (F, I', s) when I' is a subset of I, since indeterminate
operations can always be skipped: every continuation of the first is open to the second.
The memo maps (F, s) to the minimal I sets seen and prunes dominated configurations; with
no indeterminate operations it is Porcupine's (bitset, state) cache. Trying finite calls
before indeterminate operations visits small I first, which makes pruning effective.

Symmetry: identical indeterminate operations (same function and value) are
interchangeable, so one is applied only after every earlier-invoked twin.

Chains: applying indeterminate Y right after indeterminate X is skipped when Y alone
(from the state before X) would reach the same state, e.g. two writes in a row: that
configuration is dominated by the sibling that applies Y alone.

Reads: a read (a model ``read_functions`` operation, which never changes the state) that
is legal now can be moved to the front of any valid continuation: the move leaves every
state unchanged, and its call precedes every pending return. So in a configuration where
a read is legal the search tries only that read; if the read's configuration fails (now,
or already before), so does this one.

Complexity: exponential in the worst case (the problem is NP-complete); each configuration
kept costs a scan of the list, O(n), plus the indeterminate candidates. See DESIGN.md.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from tests.jepsen.checkers.models import Model, ModelOp
from tests.jepsen.checkers.result import Verdict

__all__ = ["Interval", "SearchOutcome", "search"]

_END = -1
_CLOCK_EVERY = 64  # iterations between deadline checks
_READS, _CALLS, _PENDING = 0, 1, 2  # what the search is scanning for in a configuration


@dataclass(frozen=True, slots=True)
class Interval:
    """When an operation was invoked and completed; ``end`` None means never (+infinity)."""

    start: int
    end: int | None


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """The verdict for one key, with operation numbers (positions in the input).

    VALID: ``order`` is a linearization (of all operations with a finite end, and of the
    indeterminate ones that took effect). INVALID: ``order`` is the longest linearizable
    prefix found and ``stuck`` the operation whose return was reached before it could be
    placed after that prefix. UNKNOWN (deadline passed): ``order`` is empty.
    """

    verdict: Verdict
    order: tuple[int, ...]
    stuck: int | None
    iterations: int


@dataclass(slots=True)
class _Links:
    """The list of finite operations: entry i < size is a call or return; ``head`` = size."""

    op_of: list[int]
    is_call: list[bool]
    time: list[int]  # the event's time (a return's time bounds indeterminate candidates)
    match: list[int]  # call entry -> its return entry
    nxt: list[int]
    prv: list[int]

    @property
    def head(self) -> int:
        return len(self.op_of)

    def lift(self, call: int) -> None:
        """Unlink a call entry and its return entry."""
        nxt, prv = self.nxt, self.prv
        nxt[prv[call]] = nxt[call]
        prv[nxt[call]] = prv[call]
        ret = self.match[call]
        nxt[prv[ret]] = nxt[ret]
        if nxt[ret] != _END:
            prv[nxt[ret]] = prv[ret]

    def unlift(self, call: int) -> None:
        """Relink what `lift` unlinked; lifts must be undone in reverse order."""
        nxt, prv = self.nxt, self.prv
        ret = self.match[call]
        nxt[prv[ret]] = ret
        if nxt[ret] != _END:
            prv[nxt[ret]] = ret
        nxt[prv[call]] = call
        prv[nxt[call]] = call


def _link(intervals: Sequence[Interval]) -> _Links:
    """The entries of the operations with a finite end, in time order."""
    events = []  # (time, kind: 0 call / 1 return, op)
    for op, interval in enumerate(intervals):
        if interval.end is not None:
            events += [(interval.start, 0, op), (interval.end, 1, op)]
    events.sort()
    size = len(events)
    nxt = [*range(1, size), _END, 0] if size else [_END]
    prv = [size, *range(size - 1), _END] if size else [_END]
    links = _Links(
        op_of=[op for _, _, op in events],
        is_call=[kind == 0 for _, kind, _ in events],
        time=[at for at, _, _ in events],
        match=[_END] * size,
        nxt=nxt,
        prv=prv,
    )
    call_entry = {}
    for entry, (_, kind, op) in enumerate(events):
        if kind == 0:
            call_entry[op] = entry
        else:
            links.match[call_entry[op]] = entry
    return links


def _twins(ops: Sequence[ModelOp], pending: Sequence[int]) -> list[int]:
    """For each op in ``pending`` (in invocation order), the previous identical one, or -1."""
    twin = [-1] * len(ops)
    last: dict[ModelOp, int] = {}
    for op in pending:
        twin[op] = last.get(ops[op], -1)
        last[ops[op]] = op
    return twin


class _Memo:
    """Configurations seen: (finite set, state) -> the minimal indeterminate sets."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, Hashable], list[int]] = {}

    def fresh(self, finite: int, applied: int, state: Hashable) -> bool:
        """Record the configuration; False if it is dominated by one seen before."""
        seen = self._seen.setdefault((finite, state), [])
        if any(old & applied == old for old in seen):
            return False
        seen[:] = [old for old in seen if old & applied != applied]
        seen.append(applied)
        return True


def search(
    model: Model, ops: Sequence[ModelOp], intervals: Sequence[Interval], deadline: float
) -> SearchOutcome:
    """Decide whether ``ops`` (one key) are linearizable under ``model``.

    ``intervals[i]`` is when ``ops[i]`` was pending. Gives up with UNKNOWN once
    ``time.monotonic()`` reaches ``deadline`` (checked every 64 steps, and first at once).
    """
    if not ops:
        return SearchOutcome(Verdict.VALID, (), None, 0)
    return _Search(model, ops, intervals, deadline).run()


class _Search:
    """The mutable state of one search; `run` is the loop of the module docstring.

    A stack frame is (op, state before it, call entry or -1, return entry, candidate
    number, forced): a finite operation records its call entry; an indeterminate one
    records the return entry whose candidates were being tried and its position among
    them. ``forced`` marks a read: when its subtree fails, its parent fails too.
    """

    def __init__(
        self, model: Model, ops: Sequence[ModelOp], intervals: Sequence[Interval], deadline: float
    ):
        self.model, self.ops, self.deadline = model, ops, deadline
        self.links = _link(intervals)
        self.pending = sorted(
            (i for i, iv in enumerate(intervals) if iv.end is None),
            key=lambda i: (intervals[i].start, i),
        )
        self.pending_start = [intervals[i].start for i in self.pending]
        self.twin = _twins(ops, self.pending)
        self.bits = [1 << i for i in range(len(ops))]
        self.is_read = [op.f in model.read_functions for op in ops]
        self.stack: list[tuple[int, Hashable, int, int, int, bool]] = []
        self.best: tuple[int, ...] = ()
        self.stuck: int | None = None

    def run(self) -> SearchOutcome:  # one loop, kept whole: it is the hot path
        links, ops, bits, twin, stack = self.links, self.ops, self.bits, self.twin, self.stack
        op_of, is_call, nxt, head = links.op_of, links.is_call, links.nxt, links.head
        pending, pending_start, is_read = self.pending, self.pending_start, self.is_read
        step, fresh = self.model.step, _Memo().fresh
        state, finite, applied, iterations = self.model.init(), 0, 0, 0
        mode, entry, ret, candidate = _READS, nxt[head], -1, 0
        while True:
            if iterations % _CLOCK_EVERY == 0 and time.monotonic() >= self.deadline:
                return SearchOutcome(Verdict.UNKNOWN, (), None, iterations)
            iterations += 1
            if mode == _READS:  # a legal read, if any, is the only move worth trying
                if entry == _END:
                    order = tuple(frame[0] for frame in stack)
                    return SearchOutcome(Verdict.VALID, order, None, iterations)
                op = op_of[entry]
                if not is_call[entry]:
                    mode, entry = _CALLS, nxt[head]
                    continue
                if not is_read[op] or not step(state, ops[op])[0]:
                    entry = nxt[entry]
                    continue
                if fresh(finite | bits[op], applied, state):
                    stack.append((op, state, entry, -1, 0, True))
                    finite |= bits[op]
                    links.lift(entry)
                    entry = nxt[head]
                    continue
                # This configuration's read subtree was explored and failed: backtrack.
            elif mode == _CALLS:  # no read is legal here; try each other call in turn
                if not is_call[entry]:
                    mode, ret, candidate = _PENDING, entry, 0
                    continue
                op = op_of[entry]
                if not is_read[op]:
                    legal, new_state = step(state, ops[op])
                    if legal and fresh(finite | bits[op], applied, new_state):
                        stack.append((op, state, entry, -1, 0, False))
                        state, finite = new_state, finite | bits[op]
                        links.lift(entry)
                        mode, entry = _READS, nxt[head]
                        continue
                entry = nxt[entry]
                continue
            elif candidate < len(pending) and pending_start[candidate] <= links.time[ret]:
                op = pending[candidate]
                if not applied & bits[op] and (twin[op] < 0 or applied & bits[twin[op]]):
                    legal, new_state = step(state, ops[op])
                    if (
                        legal
                        and not self._replaces_last(op, new_state)
                        and fresh(finite, applied | bits[op], new_state)
                    ):
                        stack.append((op, state, -1, ret, candidate, False))
                        state, applied = new_state, applied | bits[op]
                        mode, entry = _READS, nxt[head]
                        continue
                candidate += 1
                continue
            else:
                self._note_dead_end(op_of[ret])
            forced = True
            while forced:  # backtrack past read frames: their failure fails their parent
                if not stack:
                    return SearchOutcome(Verdict.INVALID, self.best, self.stuck, iterations)
                op, state, call, ret, candidate, forced = stack.pop()
                if call >= 0:
                    finite ^= bits[op]
                    links.unlift(call)
                    mode, entry = _CALLS, nxt[call]
                else:
                    applied ^= bits[op]
                    mode, candidate = _PENDING, candidate + 1

    def _replaces_last(self, op: int, new_state: Hashable) -> bool:
        """True if the configuration was reached by applying an indeterminate operation X
        and applying ``op`` in place of X reaches ``new_state`` too. The configuration with
        both is then dominated by its sibling with ``op`` alone (or, when ``op`` is X's
        twin, by the current one), which the search explores anyway."""
        if not self.stack or self.stack[-1][2] >= 0:
            return False
        legal, instead = self.model.step(self.stack[-1][1], self.ops[op])
        return legal and instead == new_state

    def _note_dead_end(self, stuck: int) -> None:
        """Remember the deepest prefix, and the operation that could not follow it."""
        if self.stuck is None or len(self.stack) > len(self.best):
            self.best = tuple(frame[0] for frame in self.stack)
            self.stuck = stuck
