"""The bank checker: every snapshot of the accounts conserves money and has no debt.

Operations: ``transfer`` (value ``{"from": a, "to": b, "amount": n}``) and ``read`` (ok
value ``{account: balance}``). Each ok read must sum to the initial total (a parameter:
the harness knows what it seeded) and show no negative balance. Transfers are not checked
themselves: their effects are judged through the reads. Valid iff no read is bad; UNKNOWN
if there is no ok read. Runs in O(total size of reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.jepsen.checkers.result import Verdict, verdict_of
from tests.jepsen.history import HistoryError, Op, Operation, OpType, pair_operations

__all__ = ["BadRead", "BankResult", "check_bank"]


@dataclass(frozen=True, slots=True)
class BadRead:
    """An ok read that breaks an invariant. ``total`` is None when the value is malformed."""

    read: Operation
    total: int | None
    negative: tuple[Any, ...]  # accounts with a negative balance
    reason: str


@dataclass(frozen=True, slots=True)
class BankResult:
    """Verdict of `check_bank` and the bad reads, in history order."""

    verdict: Verdict
    expected_total: int
    read_count: int
    bad_reads: tuple[BadRead, ...]

    @property
    def valid(self) -> bool | None:
        return self.verdict.valid


def check_bank(history: Iterable[Op], total: int) -> BankResult:
    """Check a bank history whose accounts held ``total`` in all at the start.

    Raises HistoryError for functions other than transfer/read.
    """
    ops = pair_operations(history)
    other = {op.f for op in ops} - {"transfer", "read"}
    if other:
        raise HistoryError(f"the bank checker has no function(s) {sorted(other)}")
    reads = [op for op in ops if op.f == "read" and op.type is OpType.OK]
    bad = tuple(b for b in (_judge(read, total) for read in reads) if b is not None)
    verdict = verdict_of(checked=bool(reads), violated=bool(bad))
    return BankResult(verdict, total, len(reads), bad)


def _judge(read: Operation, expected: int) -> BadRead | None:
    """The BadRead for ``read``, or None if it conserves ``expected`` with no debt."""
    balances = read.value
    if not isinstance(balances, dict) or not all(_is_int(v) for v in balances.values()):
        return BadRead(read, None, (), "value is not a map of integer balances")
    total = sum(balances.values())
    negative = tuple(a for a, v in balances.items() if v < 0)
    reasons = []
    if total != expected:
        reasons.append(f"total {total} != {expected}")
    if negative:
        reasons.append(f"negative balance in {list(negative)}")
    return BadRead(read, total, negative, "; ".join(reasons)) if reasons else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
