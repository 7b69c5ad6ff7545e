"""Checker results: verdict semantics, JSON rendering, workload dispatch and the public API."""

from __future__ import annotations

import json

import pytest

import tests.jepsen
import tests.jepsen.checkers
from tests.jepsen.checkers import (
    Verdict,
    check_bank,
    check_counter,
    check_history,
    check_linearizability,
    check_set,
    combine_verdicts,
    explain,
    infer_workload,
    to_jsonable,
)
from tests.jepsen.history import HistoryError
from tests.unit.jepsen.builders import history

STALE_READ = history(
    (0, "invoke", "write", 1, "k"), (0, "ok", "write", 1, "k"),
    (0, "invoke", "write", 2, "k"), (0, "info", "write", 2, "k"),
    (1, "invoke", "read", None, "k"), (1, "ok", "read", 3, "k"),
)  # fmt: skip

LOST_ADD = history(
    (0, "invoke", "add", [1, 2]), (0, "ok", "add", [1, 2]),
    (1, "invoke", "read", None), (1, "ok", "read", []),
)  # fmt: skip


def test_verdict_refuses_truth_testing_so_unknown_cannot_pass_as_valid():
    for verdict in Verdict:
        with pytest.raises(TypeError):
            bool(verdict)
    assert [v.valid for v in Verdict] == [True, False, None]


@pytest.mark.parametrize(
    ("verdicts", "combined"),
    [
        ([], Verdict.VALID),
        ([Verdict.VALID, Verdict.UNKNOWN], Verdict.UNKNOWN),
        ([Verdict.UNKNOWN, Verdict.INVALID, Verdict.VALID], Verdict.INVALID),
    ],
)
def test_combined_verdict_prefers_invalid_then_unknown(verdicts, combined):
    assert combine_verdicts(verdicts) is combined


def test_linearizability_result_renders_as_json_with_violation_details():
    rendered = to_jsonable(check_linearizability(STALE_READ))
    json.dumps(rendered)
    assert (rendered["verdict"], rendered["valid"], rendered["model"]) == (
        "invalid",
        False,
        "register",
    )
    [key] = rendered["keys"]
    assert key["key"] == "k" and key["valid"] is False
    assert key["stuck"]["value"] == 3 and key["stuck"]["invoke_index"] == 4
    assert [op["value"] for op in key["longest_prefix"]] == [1, 2]
    assert key["concurrent"][0]["type"] == "info"
    assert key["concurrent"][0]["complete_index"] == 3


def test_every_checker_result_renders_as_json():
    results = [
        check_set(LOST_ADD),
        check_bank(history((0, "invoke", "read", None), (0, "ok", "read", {"a": -1})), 0),
        check_counter(history((0, "invoke", "read", None), (0, "ok", "read", 3))),
    ]
    for result in results:
        rendered = to_jsonable(result)
        assert json.loads(json.dumps(rendered))["valid"] is False
        assert explain(result)
    assert to_jsonable(results[0])["lost"] == [[1, 2]]


def test_non_string_mapping_keys_are_rendered_as_json_text():
    assert to_jsonable({None: 1, 2: 3, "a": 4}) == {"null": 1, "2": 3, "a": 4}


def test_valid_results_need_no_explanation():
    assert explain(check_linearizability(STALE_READ[:2])) == ""


@pytest.mark.parametrize(
    ("rows", "workload"),
    [
        ([(0, "invoke", "cas", [1, 2])], "register"),
        ([(0, "invoke", "append", "x")], "kv"),
        ([(0, "invoke", "transfer", {}), (1, "invoke", "read", None)], "bank"),
        ([(0, "invoke", "add", 1), (1, "invoke", "read", None), (1, "ok", "read", [1])], "set"),
        ([(0, "invoke", "add", 1), (1, "invoke", "read", None), (1, "ok", "read", 1)], "counter"),
        ([("nemesis", "info", "kill", None)], "register"),
    ],
)
def test_workload_is_inferred_from_functions_and_read_values(rows, workload):
    assert infer_workload(history(*rows)) == workload


def test_uninferable_workloads_are_errors():
    with pytest.raises(HistoryError, match="no workload"):
        infer_workload(history((0, "invoke", "write", 1), (1, "invoke", "get", None)))
    with pytest.raises(HistoryError, match="cannot tell"):
        infer_workload(history((0, "invoke", "add", 1)))


def test_check_history_dispatches_and_requires_bank_total():
    assert check_history(STALE_READ).verdict is Verdict.INVALID
    with pytest.raises(ValueError, match="bank_total"):
        check_history((), "bank")
    with pytest.raises(ValueError, match="unknown workload"):
        check_history((), "queue")


@pytest.mark.parametrize("module", [tests.jepsen, tests.jepsen.checkers])
def test_public_api_names_exist(module):
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
    for name in module.__all__:
        assert hasattr(module, name), name
