"""The set checker: lost, unexpected, failed-but-present and recovered elements."""

from __future__ import annotations

import pytest

from tests.jepsen.checkers import Verdict, check_set
from tests.jepsen.history import HistoryError
from tests.unit.jepsen.builders import history


def adds(*outcomes):
    """Rows adding element i with completion outcomes[i] (None: never completes)."""
    rows = []
    for element, outcome in enumerate(outcomes):
        rows.append((element, "invoke", "add", element))
        if outcome is not None:
            rows.append((element, outcome, "add", element))
    return rows


def read(process, elements):
    return [(process, "invoke", "read", None), (process, "ok", "read", list(elements))]


def test_all_acknowledged_adds_in_final_read_is_valid():
    result = check_set(history(*adds("ok", "ok"), *read(9, [0, 1])))
    assert result.verdict is Verdict.VALID
    assert (result.attempted_count, result.acknowledged_count, result.read_count) == (2, 2, 1)


def test_acknowledged_add_missing_from_final_read_is_lost():
    result = check_set(history(*adds("ok", "ok", "ok"), *read(9, [0, 1, 2]), *read(9, [1])))
    assert result.verdict is Verdict.INVALID
    assert result.lost == (0, 2) and result.lost_count == 2
    assert result.final_read is not None and result.final_read.value == [1]


def test_indeterminate_adds_may_or_may_not_appear_and_are_counted_as_recovered():
    result = check_set(history(*adds("info", "info", None, None), *read(9, [0, 2])))
    assert result.verdict is Verdict.VALID
    assert result.recovered == (0, 2) and result.recovered_count == 2
    assert result.lost == ()


def test_element_never_added_is_unexpected_in_any_ok_read():
    result = check_set(history(*adds("ok"), *read(8, [0, 7]), *read(9, [0])))
    assert result.verdict is Verdict.INVALID
    assert result.unexpected == (7,) and result.unexpected_count == 1


def test_element_read_before_its_add_was_invoked_is_unexpected():
    result = check_set(history(*read(8, [0]), *adds("ok"), *read(9, [0])))
    assert result.verdict is Verdict.INVALID
    assert result.unexpected == (0,)


def test_failed_add_that_appears_is_a_violation_and_absent_one_is_fine():
    assert check_set(history(*adds("ok", "fail"), *read(9, [0]))).verdict is Verdict.VALID
    result = check_set(history(*adds("ok", "fail"), *read(9, [0, 1])))
    assert result.verdict is Verdict.INVALID
    assert result.failed_present == (1,)


def test_failed_reads_are_ignored_and_no_ok_read_is_unknown():
    rows = [*adds("ok"), (9, "invoke", "read", None), (9, "fail", "read", None)]
    result = check_set(history(*rows))
    assert result.verdict is Verdict.UNKNOWN and result.valid is None


def test_set_checker_rejects_other_functions_and_non_list_reads():
    with pytest.raises(HistoryError, match="no function"):
        check_set(history((0, "invoke", "write", 1)))
    with pytest.raises(HistoryError, match="must return a list"):
        check_set(history((0, "invoke", "read", None), (0, "ok", "read", 3)))
    with pytest.raises(HistoryError, match="one set"):
        check_set(history((0, "invoke", "add", 1, "a"), (1, "invoke", "add", 1, "b")))
