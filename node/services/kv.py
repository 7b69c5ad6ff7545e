"""The KV service: single-record commands, batch reads, and (``raftstore_node.batch``)
batch operations and truncation.

Each handler converts its request (bad input fails here, before anything is proposed),
finds the key's group and lets the Dispatcher run it locally or at the leader. Locally, a
write is proposed to the group's Raft log and answered once applied; a LINEARIZE read
goes through the log as well (a read barrier), so a deposed leader cannot answer it from
stale state; an ALLOW_REPLICA read is answered from this replica's applied state.

Admission (``admission.py``) bounds the work in flight: node-wide around every handler,
per group and per record around the local proposal or read; a write that can grow a
namespace at its ``stop_writes_size`` is refused there too (``stop_writes.py``). A request over
``INLINE_BYTES`` is converted on the ``convert`` thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from raftstore_node import convert, parsing
from raftstore_node.batch import BatchServer
from raftstore_node.dispatch import answer, deadline_of
from raftstore_node.forwarder import RelayedError
from raftstore_node.metrics import count_proposal
from raftstore_node.parsing import RequestParser
from raftstore_node.routing import Group
from raftstore_node.scan import ScanServer
from raftstore_node.stop_writes import grows
from raftstore_node.stream import StreamServer

from raftstore.commands import Read, Request, Result
from raftstore.errors import (
    RaftstoreError,
    ResultCode,
    Timeout,
    error_for,
)
from raftstore.policy import ReadMode
from raftstore.replication.replica import Replica
from raftstore.v1 import kv_pb2, kv_pb2_grpc
from raftstore.wire import key_to_pb

KV = "/raftstore.v1.KV/"
INLINE_BYTES = 8 * 1024
"""Requests up to this size are converted on the event loop (about 1 ms at most); larger
ones on the ``convert`` thread, so that the loop keeps ticking Raft meanwhile."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


