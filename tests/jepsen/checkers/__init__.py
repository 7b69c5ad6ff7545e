"""Checkers of recorded histories; every result is a frozen dataclass with ``verdict``/``valid``.

- `check_linearizability` (with the `MODELS` ``register`` and ``kv``): Wing-Gong/Lowe search.
- `check_set`, `check_set_full`, `check_bank`, `check_counter`: workload invariants.
- `check_history` picks the checker by workload name (or `infer_workload`).
- `to_jsonable` renders any result for results.json; `explain` gives a few readable lines.

``valid`` is True, False or None (unknown); only ``valid is True`` is a pass.
"""

from tests.jepsen.checkers.bank import BadRead, BankResult, check_bank
from tests.jepsen.checkers.counter import CounterResult, CounterViolation, check_counter
from tests.jepsen.checkers.explain import describe_operation, explain
from tests.jepsen.checkers.linearizability import (
    DEFAULT_TIME_LIMIT,
    KeyResult,
    LinearizabilityResult,
    check_linearizability,
)
from tests.jepsen.checkers.models import MODELS, KVModel, Model, ModelOp, RegisterModel
from tests.jepsen.checkers.result import Verdict, combine_verdicts, to_jsonable
from tests.jepsen.checkers.set_full import Missing, SetFullResult, check_set_full
from tests.jepsen.checkers.sets import SetResult, check_set
from tests.jepsen.checkers.workloads import (
    LINEARIZABLE_WORKLOADS,
    WORKLOADS,
    CheckResult,
    check_history,
    infer_workload,
)

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "LINEARIZABLE_WORKLOADS",
    "MODELS",
    "WORKLOADS",
    "BadRead",
    "BankResult",
    "CheckResult",
    "CounterResult",
    "CounterViolation",
    "KVModel",
    "KeyResult",
    "LinearizabilityResult",
    "Missing",
    "Model",
    "ModelOp",
    "RegisterModel",
    "SetFullResult",
    "SetResult",
    "Verdict",
    "check_bank",
    "check_counter",
    "check_history",
    "check_linearizability",
    "check_set",
    "check_set_full",
    "combine_verdicts",
    "describe_operation",
    "explain",
    "infer_workload",
    "to_jsonable",
]
