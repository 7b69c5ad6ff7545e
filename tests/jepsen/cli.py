"""Command line of the Jepsen-style suite: ``python -m tests.jepsen COMMAND ...``.

``run --workload W --nemesis N --time S --seed N --out DIR`` starts a local cluster, runs a
workload under seeded faults and checks the history (see `tests.jepsen.runner`).
``check PATH... [--model M] [--format F] [--time-limit S] [--timing]`` checks history
files. For each file it prints ``PATH<TAB>VERDICT`` on stdout (plus ``<TAB>SECONDS`` with
``--timing``), where VERDICT is ``linearizable``, ``not-linearizable`` or ``unknown`` for
the register and kv models, ``valid``, ``invalid`` or ``unknown`` for set, bank and
counter, and ``error`` when the file cannot be read or checked. Explanations of invalid
verdicts and errors go to stderr.

Exit codes (`ExitCode`), first match wins: 1 if any file is not linearizable (invalid);
3 if any file or the command line is in error; 2 if any verdict is unknown (time limit
reached, or nothing to check); 0 when every file is valid. Usage errors exit 3, not
argparse's usual 2, so that 2 always means "unknown".

Adding a subcommand: write ``add_<name>_parser(subparsers)``, which adds a subparser
and sets ``handler`` to a function ``(argparse.Namespace) -> int``, and append it to
SUBCOMMANDS.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any, NoReturn

from tests.jepsen.checkers import (
    DEFAULT_TIME_LIMIT,
    WORKLOADS,
    CheckResult,
    LinearizabilityResult,
    Verdict,
    check_history,
    explain,
)
from tests.jepsen.formats import FORMATS, read_history
from tests.jepsen.history import HistoryError

__all__ = [
    "SUBCOMMANDS",
    "ExitCode",
    "add_check_parser",
    "add_run_parser",
    "build_parser",
    "main",
    "run_check",
]


class ExitCode(IntEnum):
    OK = 0
    INVALID = 1
    UNKNOWN = 2
    ERROR = 3


_PRECEDENCE = (ExitCode.INVALID, ExitCode.ERROR, ExitCode.UNKNOWN)
_EXIT_OF_VERDICT = {
    Verdict.VALID: ExitCode.OK,
    Verdict.INVALID: ExitCode.INVALID,
    Verdict.UNKNOWN: ExitCode.UNKNOWN,
}
_LINEARIZABILITY_WORDS = {
    Verdict.VALID: "linearizable",
    Verdict.INVALID: "not-linearizable",
    Verdict.UNKNOWN: "unknown",
}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit with ExitCode.ERROR."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.ERROR, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]), run the subcommand, return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help exits 0, usage errors ExitCode.ERROR
        return int(exc.code or 0)
    return int(args.handler(args))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tests.jepsen", description="Jepsen-style suite tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in SUBCOMMANDS:
        add_parser(subparsers)
    return parser


# ----------------------------------------------------------------------------- check


def add_check_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check", help="check recorded histories", description="Check history files."
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="history files")
    parser.add_argument("--model", choices=WORKLOADS, help="default: inferred from the history")
    parser.add_argument("--format", choices=FORMATS, help="default: detected from the file")
    parser.add_argument(
        "--time-limit",
        type=_seconds,
        default=DEFAULT_TIME_LIMIT,
        metavar="S",
        help=f"seconds per file before the verdict is unknown (default {DEFAULT_TIME_LIMIT:g})",
    )
    parser.add_argument("--timing", action="store_true", help="print seconds per file")
    parser.add_argument("--bank-total", type=int, help="initial total of the bank workload")
    parser.add_argument("--counter-initial", type=int, default=0, help="initial counter value")
    parser.set_defaults(handler=run_check)


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number of seconds: {text}")
    return value


def run_check(args: argparse.Namespace) -> int:
    """The ``check`` subcommand: one line per file on stdout; see the module docstring."""
    codes = [_check_file(path, args) for path in args.paths]
    return next((code for code in _PRECEDENCE if code in codes), ExitCode.OK)


def _check_file(path: str, args: argparse.Namespace) -> ExitCode:
    started = time.perf_counter()
    try:
        result = check_history(
            read_history(path, args.format),
            args.model,
            time_limit=args.time_limit,
            bank_total=args.bank_total,
            counter_initial=args.counter_initial,
        )
    except (HistoryError, OSError, ValueError) as exc:
        _report(path, "error", time.perf_counter() - started, args.timing, str(exc))
        return ExitCode.ERROR
    word = _verdict_word(result)
    detail = explain(result) if result.verdict is Verdict.INVALID else ""
    _report(path, word, time.perf_counter() - started, args.timing, detail)
    return _EXIT_OF_VERDICT[result.verdict]


def _verdict_word(result: CheckResult) -> str:
    if isinstance(result, LinearizabilityResult):
        return _LINEARIZABILITY_WORDS[result.verdict]
    return result.verdict.value


def _report(path: str, word: str, seconds: float, timing: bool, detail: str) -> None:
    columns = [path, word, f"{seconds:.3f}"] if timing else [path, word]
    print("\t".join(columns), flush=True)
    if detail:
        print(f"{path}: {word}\n{detail}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- run


def add_run_parser(subparsers: Any) -> None:
    """The ``run`` subcommand lives in `tests.jepsen.runner`, which needs the client."""
    from tests.jepsen.runner import add_run_parser as add

    add(subparsers)


SUBCOMMANDS: list[Callable[[Any], None]] = [add_check_parser, add_run_parser]
