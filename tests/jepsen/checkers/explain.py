"""Short human-readable explanations of checker results (the CLI prints them on stderr).

`explain` returns a few lines per problem; the full evidence is in the result itself
(`result.to_jsonable` renders it for results.json).
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.jepsen.checkers.bank import BankResult
from tests.jepsen.checkers.linearizability import KeyResult, LinearizabilityResult
from tests.jepsen.checkers.result import Verdict
from tests.jepsen.checkers.set_full import SetFullResult
from tests.jepsen.checkers.sets import SetResult
from tests.jepsen.checkers.workloads import CheckResult
from tests.jepsen.history import Operation

__all__ = ["describe_operation", "explain"]


def describe_operation(op: Operation) -> str:
    """One line: process, function, key, value, outcome and its event indices."""
    end = "..." if op.complete_index is None else op.complete_index
    key = "" if op.key is None else f" key={op.key!r}"
    outcome = f"{op.type.value} [{op.invoke_index}-{end}]"
    return f"process {op.process} {op.f}{key} {op.value!r} {outcome}"


def explain(result: CheckResult, limit: int = 5) -> str:
    """Lines describing why ``result`` is not valid ("" when it is valid)."""
    if result.verdict is Verdict.VALID:
        return ""
    if result.verdict is Verdict.UNKNOWN:
        return _explain_unknown(result)
    if isinstance(result, LinearizabilityResult):
        return "\n".join(_explain_key(k, limit) for k in result.keys if k.valid is False)
    if isinstance(result, SetResult):
        return _explain_set(result, limit)
    if isinstance(result, SetFullResult):
        return _explain_set_full(result, limit)
    if isinstance(result, BankResult):
        return _lines(
            f"{len(result.bad_reads)} bad read(s):",
            result.bad_reads,
            limit,
            lambda b: f"{b.reason}: {describe_operation(b.read)}",
        )
    return _lines(
        f"{len(result.violations)} read(s) out of bounds:",
        result.violations,
        limit,
        lambda v: f"{v.value!r} not in [{v.lower}, {v.upper}]: {describe_operation(v.read)}",
    )


def _explain_unknown(result: CheckResult) -> str:
    if isinstance(result, LinearizabilityResult):
        undecided = sum(1 for k in result.keys if k.valid is None)
        return f"time limit reached with {undecided} key(s) undecided"
    return "nothing to check: no ok read"


def _explain_key(key: KeyResult, limit: int) -> str:
    assert key.stuck is not None  # an INVALID KeyResult always names it
    prefix = key.longest_prefix
    lines = [
        f"key {key.key!r}: not linearizable ({key.op_count} operations searched)",
        f"  cannot linearize: {describe_operation(key.stuck)}",
        f"  longest linearizable prefix: {len(prefix)} operation(s), ending with:",
        *(f"    {describe_operation(op)}" for op in prefix[-limit:]),
        f"  concurrent with it: {len(key.concurrent) or 'no'} operation(s)"
        + (":" if key.concurrent else ""),
        *(f"    {describe_operation(op)}" for op in key.concurrent[:limit]),
    ]
    return "\n".join(lines)


def _explain_set(result: SetResult, limit: int) -> str:
    parts = [
        ("lost (acknowledged, missing from the final read)", result.lost),
        ("unexpected (read but never added)", result.unexpected),
        ("failed adds present", result.failed_present),
    ]
    lines = [f"{len(found)} {label}: {list(found[:limit])}" for label, found in parts if found]
    return "\n".join(lines)


def _explain_set_full(result: SetFullResult, limit: int) -> str:
    parts = [
        ("lost (acknowledged before a read began, missing from it)", result.lost),
        ("unstable (returned by a read, missing from a later one)", result.unstable),
        ("unexpected (read but never added)", result.unexpected),
        ("failed adds present", result.failed_present),
    ]
    lines = [f"{len(found)} {label}: {list(found[:limit])}" for label, found in parts if found]
    lines += [
        f"  {m.element!r} ({m.how} at index {m.known_at}) missing from the read of process "
        f"{m.read.process} [{m.read.invoke_index}-{m.read.complete_index}] "
        f"({len(m.read.value)} elements)"
        for m in result.missing_examples[:limit]
    ]
    return "\n".join(lines)


def _lines(title: str, items: Sequence[object], limit: int, render) -> str:
    return "\n".join([title, *(f"  {render(item)}" for item in items[:limit])])
