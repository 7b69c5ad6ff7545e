"""Sequential specifications: the register and kv models, step by step."""

from __future__ import annotations

import pytest

from tests.jepsen.checkers.models import KVModel, ModelOp, RegisterModel, freeze
from tests.jepsen.history import HistoryError, Op, Operation

REGISTER, KV = RegisterModel(), KVModel()


@pytest.mark.parametrize(
    ("state", "op", "legal", "after"),
    [
        (None, ModelOp("read", None), True, None),
        (None, ModelOp("read", 1), False, None),
        (3, ModelOp("read", 3), True, 3),
        (3, ModelOp("write", 4), True, 4),
        (3, ModelOp("cas", (3, 5)), True, 5),
        (3, ModelOp("cas", (2, 5)), False, 3),
        (None, ModelOp("cas", (None, 1)), True, 1),
    ],
)
def test_register_step(state, op, legal, after):
    assert REGISTER.init() is None
    assert REGISTER.step(state, op) == (legal, after)


@pytest.mark.parametrize(
    ("state", "op", "legal", "after"),
    [
        ("", ModelOp("get", ""), True, ""),
        ("ab", ModelOp("get", "a"), False, "ab"),
        ("ab", ModelOp("put", "c"), True, "c"),
        ("ab", ModelOp("append", "c"), True, "abc"),
    ],
)
def test_kv_step(state, op, legal, after):
    assert KV.init() == ""
    assert KV.step(state, op) == (legal, after)


def operation(f, invoke_value, kind="ok", value=None):
    return Operation(Op(0, 0, 0, "invoke", f, "k", invoke_value), Op(1, 1, 0, kind, f, "k", value))


def test_prepare_takes_reads_from_completion_and_writes_from_invocation():
    assert REGISTER.prepare(operation("read", None, value=[1, 2])) == ModelOp("read", (1, 2))
    assert REGISTER.prepare(operation("write", 7, value=None)) == ModelOp("write", 7)
    assert KV.prepare(operation("get", None, value=None)) == ModelOp("get", "")
    assert KV.prepare(operation("append", "x", "info")) == ModelOp("append", "x")


@pytest.mark.parametrize(
    ("model", "op", "message"),
    [
        (REGISTER, operation("cas", [1]), r"\[old, new\]"),
        (REGISTER, operation("get", None), "no function 'get'"),
        (KV, operation("put", 3), "string value"),
        (KV, operation("read", None), "no function 'read'"),
    ],
)
def test_prepare_rejects_operations_the_model_cannot_check(model, op, message):
    with pytest.raises(HistoryError, match=message):
        model.prepare(op)


def test_freeze_makes_json_values_hashable():
    frozen = freeze({"b": [1, {"c": 2}], "a": None})
    assert frozen == (("a", None), ("b", (1, (("c", 2),))))
    assert hash(frozen) == hash(freeze({"a": None, "b": [1, {"c": 2}]}))
