"""The counter checker: each ok read lies between the certain and the possible sums."""

from __future__ import annotations

import pytest

from tests.jepsen.checkers import Verdict, check_counter
from tests.jepsen.history import HistoryError
from tests.unit.jepsen.builders import history


def add(process, delta, kind="ok"):
    return [(process, "invoke", "add", delta), (process, kind, "add", delta)]


def read(process, value):
    return [(process, "invoke", "read", None), (process, "ok", "read", value)]


def test_read_of_the_sum_of_completed_adds_is_valid():
    result = check_counter(history(*add(0, 2), *add(0, 3), *read(1, 5)))
    assert result.verdict is Verdict.VALID
    assert (result.read_count, result.add_count) == (1, 2)


def test_read_below_the_sum_of_adds_completed_before_it_is_a_violation():
    result = check_counter(history(*add(0, 2), *add(0, 3), *read(1, 4)))
    assert result.verdict is Verdict.INVALID
    [violation] = result.violations
    assert (violation.value, violation.lower, violation.upper) == (4, 5, 5)


def test_read_above_the_sum_of_adds_invoked_before_it_completed_is_a_violation():
    result = check_counter(history(*read(1, 1), *add(0, 1)))
    assert [(v.lower, v.upper) for v in result.violations] == [(0, 0)]


def test_concurrent_and_indeterminate_adds_widen_the_upper_bound_only():
    rows = [
        (0, "invoke", "add", 2),
        (2, "invoke", "add", 4), (2, "info", "add", 4),
        (1, "invoke", "read", None), (1, "ok", "read", 6),
        (0, "ok", "add", 2),
    ]  # fmt: skip
    assert check_counter(history(*rows)).verdict is Verdict.VALID
    rows[4] = (1, "ok", "read", 7)
    [violation] = check_counter(history(*rows)).violations
    assert (violation.lower, violation.upper) == (0, 6)


def test_failed_adds_never_count():
    result = check_counter(history(*add(0, 5, "fail"), *read(1, 5)))
    assert [(v.lower, v.upper) for v in result.violations] == [(0, 0)]


def test_initial_value_offsets_both_bounds():
    assert check_counter(history(*add(0, 1), *read(1, 11)), initial=10).verdict is Verdict.VALID
    assert check_counter(history(*add(0, 1), *read(1, 1)), initial=10).verdict is Verdict.INVALID


def test_non_integer_read_is_a_violation_and_no_read_is_unknown():
    assert check_counter(history(*read(1, "5"))).verdict is Verdict.INVALID
    assert check_counter(history(*add(0, 1))).verdict is Verdict.UNKNOWN


@pytest.mark.parametrize("delta", [0, -1, 1.5, None])
def test_counter_checker_requires_positive_integer_deltas(delta):
    with pytest.raises(HistoryError, match="positive"):
        check_counter(history(*add(0, delta)))
