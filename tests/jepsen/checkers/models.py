"""Sequential specifications (models) for the linearizability checker.

A model is a pure object: `Model.init` gives the initial state and `Model.step` says
whether an operation is legal in a state and what state follows. States must be hashable
(the search memoises them) and are never mutated. A model describes one key; the checker
partitions a history by key and runs the model on each key separately.

`Model.prepare` turns a history `Operation` into the `ModelOp` that `step` consumes,
validating it once so that `step` (the hot path) can trust its input. The value of a
read is the one it returned; the value of any other operation is the one it was invoked
with.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from tests.jepsen.history import HistoryError, Operation

__all__ = ["MODELS", "KVModel", "Model", "ModelOp", "RegisterModel", "freeze"]


@dataclass(frozen=True, slots=True)
class ModelOp:
    """What a model sees of an operation: its function and its (hashable) value."""

    f: str
    value: Hashable


class Model(Protocol):
    """A sequential specification of one key."""

    name: str
    read_functions: frozenset[str]  # functions that only observe; dropped unless ok

    def init(self) -> Hashable:
        """The state of a key before any operation."""
        ...

    def prepare(self, op: Operation) -> ModelOp:
        """The ModelOp of ``op``; raise HistoryError if the model cannot check it."""
        ...

    def step(self, state: Hashable, op: ModelOp) -> tuple[bool, Hashable]:
        """(legal, next state): whether ``op`` may take effect in ``state``, and the result."""
        ...


def freeze(value: Any) -> Hashable:
    """A hashable equivalent of a JSON value: lists become tuples, dicts sorted item tuples."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((freeze(k), freeze(v)) for k, v in value.items()))
    return value


class RegisterModel:
    """A read/write/compare-and-set register; the initial state None means "absent".

    ``read`` of v is legal iff the state is v (a read of None observes absence); ``write``
    v sets v; ``cas`` with value [old, new] is legal iff the state is old, and sets new.
    """

    name = "register"
    read_functions = frozenset({"read"})

    def init(self) -> Hashable:
        return None

    def prepare(self, op: Operation) -> ModelOp:
        value = freeze(op.value if op.f == "read" else op.invoke.value)
        if op.f == "cas" and not (isinstance(value, tuple) and len(value) == 2):
            raise HistoryError(f"cas at index {op.invoke_index} needs a value [old, new]")
        if op.f not in ("read", "write", "cas"):
            raise HistoryError(f"the register model has no function {op.f!r}")
        return ModelOp(op.f, value)

    def step(self, state: Hashable, op: ModelOp) -> tuple[bool, Hashable]:
        if op.f == "read":
            return state == op.value, state
        if op.f == "write":
            return True, op.value
        old, new = op.value  # type: ignore[misc]  # prepare() checked the shape
        return (True, new) if state == old else (False, state)


class KVModel:
    """One key of a string map: ``get`` returns the string (initially ""), ``put`` sets it,
    ``append`` concatenates to it. A ``get`` that returned null is read as ""."""

    name = "kv"
    read_functions = frozenset({"get"})

    def init(self) -> Hashable:
        return ""

    def prepare(self, op: Operation) -> ModelOp:
        if op.f not in ("get", "put", "append"):
            raise HistoryError(f"the kv model has no function {op.f!r}")
        value = op.value if op.f == "get" else op.invoke.value
        if op.f == "get" and value is None:
            value = ""
        if not isinstance(value, str):
            raise HistoryError(f"{op.f} at index {op.invoke_index} needs a string value")
        return ModelOp(op.f, value)

    def step(self, state: Hashable, op: ModelOp) -> tuple[bool, Hashable]:
        if op.f == "get":
            return state == op.value, state
        if op.f == "put":
            return True, op.value
        return True, state + op.value  # type: ignore[operator]  # both are str


MODELS: Final[dict[str, Model]] = {"register": RegisterModel(), "kv": KVModel()}
