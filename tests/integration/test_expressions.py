"""Filter expressions on three real node processes: a record the filter does not select
answers FILTERED_OUT (27) and nothing changes, on the leader and on every follower."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from raftstore_client import (
    AsyncClient,
    Client,
    FilteredOut,
    ParameterError,
    ReadMode,
    RecordNotFound,
    ResultCode,
    exp,
    operations,
)

from raftstore.v1 import exp_pb2, kv_pb2
from raftstore.wire import value_to_pb
from tests.integration.helpers import pb_key, replicas_caught_up, result_code, stub, wait_until
from tests.jepsen.cluster import Cluster

YOUNG = exp.lt(exp.int_bin("age"), 21)
ADULT = exp.ge(exp.int_bin("age"), 21)


def _filtered_commands(c: Client, key: Any) -> dict[str, Callable[[], Any]]:
    return {
        "get": lambda: c.get(key, filter=YOUNG),
        "select": lambda: c.select(key, ["age"], filter=YOUNG),
        "exists": lambda: c.exists(key, filter=YOUNG),
        "put": lambda: c.put(key, {"age": 1}, filter=YOUNG),
        "delete": lambda: c.delete(key, filter=YOUNG),
        "touch": lambda: c.touch(key, filter=YOUNG),
        "operate": lambda: c.operate(key, [operations.increment("age", 1)], filter=YOUNG),
        "read-only operate": lambda: c.operate(key, [operations.read("age")], filter=YOUNG),
    }


def test_filtered_commands_answer_27_and_change_nothing(shared_cluster: Cluster) -> None:
    # Pinned to n1: commands for groups led elsewhere are forwarded with their filter.
    with (
        Client(shared_cluster.hosts, timeout=10) as c,
        Client([shared_cluster.address("n1")], pinned=True, timeout=10) as pinned,
    ):
        for i, client in enumerate((c, pinned) * 3):
            key = ("test", "exp", f"filtered-{i}")
            client.put(key, {"age": 30, "name": "alice"})
            for name, command in _filtered_commands(client, key).items():
                with pytest.raises(FilteredOut) as info:
                    command()
                assert info.value.code == ResultCode.FILTERED_OUT == 27, name
                assert not info.value.in_doubt, name
            rec = c.get(key)
            assert rec.bins == {"age": 30, "name": "alice"}
            assert rec.meta.gen == 1  # no write was applied


def test_commands_whose_filter_selects_the_record_apply(client: Client) -> None:
    key = ("test", "exp", "passing")
    client.put(key, {"age": 30}, ttl=600)
    assert client.get(key, filter=ADULT).bins == {"age": 30}
    assert client.exists(key, filter=ADULT)[1] is not None
    long_lived = exp.and_(ADULT, exp.gt(exp.ttl(), 500), exp.eq(exp.set_name(), "exp"))
    assert client.put(key, {"age": 31}, filter=long_lived).gen == 2
    rec = client.operate(
        key, [operations.increment("age", 1), operations.read("age")], filter=ADULT
    )
    assert rec.bins == {"age": 32} and rec.meta.gen == 3
    assert client.touch(key, filter=exp.eq(exp.generation(), 3)).gen == 4
    client.delete(key, filter=exp.eq(exp.int_bin("age"), 32))
    with pytest.raises(RecordNotFound):
        client.get(key)
    # Create only if absent, expressed as a filter.
    assert client.put(key, {"age": 1}, filter=exp.not_(exp.record_exists())).gen == 1
    with pytest.raises(FilteredOut):
        client.put(key, {"age": 2}, filter=exp.not_(exp.record_exists()))
    assert client.get(key).bins == {"age": 1}


def test_batch_get_returns_none_for_records_filtered_out(shared_cluster: Cluster) -> None:
    keys = [("test", "exp", f"batch-{i}") for i in range(40)]
    with Client(shared_cluster.hosts, timeout=10) as c:
        for i, key in enumerate(keys):
            c.put(key, {"age": i})
    for hosts, pinned in ((shared_cluster.hosts, False), ([shared_cluster.address("n2")], True)):
        with Client(hosts, pinned=pinned, timeout=10) as c:
            got = c.get_many([*keys, ("test", "exp", "batch-absent")], filter=ADULT)
            assert [r.bins["age"] if r else None for r in got] == [
                *[None] * 21,
                *range(21, 40),
                None,
            ]


def test_the_async_client_filters_alike(shared_cluster: Cluster) -> None:
    async def run() -> None:
        async with await AsyncClient.connect(shared_cluster.hosts, timeout=10) as c:
            key = ("test", "exp", "async")
            await c.put(key, {"age": 30})
            with pytest.raises(FilteredOut):
                await c.put(key, {"age": 5}, filter=YOUNG)
            with pytest.raises(FilteredOut):
                await c.delete(key, filter=YOUNG)
            with pytest.raises(FilteredOut):
                await c.operate(key, [operations.increment("age", 1)], filter=YOUNG)
            assert (await c.get(key, filter=ADULT)).meta.gen == 1
            assert (await c.get_many([key], filter=YOUNG)) == [None]

    asyncio.run(run())


def _bad_filters() -> dict[str, exp_pb2.Expression]:
    unknown_op = exp_pb2.Expression()
    unknown_op.call.op = 999
    return {
        "unknown op": unknown_op,
        "no kind": exp_pb2.Expression(),
        "mixed types": exp.eq(exp.int_bin("age"), 1.5),
        "not boolean": exp.add(exp.int_bin("age"), 1),
        "too deep": _nested(40),
        "deeper than protobuf parses": _nested(150),
    }


def _nested(depth: int) -> exp_pb2.Expression:
    e = exp.val(True)
    for _ in range(depth - 1):
        e = exp.not_(e)
    return e


def test_a_malformed_filter_is_a_parameter_error_and_changes_nothing(
    client: Client, shared_cluster: Cluster
) -> None:
    key = ("test", "exp", "malformed")
    client.put(key, {"age": 30})
    ch, kv = stub(shared_cluster, "n3")
    with ch:
        for name, bad in _bad_filters().items():
            with pytest.raises(ParameterError) as info:
                client.put(key, {"age": 1}, filter=bad)
            assert info.value.code == 4, name
            request = kv_pb2.PutRequest(key=pb_key(*key))
            request.filter.CopyFrom(bad)
            value_to_pb(2, request.bins["age"])
            with pytest.raises(grpc.RpcError) as raw:
                kv.Put(request, timeout=10)
            assert result_code(raw.value) == 4, name
            assert raw.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
            assert raw.value.details(), name  # type: ignore[attr-defined]
    with pytest.raises(ParameterError):
        client.put(key, {"age": 1}, filter="age > 21")  # type: ignore[arg-type]
    rec = client.get(key)
    assert rec.bins == {"age": 30} and rec.meta.gen == 1


def test_every_replica_holds_the_leaders_state_after_filtered_writes(
    shared_cluster: Cluster,
) -> None:
    keys = [("test", "exp", f"replicated-{i}") for i in range(24)]
    with Client(shared_cluster.hosts, timeout=10) as c:
        for i, key in enumerate(keys):
            c.put(key, {"age": i, "tags": list(range(i % 4))})
        for key in keys:  # half of them pass each filter
            _try(lambda k=key: c.operate(k, [operations.increment("age", 100)], filter=ADULT))
            _try(lambda k=key: c.put(k, {"seen": True}, filter=exp.eq(exp.list_size("tags"), 2)))
            _try(lambda k=key: c.delete(k, filter=exp.eq(exp.mod(exp.int_bin("age"), 5), 0)))
        expected = {key: _state(c, key) for key in keys}
    assert any(v is None for v in expected.values()) and any(v for v in expected.values())
    nodes = list(shared_cluster.ids)
    wait_until(lambda: replicas_caught_up(shared_cluster, nodes), 20, "replicas to catch up")
    for node in nodes:
        with Client(
            [shared_cluster.address(node)], pinned=True, read_mode=ReadMode.ALLOW_REPLICA
        ) as replica:
            assert {key: _state(replica, key) for key in keys} == expected, node


def _try(command: Callable[[], Any]) -> None:
    try:
        command()
    except FilteredOut:
        pass


def _state(c: Client, key: Any) -> tuple[int, dict[str, Any]] | None:
    try:
        rec = c.get(key)
    except RecordNotFound:
        return None
    return rec.meta.gen, rec.bins


def test_the_readme_example_runs(shared_cluster: Cluster) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "filters.py"
    out = subprocess.run(
        [sys.executable, str(example), *shared_cluster.hosts],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "adults: [None, 'ben', 'cat']" in out.stdout
    assert "ann filtered out: FILTERED_OUT (27)" in out.stdout
    assert "ben tagged: gen=2" in out.stdout
    assert "cat exists already" in out.stdout
