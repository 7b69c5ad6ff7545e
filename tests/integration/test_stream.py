"""The KV Stream on real nodes: many commands in flight on one call, each answered as its
unary RPC would be (result codes per command, malformed commands, deadlines, security,
the per-stream cap), and AsyncClient on it (leader hints, in-doubt writes)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from raftstore_client import (
    AsyncClient,
    Client,
    GenerationError,
    RecordExists,
    RecordNotFound,
    ResultCode,
    ServerNotAvailable,
    operations,
)
from raftstore_client._convert import key_of

from raftstore.policy import GenPolicy, RecordExistsAction, WritePolicy
from raftstore.v1 import kv_pb2, security_pb2, security_pb2_grpc
from raftstore.wire import value_to_pb
from tests.integration.helpers import pb_key, settled_terms
from tests.jepsen.cluster import Cluster

STREAM = "/raftstore.v1.KV/Stream"
PASSWORD = "s3cret-Admin"
CAP = "[limits]\nmax_in_flight_per_stream = 2\n"


def put_cmd(cid: int, user_key: str, n: int, timeout_ms: int = 0) -> kv_pb2.StreamCommand:
    cmd = kv_pb2.StreamCommand(id=cid, timeout_ms=timeout_ms)
    cmd.put.key.CopyFrom(pb_key("test", "st", user_key))
    value_to_pb(n, cmd.put.bins["v"])
    return cmd


def get_cmd(cid: int, user_key: str) -> kv_pb2.StreamCommand:
    cmd = kv_pb2.StreamCommand(id=cid)
    cmd.get.key.CopyFrom(pb_key("test", "st", user_key))
    return cmd


def message(*cmds: kv_pb2.StreamCommand) -> bytes:
    return kv_pb2.StreamRequest(commands=cmds).SerializeToString()


async def exchange(
    address: str, messages: list[bytes], metadata: tuple[tuple[str, str], ...] = ()
) -> tuple[dict[int, list[kv_pb2.StreamResult]], int]:
    """Send raw ``messages`` on one stream, half-close, read every result until the node
    ends the call: results by id, and how many StreamResponse messages carried them."""
    async with grpc.aio.insecure_channel(address) as ch:
        call = ch.stream_stream(
            STREAM,
            request_serializer=lambda b: b,
            response_deserializer=kv_pb2.StreamResponse.FromString,
        )(metadata=metadata or None, timeout=60)
        for m in messages:
            await call.write(m)
        await call.done_writing()
        results: dict[int, list[kv_pb2.StreamResult]] = {}
        responses = 0
        async for response in call:
            responses += 1
            for r in response.results:
                results.setdefault(r.id, []).append(r)
        assert await call.code() == grpc.StatusCode.OK
    return results, responses


RETRYABLE = {ResultCode.PARTITION_UNAVAILABLE, ResultCode.KEY_BUSY, ResultCode.DEVICE_OVERLOAD}


async def settle_all(
    address: str, cmds: list[kv_pb2.StreamCommand]
) -> tuple[dict[int, kv_pb2.StreamResult], int]:
    """``exchange`` of ``cmds`` in one message, resending on a new stream those answered
    with a code that says they did not run (shed by a busy node, a leader that just moved),
    as a client does: each command's last answer, and how many messages carried them."""
    final: dict[int, kv_pb2.StreamResult] = {}
    responses = 0
    for _ in range(20):
        results, n = await exchange(address, [message(*cmds)])
        responses += n
        assert all(len(results[c.id]) == 1 for c in cmds)  # each answered once
        final.update((c.id, results[c.id][0]) for c in cmds)
        cmds = [c for c in cmds if results[c.id][0].error.result_code in RETRYABLE]
        if not cmds:
            break
        await asyncio.sleep(0.2)
    return final, responses


def value_of(result: kv_pb2.StreamResult) -> int:
    assert result.WhichOneof("result") == "get", result
    return result.get.record.bins["v"].int_value


def error_code(result: kv_pb2.StreamResult) -> int:
    assert result.WhichOneof("result") == "error", result
    return result.error.result_code


# --- the raw stream -------------------------------------------------------------------


@pytest.fixture(scope="module")
def settled(shared_cluster: Cluster) -> Cluster:
    """The shared cluster once its leaders stopped moving: a command forwarded to a node
    that just lost its leadership is answered with a hint (as a unary call would be)."""
    settled_terms(shared_cluster)
    return shared_cluster