async def propose(group: Replica, request: Request, deadline: float, write: bool) -> Result:
    """Propose and wait for the applied result until ``deadline`` (monotonic)."""
    fut = group.propose(request)
    fut.add_done_callback(_consume)
    count_proposal(fut, write)
    try:
        return await asyncio.wait_for(asyncio.shield(fut), max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        raise Timeout(
            f"group {group.group_id}: no result before the deadline", in_doubt=write
        ) from None


def session_token(group: Replica) -> bytes:
    """What a SESSION client must see next time: this replica's applied position."""
    return f"{group.group_id}@{group.applied_index}".encode()


def session_index(token: bytes, group_id: str) -> int:
    """The applied position a SESSION read must wait for (0 if the token is for no group)."""
    gid, _, index = token.decode("ascii", "replace").rpartition("@")
    return int(index) if gid == group_id and index.isdigit() else 0


def _with_token(response: Any, group: Replica) -> Any:
    response.session_token = session_token(group)
    return response


def _raise_for(result: Result) -> Result:
    if result.code != ResultCode.OK:
        raise error_for(result.code, result.message)
    return result


class KVService(kv_pb2_grpc.KVServicer):
    def __init__(self, node: Any) -> None:
        self._node = node
        self._router = node.router
        self._dispatcher = node.dispatcher
        self._admission = node.admission
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="convert")
        n = node.admission.limits.max_elements
        self._put = functools.partial(convert.put_command, max_elements=n)
        self._operate = functools.partial(convert.operate_command, max_elements=n)
        self._scans = ScanServer(node.router, node.groups)
        self._batches = BatchServer(node, propose, self._convert)
        self._streams = StreamServer(
            self, node.admission.limits.max_in_flight_per_stream, node.log_unexpected
        )

    # --- plumbing -------------------------------------------------------------------

    async def _serve(self, context: grpc.aio.ServicerContext, handler: Callable[[], Any]) -> Any:
        async def admitted() -> Any:
            with self._admission.node(parsing.request_size.get()):
                return await handler()

        return await answer(context, admitted, self._node.log_unexpected)

    async def _convert(self, to_command: Callable[[Any], Any], request: Any) -> Any:
        """``to_command(request)``, off the event loop when the request is large."""
        if parsing.request_size.get() <= INLINE_BYTES:
            return to_command(request)
        return await asyncio.get_running_loop().run_in_executor(self._pool, to_command, request)

    def _request(self, header: kv_pb2.RequestHeader, command: Any) -> Request:
        return Request(command, header.client_id, header.seq, header.acked_seq)

    async def _write(
        self,
        context: grpc.aio.ServicerContext,
        method: str,
        request: Any,
        to_command: Callable[[Any], Any],
        respond: Callable[[Any, Result, int], Any],
        response_type: Any,
    ) -> Any:
        command = await self._convert(to_command, request)
        group = self._router.group_for(command.key)

        async def local(deadline: float) -> Any:
            with self._admission.group(group.group_id, command.key.digest):
                if grows(command):  # a namespace at its stop_writes_size: FORBIDDEN
                    self._node.stop_writes.check(command.key.namespace)
                req = self._request(request.header, command)
                result = await propose(group, req, deadline, True)
            return _with_token(respond(command.key, _raise_for(result), now_ms()), group)

        return await self._dispatcher.run(
            context=context,
            group=group,
            method=KV + method,
            request=request,
            response_type=response_type,
            local=local,
            write=True,
            no_forward=request.header.no_forward,
        )

    async def _read(
        self,
        context: grpc.aio.ServicerContext,
        method: str,
        request: Any,
        read: Read,
        mode: ReadMode,
        evaluate: Callable[[Result], Any],
        response_type: Any,
    ) -> Any:
        group = self._router.group_for(read.key)
        hosted = self._router.hosts(group)  # else the leader's node answers every mode
        if mode is ReadMode.ALLOW_REPLICA and hosted:
            return _with_token(evaluate(self._node.local_read(group, read)), group)
        if mode is ReadMode.SESSION and hosted:
            seen = session_index(request.header.session_token, group.group_id)
            if await self._node.caught_up(group, seen, deadline_of(context)):
                return _with_token(evaluate(self._node.local_read(group, read)), group)

        async def local(deadline: float) -> Any:
            with self._admission.group(group.group_id, None):
                result = await self._node.linearizable_read(group, read, deadline)
            return _with_token(evaluate(result), group)

        return await self._dispatcher.run(
            context=context,
            group=group,
            method=KV + method,
            request=request,
            response_type=response_type,
            local=local,
            write=False,
            no_forward=request.header.no_forward,
        )

    # --- commands -------------------------------------------------------------------

    async def Put(self, request: kv_pb2.PutRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._serve(
            context,
            lambda: self._write(
                context,
                "Put",
                request,
                self._put,
                convert.write_response,
                kv_pb2.WriteResponse,
            ),
        )

    async def Delete(self, request: kv_pb2.DeleteRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._serve(
            context,
            lambda: self._write(
                context,
                "Delete",
                request,
                convert.delete_command,
                convert.write_response,
                kv_pb2.WriteResponse,
            ),
        )

    async def Touch(self, request: kv_pb2.TouchRequest, context: grpc.aio.ServicerContext) -> Any:
        return await self._serve(
            context,
            lambda: self._write(
                context,
                "Touch",
                request,
                convert.touch_command,
                convert.write_response,
                kv_pb2.WriteResponse,
            ),
        )

    async def Operate(
        self, request: kv_pb2.OperateRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return await self._serve(
            context,
            lambda: self._write(
                context,
                "Operate",
                request,
                self._operate,
                convert.operate_response,
                kv_pb2.OperateResponse,
            ),
        )

    async def Get(self, request: kv_pb2.GetRequest, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            read = convert.get_command(request)
            return await self._read(
                context,
                "Get",
                request,
                read,
                convert.read_mode(request.policy),
                lambda r: convert.get_response(read.key, _raise_for(r), now_ms()),
                kv_pb2.GetResponse,
            )

        return await self._serve(context, handler)

    async def Exists(self, request: kv_pb2.ExistsRequest, context: grpc.aio.ServicerContext) -> Any:
        def evaluate(result: Result) -> Any:
            if result.code not in (ResultCode.OK, ResultCode.KEY_NOT_FOUND):
                raise error_for(result.code, result.message)
            return convert.exists_response(result, now_ms())

        async def handler() -> Any:
            read = convert.exists_command(request)
            return await self._read(
                context,
                "Exists",
                request,
                read,
                convert.read_mode(request.policy),
                evaluate,
                kv_pb2.ExistsResponse,
            )

        return await self._serve(context, handler)

    async def BatchGet(
        self, request: kv_pb2.BatchGetRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return await self._serve(context, lambda: self._batch_get(request, context))

    async def Scan(self, request: kv_pb2.ScanRequest, context: grpc.aio.ServicerContext) -> None:
        """A server stream of ScanResponse pages (see ``raftstore_node.scan``)."""
        await self._serve(context, lambda: self._scans.serve(request, context))

    async def BatchOperate(
        self, request: kv_pb2.BatchOperateRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return await self._serve(context, lambda: self._batches.batch_operate(request, context))

    async def Truncate(
        self, request: kv_pb2.TruncateRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        return await self._serve(context, lambda: self._batches.truncate(request, context))

    async def Stream(
        self, requests: Any, context: grpc.aio.ServicerContext, parser: RequestParser
    ) -> None:
        """Many single-record commands on one call, each run by the unary method above
        (see ``raftstore_node.stream``)."""
        await self._streams.serve(requests, context, parser)

    # --- batch ------------------------------------------------------------------------

    async def _batch_get(
        self, request: kv_pb2.BatchGetRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        reads = await self._convert(convert.batch_reads, request)
        by_group: dict[str, list[int]] = defaultdict(list)
        groups: dict[str, Group] = {}
        for i, read in enumerate(reads):
            group = self._router.group_for(read.key)
            groups[group.group_id] = group
            by_group[group.group_id].append(i)
        mode = convert.read_mode(request.policy)
        response = kv_pb2.BatchGetResponse()
        slots = [response.records.add() for _ in reads]
        await asyncio.gather(
            *(
                self._batch_group(
                    context, request, groups[gid], idx, reads, mode, slots, len(by_group) == 1
                )
                for gid, idx in by_group.items()
            )
        )
        return response

    async def _batch_group(
        self,
        context: grpc.aio.ServicerContext,
        request: kv_pb2.BatchGetRequest,
        group: Group,
        idx: list[int],
        reads: list[Read],
        mode: ReadMode,
        slots: list[kv_pb2.BatchRecord],
        whole: bool,
    ) -> None:
        """One group's reads; ``whole``: they are the whole request, so a failure of the
        group (no leader here, a leader hint) is the call's error, which the client acts on
        (follows the hint, retries) rather than a code per key."""
        sub = kv_pb2.BatchGetRequest(header=request.header, policy=request.policy)
        if request.HasField("filter"):
            sub.filter.CopyFrom(request.filter)
        sub.reads.extend(request.reads[i] for i in idx)
        try:
            if mode is ReadMode.ALLOW_REPLICA and self._router.hosts(group):
                part = self._batch_local(
                    [self._node.local_read(group, reads[i]) for i in idx], idx, reads
                )
            else:

                async def local(deadline: float) -> Any:
                    with self._admission.group(group.group_id, None):
                        results = await asyncio.gather(
                            *(self._node.linearizable_read(group, reads[i], deadline) for i in idx)
                        )
                    return self._batch_local(list(results), idx, reads)

                part = await self._dispatcher.run(
                    context=context,
                    group=group,
                    method=KV + "BatchGet",
                    request=sub,
                    response_type=kv_pb2.BatchGetResponse,
                    local=local,
                    write=False,
                    no_forward=request.header.no_forward,
                )
            for i, rec in zip(idx, part.records, strict=True):
                slots[i].CopyFrom(rec)
        except (RaftstoreError, RelayedError) as e:
            if whole:
                raise
            code = e.code if isinstance(e, RaftstoreError) else ResultCode.PARTITION_UNAVAILABLE
            for i in idx:
                slots[i].result_code = int(code)
                slots[i].message = str(e)
                key_to_pb(reads[i].key, slots[i].record.key)

    @staticmethod
    def _batch_local(
        results: list[Result], idx: list[int], reads: list[Read]
    ) -> kv_pb2.BatchGetResponse:
        out = kv_pb2.BatchGetResponse()
        now = now_ms()
        for i, result in zip(idx, results, strict=True):
            rec = out.records.add(result_code=int(result.code), message=result.message)
            if result.ok:
                convert.record(reads[i].key, result, now, rec.record)
            else:
                key_to_pb(reads[i].key, rec.record.key)
        return out
