"""BatchOperate and Truncate: commands that span partition groups.

``BatchServer.batch_operate`` converts every item (a malformed item gets its own result
code and is not proposed), groups the items by partition group and runs each group's part
where it belongs (``Dispatcher.run``): locally as one ``commands.Batch`` request — one
command in one Raft entry, answered with one Result per item — or forwarded to the
group's leader as a BatchOperate holding only that group's items. A part that fails as a
whole (no leader, timeout, overload) gives its code to each of its items, with
``in_doubt`` when its writes may have applied; the other parts are unaffected. The
request's exactly-once identity (client_id, seq) is used by every part: sessions live in
each group's store, so each group applies its part at most once for that identity.

``BatchServer.truncate`` proposes a ``commands.Truncate`` to every group of the namespace
(forwarding each group's part, marked with its ``group_id``, to its leader) and answers
once every group applied it. The rows are deleted later by the ``Sweeper``.

``Sweeper`` deletes, on this node, the rows that truncation markers hide, group by group,
in slices of ``slice_rows`` rows with a yield to the event loop between slices (see
``raftstore.truncation`` for why local deletes are safe), then compacts the group's column
family off the loop so the freed bytes leave its size (``stop_writes``).

Thread: everything runs on the node's event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from raftstore_node import convert
from raftstore_node.forwarder import RelayedError
from raftstore_node.routing import Group
from raftstore_node.status import IN_DOUBT_KEY, RESULT_CODE_KEY
from raftstore_node.stop_writes import compact, grows

from raftstore.commands import Batch, Command, Read, Request, Result, Truncate
from raftstore.errors import ParameterError, RaftstoreError, ResultCode, error_for
from raftstore.keys import validate_set
from raftstore.namespaces import group_id
from raftstore.replication.replica import Replica
from raftstore.truncation import hidden_rows
from raftstore.v1 import kv_pb2

log = logging.getLogger("raftstore.node.batch")

KV = "/raftstore.v1.KV/"
Propose = Callable[[Replica, Request, float, bool], Awaitable[Result]]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class BatchServer:
    """Serves BatchOperate and Truncate for the KV service."""

    def __init__(self, node: Any, propose: Propose, convert_off_loop: Any) -> None:
        self._node = node
        self._router = node.router
        self._dispatcher = node.dispatcher
        self._admission = node.admission
        self._propose = propose
        self._convert = convert_off_loop
        self._max_elements = node.admission.limits.max_elements

    # --- BatchOperate -------------------------------------------------------------------

    async def batch_operate(
        self, request: kv_pb2.BatchOperateRequest, context: grpc.aio.ServicerContext
    ) -> kv_pb2.BatchOperateResponse:
        items = await self._convert(lambda r: convert.batch_items(r, self._max_elements), request)
        response = kv_pb2.BatchOperateResponse()
        slots = [response.results.add() for _ in items]
        by_group: dict[str, list[int]] = defaultdict(list)
        groups: dict[str, Group] = {}
        for i, item in enumerate(items):
            try:
                if isinstance(item, RaftstoreError):
                    raise item
                group = self._router.group_for(item.key)
            except RaftstoreError as e:
                _fail(slots[i], request.items[i], e.code, e.message, False)
                continue
            groups[group.group_id] = group
            by_group[group.group_id].append(i)
        whole = len(by_group) == 1 and len(next(iter(by_group.values()))) == len(items)
        await asyncio.gather(
            *(
                self._part(context, request, groups[gid], idx, items, slots, whole)  # type: ignore[arg-type]
                for gid, idx in by_group.items()
            )
        )
        return response

    async def _part(
        self,
        context: grpc.aio.ServicerContext,
        request: kv_pb2.BatchOperateRequest,
        group: Group,
        idx: list[int],
        items: list[Command],
        slots: list[kv_pb2.BatchItemResult],
        whole: bool,
    ) -> None:
        """One group's items. ``whole``: they are the whole request, so a failure of the
        group (a leader hint, a timeout) is the call's error — the client follows the hint
        or retries the same (client_id, seq) — rather than a code per item."""
        commands = tuple(items[i] for i in idx)
        write = not all(isinstance(c, Read) for c in commands)
        sub = kv_pb2.BatchOperateRequest(header=request.header, policy=request.policy)
        if request.HasField("filter"):
            sub.filter.CopyFrom(request.filter)
        sub.items.extend(request.items[i] for i in idx)

        async def local(deadline: float) -> kv_pb2.BatchOperateResponse:
            header = request.header
            with self._admission.group(group.group_id, None):
                if write:
                    self._admission.check_writable()
                if grows(Batch(commands)):
                    self._node.stop_writes.check(commands[0].key.namespace)
                req = Request(Batch(commands), header.client_id, header.seq, header.acked_seq)
                result = await self._propose(group, req, deadline, write)  # type: ignore[arg-type]
            if not result.batch:  # refused as a whole (a malformed session identity)
                raise error_for(result.code, result.message)
            out = kv_pb2.BatchOperateResponse()
            now = now_ms()
            for command, res in zip(commands, result.batch, strict=True):
                convert.batch_item_result(command.key, res, now, out.results.add())
            return out

        try:
            part = await self._dispatcher.run(
                context=context,
                group=group,
                method=KV + "BatchOperate",
                request=sub,
                response_type=kv_pb2.BatchOperateResponse,
                local=local,
                write=write,
                no_forward=request.header.no_forward,
            )
            for i, res in zip(idx, part.results, strict=True):
                slots[i].CopyFrom(res)
        except RaftstoreError as e:
            if whole:
                raise
            for i in idx:
                _fail(slots[i], request.items[i], e.code, e.message, write and e.in_doubt)
        except RelayedError as e:
            if whole:
                raise
            code, in_doubt = _relayed(e)
            for i in idx:
                _fail(slots[i], request.items[i], code, e.details, write and in_doubt)

    # --- Truncate -----------------------------------------------------------------------

    async def truncate(
        self, request: kv_pb2.TruncateRequest, context: grpc.aio.ServicerContext
    ) -> kv_pb2.TruncateResponse:
        ns = self._router.namespace(request.namespace)
        set_name = validate_set(request.set)
        if request.before_ms < 0:
            raise ParameterError("before_ms must be >= 0 (0: now)")
        gids = [group_id(ns.name, i) for i in range(ns.partition_groups)]
        if request.group_id:
            if request.group_id not in gids:
                raise ParameterError(f"group {request.group_id!r} is not a group of {ns.name!r}")
            gids = [request.group_id]
        command = Truncate(ns.name, set_name, request.before_ms)
        parts = await asyncio.gather(
            *(self._truncate_group(context, request, gid, command) for gid in gids)
        )
        response = kv_pb2.TruncateResponse()
        for part in parts:
            response.groups.extend(part.groups)
        return response

    async def _truncate_group(
        self,
        context: grpc.aio.ServicerContext,
        request: kv_pb2.TruncateRequest,
        gid: str,
        command: Truncate,
    ) -> kv_pb2.TruncateResponse:
        group = self._router.group(gid)
        if group is None:
            raise ParameterError(f"group {gid} is not in this node's placement map")
        sub = kv_pb2.TruncateRequest()
        sub.CopyFrom(request)
        sub.group_id = gid
        header = request.header

        async def local(deadline: float) -> kv_pb2.TruncateResponse:
            with self._admission.group(gid, None):
                req = Request(command, header.client_id, header.seq, header.acked_seq)
                result = await self._propose(group, req, deadline, True)  # type: ignore[arg-type]
            if not result.ok:
                raise error_for(result.code, result.message)
            out = kv_pb2.TruncateResponse()
            out.groups.add(group_id=gid, lut_ms=result.last_update_ms)
            return out

        return await self._dispatcher.run(
            context=context,
            group=group,
            method=KV + "Truncate",
            request=sub,
            response_type=kv_pb2.TruncateResponse,
            local=local,
            write=True,
            no_forward=header.no_forward,
        )


def _fail(
    slot: kv_pb2.BatchItemResult,
    item: kv_pb2.BatchItem,
    code: int,
    message: str,
    in_doubt: bool,
) -> None:
    slot.Clear()
    slot.result_code = int(code)
    slot.message = message
    slot.in_doubt = in_doubt
    slot.record.key.CopyFrom(item.key)


def _relayed(e: RelayedError) -> tuple[int, bool]:
    """Result code and in-doubt flag of an error the leader answered."""
    md = dict(e.metadata)
    try:
        code = int(md.get(RESULT_CODE_KEY, ResultCode.SERVER_ERROR))
    except ValueError:
        code = int(ResultCode.SERVER_ERROR)
    return code, md.get(IN_DOUBT_KEY) == "1"


# --- background deletion of truncated rows -----------------------------------------------


class Sweeper:
    """Deletes the rows hidden by truncation markers on this node's group replicas."""

    def __init__(
        self, groups: dict[str, Replica], slice_rows: int = 500, interval: float = 1.0
    ) -> None:
        self._groups = groups
        self.slice_rows = slice_rows
        self.interval = interval
        self._swept: dict[str, int] = {}  # group -> truncation epoch of its last full sweep
        self.purged = 0  # rows deleted since start

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for gid in list(self._groups):
                try:
                    await self.sweep(gid)
                except Exception:  # a store closed or replaced under us: next round
                    log.debug("sweep of %s interrupted", gid, exc_info=True)

    async def sweep(self, gid: str) -> int:
        """Delete every row of group ``gid`` that its markers hide, a slice at a time;
        nothing when it was swept since the markers or rows last changed."""
        group = self._groups.get(gid)
        if group is None:
            return 0
        store = group.store
        epoch = store.truncation_epoch
        markers = store.truncations()
        if self._swept.get(gid) == epoch or not markers:
            self._swept[gid] = epoch
            return 0
        purged = 0
        for namespace in sorted({ns for ns, _ in markers}):
            after: bytes | None = None
            while True:
                if self._groups.get(gid) is not group:
                    return purged  # the replica was closed or replaced
                hidden, after = hidden_rows(store, namespace, after, self.slice_rows)
                store.purge(namespace, hidden)  # same loop step: only hidden rows
                purged += len(hidden)
                if after is None:
                    break
                await asyncio.sleep(0)
        self._swept[gid] = epoch
        self.purged += purged
        if purged:
            log.info("group %s: deleted %d truncated rows", gid, purged)
            await compact(group)  # the freed bytes show in the size stop-writes reads
        return purged
