"""Choosing the checker for a history: workload names, inference, and one dispatch call.

Workloads: ``register`` and ``kv`` (linearizability against the model of that name),
``set``, ``set-full`` (every read judged, for scans and index queries), ``bank`` and
``counter``. `infer_workload` guesses from the functions invoked:
transfer means bank; read/write/cas register; get/put/append kv; add means set when ok
reads return lists and counter when they return integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from tests.jepsen.checkers.bank import BankResult, check_bank
from tests.jepsen.checkers.counter import CounterResult, check_counter
from tests.jepsen.checkers.linearizability import (
    DEFAULT_TIME_LIMIT,
    LinearizabilityResult,
    check_linearizability,
)
from tests.jepsen.checkers.set_full import SetFullResult, check_set_full
from tests.jepsen.checkers.sets import SetResult, check_set
from tests.jepsen.history import HistoryError, Op, OpType, is_client_event

__all__ = ["LINEARIZABLE_WORKLOADS", "WORKLOADS", "CheckResult", "check_history", "infer_workload"]

WORKLOADS: Final = ("register", "kv", "set", "set-full", "bank", "counter")
LINEARIZABLE_WORKLOADS: Final = frozenset({"register", "kv"})
_REGISTER: Final = frozenset({"read", "write", "cas"})
_KV: Final = frozenset({"get", "put", "append"})

CheckResult = LinearizabilityResult | SetResult | SetFullResult | BankResult | CounterResult


def infer_workload(history: Sequence[Op]) -> str:
    """The workload of ``history`` (``register`` if it has no client operation).

    Raises HistoryError when the functions fit no workload, or an add-and-read history has
    no ok read with a list or integer value to tell set from counter.
    """
    client = [op for op in history if is_client_event(op)]
    functions = {op.f for op in client}
    if "transfer" in functions and functions <= {"transfer", "read"}:
        return "bank"
    if functions <= _REGISTER:
        return "register"
    if functions <= _KV:
        return "kv"
    if "add" in functions and functions <= {"add", "read"}:
        return _set_or_counter(op for op in client if op.f == "read" and op.type == OpType.OK)
    raise HistoryError(f"no workload has the functions {sorted(functions)}")


def _set_or_counter(reads: Iterable[Op]) -> str:
    for read in reads:
        if isinstance(read.value, list):
            return "set"
        if isinstance(read.value, int) and not isinstance(read.value, bool):
            return "counter"
    raise HistoryError("cannot tell a set history from a counter one without an ok read")


def check_history(
    history: Sequence[Op],
    workload: str | None = None,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    bank_total: int | None = None,
    counter_initial: int = 0,
) -> CheckResult:
    """Run the checker of ``workload`` (inferred when None) on ``history``.

    ``time_limit`` applies to linearizability checks; ``bank_total`` is required for bank.
    Raises ValueError for an unknown workload or a missing bank total, HistoryError for a
    malformed history.
    """
    workload = workload or infer_workload(history)
    if workload in LINEARIZABLE_WORKLOADS:
        return check_linearizability(history, workload, time_limit)
    if workload == "set":
        return check_set(history)
    if workload == "set-full":
        return check_set_full(history)
    if workload == "counter":
        return check_counter(history, counter_initial)
    if workload == "bank":
        if bank_total is None:
            raise ValueError("the bank checker needs the initial total (bank_total)")
        return check_bank(history, bank_total)
    raise ValueError(f"unknown workload {workload!r}; expected one of {WORKLOADS}")
