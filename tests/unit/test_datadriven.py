"""The datadriven transcript runner: parsing, comparison and rewriting."""

import pytest

from tests.datadriven import TranscriptError, parse, run_file, run_text, split_args

TRANSCRIPT = """# comment

echo a=1 flag list=(x, y) expr={"k": [1, 2]} s="a b"
input one
input two
----
a=1 flag list=(x, y) expr={"k": [1, 2]} s="a b"
input one
input two

blank
----
----
first

second
----
----
"""


def echo(case) -> str:
    if case.cmd == "blank":
        return "first\n\nsecond"
    return " ".join(f"{k}={v}" if v else k for k, v in case.args) + "\n" + case.input


def test_parse_reads_directives_args_input_and_expected_output() -> None:
    first, second = parse(TRANSCRIPT)
    assert (first.cmd, first.line) == ("echo", 3)
    assert first.arg("a") == "1" and first.has("flag") and first.arg("flag") == ""
    assert first.arg("list") == "(x, y)"
    assert first.arg("expr") == '{"k": [1, 2]}'
    assert first.arg("s") == '"a b"'
    assert first.input == "input one\ninput two"
    assert second.expected == "first\n\nsecond"


def test_matching_outputs_pass_and_rewrite_is_identity() -> None:
    rewritten, failures = run_text(TRANSCRIPT, echo)
    assert failures == []
    assert rewritten == TRANSCRIPT


def test_mismatch_is_reported_with_location_and_both_outputs() -> None:
    _, failures = run_text("cmd\n----\nexpected\n", lambda c: "actual", "f.txt")
    assert len(failures) == 1
    assert failures[0].startswith("f.txt:1: cmd")
    assert "expected:\nexpected" in failures[0] and "actual:\nactual" in failures[0]


def test_rewrite_fills_outputs_and_uses_double_separators_for_blank_lines() -> None:
    text = "a\n----\n\nb\n----\nold\nstale\n\n# tail\n"
    rewritten, _ = run_text(text, lambda c: "x\n\ny" if c.cmd == "a" else "new")
    assert rewritten == "a\n----\n----\nx\n\ny\n----\n----\n\nb\n----\nnew\n\n# tail\n"
    assert [c.expected for c in parse(rewritten)] == ["x\n\ny", "new"]


def test_run_file_raises_on_mismatch_and_rewrites_with_env(tmp_path, monkeypatch) -> None:
    path = tmp_path / "t.txt"
    path.write_text("cmd\n----\nwrong\n")
    monkeypatch.delenv("REWRITE", raising=False)
    with pytest.raises(AssertionError, match="wrong"):
        run_file(str(path), lambda c: "right")
    monkeypatch.setenv("REWRITE", "1")
    run_file(str(path), lambda c: "right")
    assert path.read_text() == "cmd\n----\nright\n"


def test_trailing_whitespace_does_not_matter() -> None:
    _, failures = run_text("cmd\n----\nout  \n", lambda c: "out\n\n")
    assert failures == []


def test_handler_exceptions_name_the_block() -> None:
    with pytest.raises(AssertionError, match=r"f\.txt:1: boom"):
        run_text("boom\n----\n", lambda c: 1 / 0, "f.txt")


@pytest.mark.parametrize(
    "text", ["cmd\nno separator\n", "cmd\n----\n----\nnever closed\n", "cmd x=(open\n----\n"]
)
def test_malformed_transcripts_raise_transcript_error(text: str) -> None:
    with pytest.raises(TranscriptError):
        parse(text)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("a b  c", ["a", "b", "c"]),
        ('a="x y" b', ['a="x y"', "b"]),
        ("ops=[f(1, 2), g()] z", ["ops=[f(1, 2), g()]", "z"]),
        (r"s='it\'s here' t", [r"s='it\'s here'", "t"]),
        ('m={"a": "]"}', ['m={"a": "]"}']),
    ],
)
def test_split_args_respects_quotes_and_brackets(text: str, tokens: list[str]) -> None:
    assert split_args(text) == tokens
