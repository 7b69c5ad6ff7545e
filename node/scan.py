"""Serving a Scan stream on the node's event loop.

A stream walks partitions [begin, end) in order. For each partition it finds the group's
replica here and checks that it may serve it:

- LINEARIZE (and SESSION): this node leads the group, and a read index obtained after the
  request arrived has been applied (``Replica.read_index``): the partition is then read
  from a state that holds every write acknowledged before the scan began. The read index
  is confirmed when the stream enters a group and again once it is ``READ_INDEX_REFRESH``
  old, so a deposed leader stops serving within about that long (a state read after a
  read index is linearizable at a point inside the scan's interval even if leadership
  was lost since; refreshing is for freshness and to send the client to the new leader).
- ALLOW_REPLICA: this node holds a replica; its applied state, perhaps stale.

Otherwise the stream ends with PARTITION_UNAVAILABLE (11) and the leader's address in
``raftstore-leader`` when known; scans are never forwarded — the client resumes at the
right node from the cursor of the last message it received.

Each partition's rows come from one consistent state (``raftstore.scan.PartitionReader``:
bounded steps, no store iterator held across a yield, read again from the start if the
state moved between steps). The rows are then decoded, filtered and converted in slices
of at most ``SLICE_SECONDS`` of loop time; a page leaves when full or due (``Pager``),
and never before the throttle allows its records. Between slices and steps the coroutine
yields, so heartbeats, elections and other requests keep their turn.

If the replica is closed or the group leaves this node between two steps, the stream
ends with PARTITION_UNAVAILABLE (nothing of that partition was sent). Any error ends the
stream after the records collected so far and their cursor have been sent.

Thread: the node's event loop thread.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from raftstore_node import convert
from raftstore_node.dispatch import NoLeaderHint
from raftstore_node.routing import Group, RouteKind, Router

from raftstore.errors import DeviceOverload, PartitionUnavailable, RaftstoreError, Timeout
from raftstore.namespaces import NamespaceConfig, group_id, group_of_partition
from raftstore.policy import ReadMode
from raftstore.replication.group import NotLeader
from raftstore.replication.replica import Replica
from raftstore.scan import Cursor, Pager, PartitionReader, ScanSpec, Throttle, select
from raftstore.v1 import kv_pb2

MAX_SCANS = 8  # streams served at once by one node; more are answered DEVICE_OVERLOAD
SLICE_SECONDS = 0.002  # loop time one slice of rows may take before the stream yields
READ_INDEX_REFRESH = 1.0  # seconds a confirmed read index serves the group's partitions
READ_INDEX_TIMEOUT = 5.0  # seconds to confirm leadership before answering TIMEOUT


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ScanServer:
    """Runs the node's scan streams; bounds how many run at once."""

    def __init__(self, router: Router, groups: dict[str, Replica]) -> None:
        self._router = router
        self._groups = groups
        self.active = 0

    async def serve(self, request: kv_pb2.ScanRequest, context: grpc.aio.ServicerContext) -> None:
        """Stream the records ``request`` asks for; RaftstoreError ends the stream."""
        spec = convert.scan_spec(request)
        namespace = self._router.namespace(spec.namespace)
        if self.active >= MAX_SCANS:
            raise DeviceOverload(f"{self.active} scans running on this node; retry later")
        self.active += 1
        try:
            await _Stream(self._router, self._groups, spec, namespace, context).run()
        finally:
            self.active -= 1


