"""The Index service: define, drop and list secondary indexes; serve index queries.

An index exists per partition group: CreateIndex and DropIndex propose a command into
every group of the namespace (at each group's leader, forwarded by the Dispatcher like
any write; a forwarded call carries ``group`` and runs on that group only) and answer
once every group applied it. CreateIndex is idempotent (the same definition again is
OK), so a client retries a partly applied one; DropIndex is OK when at least one group
held the index and INDEX_NOTFOUND (201) when none did. ListIndexes asks every group's
leader for its indexes and build state and merges them: an index is ready when every
group of the namespace has built it. Query streams are served by ``raftstore_node.query``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
from raftstore_node import parsing
from raftstore_node.dispatch import answer
from raftstore_node.forwarder import RelayedError
from raftstore_node.query import QueryServer
from raftstore_node.services.kv import propose
from raftstore_node.status import RESULT_CODE_KEY

from raftstore.commands import Command, CreateIndex, DropIndex, Request
from raftstore.errors import (
    IndexNotFound,
    ParameterError,
    PartitionUnavailable,
    RaftstoreError,
    ResultCode,
    error_for,
)
from raftstore.keys import N_PARTITIONS, partition_id
from raftstore.namespaces import NamespaceConfig, group_id, group_of_partition
from raftstore.replication.replica import Replica
from raftstore.sindex import Collection, IndexDef, IndexState, IndexType, decode_state
from raftstore.v1 import index_pb2, index_pb2_grpc

INDEX = "/raftstore.v1.Index/"


def index_definition(request: index_pb2.CreateIndexRequest) -> IndexDef:
    """The validated definition a CreateIndex request asks for (ParameterError...)."""
    if request.type not in (index_pb2.INDEX_TYPE_NUMERIC, index_pb2.INDEX_TYPE_STRING):
        raise ParameterError("index type must be NUMERIC or STRING")
    try:
        collection = Collection(request.collection)
    except ValueError:
        raise ParameterError(f"unknown index collection {request.collection}") from None
    definition = IndexDef(
        request.namespace,
        request.name,
        request.set,
        request.bin,
        IndexType(request.type),
        collection,
    )
    return definition.validate()


def group_range(ns: NamespaceConfig, g: int) -> tuple[int, int]:
    """Partitions [first, last) of group ``g`` of ``ns``."""
    parts = [p for p in range(N_PARTITIONS) if group_of_partition(p, ns.partition_groups) == g]
    return parts[0], parts[-1] + 1


def group_status(ns: NamespaceConfig, g: int, state: IndexState) -> index_pb2.IndexStatus:
    """One group's view of an index, as ListIndexes reports it."""
    d = state.definition
    first, last = group_range(ns, g)
    if state.ready:
        progress = 1.0
    elif state.cursor:
        progress = (partition_id(state.cursor) - first) / (last - first)
    else:
        progress = 0.0
    return index_pb2.IndexStatus(
        namespace=d.namespace,
        name=d.name,
        set=d.set_name,
        bin=d.bin,
        type=int(d.type),
        collection=int(d.collection),
        ready=state.ready,
        groups=1,
        groups_ready=int(state.ready),
        groups_total=ns.partition_groups,
        records_examined=state.indexed,
        progress=progress,
    )


def merge_statuses(parts: list[index_pb2.ListIndexesResponse], total: int) -> list[Any]:
    """Combine per-group answers: counts add up, progress is the mean over all groups."""
    merged: dict[str, index_pb2.IndexStatus] = {}
    for part in parts:
        for status in part.indexes:
            into = merged.get(status.name)
            if into is None:
                into = merged[status.name] = index_pb2.IndexStatus()
                into.CopyFrom(status)
                into.groups = into.groups_ready = into.records_examined = 0
                into.progress = 0.0
            into.groups += status.groups
            into.groups_ready += status.groups_ready
            into.records_examined += status.records_examined
            into.progress += status.progress * status.groups / total
    for status in merged.values():
        status.groups_total = total
        status.ready = status.groups_ready == total
    return [merged[name] for name in sorted(merged)]


def _code(error: BaseException) -> int | None:
    if isinstance(error, RaftstoreError):
        return int(error.code)
    if isinstance(error, RelayedError):
        codes = [v for k, v in error.metadata if k == RESULT_CODE_KEY]
        return int(codes[0]) if codes and codes[0].lstrip("-").isdigit() else None
    return None


