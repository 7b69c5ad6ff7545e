"""Serving a Query stream on the node's event loop: a scan driven by a secondary index.

A query covers partitions [begin, end) of a namespace like a scan (same request fields,
pages, throttle, cursor and read-mode rules: ``raftstore_node.scan``), but per partition
*group* rather than per partition: for each group the range touches it

1. finds the group's replica here and checks that it may serve it (LINEARIZE: leader and
   a read index; ALLOW_REPLICA: any replica), as a scan does;
2. resolves the index in that replica's state (``raftstore.query.resolve``: unknown index
   201, wrong value type 4, still building 203 end the stream with that code);
3. collects the index hits of the group's partitions after the cursor from one state
   (``IndexReader``, bounded steps, yielding between them), sorted by (partition,
   digest);
4. reads each hit's record again and returns it if it still matches (``verify``: value
   in the bounds, set, not expired, filter), in slices of at most 2 ms of loop time.

The cursor moves past every hit examined, and to the group's end when it is done, so a
client resumes a query exactly as it resumes a scan.

Thread: the node's event loop thread.
"""

from __future__ import annotations

import time

import grpc
from raftstore_node import convert
from raftstore_node.routing import Router
from raftstore_node.scan import _Stream, now_ms

from raftstore.errors import DeviceOverload, ParameterError, PartitionUnavailable, RaftstoreError
from raftstore.expressions import parse_filter
from raftstore.namespaces import NamespaceConfig, group_id, group_of_partition
from raftstore.query import IndexReader, QuerySpec, resolve, verify
from raftstore.replication.replica import Replica
from raftstore.scan import Cursor
from raftstore.sindex import Collection, decode_state
from raftstore.v1 import index_pb2
from raftstore.wire import value_from_pb

MAX_QUERIES = 32  # streams at once per node (a client runs one per group in parallel)


def query_spec(request: index_pb2.QueryRequest) -> QuerySpec:
    """The validated query ``request`` asks for (ParameterError otherwise)."""
    if not request.HasField("lo") or not request.HasField("hi"):
        raise ParameterError("a query needs bounds lo and hi (equal for an equality query)")
    if not request.index and not request.bin:
        raise ParameterError("a query names its index or the indexed bin")
    try:
        collection = Collection(request.collection)
    except ValueError:
        raise ParameterError(f"unknown index collection {request.collection}") from None
    return QuerySpec(
        scan=convert.scan_spec(request.scan),
        bin=request.bin,
        lo=value_from_pb(request.lo),
        hi=value_from_pb(request.hi),
        index=request.index,
        collection=collection,
        filter=parse_filter(request.filter) if request.HasField("filter") else None,
    )


class QueryServer:
    """Runs the node's query streams; bounds how many run at once."""

    def __init__(self, router: Router, groups: dict[str, Replica]) -> None:
        self._router = router
        self._groups = groups
        self.active = 0

    async def serve(
        self, request: index_pb2.QueryRequest, context: grpc.aio.ServicerContext
    ) -> None:
        spec = query_spec(request)
        namespace = self._router.namespace(spec.scan.namespace)
        if self.active >= MAX_QUERIES:
            raise DeviceOverload(f"{self.active} queries running on this node; retry later")
        self.active += 1
        try:
            await _QueryStream(self._router, self._groups, spec, namespace, context).run()
        finally:
            self.active -= 1


class _QueryStream(_Stream):
    def __init__(
        self,
        router: Router,
        groups: dict[str, Replica],
        spec: QuerySpec,
        namespace: NamespaceConfig,
        context: grpc.aio.ServicerContext,
    ) -> None:
        super().__init__(router, groups, spec.scan, namespace, context)
        self._query = spec

    async def run(self) -> None:
        begin, end = self._spec.begin, self._spec.end
        try:
            partition = begin
            while partition < end:
                last = self._group_end(partition, end)
                start = self._spec.start if partition == begin else Cursor(partition)
                await self._group(partition, last, start)
                self._pager.advance(Cursor(last))
                if self._pager.due:
                    await self._flush()
                partition = last
        except RaftstoreError:
            if self._pager.pending:
                await self._flush()
            raise
        await self._flush()

    def _group_end(self, partition: int, end: int) -> int:
        """The first partition after ``partition`` of another group (or ``end``)."""
        groups = self._ns.partition_groups
        g = group_of_partition(partition, groups)
        last = partition + 1
        while last < end and group_of_partition(last, groups) == g:
            last += 1
        return last

    async def _group(self, first: int, last: int, start: Cursor) -> None:
        gid = group_id(self._ns.name, group_of_partition(first, self._ns.partition_groups))
        replica = await self._replica(gid, first)
        states = {n: decode_state(d) for n, d in replica.store.index_defs().items()}
        state, bounds = resolve(states, self._query)
        reader = IndexReader(replica.store, state.definition.name, bounds, first, last, start)
        while True:
            if time.perf_counter() >= self._slice_end:
                await self._yield()
            self._check(gid, replica)
            hits = reader.step()
            if hits is not None:
                break
            self._slice_end = 0.0
        now = now_ms()
        for partition, digest in hits:
            if time.perf_counter() >= self._slice_end:
                await self._yield()
                self._check(gid, replica)
                now = now_ms()
            data = replica.store.get(self._ns.name, digest)
            selected = verify(self._query, state, bounds, digest, data, now)
            if selected is not None:
                await self._pace()
                convert.scanned_record(self._ns.name, selected, now, self._page.records.add())
                self._pager.add(selected.size)
                self._sent += 1
            self._pager.advance(Cursor(partition, digest))
            if self._pager.full:
                await self._flush()

    def _check(self, gid: str, replica: Replica) -> None:
        if self._groups.get(gid) is not replica:
            raise PartitionUnavailable(f"group {gid}'s replica left this node; resume")
