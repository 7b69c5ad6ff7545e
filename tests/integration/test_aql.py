"""``raftstore aql`` as a user runs it, a subprocess against a real 3-node cluster: -c
scripts, JSON output, EXPLAIN's plans, index queries, TRUNCATE's confirmation, bad SQL
that changes nothing, and an interactive session fed through stdin."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from raftstore_client import Client

from raftstore.keys import Key
from tests.jepsen.cluster import Cluster

RAFTSTORE = [sys.executable, "-m", "raftstore_client.cli"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("aql"), nodes=3, node_args=["--unsafe-no-fsync"]) as c:
        yield c


def aql(
    cluster: Cluster, *args: str, stdin: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [*RAFTSTORE, "aql", "--hosts", ",".join(cluster.hosts), "--timeout", "10", *args],
        capture_output=True,
        text=True,
        input=stdin if stdin is not None else "",
        timeout=120,
    )
    if ok:
        assert out.returncode == 0, f"aql {args} failed: {out.stderr}"
    return out


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_insert_then_select_by_pk_as_a_table_and_as_json_then_delete(cluster: Cluster) -> None:
    out = aql(
        cluster,
        "-c",
        "INSERT INTO test.people (PK, name, age, tags) VALUES ('ann', 'Ann', 31, ['a', 'b']);"
        'INSERT INTO test.people (PK, name, age, meta) VALUES (7, "Bob", 45, JSON\'{"x": 1}\');'
        "SELECT name, age, tags FROM test.people WHERE PK = 'ann'",
    )
    lines = out.stdout.splitlines()
    assert lines[:2] == ["OK, 1 record affected.", "OK, 1 record affected."]
    assert lines[3] == "| PK    | name  | age | tags       |"
    assert lines[5] == '| "ann" | "Ann" |  31 | ["a", "b"] |'
    assert lines[7].startswith("1 row in set")

    got = json_lines(
        aql(cluster, "--json", "-c", "SELECT name, meta FROM test.people WHERE PK = 7").stdout
    )
    assert got == [
        {
            "namespace": "test",
            "set": "people",
            "PK": 7,
            "digest": Key.of("test", "people", 7).digest.hex(),
            "gen": 1,
            "ttl": -1,
            "bins": {"name": "Bob", "meta": {"x": 1}},
        }
    ]
    scanned = json_lines(aql(cluster, "--json", "-c", "SELECT * FROM test.people").stdout)
    assert {r["PK"] for r in scanned} == {7, "ann"}
    assert (
        len(json_lines(aql(cluster, "--json", "-c", "SELECT * FROM test.people LIMIT 1").stdout))
        == 1
    )

    assert (
        aql(cluster, "-c", "DELETE FROM test.people WHERE PK = 7").stdout
        == "OK, 1 record affected.\n"
    )
    gone = aql(cluster, "-c", "SELECT * FROM test.people WHERE PK = 7", ok=False)
    assert gone.returncode == 1
    assert gone.stderr.startswith("Error: (2) KEY_NOT_FOUND")


def test_index_queries_explain_their_plan_and_match_the_filtered_scan(cluster: Cluster) -> None:
    script = ";".join(
        f"INSERT INTO test.ages (PK, age, name) VALUES ({i}, {i % 50}, 'n{i}')" for i in range(60)
    )
    aql(cluster, "-c", script)
    query = "SELECT * FROM test.ages WHERE age BETWEEN 10 AND 14"
    expected = {i for i in range(60) if 10 <= i % 50 <= 14}

    before = json_lines(aql(cluster, "--json", "-c", f"EXPLAIN {query}").stdout)[0]
    assert before["plan"] == "SCAN WITH FILTER"
    assert before["why_no_index"] == "no index on test.ages.age"
    scanned = json_lines(aql(cluster, "--json", "-c", query).stdout)
    assert {r["PK"] for r in scanned} == expected

    created = aql(cluster, "-c", "CREATE INDEX ages_age ON test.ages (age) NUMERIC")
    assert created.stdout.startswith("OK, 1 index added (ages_age")
    deadline = time.monotonic() + 60
    while True:
        indexes = json_lines(aql(cluster, "--json", "-c", "SHOW INDEXES test").stdout)
        mine = [i for i in indexes if i["name"] == "ages_age"]
        assert mine and (mine[0]["set"], mine[0]["bin"], mine[0]["type"]) == (
            "ages",
            "age",
            "NUMERIC",
        )
        if mine[0]["state"] == "ready":
            break
        assert time.monotonic() < deadline, mine
        time.sleep(0.5)

    plan = json_lines(aql(cluster, "--json", "-c", f"EXPLAIN {query}").stdout)[0]
    assert plan["plan"] == "INDEX QUERY" and plan["index"].startswith("ages_age (NUMERIC")
    assert plan["groups"] == 8 and plan["partitions"] == "0-4095"
    leaders = {entry.split(": ")[1].split(" ")[0] for entry in plan["leaders"].split(", ")}
    assert leaders <= set(cluster.ids)
    queried = json_lines(aql(cluster, "--json", "-c", query).stdout)
    assert {r["PK"] for r in queried} == expected
    assert sorted(r["PK"] for r in queried) == sorted(r["PK"] for r in scanned)
    equal = json_lines(
        aql(cluster, "--json", "-c", "SELECT age FROM test.ages WHERE age = 3").stdout
    )
    assert {r["PK"] for r in equal} == {3, 53} and all(r["bins"] == {"age": 3} for r in equal)

    table = aql(cluster, "-c", "SHOW INDEXES").stdout
    assert "| test      | ages | age | ages_age | NUMERIC | DEFAULT    | ready |" in table
    assert aql(cluster, "-c", "DROP INDEX test.ages ages_age").stdout == "OK, 1 index removed.\n"
    again = aql(cluster, "-c", "DROP INDEX test ages_age", ok=False)
    assert again.returncode == 1 and again.stderr.startswith("Error: (201) INDEX_NOTFOUND")


def test_explain_pk_names_partition_group_and_leader(cluster: Cluster) -> None:
    plan = json_lines(
        aql(cluster, "--json", "-c", "EXPLAIN SELECT * FROM test.people WHERE PK = 'ann'").stdout
    )[0]
    key = Key.of("test", "people", "ann")
    assert (plan["plan"], plan["partition"], plan["digest"]) == (
        "PK GET",
        key.partition,
        key.digest.hex(),
    )
    with Client(cluster.hosts, timeout=10) as client:
        pmap = client.partition_map()
    ns = next(n for n in pmap.namespaces if n.name == "test")
    assert plan["group"] == f"test/{ns.partition_group[key.partition]}"
    assert plan["leader"].split(" ")[0] in set(cluster.ids)
    table = aql(cluster, "-c", "EXPLAIN SELECT * FROM test.people WHERE PK = 'ann'").stdout
    assert f"| partition | {key.partition}" in table and "| plan      | PK GET" in table


def test_show_namespaces_and_sets(cluster: Cluster) -> None:
    aql(
        cluster,
        "-c",
        "INSERT INTO test.shown (PK, a) VALUES (1, 1);INSERT INTO test.shown (PK, a) VALUES (2, 2)",
    )
    namespaces = json_lines(aql(cluster, "--json", "-c", "SHOW NAMESPACES").stdout)
    assert {
        "namespace": "test",
        "replication_factor": 3,
        "partition_groups": 8,
    }.items() <= namespaces[0].items()
    table = aql(cluster, "-c", "show namespaces").stdout.splitlines()
    assert table[1].split("|")[1].strip() == "namespace" and table[3].startswith("| test ")
    sets = json_lines(aql(cluster, "--json", "-c", "SHOW SETS test").stdout)
    assert {"namespace": "test", "set": "shown", "objects": 2} in sets


def test_truncate_needs_yes_outside_a_terminal(cluster: Cluster) -> None:
    aql(
        cluster,
        "-c",
        "INSERT INTO test.trunc (PK, a) VALUES (1, 1);INSERT INTO test.trunc (PK, a) VALUES (2, 2)",
    )
    refused = aql(cluster, "-c", "TRUNCATE test.trunc", ok=False)
    assert refused.returncode == 1
    assert "Error: (4) PARAMETER_ERROR: TRUNCATE test.trunc needs confirmation" in refused.stderr
    assert len(json_lines(aql(cluster, "--json", "-c", "SELECT * FROM test.trunc").stdout)) == 2
    assert (
        aql(cluster, "--yes", "-c", "TRUNCATE test.trunc").stdout == "OK, test.trunc truncated.\n"
    )
    assert aql(cluster, "--json", "-c", "SELECT * FROM test.trunc").stdout == ""
    aql(cluster, "-c", "INSERT INTO test.trunc (PK, a) VALUES (3, 3)")
    assert [
        r["PK"] for r in json_lines(aql(cluster, "--json", "-c", "SELECT * FROM test.trunc").stdout)
    ] == [3]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("INSERT INTO test.bad (PK, a) VALUES (1, 1); SELEKT * FROM test.bad", "bad SQL at line 1"),
        ("INSERT INTO test.bad (PK, a) VALUES (1)", "2 columns but 1 values"),
        ("INSERT INTO test.bad (PK, a) VALUES (1, 'unterminated)", "unterminated string"),
        ("INSERT INTO test.bad (PK, a) VALUES (1, JSON'{oops}')", "is not valid JSON"),
    ],
)
def test_bad_sql_exits_non_zero_with_a_clear_message_and_changes_nothing(
    cluster: Cluster, script: str, message: str
) -> None:
    out = aql(cluster, "-c", script, ok=False)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("Error: (4) PARAMETER_ERROR: bad SQL"), out.stderr
    assert message in out.stderr
    with Client(cluster.hosts, timeout=10) as client:
        assert client.exists(("test", "bad", 1))[1] is None


def test_server_side_errors_carry_their_result_code(cluster: Cluster) -> None:
    out = aql(cluster, "-c", "INSERT INTO nope.s (PK, a) VALUES (1, 1)", ok=False)
    assert out.returncode == 1 and out.stderr.startswith("Error: (20) NAMESPACE_NOT_FOUND")
    out = aql(cluster, "-c", "INSERT INTO test.s (PK, a_bin_name_too_long) VALUES (1, 1)", ok=False)
    assert out.returncode == 1 and out.stderr.startswith("Error: (21) BIN_NAME_TOO_LONG")


def test_an_interactive_session_through_stdin(cluster: Cluster) -> None:
    session = "\n".join(
        [
            "INSERT INTO test.chat",
            "  (PK, msg, n)",
            "  VALUES ('k1', 'hello; world',",
            "          42);",
            "SELECT msg",
            "  FROM test.chat",
            "  WHERE PK = 'k1';",
            "SELEC oops;",
            "SET OUTPUT JSON;",
            "SELECT * FROM test.chat WHERE PK = 'k1';",
            "TRUNCATE test.chat;",
            "n",
            "exit",
            "INSERT INTO test.chat (PK, msg) VALUES ('never', 'x');",
        ]
    )
    out = aql(cluster, stdin=session, ok=False)
    assert out.returncode == 1  # one statement failed; the session went on
    assert out.stderr.count("Error: (4) PARAMETER_ERROR: bad SQL") == 1
    assert "Truncate test.chat? Every record of it is removed for good. [y/N]" in out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "OK, 1 record affected."
    assert '| "k1" | "hello; world" |' in lines
    objects = [json.loads(line) for line in lines if line.startswith("{")]
    assert objects[0] == {"ok": True, "output": "JSON"}
    assert objects[1]["bins"] == {"msg": "hello; world", "n": 42}
    assert objects[2] == {"ok": True, "truncated": False}
    with Client(cluster.hosts, timeout=10) as client:
        assert client.get(("test", "chat", "k1")).bins["n"] == 42
        assert client.exists(("test", "chat", "never"))[1] is None