class IndexService(index_pb2_grpc.IndexServicer):
    def __init__(self, node: Any) -> None:
        self._node = node
        self._router = node.router
        self._dispatcher = node.dispatcher
        self._admission = node.admission
        self._queries = QueryServer(node.router, node.groups)

    async def _serve(self, context: grpc.aio.ServicerContext, handler: Callable[[], Any]) -> Any:
        async def admitted() -> Any:
            with self._admission.node(parsing.request_size.get()):
                return await handler()

        return await answer(context, admitted, self._node.log_unexpected)

    # --- definitions ----------------------------------------------------------------

    async def CreateIndex(
        self, request: index_pb2.CreateIndexRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async def handler() -> Any:
            definition = index_definition(request)
            ns = self._router.namespace(request.namespace)
            outcomes = await self._each_group(
                context, ns, request, "CreateIndex", index_pb2.CreateIndexResponse,
                lambda _: CreateIndex(ns.name, definition),
            )  # fmt: skip
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            return index_pb2.CreateIndexResponse()

        return await self._serve(context, handler)

    async def DropIndex(
        self, request: index_pb2.DropIndexRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async def handler() -> Any:
            if not request.name:
                raise ParameterError("drop_index needs the index name")
            ns = self._router.namespace(request.namespace)
            outcomes = await self._each_group(
                context, ns, request, "DropIndex", index_pb2.DropIndexResponse,
                lambda _: DropIndex(ns.name, request.name),
            )  # fmt: skip
            missing = [o for o in outcomes if _code(o) == ResultCode.INDEX_NOTFOUND]
            for outcome in outcomes:
                if isinstance(outcome, BaseException) and outcome not in missing:
                    raise outcome
            if len(missing) == len(outcomes):
                raise IndexNotFound(f"index {request.name!r} does not exist in {ns.name!r}")
            return index_pb2.DropIndexResponse()

        return await self._serve(context, handler)

    async def ListIndexes(
        self, request: index_pb2.ListIndexesRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        async def handler() -> Any:
            ns = self._router.namespace(request.namespace)
            outcomes = await self._each_group(
                context, ns, request, "ListIndexes", index_pb2.ListIndexesResponse, None
            )
            parts = []
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
                parts.append(outcome)
            total = 1 if request.HasField("group") else ns.partition_groups
            return index_pb2.ListIndexesResponse(indexes=merge_statuses(parts, total))

        return await self._serve(context, handler)

    async def _each_group(
        self,
        context: grpc.aio.ServicerContext,
        ns: NamespaceConfig,
        request: Any,
        method: str,
        response_type: Any,
        command: Callable[[int], Command] | None,
    ) -> list[Any]:
        """Run ``command`` (None: list the group's indexes) at the leader of every group
        of ``ns`` (or of ``request.group`` only); each group's response or error."""
        if request.HasField("group"):
            if not 0 <= request.group < ns.partition_groups:
                raise ParameterError(f"group {request.group} is not a group of {ns.name!r}")
            numbers: list[int] = [request.group]
        else:
            numbers = list(range(ns.partition_groups))

        async def one(g: int) -> Any:
            group = self._router.group(group_id(ns.name, g))
            if group is None:
                raise PartitionUnavailable(f"group {group_id(ns.name, g)} is not placed")
            sub = type(request)()
            sub.CopyFrom(request)
            sub.group = g

            async def local(deadline: float) -> Any:
                replica: Replica = group  # type: ignore[assignment]
                if command is None:
                    return self._list_local(ns, g, replica)
                result = await propose(replica, Request(command(g)), deadline, True)
                if not result.ok:
                    raise error_for(result.code, result.message)
                return response_type()

            return await self._dispatcher.run(
                context=context,
                group=group,
                method=INDEX + method,
                request=sub,
                response_type=response_type,
                local=local,
                write=command is not None,
                no_forward=request.header.no_forward,
            )

        return list(await asyncio.gather(*(one(g) for g in numbers), return_exceptions=True))

    @staticmethod
    def _list_local(ns: NamespaceConfig, g: int, replica: Replica) -> Any:
        states = [decode_state(d) for d in replica.store.index_defs().values()]
        return index_pb2.ListIndexesResponse(
            indexes=[group_status(ns, g, s) for s in states if s.definition.namespace == ns.name]
        )

    # --- queries --------------------------------------------------------------------

    async def Query(
        self, request: index_pb2.QueryRequest, context: grpc.aio.ServicerContext
    ) -> None:
        """A server stream of ScanResponse pages (see ``raftstore_node.query``)."""
        await self._serve(context, lambda: self._queries.serve(request, context))
