"""The linearizability checker on small hand-written histories (register and kv models)."""

from __future__ import annotations

import time

import pytest

from tests.jepsen.checkers import Verdict, check_linearizability
from tests.jepsen.checkers.models import RegisterModel
from tests.jepsen.history import HistoryError
from tests.unit.jepsen.builders import history

VALID, INVALID, UNKNOWN = Verdict.VALID, Verdict.INVALID, Verdict.UNKNOWN


def verdict(*rows, model="register"):
    return check_linearizability(history(*rows), model).verdict


# --------------------------------------------------------------------- ok operations


def test_sequential_write_then_read_of_that_value_is_linearizable():
    assert verdict(
        (0, "invoke", "write", 1), (0, "ok", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
    ) is VALID  # fmt: skip


def test_read_of_overwritten_value_after_write_completed_is_not_linearizable():
    assert verdict(
        (0, "invoke", "write", 1), (0, "ok", "write", 1),
        (0, "invoke", "write", 2), (0, "ok", "write", 2),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
    ) is INVALID  # fmt: skip


def test_read_of_absent_register_returns_none_before_any_write():
    assert verdict((1, "invoke", "read", None), (1, "ok", "read", None)) is VALID
    assert verdict((1, "invoke", "read", None), (1, "ok", "read", 0)) is INVALID


@pytest.mark.parametrize("seen", [None, 1])
def test_read_concurrent_with_write_may_see_old_or_new_value(seen):
    assert verdict(
        (0, "invoke", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", seen),
        (0, "ok", "write", 1),
    ) is VALID  # fmt: skip


def test_two_sequential_reads_cannot_see_new_then_old_value():
    assert verdict(
        (0, "invoke", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
        (1, "invoke", "read", None), (1, "ok", "read", None),
        (0, "ok", "write", 1),
    ) is INVALID  # fmt: skip


def test_cas_applies_only_when_the_register_holds_the_old_value():
    assert verdict(
        (0, "invoke", "cas", [None, 1]), (0, "ok", "cas", [None, 1]),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
    ) is VALID  # fmt: skip
    assert verdict((0, "invoke", "cas", [2, 3]), (0, "ok", "cas", [2, 3])) is INVALID


# ---------------------------------------------------------------------- fail and info


def test_failed_write_is_ignored():
    assert verdict(
        (0, "invoke", "write", 1), (0, "fail", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", None),
    ) is VALID  # fmt: skip


def test_failed_write_cannot_explain_a_read_of_its_value():
    assert verdict(
        (0, "invoke", "write", 1), (0, "fail", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
    ) is INVALID  # fmt: skip


def test_indeterminate_write_may_take_effect_after_later_operations():
    assert verdict(
        (0, "invoke", "write", 1), (0, "info", "write", 1),
        (1, "invoke", "read", None), (1, "ok", "read", None),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
    ) is VALID  # fmt: skip


def test_indeterminate_cas_may_never_take_effect():
    assert verdict(
        (0, "invoke", "write", 1), (0, "ok", "write", 1),
        (1, "invoke", "cas", [5, 6]), (1, "info", "cas", [5, 6]),
        (2, "invoke", "read", None), (2, "ok", "read", 1),
    ) is VALID  # fmt: skip


def test_indeterminate_write_may_take_effect_after_a_later_invoked_one():
    assert verdict(
        (0, "invoke", "write", 0), (0, "info", "write", 0),
        (1, "invoke", "write", 2),  # never completes
        (2, "invoke", "read", None), (2, "ok", "read", 2),
        (2, "invoke", "read", None), (2, "ok", "read", 2),
        (2, "invoke", "read", None), (2, "ok", "read", 0),
    ) is VALID  # fmt: skip


def test_indeterminate_write_cannot_take_effect_before_its_invocation():
    assert verdict(
        (1, "invoke", "read", None), (1, "ok", "read", 1),
        (0, "invoke", "write", 1), (0, "info", "write", 1),
    ) is INVALID  # fmt: skip


def test_invoke_without_completion_is_indeterminate():
    rows = [(0, "invoke", "write", 1), (1, "invoke", "read", None), (1, "ok", "read", 1)]
    assert verdict(*rows) is VALID
    assert verdict(*rows[:2], (1, "ok", "read", 2)) is INVALID


def test_reads_that_did_not_complete_ok_constrain_nothing():
    result = check_linearizability(
        history(
            (0, "invoke", "read", None), (0, "info", "read", 3),
            (1, "invoke", "read", None), (1, "fail", "read", None),
            (2, "invoke", "read", None),
        )
    )  # fmt: skip
    assert result.verdict is VALID
    assert (result.op_count, result.removed_count) == (3, 3)


def test_each_identical_indeterminate_write_takes_effect_at_most_once():
    def rows(cycles):
        head = [(0, "invoke", "write", 1), (1, "invoke", "write", 1)]
        body = []
        for _ in range(cycles):
            body += [(2, "invoke", "write", 2), (2, "ok", "write", 2)]
            body += [(3, "invoke", "read", None), (3, "ok", "read", 1)]
        return [*head, *body, (0, "info", "write", 1), (1, "info", "write", 1)]

    assert verdict(*rows(2)) is VALID
    assert verdict(*rows(3)) is INVALID


def test_identical_writes_with_different_deadlines_are_not_interchangeable():
    assert verdict(
        (0, "invoke", "write", 1),
        (1, "invoke", "write", 1), (1, "ok", "write", 1),
        (2, "invoke", "write", 2), (2, "ok", "write", 2),
        (3, "invoke", "read", None), (3, "ok", "read", 1),
        (0, "ok", "write", 1),
    ) is VALID  # fmt: skip


def test_nemesis_events_are_ignored_by_the_checker():
    assert verdict(
        ("nemesis", "info", "start-partition", None),
        (0, "invoke", "write", 1), (0, "ok", "write", 1),
        ("nemesis", "nemesis", "stop-partition", None),
        (1, "invoke", "read", None), (1, "ok", "read", 1),
    ) is VALID  # fmt: skip


# ------------------------------------------------------------------------------- keys


def test_keys_are_checked_independently():
    rows = [
        (0, "invoke", "write", 1, "a"), (0, "ok", "write", 1, "a"),
        (1, "invoke", "write", 2, "b"), (1, "ok", "write", 2, "b"),
        (2, "invoke", "read", None, "a"), (2, "ok", "read", 1, "a"),
        (2, "invoke", "read", None, "b"), (2, "ok", "read", 1, "b"),
    ]  # fmt: skip
    result = check_linearizability(history(*rows))
    assert result.verdict is INVALID
    assert [(k.key, k.verdict, k.op_count) for k in result.keys] == [
        ("a", VALID, 2),
        ("b", INVALID, 2),
    ]
    assert result.violation is result.keys[1]


class SlowRegister(RegisterModel):
    """A register that takes a millisecond per step on value "slow"."""

    def step(self, state, op):
        if op.value == "slow":
            time.sleep(0.001)
        return super().step(state, op)


def test_small_keys_are_decided_before_a_slow_key_exhausts_the_time_limit():
    rows = [(0, "invoke", "write", "slow", "a"), (0, "ok", "write", "slow", "a")] * 100
    rows += [(1, "invoke", "read", None, "b"), (1, "ok", "read", 1, "b")]
    result = check_linearizability(history(*rows), SlowRegister(), time_limit=0.05)
    assert [(k.key, k.verdict) for k in result.keys] == [("a", UNKNOWN), ("b", INVALID)]
    assert result.verdict is INVALID


# ----------------------------------------------------------------------------- report


def test_violation_report_names_prefix_stuck_operation_and_concurrent_operations():
    result = check_linearizability(
        history(
            (0, "invoke", "write", 1), (0, "ok", "write", 1),  # 0-1
            (1, "invoke", "write", 2),  # 2
            (2, "invoke", "read", None),  # 3
            (1, "ok", "write", 2),  # 4
            (3, "invoke", "write", 3),  # 5
            (2, "ok", "read", 2),  # 6
            (4, "invoke", "read", None), (4, "ok", "read", 1),  # 7-8: stale
            (3, "ok", "write", 3),  # 9
        )
    )  # fmt: skip
    key = result.violation
    assert key is not None and key.valid is False
    assert [(op.f, op.value) for op in key.longest_prefix] == [
        ("write", 1),
        ("write", 2),
        ("read", 2),
        ("write", 3),
    ]
    assert key.stuck is not None
    assert (key.stuck.process, key.stuck.invoke_index, key.stuck.value) == (4, 7, 1)
    assert [op.process for op in key.concurrent] == [3]


def test_time_limit_zero_gives_unknown_not_valid():
    rows = []
    for i in range(20):
        rows += [(i, "invoke", "write", i % 3), (i, "ok", "write", i % 3)]
    result = check_linearizability(history(*rows), time_limit=0)
    assert result.verdict is UNKNOWN
    assert result.valid is None
    assert all(k.verdict is UNKNOWN for k in result.keys)
    with pytest.raises(TypeError):
        bool(result.verdict)


def test_empty_history_is_linearizable():
    assert check_linearizability(()).verdict is VALID


# ------------------------------------------------------------------------- kv model


def test_kv_concurrent_appends_may_apply_in_either_order():
    rows = [
        (0, "invoke", "append", "x", "k"), (1, "invoke", "append", "y", "k"),
        (0, "ok", "append", "x", "k"), (1, "ok", "append", "y", "k"),
        (2, "invoke", "get", None, "k"), (2, "ok", "get", "yx", "k"),
    ]  # fmt: skip
    assert verdict(*rows, model="kv") is VALID
    assert verdict(*rows[:-1], (2, "ok", "get", "xyx", "k"), model="kv") is INVALID


def test_kv_keys_start_empty_and_put_replaces():
    assert verdict(
        (0, "invoke", "get", None, "k"), (0, "ok", "get", "", "k"),
        (0, "invoke", "put", "ab", "k"), (0, "ok", "put", "ab", "k"),
        (0, "invoke", "append", "c", "k"), (0, "ok", "append", "c", "k"),
        (0, "invoke", "get", None, "k"), (0, "ok", "get", "abc", "k"),
        model="kv",
    ) is VALID  # fmt: skip
    stale = [(0, "invoke", "get", None, "k"), (0, "ok", "get", "a", "k")]
    assert verdict(*stale, model="kv") is INVALID


# -------------------------------------------------------------------------- errors


def test_second_invoke_from_a_pending_process_is_rejected():
    with pytest.raises(HistoryError, match="invoked again"):
        check_linearizability(history((0, "invoke", "write", 1), (0, "invoke", "write", 2)))


def test_function_unknown_to_the_model_is_rejected():
    with pytest.raises(HistoryError, match="no function 'add'"):
        check_linearizability(history((0, "invoke", "add", 1), (0, "ok", "add", 1)))
