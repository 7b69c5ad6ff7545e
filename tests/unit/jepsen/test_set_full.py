"""The per-read set checker (set-scan, set-query): every read is judged against what was
known when it began; the negative controls are histories with a planted violation."""

from __future__ import annotations

import pytest

from tests.jepsen import cli
from tests.jepsen.checkers import Verdict, check_history, check_set, check_set_full, explain
from tests.jepsen.history import HistoryError, write_jsonl
from tests.unit.jepsen.builders import history


def add(process, element, outcome="ok"):
    rows = [(process, "invoke", "add", element, "scan")]
    if outcome is not None:
        rows.append((process, outcome, "add", element, "scan"))
    return rows


def read(process, elements, outcome="ok"):
    value = list(elements) if outcome == "ok" else None
    return [(process, "invoke", "read", None, "scan"), (process, outcome, "read", value, "scan")]


def test_reads_holding_everything_acknowledged_before_them_are_valid():
    result = check_set_full(history(*add(0, 1), *read(9, [1]), *add(0, 2), *read(9, [1, 2])))
    assert result.verdict is Verdict.VALID
    assert (result.attempted_count, result.acknowledged_count, result.read_count) == (2, 2, 2)


def test_an_acknowledged_element_missing_from_a_later_read_is_lost_even_if_the_final_read_has_it():
    """The planted bug the final-read checker cannot see: a scan that started after the ack
    skipped the element, and the final read has it again."""
    h = history(*add(0, 1), *add(0, 2), *read(9, [1]), *read(9, [1, 2]))
    assert check_set(h).verdict is Verdict.VALID  # the final read is complete
    result = check_set_full(h)
    assert result.verdict is Verdict.INVALID
    assert result.lost == (2,) and result.lost_count == 1
    (miss,) = result.missing_examples
    assert (miss.element, miss.how, miss.known_at) == (2, "acknowledged", 3)
    assert miss.read.invoke_index == 4
    assert "lost" in explain(result)


def test_a_read_concurrent_with_the_add_may_miss_it():
    rows = [(0, "invoke", "add", 1, "scan"), *read(9, []), (0, "ok", "add", 1, "scan")]
    assert check_set_full(history(*rows, *read(9, [1]))).verdict is Verdict.VALID


def test_a_read_invoked_before_the_ack_but_completed_after_may_miss_it():
    rows = [
        (0, "invoke", "add", 1, "scan"),
        (9, "invoke", "read", None, "scan"),
        (0, "ok", "add", 1, "scan"),
        (9, "ok", "read", [], "scan"),
    ]
    assert check_set_full(history(*rows)).verdict is Verdict.VALID


def test_an_in_doubt_element_once_returned_must_stay():
    h = history(*add(0, 1, "info"), *read(9, [1]), *read(9, []))
    result = check_set_full(h)
    assert result.verdict is Verdict.INVALID
    assert result.unstable == (1,) and result.lost == ()
    assert result.missing_examples[0].how == "observed"


def test_in_doubt_adds_may_appear_or_not():
    h = history(*add(0, 1, "info"), *add(1, 2, None), *read(9, []), *read(9, [2]))
    assert check_set_full(h).verdict is Verdict.VALID


def test_an_element_never_added_is_a_phantom():
    result = check_set_full(history(*add(0, 1), *read(9, [1, 77])))
    assert result.verdict is Verdict.INVALID
    assert result.unexpected == (77,)


def test_an_element_read_before_its_add_was_invoked_is_a_phantom():
    result = check_set_full(history(*read(9, [1]), *add(0, 1)))
    assert result.unexpected == (1,)


def test_a_failed_add_must_never_appear():
    assert check_set_full(history(*add(0, 1, "fail"), *read(9, []))).verdict is Verdict.VALID
    result = check_set_full(history(*add(0, 1, "fail"), *read(9, [1])))
    assert result.verdict is Verdict.INVALID
    assert result.failed_present == (1,)


def test_failed_reads_constrain_nothing_and_are_not_empty_sets():
    h = history(*add(0, 1), *read(9, [], "fail"), *read(8, [], "info"), *read(7, [1]))
    result = check_set_full(h)
    assert result.verdict is Verdict.VALID and result.read_count == 1


def test_no_ok_read_is_unknown():
    result = check_set_full(history(*add(0, 1), *read(9, [], "fail")))
    assert result.verdict is Verdict.UNKNOWN
    assert result.valid is None


def test_other_functions_and_malformed_reads_are_history_errors():
    with pytest.raises(HistoryError, match="no function"):
        check_set_full(history((0, "invoke", "cas", [1, 2]), (0, "ok", "cas", [1, 2])))
    with pytest.raises(HistoryError, match="must return a list"):
        check_set_full(history(*add(0, 1), (9, "invoke", "read", None), (9, "ok", "read", 3)))


def test_examples_are_bounded_but_counts_are_not():
    rows = [row for e in range(30) for row in add(0, e)]
    result = check_set_full(history(*rows, *read(9, []), *read(9, [])))
    assert result.lost_count == 30 and len(result.missing_examples) == 10


def test_the_cli_checks_set_full_histories(tmp_path, capsys):
    lost = tmp_path / "lost.jsonl"
    write_jsonl(lost, history(*add(0, 1), *add(0, 2), *read(9, [1]), *read(9, [1, 2])))
    assert cli.main(["check", "--model", "set-full", str(lost)]) == cli.ExitCode.INVALID
    assert cli.main(["check", str(lost)]) == cli.ExitCode.OK  # inferred: the final-read check
    good = tmp_path / "good.jsonl"
    write_jsonl(good, history(*add(0, 1), *read(9, [1])))
    assert cli.main(["check", "--model", "set-full", str(good)]) == cli.ExitCode.OK
    out = capsys.readouterr().out
    assert f"{lost}\tinvalid" in out and f"{good}\tvalid" in out
    assert check_history(history(*add(0, 1), *read(9, [1])), "set-full").valid is True
