"""A small runner for datadriven test transcripts, in the style of etcd-io/raft's testdata.

A transcript is a sequence of blocks::

    # a comment
    command arg=value flag list=(a, b) expr={"x": [1, 2]}
    optional input line
    ----
    expected output

Blocks are separated by blank lines. Output that itself contains blank lines is written
between two separator pairs::

    command
    ----
    ----
    first paragraph

    second paragraph
    ----
    ----

Arguments are split on spaces outside quotes and brackets; ``key=value`` gives a value,
a bare word is a flag (value ""). ``run_file(path, handler)`` runs ``handler(case)`` for
every block in order and raises AssertionError listing every block whose output differs.
With ``REWRITE=1`` in the environment it writes the actual outputs into the file instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

SEPARATOR = "----"
_OPENERS = {"(": ")", "[": "]", "{": "}"}


class TranscriptError(ValueError):
    """The transcript file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class TestCase:
    """One block: a directive, its input and its expected output."""

    __test__ = False  # not a pytest test class

    path: str
    line: int  # 1-based line of the directive
    cmd: str
    args: tuple[tuple[str, str], ...]
    input: str
    expected: str
    output_span: tuple[int, int]  # [start, end) line indices of the expected output

    @property
    def directive(self) -> str:
        return " ".join([self.cmd, *(f"{k}={v}" if v else k for k, v in self.args)])

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self.args)

    def arg(self, name: str, default: str | None = None) -> str:
        """The value of argument ``name``; KeyError naming it if absent and no default."""
        for key, value in self.args:
            if key == name:
                return value
        if default is None:
            raise KeyError(f"{self.path}:{self.line}: missing argument {name!r}")
        return default


def split_args(text: str) -> list[str]:
    """Split on spaces that are outside quotes and brackets."""
    tokens: list[str] = []
    current: list[str] = []
    closers: list[str] = []
    quote = ""
    chars = iter(text)
    for ch in chars:
        if quote:
            current.append(ch)
            if ch == "\\":
                current.append(next(chars, ""))
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch in _OPENERS:
            closers.append(_OPENERS[ch])
            current.append(ch)
        elif closers and ch == closers[-1]:
            closers.pop()
            current.append(ch)
        elif ch.isspace() and not closers:
            if current:
                tokens.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quote or closers:
        raise ValueError(f"unbalanced quotes or brackets in {text!r}")
    if current:
        tokens.append("".join(current))
    return tokens


def parse_directive(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(command, ((key, value), ...)) of a directive line."""
    cmd, *rest = split_args(text)
    args = []
    for token in rest:
        key, _, value = token.partition("=")
        args.append((key, value))
    return cmd, tuple(args)


def parse(text: str, path: str = "<transcript>") -> list[TestCase]:
    """Every block of a transcript; TranscriptError on malformed structure."""
    lines = text.split("\n")
    cases: list[TestCase] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip() or lines[i].startswith("#"):
            i += 1
            continue
        case, i = _parse_block(lines, i, path)
        cases.append(case)
    return cases


def _parse_block(lines: list[str], start: int, path: str) -> tuple[TestCase, int]:
    try:
        cmd, args = parse_directive(lines[start])
    except ValueError as e:
        raise TranscriptError(f"{path}:{start + 1}: {e}")
    i = start + 1
    while i < len(lines) and lines[i] != SEPARATOR:
        i += 1
    if i == len(lines):
        raise TranscriptError(f"{path}:{start + 1}: no {SEPARATOR} after the directive")
    given = "\n".join(lines[start + 1 : i])
    expected, span = _parse_output(lines, i + 1, path)
    case = TestCase(path, start + 1, cmd, args, given, expected, span)
    return case, span[1]


def _parse_output(lines: list[str], i: int, path: str) -> tuple[str, tuple[int, int]]:
    """The expected output starting at line index ``i`` and the span it occupies."""
    if i < len(lines) and lines[i] == SEPARATOR:
        end = i + 1
        while end + 1 < len(lines) and not (
            lines[end] == SEPARATOR and lines[end + 1] == SEPARATOR
        ):
            end += 1
        if end + 1 >= len(lines):
            raise TranscriptError(f"{path}:{i + 1}: unterminated {SEPARATOR} {SEPARATOR} block")
        return "\n".join(lines[i + 1 : end]), (i, end + 2)
    end = i
    while end < len(lines) and lines[end].strip():
        end += 1
    return "\n".join(lines[i:end]), (i, end)


def normalize(output: str) -> str:
    """Output as compared: trailing spaces and trailing blank lines removed."""
    return "\n".join(line.rstrip() for line in output.rstrip().split("\n"))


def format_output(output: str) -> list[str]:
    """Lines to write after the separator for ``output``."""
    text = normalize(output)
    if not text:
        return []
    lines = text.split("\n")
    if any(not line for line in lines):
        return [SEPARATOR, *lines, SEPARATOR, SEPARATOR]
    return lines


Handler = Callable[[TestCase], str]


def run_text(text: str, handler: Handler, path: str = "<transcript>") -> tuple[str, list[str]]:
    """Run every block; return (the text with actual outputs, mismatch reports)."""
    lines = text.split("\n")
    rewritten: list[str] = []
    failures: list[str] = []
    position = 0
    for case in parse(text, path):
        try:
            actual = handler(case)
        except Exception as e:
            raise AssertionError(f"{path}:{case.line}: {case.directive}: raised {e!r}") from e
        start, end = case.output_span
        rewritten.extend(lines[position:start])
        rewritten.extend(format_output(actual))
        position = end
        if normalize(actual) != normalize(case.expected):
            failures.append(_report(case, actual))
    rewritten.extend(lines[position:])
    return "\n".join(rewritten), failures


def _report(case: TestCase, actual: str) -> str:
    return (
        f"{case.path}:{case.line}: {case.directive}\n"
        f"expected:\n{normalize(case.expected)}\nactual:\n{normalize(actual)}"
    )


def run_file(path: str, handler: Handler) -> None:
    """Run a transcript file; AssertionError on mismatches, or rewrite it if REWRITE=1."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    rewritten, failures = run_text(text, handler, path)
    if os.environ.get("REWRITE") == "1":
        if rewritten != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(rewritten)
        return
    if failures:
        raise AssertionError("\n\n".join(failures))
