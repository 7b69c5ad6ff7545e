"""Verdicts shared by all checkers, and `to_jsonable`, which renders any checker result.

Every checker result is a frozen dataclass with a ``verdict`` field and a ``valid``
property: True (valid), False (a violation was found) or None (unknown: the checker ran
out of time or had nothing to check). Callers must treat anything but ``valid is True`` as
a failure. A `Verdict` refuses to be used as a bool, so ``if result.verdict:`` raises
instead of silently passing an unknown result.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

from tests.jepsen.history import Op, Operation, op_to_dict

__all__ = ["Verdict", "combine_verdicts", "to_jsonable", "verdict_of"]


class Verdict(Enum):
    """The outcome of a check. Compare with ``is``; truth-testing raises TypeError."""

    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"

    @property
    def valid(self) -> bool | None:
        """True, False, or None for UNKNOWN."""
        return {"valid": True, "invalid": False, "unknown": None}[self.value]

    def __bool__(self) -> bool:
        raise TypeError("a Verdict has no truth value; compare it with Verdict.VALID")


def combine_verdicts(verdicts: list[Verdict]) -> Verdict:
    """INVALID if any is INVALID, else UNKNOWN if any is UNKNOWN, else VALID (also if empty)."""
    if Verdict.INVALID in verdicts:
        return Verdict.INVALID
    if Verdict.UNKNOWN in verdicts:
        return Verdict.UNKNOWN
    return Verdict.VALID


def verdict_of(*, checked: bool, violated: bool) -> Verdict:
    """UNKNOWN if nothing was checked, else INVALID if a violation was found, else VALID."""
    if not checked:
        return Verdict.UNKNOWN
    return Verdict.INVALID if violated else Verdict.VALID


def to_jsonable(value: Any) -> Any:
    """Render a checker result (or any part of one) as JSON-compatible data.

    Dataclasses become dicts of their fields plus ``valid`` when they have it; an Operation
    becomes a summary dict; an Op its JSONL object; enums their value; tuples, lists and
    sets lists (sets sorted by repr); mappings dicts with string keys; an infinite float
    None. Other values pass through unchanged.
    """
    if isinstance(value, Operation):
        return _operation_dict(value)
    if isinstance(value, Op):
        return to_jsonable(op_to_dict(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_dict(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {_json_key(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return [to_jsonable(v) for v in sorted(value, key=repr)]
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def _dataclass_dict(value: Any) -> dict[str, Any]:
    result = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "valid"):
        result["valid"] = value.valid
    return result


def _operation_dict(op: Operation) -> dict[str, Any]:
    completion = op.completion
    return {
        "process": op.process,
        "f": op.f,
        "key": to_jsonable(op.key),
        "value": to_jsonable(op.value),
        "type": op.type.value,
        "invoke_index": op.invoke_index,
        "complete_index": op.complete_index,
        "error": None if completion is None else completion.error,
    }


def _json_key(key: Any) -> str:
    """JSON object keys must be strings: a non-string key is rendered as its JSON text."""
    return key if isinstance(key, str) else json.dumps(to_jsonable(key), default=repr)
