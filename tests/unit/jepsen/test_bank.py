"""The bank checker: ok reads conserve the initial total and show no negative balance."""

from __future__ import annotations

import pytest

from tests.jepsen.checkers import Verdict, check_bank
from tests.jepsen.history import HistoryError
from tests.unit.jepsen.builders import history

TRANSFER = {"from": "a", "to": "b", "amount": 5}


def read(process, balances, kind="ok"):
    return [(process, "invoke", "read", None), (process, kind, "read", balances)]


def test_reads_conserving_the_total_are_valid():
    rows = [
        (0, "invoke", "transfer", TRANSFER),
        *read(1, {"a": 10, "b": 10}),
        (0, "ok", "transfer", TRANSFER),
        *read(1, {"a": 5, "b": 15}),
    ]
    result = check_bank(history(*rows), total=20)
    assert result.verdict is Verdict.VALID
    assert (result.read_count, result.bad_reads) == (2, ())


def test_read_with_wrong_total_is_reported():
    result = check_bank(history(*read(1, {"a": 10, "b": 10}), *read(1, {"a": 5, "b": 10})), 20)
    assert result.verdict is Verdict.INVALID
    [bad] = result.bad_reads
    assert (bad.total, bad.negative, bad.read.invoke_index) == (15, (), 2)
    assert "total 15 != 20" in bad.reason


def test_negative_balance_is_reported_even_when_total_is_right():
    result = check_bank(history(*read(1, {"a": -5, "b": 25})), 20)
    [bad] = result.bad_reads
    assert bad.negative == ("a",) and "negative" in bad.reason


def test_malformed_read_value_is_a_bad_read():
    [bad] = check_bank(history(*read(1, {"a": "10"})), 10).bad_reads
    assert bad.total is None


def test_reads_that_did_not_complete_ok_are_not_judged():
    rows = [*read(1, {"a": 0}, "fail"), *read(2, {"a": 0}, "info"), *read(3, {"a": 20})]
    assert check_bank(history(*rows), 20).verdict is Verdict.VALID
    assert check_bank(history(*rows[:4]), 20).verdict is Verdict.UNKNOWN


def test_bank_checker_rejects_other_functions():
    with pytest.raises(HistoryError, match="no function"):
        check_bank(history((0, "invoke", "add", 1)), 20)
