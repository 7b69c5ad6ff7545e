"""Batch operations and truncation on real node processes: per-key results across groups,
a retried batch applied once, a batch sent through a node that leads none of its groups,
truncate then write, the background deletion of truncated rows, truncation surviving a
whole-cluster restart, and bad input answered with clear codes and nothing changed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import pytest
from raftstore_client import (
    AsyncClient,
    BatchDelete,
    BatchRead,
    BatchWrite,
    Client,
    GenPolicy,
    NamespaceNotFound,
    RecordExistsAction,
    ResultCode,
    WritePolicy,
    exp,
    operations,
)

from raftstore.keys import Key
from raftstore.v1 import kv_pb2
from raftstore.wire import key_to_pb, value_to_pb
from tests.integration.helpers import group_of, result_code, stub, wait_until
from tests.jepsen.cluster import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("batch"), nodes=3) as c:
        yield c


@pytest.fixture
def client(cluster: Cluster) -> Iterator[Client]:
    with Client(cluster.hosts, timeout=10) as c:
        yield c


def _put_item(key: tuple[str, str, object], bins: dict[str, int]) -> kv_pb2.BatchItem:
    item = kv_pb2.BatchItem(type=kv_pb2.BATCH_ITEM_TYPE_PUT)
    key_to_pb(Key.from_tuple(key), item.key)
    for name, value in bins.items():
        value_to_pb(value, item.bins[name])
    return item


def _incr_item(key: tuple[str, str, object]) -> kv_pb2.BatchItem:
    item = kv_pb2.BatchItem(type=kv_pb2.BATCH_ITEM_TYPE_OPERATE)
    key_to_pb(Key.from_tuple(key), item.key)
    op = item.operations.add(type=kv_pb2.OPERATION_TYPE_INCR, bin="n")
    value_to_pb(1, op.value)
    return item


def test_a_batch_across_groups_answers_per_key_and_one_failing_key_fails_no_other(
    client: Client,
) -> None:
    keys = [("test", "b1", i) for i in range(60)]
    assert len({group_of(k) for k in keys}) == 8  # every group takes part
    client.put(keys[5], {"n": 1})
    client.put(keys[6], {"n": 1})
    client.put(keys[7], {"n": 1})
    items = [BatchWrite(k, {"n": i}) for i, k in enumerate(keys)]
    items[5] = BatchWrite(keys[5], {"n": 0}, policy=WritePolicy(RecordExistsAction.CREATE_ONLY))
    items[6] = BatchWrite(
        keys[6], {"n": 0}, policy=WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=9)
    )
    items[7] = BatchWrite(keys[7], {"n": 0}, filter=exp.eq(exp.int_bin("n"), 100))
    items.append(BatchRead(keys[0]))  # after the write in the same group: sees it
    items.append(BatchDelete(("test", "b1", "never-written")))
    results = client.batch_write(items)
    codes = [r.result_code for r in results]
    assert codes[5] == ResultCode.KEY_EXISTS
    assert codes[6] == ResultCode.GENERATION_ERROR
    assert codes[7] == ResultCode.FILTERED_OUT
    assert codes[-1] == ResultCode.KEY_NOT_FOUND
    assert results[-2].ok and results[-2].bins == {"n": 0}
    ok = [i for i in range(60) if i not in (5, 6, 7)]
    assert all(results[i].ok and results[i].meta.gen == 1 for i in ok)
    records = client.get_many(keys)
    assert all(records[i].bins == {"n": i} for i in ok)  # type: ignore[union-attr]
    assert [records[i].bins for i in (5, 6, 7)] == [{"n": 1}] * 3  # type: ignore[union-attr]


def test_batch_operate_applies_the_same_ops_to_every_key(client: Client) -> None:
    keys = [("test", "b2", i) for i in range(20)]
    first = client.batch_operate(keys, [operations.increment("n", 2), operations.read("n")])
    again = client.batch_operate(keys, [operations.increment("n", 2), operations.read("n")])
    assert [r.ops for r in first] == [[("n", 2)]] * 20
    assert [r.ops for r in again] == [[("n", 4)]] * 20


def test_the_async_client_batches_and_truncates_like_the_sync_one(cluster: Cluster) -> None:
    async def main() -> None:
        async with AsyncClient(cluster.hosts, timeout=10) as client:
            keys = [("test", "b5", i) for i in range(40)]
            results = await client.batch_write(
                [BatchWrite(k, {"v": i}) for i, k in enumerate(keys)] + [BatchDelete(keys[0])]
            )
            assert all(r.ok for r in results)
            ops = await client.batch_operate(keys[1:], [operations.read("v")])
            assert [r.ops for r in ops] == [[("v", i)] for i in range(1, 40)]
            assert len(await client.truncate("test", "b5")) == 8
            assert await client.get_many(keys) == [None] * 40

    asyncio.run(main())


def test_a_retried_batch_is_applied_once(cluster: Cluster) -> None:
    keys = [("test", "b3", i) for i in range(30)]
    request = kv_pb2.BatchOperateRequest(items=[_incr_item(k) for k in keys])
    request.header.client_id = b"retrying-client-0001"
    request.header.seq = 1
    channel, kv = stub(cluster, "n1")  # n1 forwards the parts it does not lead
    try:
        first = kv.BatchOperate(request, timeout=10)
        for node in ("n2", "n3"):  # the retry reaches other nodes: still applied once
            ch, other = stub(cluster, node)
            try:
                again = other.BatchOperate(request, timeout=10)
            finally:
                ch.close()
            assert again == first
    finally:
        channel.close()
    assert [r.result_code for r in first.results] == [0] * 30
    with Client(cluster.hosts, timeout=10) as client:
        assert [r.bins for r in client.get_many(keys)] == [{"n": 1}] * 30  # type: ignore[union-attr]


def test_a_batch_through_a_node_leading_none_of_its_groups_is_forwarded(
    cluster: Cluster,
) -> None:
    wait_until(lambda: len(set(cluster.leaders().values())) > 1, 60, "leaders spread")
    leaders = cluster.leaders()
    node = min(cluster.ids, key=lambda n: list(leaders.values()).count(n))
    keys = [k for k in (("test", "b4", i) for i in range(200)) if leaders[group_of(k)] != node]
    assert len(keys) > 20
    request = kv_pb2.BatchOperateRequest(items=[_put_item(k, {"v": 1}) for k in keys])
    channel, kv = stub(cluster, node)
    try:
        response = kv.BatchOperate(request, timeout=10)
    finally:
        channel.close()
    assert [r.result_code for r in response.results] == [0] * len(keys)
    with Client(cluster.hosts, timeout=10) as client:
        assert all(r is not None and r.bins == {"v": 1} for r in client.get_many(keys))


def test_bad_batches_are_answered_with_clear_codes_and_change_nothing(cluster: Cluster) -> None:
    channel, kv = stub(cluster, "n2")
    try:
        oversized = kv_pb2.BatchOperateRequest(
            items=[_put_item(("test", "bad", i), {"v": 1}) for i in range(5001)]
        )
        with pytest.raises(grpc.RpcError) as err:
            kv.BatchOperate(oversized, timeout=10)
        assert result_code(err.value) == ResultCode.PARAMETER_ERROR
        unknown = kv_pb2.BatchOperateRequest(
            items=[_put_item(("nope", "bad", i), {"v": 1}) for i in range(3)]
        )
        response = kv.BatchOperate(unknown, timeout=10)
        assert [r.result_code for r in response.results] == [ResultCode.NAMESPACE_NOT_FOUND] * 3
        raw = channel.unary_unary("/raftstore.v1.KV/BatchOperate")
        with pytest.raises(grpc.RpcError) as err:
            raw(b"\xff\xff\xff", timeout=10)
        assert result_code(err.value) == ResultCode.PARAMETER_ERROR
        with pytest.raises(grpc.RpcError) as err:
            kv.Truncate(kv_pb2.TruncateRequest(namespace="nope"), timeout=10)
        assert result_code(err.value) == ResultCode.NAMESPACE_NOT_FOUND
        with pytest.raises(grpc.RpcError) as err:
            kv.Truncate(kv_pb2.TruncateRequest(namespace="test", before_ms=-5), timeout=10)
        assert result_code(err.value) == ResultCode.PARAMETER_ERROR
    finally:
        channel.close()
    with Client(cluster.hosts, timeout=10) as client:
        assert client.get_many([("test", "bad", i) for i in range(5001)]) == [None] * 5001
        with pytest.raises(NamespaceNotFound):
            client.truncate("nope")


def test_truncate_a_set_then_write_keeps_only_the_new_record(client: Client) -> None:
    old = [("test", "tr", i) for i in range(300)]
    other = [("test", "keep", i) for i in range(50)]
    client.batch_write([BatchWrite(k, {"v": 1}) for k in old + other])
    luts = client.truncate("test", "tr")
    assert len(luts) == 8
    client.put(("test", "tr", "new"), {"v": 2})
    assert client.get_many(old) == [None] * 300
    assert all(r is not None for r in client.get_many(other))
    new = Key.of("test", "tr", "new").digest
    assert [r.key[3] for r in client.scan("test", "tr")] == [new]
    assert client.get(("test", "tr", "new")).bins == {"v": 2}


def test_truncate_before_a_time_keeps_later_records(client: Client) -> None:
    client.batch_write([BatchWrite(("test", "lut", i), {"v": 1}) for i in range(20)])
    time.sleep(0.05)
    cut = int(time.time() * 1000)
    time.sleep(0.05)
    client.batch_write([BatchWrite(("test", "lut", i), {"v": 2}) for i in range(10)])
    client.truncate("test", "lut", before_ms=cut)
    got = client.get_many([("test", "lut", i) for i in range(20)])
    assert [r.bins["v"] if r else None for r in got] == [2] * 10 + [None] * 10


def test_the_cli_truncate_needs_yes(cluster: Cluster, client: Client) -> None:
    client.put(("test", "cli", 1), {"v": 1})
    base = [sys.executable, "-m", "raftstore_client.cli", "truncate", "test", "--set", "cli"]
    hosts = ["--hosts", ",".join(cluster.hosts)]
    refused = subprocess.run(base + hosts, capture_output=True, text=True)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert client.get(("test", "cli", 1)).bins == {"v": 1}
    done = subprocess.run([*base, "--yes", *hosts], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert client.get_many([("test", "cli", 1)]) == [None]


def test_truncated_rows_are_deleted_in_the_background_on_every_node(cluster: Cluster) -> None:
    def swept(node: str) -> bool:
        return "truncated rows" in cluster.log_text(node)

    wait_until(lambda: all(swept(n) for n in cluster.ids), 30, "every node swept")


def test_truncation_survives_a_whole_cluster_restart(cluster: Cluster) -> None:
    cluster.kill_all()
    cluster.restart_all()
    with Client(cluster.hosts, timeout=10) as client:
        assert client.get_many([("test", "tr", i) for i in range(300)]) == [None] * 300
        assert client.get(("test", "tr", "new")).bins == {"v": 2}
        assert all(r is not None for r in client.get_many([("test", "keep", i) for i in range(50)]))
        client.put(("test", "tr", 7), {"v": 3})  # written after the restart: kept
        assert client.get(("test", "tr", 7)).bins == {"v": 3}
