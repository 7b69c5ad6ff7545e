"""The aql shell without a cluster: the grammar (every statement, quoting, bad SQL), the
table renderer, planning, and a session over a recording fake client."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from raftstore_client import aql
from raftstore_client import aql_parse as ast
from raftstore_client._index import IndexInfo
from raftstore_client.types import Meta, Record

from raftstore.errors import ParameterError
from raftstore.keys import Key
from raftstore.policy import ReadMode

T = ast.Target


def one(text: str) -> ast.Statement:
    statements = ast.parse(text)
    assert len(statements) == 1, statements
    return statements[0]


# --- grammar --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * FROM test", ast.Select(T("test", None), None)),
        ("select * from test.users;", ast.Select(T("test", "users"), None)),
        (
            "SELECT name, age FROM test.users WHERE PK = 'ann'",
            ast.Select(T("test", "users"), ("name", "age"), ast.PkEquals("ann")),
        ),
        (
            "select * from test.users where pk = -7 limit 3",
            ast.Select(T("test", "users"), None, ast.PkEquals(-7), 3),
        ),
        (
            "SELECT * FROM test.users WHERE age = 31",
            ast.Select(T("test", "users"), None, ast.BinEquals("age", 31)),
        ),
        (
            "SELECT * FROM test.users WHERE age BETWEEN 18 AND 65 LIMIT 10",
            ast.Select(T("test", "users"), None, ast.BinBetween("age", 18, 65), 10),
        ),
        (
            'select * from test where name = "Ann"',
            ast.Select(T("test", None), None, ast.BinEquals("name", "Ann")),
        ),
        (
            "EXPLAIN SELECT * FROM test.users WHERE PK = 1",
            ast.Explain(ast.Select(T("test", "users"), None, ast.PkEquals(1))),
        ),
        (
            "INSERT INTO test.users (PK, name, age) VALUES ('ann', 'Ann', 31)",
            ast.Insert(T("test", "users"), "ann", {"name": "Ann", "age": 31}),
        ),
        (
            "insert into test (age, pk) values (1, 2)",
            ast.Insert(T("test", None), 2, {"age": 1}),
        ),
        ("DELETE FROM test.users WHERE PK = 'ann'", ast.Delete(T("test", "users"), "ann")),
        (
            "CREATE INDEX users_age ON test.users (age) NUMERIC",
            ast.CreateIndex("users_age", T("test", "users"), "age", "NUMERIC", "DEFAULT"),
        ),
        (
            "create list index tags_i on test (tags) string",
            ast.CreateIndex("tags_i", T("test", None), "tags", "STRING", "LIST"),
        ),
        (
            "CREATE MAPKEYS INDEX mk ON test.s (m) STRING",
            ast.CreateIndex("mk", T("test", "s"), "m", "STRING", "MAPKEYS"),
        ),
        ("DROP INDEX test.users users_age", ast.DropIndex("test", "users_age")),
        ("drop index test users_age", ast.DropIndex("test", "users_age")),
        ("SHOW NAMESPACES", ast.Show("NAMESPACES")),
        ("show sets", ast.Show("SETS")),
        ("SHOW SETS test", ast.Show("SETS", "test")),
        ("SHOW INDEXES", ast.Show("INDEXES")),
        ("show index test", ast.Show("INDEXES", "test")),
        ("TRUNCATE test.users", ast.Truncate(T("test", "users"))),
        (
            "truncate test before '2026-01-31T12:00:00'",
            ast.Truncate(T("test", None), "2026-01-31T12:00:00"),
        ),
        ("TRUNCATE test.s BEFORE 1767225600000", ast.Truncate(T("test", "s"), 1767225600000)),
        ("SET OUTPUT JSON", ast.SetOutput("JSON")),
        ("set output table", ast.SetOutput("TABLE")),
        ("help", ast.Help()),
        ("EXIT;", ast.Exit()),
        ("quit", ast.Exit()),
    ],
)
def test_every_statement_kind_parses(text: str, expected: ast.Statement) -> None:
    assert one(text) == expected


def test_several_statements_with_comments_and_empty_ones() -> None:
    statements = ast.parse(
        "; -- a comment\nSHOW NAMESPACES;;\n  SELECT *\n  FROM test -- trailing\n;\n"
    )
    assert statements == [ast.Show("NAMESPACES"), ast.Select(T("test", None), None)]
    assert ast.parse("") == [] and ast.parse(" ;; ") == []


def test_values_and_quoting() -> None:
    insert = one(
        "INSERT INTO test.s (PK, a, b, c, d, e, f, g, h, i, j, k) VALUES ("
        "'it''s', \"say \\\"hi\\\"\\n\", 'back\\\\slash', -1.5e3, .5, TRUE, false, NULL, "
        "[1, 'two', [3.0], {'k': NULL}], {'m': {'n': 1}, 2: 'x'}, JSON'{\"a\": [1, 2]}', "
        "X'00ff')"
    )
    assert isinstance(insert, ast.Insert)
    assert insert.key == "it's"
    assert insert.bins == {
        "a": 'say "hi"\n',
        "b": "back\\slash",
        "c": -1500.0,
        "d": 0.5,
        "e": True,
        "f": False,
        "g": None,
        "h": [1, "two", [3.0], {"k": None}],
        "i": {"m": {"n": 1}, 2: "x"},
        "j": {"a": [1, 2]},
        "k": b"\x00\xff",
    }
    assert one("select * from test where pk = X'0102'") == ast.Select(
        T("test", None), None, ast.PkEquals(b"\x01\x02")
    )
    assert one("INSERT INTO t.s (PK, a) VALUES (1, JSON'[1, \"x\"]')").bins == {"a": [1, "x"]}


def test_keywords_are_case_insensitive_and_names_may_look_like_keywords() -> None:
    assert one("SeLeCt set, limit, from FrOm ns.`my set` WhErE set = 1") == ast.Select(
        T("ns", "my set"), ("set", "limit", "from"), ast.BinEquals("set", 1)
    )
    assert one("select * from `name-with.dot`.s-1") == ast.Select(T("name-with.dot", "s-1"), None)
    assert one("INSERT INTO test.Users (PK, Age) VALUES (1, 2)") == ast.Insert(
        T("test", "Users"), 1, {"Age": 2}
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELEC * FROM test", "line 1 column 1: unexpected 'SELEC'; expected 'CREATE'"),
        ("SELECT * FORM test", "unexpected 'FORM'; expected 'FROM'"),
        ("SELECT * FROM", "unexpected end of statement; expected name"),
        ("SELECT * FROM test WHERE", "unexpected end of statement"),
        ("SELECT * FROM test WHERE pk = 'abc", "unterminated string"),
        ("SELECT * FROM test.s.t", "unexpected '.'"),
        ("SELECT * FROM test LIMIT -1", "unexpected '-1'"),
        ("SELECT * FROM test;\nDELETE test.s", "line 2 column 8: unexpected 'test'"),
        ("SELECT * FROM test WHERE a = [1]", "WHERE a: compare with an integer"),
        ("SELECT * FROM test WHERE a = NULL", "WHERE a: compare with an integer"),
        ("SELECT * FROM test WHERE a BETWEEN 1 AND 'z'", "BETWEEN bounds of a differ in type"),
        ("SELECT * FROM test WHERE pk = 1.5", "PK must be an integer, a string or bytes"),
        ("INSERT INTO test.s (PK, a) VALUES (1)", "2 columns but 1 values"),
        ("INSERT INTO test.s (a, b) VALUES (1, 2)", "name the key column PK exactly once"),
        ("INSERT INTO test.s (PK, PK) VALUES (1, 2)", "name the key column PK exactly once"),
        ("INSERT INTO test.s (PK, a, a) VALUES (1, 2, 3)", "bin 'a' is named twice"),
        ("INSERT INTO test.s (PK) VALUES (1)", "at least one bin besides PK"),
        ("INSERT INTO test.s (PK, a) VALUES ([1], 2)", "PK must be an integer"),
        ("INSERT INTO test.s (PK, a) VALUES (1, JSON'[1,')", "JSON literal '[1,' is not valid"),
        ("INSERT INTO test.s (PK, a) VALUES (1, X'abc')", "odd number of hex digits"),
        ("INSERT INTO test.s (PK, a) VALUES (1, {[1]: 2})", "a map key must be a scalar"),
        ("CREATE INDEX i ON test.s (a) FLOAT", "unexpected 'FLOAT'"),
        ("DELETE FROM test.s WHERE a = 1", "expected 'PK'"),
        ("SHOW TABLES", "unexpected 'TABLES'"),
        ("TRUNCATE test BEFORE [1]", "BEFORE takes unix ms or an ISO time"),
        ("SELECT * FROM test # x", "unexpected '#'"),
    ],
)
def test_bad_sql_is_a_parameter_error_saying_where_and_what(text: str, message: str) -> None:
    with pytest.raises(ParameterError) as e:
        ast.parse(text)
    assert e.value.code == 4
    assert e.value.message.startswith("bad SQL"), e.value.message
    assert message in e.value.message, e.value.message


def test_statement_complete_follows_tokens_not_characters() -> None:
    assert ast.statement_complete("SELECT * FROM test;")
    assert ast.statement_complete("SELECT *\nFROM test\n;  ")
    assert not ast.statement_complete("SELECT * FROM test")
    assert not ast.statement_complete("INSERT INTO t.s (PK, a) VALUES (1, 'a;")
    assert not ast.statement_complete("INSERT INTO t.s (PK, a) VALUES (1, 'a;')")
    assert ast.statement_complete("INSERT INTO t.s (PK, a) VALUES (1, 'a;');")
    assert not ast.statement_complete("SELECT * FROM test -- done;")
    assert ast.statement_complete("help") and ast.statement_complete(" EXIT ")
    assert ast.statement_complete("SELECT # FROM test;")  # complete; parse() says why not


# --- rendering ------------------------------------------------------------------------


def test_render_table_aligns_quotes_strings_and_right_aligns_numbers() -> None:
    table = aql.render_table(
        ["PK", "name", "n", "b"],
        [["ann", "Ann", 31, b"\x01"], [2, "Zoë", aql.MISSING, None], [3, [1, "a"], 1.5, True]],
    )
    assert table == "\n".join(
        [
            "+-------+----------+-----+-------+",
            "| PK    | name     | n   | b     |",
            "+-------+----------+-----+-------+",
            '| "ann" | "Ann"    |  31 | X\'01\' |',
            '|     2 | "Zoë"    |     | NULL  |',
            '|     3 | [1, "a"] | 1.5 | true  |',
            "+-------+----------+-----+-------+",
        ]
    )
    assert aql.render_table(["field"], [["plain"]], quote=False).splitlines()[3] == "| plain |"
    assert aql.render_table(["a", "bb"], []) == "+---+----+\n| a | bb |\n+---+----+"


def _record(user_key: Any, bins: dict[str, Any], set_name: str = "s") -> Record:
    key = Key.of("test", set_name, user_key)
    return Record((key.namespace, set_name, user_key, key.digest), Meta(1, -1, 0), bins)


def test_record_rows_take_every_bin_in_first_seen_order_and_digests_for_unsent_keys() -> None:
    first, second = _record(1, {"b": 1, "a": 2}), _record("x", {"c": 3, "a": 4})
    anonymous = second._replace(key=("test", "s", None, second.key[3]))
    columns, rows = aql.record_rows([first, anonymous], None)
    assert columns == ["PK", "b", "a", "c"]
    assert rows == [[1, 1, 2, aql.MISSING], [second.key[3], aql.MISSING, 4, 3]]
    columns, rows = aql.record_rows([first], ["a", "zz"])
    assert (columns, rows) == (["PK", "a", "zz"], [[1, 2, aql.MISSING]])


# --- planning and sessions over a fake client -----------------------------------------


def _index(
    name: str, bin_name: str, kind: str, ready: bool = True, set_name: str = "s"
) -> IndexInfo:
    return IndexInfo(
        "test",
        name,
        set_name,
        bin_name,
        kind,
        "DEFAULT",
        ready,
        1.0 if ready else 0.4,
        8,
        8 if ready else 3,
        8,
        0,
    )


class FakeClient:
    """Records every call; answers from a dict of records and a list of indexes."""

    read_mode = ReadMode.LINEARIZE

    def __init__(self, indexes: list[IndexInfo] | None = None) -> None:
        self.calls: list[tuple] = []
        self.records: dict[Any, Record] = {}
        self.indexes = indexes or []

    def put(self, key: Any, bins: dict, policy: Any = None) -> None:
        self.calls.append(("put", key, bins, policy.send_key))
        self.records[key] = _record(key[2], bins, key[1])

    def get(self, key: Any) -> Record:
        self.calls.append(("get", key))
        return self.records[key]

    def scan(self, namespace: str, set_name: Any = None, bins: Any = None, **kw: Any) -> Any:
        self.calls.append(("scan", namespace, set_name, bins, kw))
        return iter(list(self.records.values()))

    def query(self, namespace: str, set_name: Any = None, **kw: Any) -> Any:
        self.calls.append(("query", namespace, set_name, kw))
        return iter(list(self.records.values()))

    def list_indexes(self, namespace: str) -> list[IndexInfo]:
        return self.indexes

    def truncate(self, namespace: str, set_name: Any = None, before: Any = None) -> dict:
        self.calls.append(("truncate", namespace, set_name, before))
        return {}

    def close(self) -> None:
        pass


def session(client: FakeClient, **kw: Any) -> tuple[aql.Session, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return aql.Session(lambda: client, out=out, err=err, **kw), out, err


def test_where_on_a_bin_uses_a_ready_index_of_the_values_type_else_a_filtered_scan() -> None:
    select = one("SELECT * FROM test.s WHERE age BETWEEN 1 AND 9")
    assert isinstance(select, ast.Select)
    plan = aql.plan_select(FakeClient([_index("s_age", "age", "NUMERIC")]), select)
    assert (plan.kind, plan.index.name, plan.filter) == ("INDEX QUERY", "s_age", None)

    plan = aql.plan_select(FakeClient([_index("s_age", "age", "NUMERIC", ready=False)]), select)
    assert plan.kind == "SCAN WITH FILTER" and "still building (40%)" in plan.reason
    assert json.loads(_json(plan.filter))["call"]["op"] == "EXP_OP_AND"

    string_eq = one("SELECT * FROM test.s WHERE age = 'x'")
    plan = aql.plan_select(FakeClient([_index("s_age", "age", "NUMERIC")]), string_eq)
    assert plan.kind == "SCAN WITH FILTER" and "needs STRING" in plan.reason

    other_set = FakeClient([_index("o_age", "age", "NUMERIC", set_name="other")])
    plan = aql.plan_select(other_set, select)
    assert plan.kind == "SCAN WITH FILTER" and plan.reason == "no index on test.s.age"
    assert aql.plan_select(FakeClient(), one("SELECT * FROM test")).kind == "SCAN"
    assert aql.plan_select(FakeClient(), one("SELECT * FROM test WHERE PK = 1")).kind == "PK GET"


def _json(message: Any) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(message)


def test_a_script_with_bad_sql_anywhere_runs_nothing() -> None:
    client = FakeClient()
    s, out, err = session(client)
    status = s.run_script("INSERT INTO test.s (PK, a) VALUES (1, 2); SELEKT * FROM test")
    assert status == 1 and client.calls == [] and out.getvalue() == ""
    assert err.getvalue().startswith("Error: (4) PARAMETER_ERROR: bad SQL at line 1 column 43")


def test_a_session_inserts_selects_and_prints_tables_or_json() -> None:
    client = FakeClient([_index("s_age", "age", "NUMERIC")])
    s, out, _ = session(client)
    assert s.run_script("INSERT INTO test.s (PK, age, gone) VALUES ('k', 5, NULL)") == 0
    assert client.calls == [("put", ("test", "s", "k"), {"age": 5, "gone": None}, True)]
    assert out.getvalue() == "OK, 1 record affected.\n"
    client.records[("test", "s", "k")] = _record("k", {"age": 5})
    assert s.run_script("SELECT * FROM test.s WHERE PK = 'k'") == 0
    lines = out.getvalue().splitlines()
    assert lines[1:6] == [
        "+-----+-----+",
        "| PK  | age |",
        "+-----+-----+",
        '| "k" |   5 |',
        "+-----+-----+",
    ]
    assert lines[6].startswith("1 row in set (")
    out.truncate(0), out.seek(0)
    assert s.run_script("SET OUTPUT JSON; SELECT age FROM test.s WHERE age = 5 LIMIT 1") == 0
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first == {"ok": True, "output": "JSON"}
    assert (second["PK"], second["bins"], second["set"]) == ("k", {"age": 5}, "s")
    assert client.calls[-1] == (
        "query",
        "test",
        "s",
        {"bin": "age", "index": "s_age", "bins": ["age"], "equals": 5},
    )


def test_truncate_asks_unless_yes_and_refuses_without_a_way_to_ask() -> None:
    client = FakeClient()
    s, _, err = session(client)
    assert s.run_script("TRUNCATE test.s") == 1
    assert "TRUNCATE test.s needs confirmation: run with --yes" in err.getvalue()
    answers = iter(["n", "yes"])
    s, out, _ = session(client, confirm=lambda question: next(answers) == "yes")
    assert s.run_script("TRUNCATE test.s") == 0 and out.getvalue() == "Not truncated.\n"
    assert client.calls == []
    assert s.run_script("TRUNCATE test BEFORE 1000") == 0
    assert client.calls == [("truncate", "test", None, 1000)]
    s, _, _ = session(client, yes=True)
    assert s.run_script("TRUNCATE test.s") == 0 and client.calls[-1][:3] == (
        "truncate",
        "test",
        "s",
    )


def test_the_interactive_loop_reads_multi_line_statements_and_goes_on_after_errors() -> None:
    client = FakeClient()
    s, out, err = session(client)
    lines = [
        "INSERT INTO test.s",
        "  (PK, a)",
        "VALUES (1, 'x;'",
        ");",
        "",
        "SELEC;",
        "help",
        "INSERT INTO test.s (PK, b) VALUES (2, 3);",
        "exit",
        "INSERT INTO t.s (PK, c) VALUES (3, 4);",
    ]
    status = aql.interactive(s, aql.script_lines(lines), prompts=False)
    assert status == 1  # SELEC failed; the shell went on
    assert [c[1] for c in client.calls] == [("test", "s", 1), ("test", "s", 2)]
    assert client.calls[0][2] == {"a": "x;"}
    assert "Statements end with ';'" in out.getvalue()
    assert err.getvalue().count("Error: (4)") == 1


def test_end_of_input_runs_an_unfinished_statement() -> None:
    client = FakeClient()
    s, _, _ = session(client)
    assert (
        aql.interactive(s, aql.script_lines(["INSERT INTO test.s (PK, a)", "VALUES (1, 2)"]), False)
        == 0
    )
    assert client.calls == [("put", ("test", "s", 1), {"a": 2}, True)]
