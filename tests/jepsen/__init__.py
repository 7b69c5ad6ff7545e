"""The Jepsen-style test suite of raftstore: history formats and checkers.

Public API (see DESIGN.md):

- Recording: `HistoryWriter` (``invoke`` / ``complete`` / ``event``), `write_jsonl`.
- Reading: `read_history` (detects JSONL, Jepsen etcd logs and EDN), `read_jsonl`.
- Checking: `check_history` (by workload), `check_linearizability`, `check_set`,
  `check_bank`, `check_counter`; results render with `to_jsonable` and `explain`.

Run ``python -m tests.jepsen check PATH...`` to check history files.
"""

from tests.jepsen.checkers import (
    DEFAULT_TIME_LIMIT,
    MODELS,
    WORKLOADS,
    CheckResult,
    LinearizabilityResult,
    Verdict,
    check_bank,
    check_counter,
    check_history,
    check_linearizability,
    check_set,
    explain,
    infer_workload,
    to_jsonable,
)
from tests.jepsen.formats import detect_format, read_history
from tests.jepsen.history import (
    UNSET,
    HistoryError,
    HistoryWriter,
    Op,
    Operation,
    OpType,
    pair_operations,
    read_jsonl,
    write_jsonl,
)

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "MODELS",
    "UNSET",
    "WORKLOADS",
    "CheckResult",
    "HistoryError",
    "HistoryWriter",
    "LinearizabilityResult",
    "Op",
    "OpType",
    "Operation",
    "Verdict",
    "check_bank",
    "check_counter",
    "check_history",
    "check_linearizability",
    "check_set",
    "detect_format",
    "explain",
    "infer_workload",
    "pair_operations",
    "read_history",
    "read_jsonl",
    "to_jsonable",
    "write_jsonl",
]