def test_many_mixed_commands_in_flight_each_answered_once(settled: Cluster) -> None:
    address = settled.hosts[0]  # leads some groups: the others are forwarded
    n = 200
    puts = [put_cmd(i + 1, f"m{i}", i) for i in range(n)]
    results, responses = asyncio.run(settle_all(address, puts))
    assert sorted(results) == list(range(1, n + 1))
    assert all(r.WhichOneof("result") == "write" for r in results.values())
    assert responses < n  # results of commands completing together share a message

    mixed = [get_cmd(1000 + i, f"m{i}") for i in range(0, n, 2)]
    exists = kv_pb2.StreamCommand(id=2000)
    exists.exists.key.CopyFrom(pb_key("test", "st", "m1"))
    operate = kv_pb2.StreamCommand(id=2001)
    operate.operate.key.CopyFrom(pb_key("test", "st", "m3"))
    operate.operate.operations.add(type=kv_pb2.OPERATION_TYPE_INCR, bin="v").value.int_value = 10
    operate.operate.operations.add(type=kv_pb2.OPERATION_TYPE_READ, bin="v")
    delete = kv_pb2.StreamCommand(id=2002)
    delete.delete.key.CopyFrom(pb_key("test", "st", "m5"))
    touch = kv_pb2.StreamCommand(id=2003)
    touch.touch.key.CopyFrom(pb_key("test", "st", "m7"))
    missing = get_cmd(2004, "never-written")
    create_only = put_cmd(2005, "m9", 0)
    create_only.put.policy.exists = kv_pb2.RECORD_EXISTS_ACTION_CREATE_ONLY
    cmds = [*mixed, exists, operate, delete, touch, missing, create_only]
    results, _ = asyncio.run(settle_all(address, cmds))
    assert len(results) == len(cmds)
    assert all(value_of(results[1000 + i]) == i for i in range(0, n, 2))
    assert results[2000].exists.exists
    assert results[2001].operate.record.bins["v"].int_value == 13
    assert results[2002].WhichOneof("result") == "write"
    assert results[2003].write.metadata.generation == 2
    assert error_code(results[2004]) == ResultCode.KEY_NOT_FOUND == 2
    assert results[2004].error.grpc_status == grpc.StatusCode.NOT_FOUND.value[0]
    assert error_code(results[2005]) == ResultCode.KEY_EXISTS == 5
    with Client(settled.hosts, timeout=10) as c, pytest.raises(RecordNotFound):
        c.get(("test", "st", "m5"))


def test_malformed_commands_are_answered_per_command(settled: Cluster) -> None:
    address = settled.hosts[1]
    garbage = kv_pb2.StreamCommandFrame(id=7, put=b"\x0a\xff\xff")  # a truncated key
    empty = kv_pb2.StreamCommandFrame(id=8)  # no command at all
    big = put_cmd(9, "big", 0)
    big.put.bins["blob"].bytes_value = b"x" * (3 * 1024 * 1024)  # over the request limit
    ok = kv_pb2.StreamRequestFrame(commands=[garbage, empty]).SerializeToString()
    messages = [
        ok,
        b"\xff\xff\xff\xff",  # not even a StreamRequest: answered under id 0
        message(big),
        message(put_cmd(10, "after-garbage", 1)),
    ]
    results, _ = asyncio.run(exchange(address, messages))
    assert error_code(results[7][0]) == ResultCode.PARAMETER_ERROR == 4
    assert "malformed PutRequest" in results[7][0].error.message
    assert error_code(results[8][0]) == ResultCode.PARAMETER_ERROR
    assert error_code(results[0][0]) == ResultCode.PARAMETER_ERROR
    assert error_code(results[9][0]) == ResultCode.RECORD_TOO_BIG == 13
    # the stream went on (a busy node may shed the put: it did not run)
    assert results[10][0].error.result_code in {0, *RETRYABLE}


