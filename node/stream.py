"""The KV service's ``Stream``: many single-record commands in flight on one call.

A busy client (``AsyncClient``, the bench) pays gRPC's per-call cost once per stream
instead of once per command: each ``StreamRequest`` carries commands, each
``StreamResponse`` the results of the commands that completed since the last one.

Each command runs through exactly the path of its unary RPC:

1. the node reads a ``StreamRequestFrame`` (the wire format of ``StreamRequest`` with each
   command left as bytes), so that ``RequestParser.parse`` checks the command's size,
   parses it and, with security on, authorises it with the stream's ``authorization``
   metadata exactly as for a unary call; a malformed command is answered PARAMETER_ERROR
   (4) under its own id, a frame that cannot be read at all under id 0;
2. the servicer's unary method (``KVService.Put``, ``Get``, ...) runs it with a
   ``CommandContext``: the command's own deadline (``timeout_ms``), the stream's metadata,
   and an ``abort`` that raises ``CommandFailed`` instead of ending the call — admission
   (shedding per command), forwarding to the leader and leader hints, the result codes and
   the metrics are those of the unary call;
3. its result or error is queued; one writer task sends everything queued in one
   ``StreamResponse`` per write (many results per gRPC message when the node is busy),
   up to about ``MESSAGE_BYTES`` each.

Back-pressure: at most ``limits.max_in_flight_per_stream`` commands of a stream are under
way; the reader stops reading the stream while that many are, so the client's sends
block in gRPC's flow control. Commands of one message beyond the cap are answered
DEVICE_OVERLOAD (18, retryable).

A stream that breaks (client gone, cancelled) cancels nothing: the commands already
started run to their end like unary calls whose client went away; their results are
dropped, and the client reports its writes in flight in doubt.

Thread: the node's event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from raftstore_node.dispatch import DEFAULT_DEADLINE
from raftstore_node.metrics import timed_command
from raftstore_node.parsing import RequestParser, request_size
from raftstore_node.status import GRPC_STATUS, IN_DOUBT_KEY, LEADER_KEY, RESULT_CODE_KEY

from raftstore.errors import DeviceOverload, ParameterError, RaftstoreError, ServerError
from raftstore.v1 import kv_pb2

log = logging.getLogger("raftstore.node.stream")

KV = "/raftstore.v1.KV/"
# oneof field -> (unary method, request type, StreamResult field)
COMMANDS: dict[str, tuple[str, Any, str]] = {
    "put": ("Put", kv_pb2.PutRequest, "write"),
    "get": ("Get", kv_pb2.GetRequest, "get"),
    "exists": ("Exists", kv_pb2.ExistsRequest, "exists"),
    "delete": ("Delete", kv_pb2.DeleteRequest, "write"),
    "touch": ("Touch", kv_pb2.TouchRequest, "write"),
    "operate": ("Operate", kv_pb2.OperateRequest, "operate"),
}

MESSAGE_BYTES = 4 * 1024 * 1024  # results per StreamResponse: about this much at most
_background: set[asyncio.Task[None]] = set()  # commands outliving their stream


class CommandFailed(Exception):
    """A command's handler aborted: the status its unary call would have ended with."""

    def __init__(
        self, code: grpc.StatusCode, details: str, metadata: tuple[tuple[str, str], ...]
    ) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.metadata = metadata


class CommandContext:
    """What the KV handlers use of a ``grpc.aio.ServicerContext``, for one command."""

    __slots__ = ("_code", "_deadline", "_metadata", "_peer", "_trailing")

    def __init__(self, deadline: float, metadata: tuple[Any, ...], peer: str) -> None:
        self._deadline = deadline
        self._metadata = metadata
        self._peer = peer
        self._trailing: tuple[tuple[str, str], ...] = ()
        self._code: grpc.StatusCode | None = None

    def time_remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def invocation_metadata(self) -> tuple[Any, ...]:
        return self._metadata

    def peer(self) -> str:
        return self._peer

    def set_trailing_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self._trailing = tuple(metadata)

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._trailing

    def code(self) -> grpc.StatusCode | None:
        return self._code

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        self._code = code
        raise CommandFailed(code, details, self._trailing)


def error_result(cid: int, err: RaftstoreError, leader: str = "") -> kv_pb2.StreamResult:
    status = GRPC_STATUS.get(err.code, grpc.StatusCode.UNKNOWN)
    return kv_pb2.StreamResult(
        id=cid,
        error=kv_pb2.StreamError(
            result_code=int(err.code),
            message=err.message,
            in_doubt=err.in_doubt,
            leader=leader,
            grpc_status=status.value[0],
        ),
    )


def failed_result(cid: int, failure: CommandFailed) -> kv_pb2.StreamResult:
    md = dict(failure.metadata)
    try:
        code = int(md.get(RESULT_CODE_KEY, ServerError.default_code))
    except ValueError:
        code = int(ServerError.default_code)
    return kv_pb2.StreamResult(
        id=cid,
        error=kv_pb2.StreamError(
            result_code=code,
            message=failure.details,
            in_doubt=md.get(IN_DOUBT_KEY) == "1",
            leader=md.get(LEADER_KEY, ""),
            grpc_status=failure.code.value[0],
        ),
    )


