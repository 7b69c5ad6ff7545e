"""Foreign history formats: Jepsen etcd logs, EDN lines, and format detection."""

from __future__ import annotations

import pytest

from tests.jepsen.edn import EdnError, Keyword, parse_map_line
from tests.jepsen.formats import detect_format, parse_edn_lines, parse_etcd_lines, read_history
from tests.jepsen.history import HistoryError, Op, write_jsonl

ETCD_LOG = """\
2014-11-24 13:39:05,145 INFO  jepsen.core - Worker 0 starting
INFO  jepsen.util - 3\t:invoke\t:read\tnil
INFO  jepsen.util - 3\t:ok\t:read\t2
INFO  jepsen.util - 1\t:invoke\t:cas\t[4 nil]
INFO  jepsen.util - 1\t:fail\t:cas\t[4 nil]
INFO  jepsen.util - 2\t:invoke\t:write\t-1
INFO  jepsen.util - 2\t:info\t:write\t:timed-out
"""


# ------------------------------------------------------------------------------ etcd


def test_etcd_log_events_are_parsed_and_other_lines_skipped():
    ops = list(parse_etcd_lines(ETCD_LOG.splitlines()))
    assert [(o.index, o.process, o.type, o.f, o.value, o.error) for o in ops] == [
        (0, 3, "invoke", "read", None, None),
        (1, 3, "ok", "read", 2, None),
        (2, 1, "invoke", "cas", [4, None], None),
        (3, 1, "fail", "cas", [4, None], None),
        (4, 2, "invoke", "write", -1, None),
        (5, 2, "info", "write", None, "timed-out"),
    ]
    assert all(o.key is None and o.time == o.index for o in ops)


@pytest.mark.parametrize(
    "line", ["INFO  jepsen.util - x\t:ok\t:read\t1", "INFO  jepsen.util - 1 :ok"]
)
def test_malformed_etcd_event_is_rejected(line):
    with pytest.raises(HistoryError, match="<etcd log>:1"):
        list(parse_etcd_lines([line]))


def test_etcd_value_that_is_not_nil_int_pair_or_keyword_is_rejected():
    with pytest.raises(HistoryError, match="cannot parse value"):
        list(parse_etcd_lines(["INFO  jepsen.util - 1\t:ok\t:read\t1.5"]))


# ------------------------------------------------------------------------------- EDN


def test_edn_map_line_decodes_keywords_strings_integers_nil_and_vectors():
    line = r'{:process 9, :type :invoke, :f :cas, :key "a\"b\\c\u00e9\n", :value [1 -2 nil 3N]}'
    event = parse_map_line(line)
    assert event == {
        "process": 9, "type": "invoke", "f": "cas", "key": 'a"b\\cé\n', "value": [1, -2, None, 3],
    }  # fmt: skip
    assert all(isinstance(k, Keyword) for k in event)
    assert isinstance(event["type"], Keyword) and not isinstance(event["key"], Keyword)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{:a 1.5}", "column 6: unexpected '.'"),
        ("{:a 1} x", "after the map"),
        ("{:a 1 :a 2}", "duplicate map key"),
        ('{:a "abc}', "unterminated string"),
        (r'{:a "\q"}', "invalid escape"),
        ("{:a foo}", "unsupported EDN element 'foo'"),
        ("{:a}", "has no value"),
        ("{:a 1", "missing '}'"),
        ("[1 2]", "expected '{'"),
        ("{[1] 2}", "map keys must be scalars"),
    ],
)
def test_edn_parser_rejects_anything_outside_its_subset(line, message):
    with pytest.raises(EdnError, match=message):
        parse_map_line(line)


def test_edn_history_lines_become_events_with_positions_as_indices():
    lines = [
        '{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}',
        "",
        "{:process :nemesis, :type :info, :f :start, :value nil}",
        '{:process 9, :type :ok, :f :append, :key "0", :value "x 9 0 y"}',
    ]
    ops = list(parse_edn_lines(lines))
    assert ops[0] == Op(0, 0, 9, "invoke", "append", "0", "x 9 0 y")
    assert (ops[1].index, ops[1].process, ops[1].type) == (1, "nemesis", "info")
    assert type(ops[1].process) is str and type(ops[0].type) is str
    assert ops[2].index == 2


@pytest.mark.parametrize(
    "line",
    [
        "{:process 1.5, :type :ok, :f :get}",
        '{:process 1, :type "ok", :f :get}',
        "{:process 1, :type :ok, :f :get, :colour :red}",
        "{:process 1, :type :ok, :f :get, :time nil}",
    ],
)
def test_edn_event_with_bad_or_unknown_fields_is_rejected(line):
    with pytest.raises(HistoryError, match="<edn>:1"):
        list(parse_edn_lines([line]))


# ------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("name", "text", "fmt"),
    [
        ("a.log", ETCD_LOG, "etcd"),
        ("a.txt", '{:process 0, :type :invoke, :f :get, :key "1", :value nil}\n', "edn"),
        ("a.txt", '{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "r"}\n', "jsonl"),
        ("a.jsonl", "", "jsonl"),
        ("a.edn", "\n", "edn"),
    ],
)
def test_format_is_detected_from_content_then_extension(tmp_path, name, text, fmt):
    path = tmp_path / name
    path.write_text(text)
    assert detect_format(path) == fmt


def test_undetectable_format_is_an_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(HistoryError, match="cannot tell"):
        read_history(path)


def test_read_history_reads_each_format(tmp_path):
    (tmp_path / "e.log").write_text(ETCD_LOG)
    (tmp_path / "k.txt").write_text('{:process 0, :type :invoke, :f :get, :key "1", :value nil}')
    write_jsonl(tmp_path / "h.jsonl", [Op(0, 5, 0, "invoke", "read")])
    assert len(read_history(tmp_path / "e.log")) == 6
    assert read_history(tmp_path / "k.txt")[0].f == "get"
    assert read_history(tmp_path / "h.jsonl") == (Op(0, 5, 0, "invoke", "read"),)
    assert read_history(tmp_path / "e.log", "etcd") == read_history(tmp_path / "e.log")