class _Stream:
    def __init__(
        self,
        router: Router,
        groups: dict[str, Replica],
        spec: ScanSpec,
        namespace: NamespaceConfig,
        context: grpc.aio.ServicerContext,
    ) -> None:
        self._router = router
        self._groups = groups
        self._spec = spec
        self._ns = namespace
        self._context = context
        self._pager = Pager(spec.start, spec.page_size)
        self._throttle = Throttle(spec.records_per_second)
        self._page = kv_pb2.ScanResponse()
        self._sent = 0
        self._confirmed: dict[str, float] = {}
        self._slice_end = 0.0

    async def run(self) -> None:
        try:
            for partition in range(self._spec.begin, self._spec.end):
                after = self._spec.after_digest if partition == self._spec.begin else b""
                await self._partition(partition, after)
                self._pager.advance(Cursor(partition + 1))
                if self._pager.due:
                    await self._flush()
        except RaftstoreError:
            if self._pager.pending:
                await self._flush()  # what was read leaves with its cursor, then the error
            raise
        await self._flush()

    # --- one partition ----------------------------------------------------------------

    async def _partition(self, partition: int, after: bytes) -> None:
        gid = group_id(self._ns.name, group_of_partition(partition, self._ns.partition_groups))
        replica = await self._replica(gid, partition)
        reader = PartitionReader(replica.store, self._ns.name, partition, after)
        while True:
            if time.perf_counter() >= self._slice_end:
                await self._yield()
            if self._groups.get(gid) is not replica:
                raise PartitionUnavailable(f"group {gid}'s replica left this node; resume")
            rows = reader.step()
            if rows is not None:
                break
            self._slice_end = 0.0  # a whole step was read: yield before the next one
        markers = replica.store.truncations()  # as of the rows' state: same loop step
        now = now_ms()
        for digest, data in rows:
            if time.perf_counter() >= self._slice_end:
                await self._yield()
                now = now_ms()
            selected = select(self._spec, digest, data, now, markers)
            if selected is not None:
                await self._pace()
                convert.scanned_record(self._ns.name, selected, now, self._page.records.add())
                self._pager.add(selected.size)
                self._sent += 1
            self._pager.advance(Cursor(partition, digest))
            if self._pager.full:
                await self._flush()

    async def _replica(self, gid: str, partition: int) -> Replica:
        """The replica of ``gid`` here, once it may serve the scan's read mode."""
        group = self._router.group(gid)
        if group is None:
            raise PartitionUnavailable(f"group {gid} is not in this node's placement map")
        if self._spec.mode is ReadMode.ALLOW_REPLICA:
            if not self._router.hosts(group):
                raise self._elsewhere(group, partition)
            return group  # type: ignore[return-value]
        if not group.is_leader:
            raise self._elsewhere(group, partition)
        replica: Replica = group  # type: ignore[assignment]
        started = time.monotonic()
        if started - self._confirmed.get(gid, -READ_INDEX_REFRESH) >= READ_INDEX_REFRESH:
            try:
                await asyncio.wait_for(replica.read_index(), READ_INDEX_TIMEOUT)
            except NotLeader:
                raise self._elsewhere(group, partition) from None
            except TimeoutError:
                raise Timeout(f"group {gid}: leadership not confirmed in time") from None
            self._confirmed[gid] = started
        return replica

    def _elsewhere(self, group: Group, partition: int) -> RaftstoreError:
        route = self._router.route(group)
        if route.kind is RouteKind.LEADER:
            return NoLeaderHint(
                f"partition {partition} (group {group.group_id}) is served by "
                f"{route.leader_id}; resume there",
                route.hint,
            )
        return PartitionUnavailable(f"group {group.group_id} has no leader here")

    # --- pace and pages ---------------------------------------------------------------

    def _new_slice(self) -> None:
        self._slice_end = time.perf_counter() + SLICE_SECONDS

    async def _yield(self) -> None:
        if self._pager.due:
            await self._flush()
        await asyncio.sleep(0)
        self._new_slice()

    async def _pace(self) -> None:
        wait = self._throttle.wait(self._sent)
        if wait > 0:
            if self._pager.count:
                await self._flush()
            await asyncio.sleep(wait)
            self._new_slice()

    async def _flush(self) -> None:
        cursor = self._pager.take()
        page, self._page = self._page, kv_pb2.ScanResponse()
        page.resume_partition = cursor.partition
        page.resume_digest = cursor.digest
        await self._context.write(page)