class _Outbox:
    """Results waiting to be written; one writer task sends all of them per write."""

    def __init__(self, context: grpc.aio.ServicerContext) -> None:
        self._context = context
        self._pending: list[kv_pb2.StreamResult] = []
        self._ready = asyncio.Event()
        self.closed = False

    def put(self, result: kv_pb2.StreamResult) -> None:
        if not self.closed:
            self._pending.append(result)
            self._ready.set()

    def _take(self) -> list[kv_pb2.StreamResult]:
        """The next message's results: all queued, or as many as fit ``MESSAGE_BYTES``
        (at least one)."""
        total = 0
        for n, result in enumerate(self._pending):
            total += result.ByteSize()
            if total > MESSAGE_BYTES and n:
                batch, self._pending = self._pending[:n], self._pending[n:]
                return batch
        batch, self._pending = self._pending, []
        return batch

    async def run(self) -> None:
        """Write until closed and drained; a failed write closes the outbox."""
        try:
            while True:
                if self._pending:
                    await self._context.write(kv_pb2.StreamResponse(results=self._take()))
                elif self.closed:
                    return
                else:
                    self._ready.clear()
                    await self._ready.wait()
        except Exception as e:  # the stream broke: results of later commands are dropped
            log.debug("stream writer ends: %s", e)
        finally:
            self.closed = True
            self._pending = []

    def close(self) -> None:
        """No more results: the writer drains what is queued and ends."""
        self.closed = True
        self._ready.set()


class StreamServer:
    """Serves ``KV.Stream`` calls with the unary methods of ``servicer``."""

    def __init__(self, servicer: Any, cap: int, on_bug: Callable[[BaseException], None]) -> None:
        self._servicer = servicer
        self._cap = cap
        self._on_bug = on_bug
        self._handlers = {
            kind: timed_command(method, getattr(servicer, method))
            for kind, (method, _, _) in COMMANDS.items()
        }

    async def serve(
        self,
        requests: AsyncIterator[bytes],
        context: grpc.aio.ServicerContext,
        parser: RequestParser,
    ) -> None:
        metadata = tuple(context.invocation_metadata() or ())
        peer = context.peer()
        outbox = _Outbox(context)
        writer = asyncio.ensure_future(outbox.run())
        state = _StreamState(self._cap)
        try:
            async for raw in requests:
                self._start(raw, parser, metadata, peer, outbox, state)
                await state.room()
            await state.drained()
            outbox.close()
            await writer
        finally:  # on a break: commands under way go on (see the module docstring)
            outbox.close()

    def _start(
        self,
        raw: bytes,
        parser: RequestParser,
        metadata: tuple[Any, ...],
        peer: str,
        outbox: _Outbox,
        state: _StreamState,
    ) -> None:
        try:
            frame = kv_pb2.StreamRequestFrame.FromString(raw)
        except Exception as e:
            parser.malformed.note(f"{KV}Stream from {peer}: {e}")
            outbox.put(error_result(0, ParameterError(f"malformed StreamRequest: {e}")))
            return
        for cmd in frame.commands:
            if state.in_flight >= self._cap:
                outbox.put(error_result(cmd.id, _over_cap(self._cap)))
                continue
            state.in_flight += 1
            task = asyncio.ensure_future(self._run(cmd, parser, metadata, peer, outbox, state))
            _background.add(task)
            task.add_done_callback(_background.discard)

    async def _run(
        self,
        cmd: kv_pb2.StreamCommandFrame,
        parser: RequestParser,
        metadata: tuple[Any, ...],
        peer: str,
        outbox: _Outbox,
        state: _StreamState,
    ) -> None:
        try:
            outbox.put(await self._command(cmd, parser, metadata, peer))
        finally:
            state.done()

    async def _command(
        self,
        cmd: kv_pb2.StreamCommandFrame,
        parser: RequestParser,
        metadata: tuple[Any, ...],
        peer: str,
    ) -> kv_pb2.StreamResult:
        kind = cmd.WhichOneof("command")
        if kind is None:
            return error_result(cmd.id, ParameterError("stream command without a command"))
        method, request_type, field = COMMANDS[kind]
        raw = getattr(cmd, kind)
        timeout = cmd.timeout_ms / 1000 if cmd.timeout_ms else DEFAULT_DEADLINE
        context = CommandContext(time.monotonic() + timeout, metadata, peer)
        try:
            request = parser.parse(KV + method, request_type, raw, metadata, context.peer)
            request_size.set(len(raw))
            response = await self._handlers[kind](request, context)
        except CommandFailed as e:
            return failed_result(cmd.id, e)
        except RaftstoreError as e:
            return error_result(cmd.id, e)
        except Exception as e:
            self._on_bug(e)
            return error_result(cmd.id, ServerError(f"internal error: {type(e).__name__}"))
        result = kv_pb2.StreamResult(id=cmd.id)
        getattr(result, field).CopyFrom(response)
        return result


def _over_cap(cap: int) -> DeviceOverload:
    return DeviceOverload(
        f"stream overloaded: {cap} commands in flight on it (limit max_in_flight_per_stream); "
        "retry later"
    )


class _StreamState:
    """Commands of one stream under way; ``room`` waits until fewer than the cap are."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self.in_flight = 0
        self._changed = asyncio.Event()

    def done(self) -> None:
        self.in_flight -= 1
        self._changed.set()

    async def room(self) -> None:
        while self.in_flight >= self._cap:
            self._changed.clear()
            await self._changed.wait()

    async def drained(self) -> None:
        while self.in_flight:
            self._changed.clear()
            await self._changed.wait()