def test_each_command_has_its_own_deadline(settled: Cluster) -> None:
    cmds = [put_cmd(1, "late", 1, timeout_ms=1), put_cmd(2, "in-time", 2, timeout_ms=5000)]
    results, _ = asyncio.run(settle_all(settled.hosts[0], cmds))
    assert error_code(results[1]) == ResultCode.TIMEOUT == 9
    assert results[2].WhichOneof("result") == "write"


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One node that never sheds for a late event loop (the machine may be busy): every
    command it reads runs."""
    c = Cluster(tmp_path_factory.mktemp("calm"), nodes=1, partition_groups=4)
    for node in c.nodes:
        node.config.write_text(node.config.read_text() + "[limits]\nmax_loop_lag_ms = 600000\n")
    with c:
        yield c


def test_a_broken_stream_cancels_nothing_already_started(calm: Cluster) -> None:
    n = 100

    async def send_and_break() -> int:
        async with grpc.aio.insecure_channel(calm.hosts[0]) as ch:
            call = ch.stream_stream(
                STREAM,
                request_serializer=kv_pb2.StreamRequest.SerializeToString,
                response_deserializer=kv_pb2.StreamResponse.FromString,
            )()
            await call.write(
                kv_pb2.StreamRequest(commands=[put_cmd(i + 1, f"b{i}", i) for i in range(n)])
            )
            first = await call.read()  # every command of the message has started
            call.cancel()
            assert all(r.WhichOneof("result") == "write" for r in first.results)
            return len(first.results)

    answered = asyncio.run(send_and_break())
    assert answered >= 1
    with Client(calm.hosts, timeout=10) as c:
        assert [c.get(("test", "st", f"b{i}")).bins["v"] for i in range(n)] == list(range(n))


# --- AsyncClient ----------------------------------------------------------------------


def test_async_client_answers_alike_on_stream_and_unary(shared_cluster: Cluster) -> None:
    async def session(streaming: bool) -> list[Any]:
        tag = "s" if streaming else "u"
        out: list[Any] = []
        async with await AsyncClient.connect(shared_cluster.hosts, streaming=streaming) as c:
            k = ("test", "st", f"alike-{tag}")
            out.append((await c.put(k, {"n": 1, "s": "a"})).gen)
            out.append((await c.get(k)).bins)
            out.append((await c.exists(k))[1] is not None)
            out.append((await c.touch(k)).gen)
            rec = await c.operate(k, [operations.increment("n", 5), operations.read("n")])
            out.append(rec.bins)
            for bad in (
                c.put(k, {"n": 0}, WritePolicy(exists=RecordExistsAction.CREATE_ONLY)),
                c.put(k, {"n": 0}, WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=99)),
            ):
                with pytest.raises((RecordExists, GenerationError)) as info:
                    await bad
                out.append((type(info.value).__name__, info.value.code, info.value.in_doubt))
            await c.delete(k)
            with pytest.raises(RecordNotFound):
                await c.get(k)
            out.append(sorted(c._streams) if streaming else [])
            keys = [("test", "st", f"{tag}{i}") for i in range(300)]
            got = await asyncio.gather(*(c.put(k, {"i": i}) for i, k in enumerate(keys)))
            out.append(len(got))
            recs = await asyncio.gather(*(c.get(k) for k in keys))
            out.append([r.bins["i"] for r in recs] == list(range(300)))
        return out

    streamed, unary = asyncio.run(session(True)), asyncio.run(session(False))
    assert streamed[-3] and set(streamed[-3]) <= set(shared_cluster.hosts)  # streams were used
    assert unary[-3] == []
    assert streamed[:-3] == unary[:-3]
    assert streamed[-2:] == unary[-2:] == [300, True]


def test_async_client_follows_a_leader_hint_from_a_follower(shared_cluster: Cluster) -> None:
    async def run() -> tuple[int, str | None, str]:
        async with await AsyncClient.connect(shared_cluster.hosts) as c:
            key = ("test", "st", "hinted")
            group = c._table.group_of(key_of(key))
            leader = c._table.leader_address(group)
            follower_id, follower = next(
                (n, shared_cluster.address(n))
                for n in shared_cluster.ids
                if shared_cluster.address(n) != leader
            )
            c._table.set_leader(group, follower_id, follower)  # a stale routing table
            await c.put(key, {"v": 1})
            return c.retries, c._table.leader_address(group), follower

    retries, learned, follower = asyncio.run(run())
    assert retries == 1  # the follower's hint, then the leader
    assert learned != follower


def test_async_client_reports_in_doubt_writes_of_a_broken_stream(shared_cluster: Cluster) -> None:
    async def run(exactly_once: bool) -> Any:
        async with await AsyncClient.connect(
            shared_cluster.hosts, exactly_once=exactly_once, timeout=10
        ) as c:
            await c.get(("test", "st", "m0"))  # opens a stream
            task = asyncio.ensure_future(c.put(("test", "st", f"doubt-{exactly_once}"), {"v": 1}))
            for _ in range(1000):
                if any(s._waiting for s in c._streams.values()):
                    break
                await asyncio.sleep(0)
            for s in list(c._streams.values()):
                s.close()  # the answer is lost: the node may have applied the write
            try:
                return await task
            except ServerNotAvailable as e:
                return e

    lost = asyncio.run(run(exactly_once=False))
    assert isinstance(lost, ServerNotAvailable) and lost.in_doubt  # not retried: in doubt
    assert asyncio.run(run(exactly_once=True)).gen >= 1  # retried once, applied once


# --- security on, and a small per-stream cap ------------------------------------------


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    os.environ["RAFTSTORE_ADMIN_PASSWORD"] = PASSWORD
    try:
        c = Cluster(tmp_path_factory.mktemp("capped"), nodes=1, partition_groups=2, security=True)
        for node in c.nodes:
            node.config.write_text(
                node.config.read_text() + "[limits]\nmax_in_flight_per_stream = 2\n"
            )
        with c:
            yield c
    finally:
        del os.environ["RAFTSTORE_ADMIN_PASSWORD"]


def _token(address: str) -> tuple[tuple[str, str], ...]:
    with grpc.insecure_channel(address) as ch:
        answer = security_pb2_grpc.SecurityStub(ch).Login(
            security_pb2.LoginRequest(user="admin", password=PASSWORD), timeout=10
        )
    return (("authorization", f"Bearer {answer.token}"),)


def test_without_a_token_every_command_is_refused(capped: Cluster) -> None:
    address = capped.hosts[0]
    results, _ = asyncio.run(exchange(address, [message(put_cmd(1, "x", 1), get_cmd(2, "x"))]))
    for cid in (1, 2):
        assert error_code(results[cid][0]) == ResultCode.NOT_AUTHENTICATED == 80
        assert results[cid][0].error.grpc_status == grpc.StatusCode.UNAUTHENTICATED.value[0]
    bad = (("authorization", "Bearer forged"),)
    results, _ = asyncio.run(exchange(address, [message(get_cmd(3, "x"))], bad))
    assert error_code(results[3][0]) == ResultCode.NOT_AUTHENTICATED


def test_the_per_stream_cap_sheds_within_a_message_and_pushes_back_across(capped: Cluster) -> None:
    address = capped.hosts[0]
    token = _token(address)
    first = message(*(put_cmd(i, f"cap{i}", i) for i in range(1, 6)))  # 5 > cap of 2
    singles = [message(put_cmd(100 + i, f"one{i}", i)) for i in range(30)]
    results, _ = asyncio.run(exchange(address, [first, *singles], token))
    capped_ = ["stream overloaded" in results[i][0].error.message for i in range(1, 6)]
    assert capped_ == [False, False, True, True, True]
    assert all(results[i][0].error.result_code == 18 for i in range(3, 6))  # retryable
    # one command per message: the node waits for room before reading on, sheds none
    assert all(
        len(results[100 + i]) == 1 and "stream overloaded" not in results[100 + i][0].error.message
        for i in range(30)
    )


def test_async_client_logs_in_and_streams_with_security_on(capped: Cluster) -> None:
    async def run() -> list[int]:
        async with await AsyncClient.connect(
            capped.hosts, user="admin", password=PASSWORD, timeout=10
        ) as c:
            await asyncio.gather(*(c.put(("test", "st", f"sec{i}"), {"i": i}) for i in range(20)))
            assert c._streams
            return [(await c.get(("test", "st", f"sec{i}"))).bins["i"] for i in range(20)]

    assert asyncio.run(run()) == list(range(20))


def test_large_records_are_packed_over_several_messages(settled: Cluster) -> None:
    async def run() -> tuple[list[int], list[str]]:
        async with await AsyncClient.connect(settled.hosts, timeout=30) as c:
            keys = [("test", "st", f"large{i}") for i in range(12)]
            blob = b"y" * (700 * 1024)  # 12 x 700 KiB: several messages each way
            await asyncio.gather(*(c.put(k, {"b": blob, "i": i}) for i, k in enumerate(keys)))
            records = await asyncio.gather(*(c.get(k) for k in keys))
            assert all(r.bins["b"] == blob for r in records)
            return [r.bins["i"] for r in records], sorted(c._streams)

    order, streams = asyncio.run(run())
    assert order == list(range(12)) and streams
