"""``python -m tests.jepsen check``: output lines, explanations and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.jepsen import cli
from tests.jepsen.history import Op, write_jsonl
from tests.unit.jepsen.builders import history

SHARED = Path(__file__).resolve().parent / "histories"  # a copy of ../shared/histories
REPO = Path(__file__).resolve().parents[3]
LOST_ADD = history(
    (0, "invoke", "add", 1), (0, "ok", "add", 1),
    (1, "invoke", "read", None), (1, "ok", "read", []),
)  # fmt: skip


def register_history(path, read_value, writes=1):
    rows = []
    for i in range(writes):
        rows += [(i, "invoke", "write", 1), (i, "ok", "write", 1)]
    rows += [(99, "invoke", "read", None), (99, "ok", "read", read_value)]
    write_jsonl(path, history(*rows))
    return str(path)


def lines(text):
    return [line.split("\t") for line in text.splitlines()]


def test_linearizable_files_print_their_verdict_and_exit_zero(tmp_path, capsys):
    path = register_history(tmp_path / "good.jsonl", 1)
    assert cli.main(["check", path]) == 0
    out, err = capsys.readouterr()
    assert lines(out) == [[path, "linearizable"]]
    assert err == ""


def test_not_linearizable_file_exits_one_and_explains_on_stderr(tmp_path, capsys):
    good = register_history(tmp_path / "good.jsonl", 1)
    bad = register_history(tmp_path / "bad.jsonl", 2)
    assert cli.main(["check", good, bad]) == 1
    out, err = capsys.readouterr()
    assert lines(out) == [[good, "linearizable"], [bad, "not-linearizable"]]
    assert f"{bad}: not-linearizable" in err
    assert "cannot linearize: process 99 read 2 ok" in err


def test_unknown_verdict_exits_two_unless_a_file_is_invalid(tmp_path, capsys):
    slow = register_history(tmp_path / "slow.jsonl", 1, writes=5)
    assert cli.main(["check", "--time-limit", "0", slow]) == 2
    assert lines(capsys.readouterr().out) == [[slow, "unknown"]]
    lost = tmp_path / "lost.jsonl"  # the set checker has no time limit
    write_jsonl(lost, LOST_ADD)
    assert cli.main(["check", "--time-limit", "0", slow, str(lost)]) == 1
    assert [v for _, v in lines(capsys.readouterr().out)] == ["unknown", "invalid"]


def test_timing_adds_a_seconds_column(tmp_path, capsys):
    path = register_history(tmp_path / "good.jsonl", 1)
    assert cli.main(["check", "--timing", path]) == 0
    [[name, verdict, seconds]] = lines(capsys.readouterr().out)
    assert (name, verdict) == (path, "linearizable") and float(seconds) >= 0


def test_unreadable_file_is_an_error_with_exit_three(tmp_path, capsys):
    good = register_history(tmp_path / "good.jsonl", 1)
    missing = str(tmp_path / "missing.jsonl")
    assert cli.main(["check", good, missing]) == 3
    out, err = capsys.readouterr()
    assert lines(out)[1] == [missing, "error"]
    assert "missing.jsonl" in err


def test_usage_errors_exit_three_not_two(capsys):
    assert cli.main(["check"]) == 3
    assert cli.main(["check", "--time-limit", "-1", "x"]) == 3
    assert cli.main(["frobnicate"]) == 3
    assert "usage:" in capsys.readouterr().err


def test_model_defaults_follow_the_format_and_can_be_forced(capsys):
    etcd, kv = str(SHARED / "etcd_002.log"), str(SHARED / "kv_c01-ok.txt")
    assert cli.main(["check", etcd, kv]) == 0
    assert [v for _, v in lines(capsys.readouterr().out)] == ["linearizable", "linearizable"]
    assert cli.main(["check", "--model", "kv", etcd]) == 3


def test_set_bank_and_counter_models_print_valid_or_invalid(tmp_path, capsys):
    sets = tmp_path / "set.jsonl"
    write_jsonl(sets, LOST_ADD)
    bank = tmp_path / "bank.jsonl"
    write_jsonl(bank, history((1, "invoke", "read", None), (1, "ok", "read", {"a": 3})))
    assert cli.main(["check", str(sets)]) == 1
    assert cli.main(["check", "--model", "bank", "--bank-total", "3", str(bank)]) == 0
    assert cli.main(["check", "--model", "bank", str(bank)]) == 3
    out = capsys.readouterr().out
    assert [v for _, v in lines(out)] == ["invalid", "valid", "error"]


def test_shared_histories_all_check_through_the_cli(capsys):
    paths = sorted(str(p) for p in SHARED.iterdir() if p.suffix in (".log", ".txt"))
    assert len(paths) == 64
    assert cli.main(["check", *paths]) == 1
    verdicts = dict(lines(capsys.readouterr().out))
    assert sum(v == "linearizable" for v in verdicts.values()) == 15
    assert sum(v == "not-linearizable" for v in verdicts.values()) == 49


@pytest.mark.parametrize("argv", [["check", "--help"], ["--help"]])
def test_help_exits_zero(argv, capsys):
    assert cli.main(argv) == 0
    assert "usage:" in capsys.readouterr().out


def test_python_dash_m_entry_point_runs_the_cli(tmp_path):
    path = register_history(tmp_path / "bad.jsonl", 2)
    done = subprocess.run(
        [sys.executable, "-m", "tests.jepsen", "check", path],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == f"{path}\tnot-linearizable\n"


def test_nemesis_lines_in_jsonl_do_not_disturb_the_check(tmp_path, capsys):
    path = tmp_path / "h.jsonl"
    write_jsonl(path, [
        Op(0, 0, "nemesis", "nemesis", "partition", None, ["n1"]),
        Op(1, 1, 0, "invoke", "read", "k"),
        Op(2, 2, 0, "ok", "read", "k", None),
    ])  # fmt: skip
    assert cli.main(["check", str(path)]) == 0
