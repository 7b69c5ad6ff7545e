"""``CommandStream`` (the client side of KV.Stream) against a scripted call: answers by
id, timeouts and breaks as the unary call's errors, messages packed by size."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from raftstore_client._stream import MESSAGE_BYTES, CommandStream, StreamFailure

from raftstore.errors import RecordNotFound, ServerNotAvailable, Timeout
from raftstore.v1 import kv_pb2


class ScriptedCall:
    """A Stream call whose node answers what ``answer`` returns for each command."""

    def __init__(self, answer: Any) -> None:
        self.sent: list[kv_pb2.StreamRequest] = []
        self.cancelled = False
        self._answer = answer
        self._responses: asyncio.Queue[Any] = asyncio.Queue()

    async def write(self, request: kv_pb2.StreamRequest) -> None:
        self.sent.append(request)
        results = [r for c in request.commands if (r := self._answer(c)) is not None]
        if results:
            await self._responses.put(kv_pb2.StreamResponse(results=results))

    def cancel(self) -> None:
        self.cancelled = True
        self._responses.put_nowait(None)

    def __aiter__(self) -> ScriptedCall:
        return self

    async def __anext__(self) -> kv_pb2.StreamResponse:
        item = await self._responses.get()
        if item is None:
            raise asyncio.CancelledError
        return item


class Stub:
    def __init__(self, answer: Any) -> None:
        self.call = ScriptedCall(answer)

    def Stream(self, metadata: Any = None) -> ScriptedCall:
        return self.call


def get(user_key: str, size: int = 0) -> kv_pb2.GetRequest:
    req = kv_pb2.GetRequest(bins=["x" * size] if size else [])
    req.key.string_key = user_key
    return req


def test_answers_reach_their_command_and_errors_translate() -> None:
    def answer(cmd: kv_pb2.StreamCommand) -> kv_pb2.StreamResult:
        if cmd.get.key.string_key == "missing":
            err = kv_pb2.StreamError(result_code=2, message="record not found", grpc_status=5)
            return kv_pb2.StreamResult(id=cmd.id, error=err)
        result = kv_pb2.StreamResult(id=cmd.id)
        result.get.record.bins["k"].string_value = cmd.get.key.string_key
        return result

    async def run() -> None:
        stream = CommandStream(Stub(answer), "node:1")
        got = await asyncio.gather(
            *(stream.execute("Get", get(f"k{i}"), False, 5) for i in range(50))
        )
        assert [g.record.bins["k"].string_value for g in got] == [f"k{i}" for i in range(50)]
        with pytest.raises(StreamFailure) as info:
            await stream.execute("Get", get("missing"), False, 5)
        assert isinstance(info.value.translated.error, RecordNotFound)
        assert info.value.translated.from_server
        stream.close()

    asyncio.run(run())


def test_no_answer_in_time_is_a_timeout_in_doubt_for_writes() -> None:
    async def run() -> None:
        stream = CommandStream(Stub(lambda cmd: None), "node:1")
        put = kv_pb2.PutRequest()
        for write, request, method in ((True, put, "Put"), (False, get("k"), "Get")):
            with pytest.raises(StreamFailure) as info:
                await stream.execute(method, request, write, 0.05)
            error = info.value.translated.error
            assert isinstance(error, Timeout) and error.in_doubt is write
        stream.close()

    asyncio.run(run())


def test_a_broken_stream_fails_what_waits_in_doubt_for_writes() -> None:
    async def run() -> None:
        stub = Stub(lambda cmd: None)
        stream = CommandStream(stub, "node:1")
        waiting = asyncio.ensure_future(stream.execute("Put", kv_pb2.PutRequest(), True, 5))
        await asyncio.sleep(0.01)
        stream.close()
        with pytest.raises(StreamFailure) as info:
            await waiting
        error = info.value.translated.error
        assert isinstance(error, ServerNotAvailable) and error.in_doubt
        assert stub.call.cancelled and stream.broken
        with pytest.raises(StreamFailure) as info:  # not sent: not in doubt
            await stream.execute("Put", kv_pb2.PutRequest(), True, 5)
        assert not info.value.translated.error.in_doubt

    asyncio.run(run())


def test_commands_are_packed_into_messages_of_bounded_size() -> None:
    def answer(cmd: kv_pb2.StreamCommand) -> kv_pb2.StreamResult:
        return kv_pb2.StreamResult(id=cmd.id, get=kv_pb2.GetResponse())

    async def run() -> list[int]:
        stub = Stub(answer)
        stream = CommandStream(stub, "node:1")
        big = MESSAGE_BYTES // 3
        await asyncio.gather(
            *(stream.execute("Get", get(f"k{i}", big), False, 5) for i in range(7))
        )
        stream.close()
        assert all(m.ByteSize() < 2 * MESSAGE_BYTES for m in stub.call.sent)
        return [len(m.commands) for m in stub.call.sent]

    counts = asyncio.run(run())
    assert sum(counts) == 7 and len(counts) >= 3
