"""The Python client's commands against a real cluster, sync and asyncio."""

from __future__ import annotations

import asyncio

import pytest
from raftstore_client import (
    AsyncClient,
    BinTypeError,
    Client,
    GenerationError,
    GenPolicy,
    OpNotApplicable,
    RecordExists,
    RecordExistsAction,
    RecordNotFound,
    WritePolicy,
)
from raftstore_client import operations as op

from tests.jepsen.cluster import Cluster


def test_put_get_select_exists_delete(client: Client) -> None:
    key = ("test", "api", "alice")
    meta = client.put(
        key,
        {
            "name": "Alice",
            "age": 30,
            "score": 1.5,
            "raw": b"\x00\x01",
            "ok": True,
            "tags": ["a", 1],
            "m": {"x": 1, 2: "two", b"b": None},
        },
    )
    assert meta.gen == 1 and meta.ttl == -1
    k, m, bins = client.get(key)
    assert k[:3] == key and len(k[3]) == 16
    assert m["gen"] == m.gen == 1
    assert bins == {
        "name": "Alice",
        "age": 30,
        "score": 1.5,
        "raw": b"\x00\x01",
        "ok": True,
        "tags": ["a", 1],
        "m": {"x": 1, 2: "two", b"b": None},
    }
    assert isinstance(bins["ok"], bool) and isinstance(bins["score"], float)
    assert client.select(key, ["name", "missing"]).bins == {"name": "Alice"}
    assert client.exists(key)[1].gen == 1
    client.put(key, {"age": None})  # null deletes a bin
    assert "age" not in client.get(key).bins
    client.delete(key)
    assert client.exists(key)[1] is None
    with pytest.raises(RecordNotFound):
        client.get(key)
    with pytest.raises(RecordNotFound):
        client.delete(key)


def test_record_exists_actions_and_generation_policies(client: Client) -> None:
    key = ("test", "api", "policies")
    client.put(key, {"a": 1}, WritePolicy(exists=RecordExistsAction.CREATE_ONLY))
    with pytest.raises(RecordExists):
        client.put(key, {"a": 2}, WritePolicy(exists=RecordExistsAction.CREATE_ONLY))
    client.put(key, {"b": 2}, WritePolicy(exists=RecordExistsAction.REPLACE))
    assert client.get(key).bins == {"b": 2}
    with pytest.raises(RecordNotFound):
        client.put(
            ("test", "api", "nope"), {"a": 1}, WritePolicy(exists=RecordExistsAction.UPDATE_ONLY)
        )
    gen = client.get(key).meta.gen
    with pytest.raises(GenerationError):
        client.put(key, {"c": 3}, WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=gen + 5))
    client.put(key, {"c": 3}, WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=gen))
    assert client.get(key).meta.gen == gen + 1


def test_ttl_and_touch(client: Client) -> None:
    key = ("test", "api", "ttl")
    meta = client.put(key, {"a": 1}, ttl=100)
    assert 95 <= meta.ttl <= 100
    meta = client.touch(key, ttl=1000)
    assert 995 <= meta.ttl <= 1000 and meta.gen == 2
    assert client.put(key, {"b": 1}, ttl=-2).ttl > 900  # -2 keeps the expiry
    assert client.put(key, {"b": 2}, ttl=-1).ttl == -1


def test_operate_is_atomic_and_ordered(client: Client) -> None:
    key = ("test", "api", "operate")
    rec = client.operate(
        key,
        [
            op.write("n", 1),
            op.increment("n", 5),
            op.read("n"),
            op.list_append("l", "x"),
            op.map_put("m", "k", 1),
        ],
    )
    assert rec.bins == {"n": 6, "l": 1, "m": 1}
    _, _, ordered = client.operate_ordered(key, [op.read("n"), op.increment("n", 1), op.read("n")])
    assert ordered == [("n", 6), ("n", 7)]
    with pytest.raises(BinTypeError):
        client.operate(key, [op.increment("n", 1), op.append("n", "text")])
    assert client.get(key).bins["n"] == 7  # the failed operate changed nothing
    with pytest.raises(OpNotApplicable):
        client.operate(key, [op.list_get("l", 10)])


def test_get_many_spans_groups_and_reports_missing_records(client: Client) -> None:
    keys = [("test", "api", f"many{i}") for i in range(40)]
    for i, key in enumerate(keys[:30]):
        client.put(key, {"i": i})
    records = client.get_many(keys)
    assert [r.bins["i"] if r else None for r in records] == list(range(30)) + [None] * 10


def test_the_asyncio_client_has_the_same_commands(shared_cluster: Cluster) -> None:
    async def run() -> None:
        async with await AsyncClient.connect(shared_cluster.hosts) as c:
            key = ("test", "api", "async")
            await c.put(key, {"a": 1})
            assert (await c.get(key)).bins == {"a": 1}
            await asyncio.gather(
                *(c.put(("test", "api", f"async{i}"), {"i": i}) for i in range(50))
            )
            recs = await c.get_many([("test", "api", f"async{i}") for i in range(50)])
            assert [r.bins["i"] for r in recs if r] == list(range(50))
            rec = await c.operate(key, [op.increment("a", 2), op.read("a")])
            assert rec.bins["a"] == 3
            await c.delete(key)
            assert (await c.exists(key))[1] is None

    asyncio.run(run())


def test_the_asyncio_client_loads_the_partition_map_in_async_with(
    shared_cluster: Cluster,
) -> None:
    async def run() -> None:
        async with AsyncClient(shared_cluster.hosts) as c:
            await c.put(("test", "api", "async-with"), {"a": 1})
            assert (await c.get(("test", "api", "async-with"))).bins == {"a": 1}

    asyncio.run(run())
