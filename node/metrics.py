"""Prometheus metrics of a node, served as text on ``http://<host>:<metrics_port>/metrics``.

Families (every name starts ``raftstore_``):

| family | type | labels | source |
| --- | --- | --- | --- |
| ``node_info`` | gauge (1) | node_id, cluster_id, version | config |
| ``node_uptime_seconds`` | gauge | | node |
| ``peer_connected`` | gauge 0/1 | peer | peer mesh |
| ``peer_frames_sent_total``, ``peer_messages_sent_total`` | counter | | peer mesh (batches) |
| ``peer_frames_received_total``, ``peer_messages_received_total`` | counter | | peer mesh |
| ``peer_bad_frames_total`` | counter | | peer mesh: malformed frames dropped |
| ``groups_quiesced`` | gauge | | raft driver: replicas here not ticked (idle) |
| ``group_leader`` | gauge 0/1 | group | ``group.status()`` |
| ``group_role`` | gauge 0/1 | group, role | ``group.status()`` |
| ``group_term``, ``group_commit_index``, ``group_applied_index`` | gauge | group | status |
| ``group_last_log_index``, ``group_snapshot_index``, ``group_log_entries`` | gauge | group | |
| ``store_size_bytes``, ``store_keys`` | gauge | group | RocksDB estimates, the group's CF |
| ``engine_memtable_bytes``, ``engine_block_cache_bytes`` | gauge | | the node's one RocksDB |
| ``data_dir_available_bytes``, ``data_dir_capacity_bytes`` | gauge | | statvfs |
| ``requests_total`` | counter | command, result | gRPC interceptor |
| ``request_duration_seconds`` | histogram | command, result | gRPC interceptor |
| ``proposals_total``, ``proposals_failed_total`` | counter | kind (write, read) | kv.propose |
| ``journal_fsync_duration_seconds`` | histogram | | ``journal._fdatasync`` |
| ``expired_records_total``, ``nsup_examined_records_total`` | counter | namespace | ``nsup`` |
| ``group_expired_records_total`` | counter | group | ``nsup`` (while this node led it) |
| ``namespace_stored_bytes``, ``namespace_stop_writes_size_bytes`` | gauge | namespace | |
| ``namespace_stop_writes`` | gauge 0/1 | namespace | ``stop_writes`` |
| ``apply_duration_seconds`` | histogram | | ``group.on_apply`` (one committed entry) |
| ``snapshots_total`` | counter | event (taken, sent, installed) | ``group.on_snapshot`` |
| ``snapshot_bytes_total`` | counter | event (taken, sent, installed) | ``group.on_snapshot`` |
| ``replica_moves_total`` | counter | event (started, completed, removed, failed) | rebalancer |
| ``peer_tls_failures_total`` | counter | | peer mesh: TLS handshakes refused or failed |
| ``peer_rejections_total`` | counter | | peer mesh: peers refused (secret, cluster, node) |

``replica_moves_total`` counts on the node that runs the rebalancer (the metadata group's
leader): a new replica placed (``started``), caught up and made a full member
(``completed``), a replica removed from its group (``removed``), a rebalance round cut short
by an error (``failed``; the next round resumes the move). ``snapshots_total{event="sent"}``
counts whole snapshots, ``snapshot_bytes_total{event="sent"}`` every chunk's bytes.

Group, store and disk figures are read when Prometheus scrapes (``NodeCollector``), so the
request path pays nothing for them. ``result`` is the Aerospike result code name (``OK``,
``KEY_NOT_FOUND``, ...) or, for a call that ended without one, the gRPC status name.

Threads: the HTTP endpoint is an asyncio server on the node's event loop, so a scrape reads
Raft state on the thread that owns it. Counters and histograms are thread-safe; the fsync
histogram is observed on the journal's fsync pool threads. One node per process: the
registry is module-level, as prometheus-client's own registry is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import grpc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from raftstore_node.status import RESULT_CODE_KEY

from raftstore import __version__
from raftstore.errors import ResultCode
from raftstore.replication import group as replica_group
from raftstore.replication import journal

log = logging.getLogger("raftstore.metrics")

REGISTRY = CollectorRegistry()
KV_PREFIX = "/raftstore.v1.KV/"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
_APPLY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 1)
_FSYNC_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)

REQUESTS = Counter(
    "raftstore_requests",
    "KV requests served by this node, by command and result code",
    ["command", "result"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "raftstore_request_duration_seconds",
    "KV request latency at this node (forwarding included), by command and result code",
    ["command", "result"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
PROPOSALS = Counter(
    "raftstore_proposals",
    "requests proposed to a Raft log by this node (writes, and reads under --read-path log)",
    ["kind"],
    registry=REGISTRY,
)
PROPOSALS_FAILED = Counter(
    "raftstore_proposals_failed",
    "proposals that ended without an applied result (not leader, timeout, ...)",
    ["kind"],
    registry=REGISTRY,
)
FSYNC_SECONDS = Histogram(
    "raftstore_journal_fsync_duration_seconds",
    "fdatasync latency of the Raft journals",
    buckets=_FSYNC_BUCKETS,
    registry=REGISTRY,
)

APPLY_SECONDS = Histogram(
    "raftstore_apply_duration_seconds",
    "time to apply one committed Raft entry to the store (decode, state machine, write)",
    buckets=_APPLY_BUCKETS,
    registry=REGISTRY,
)
SNAPSHOTS = Counter(
    "raftstore_snapshots",
    "group snapshots taken, sent to a lagging follower, and installed from a leader",
    ["event"],
    registry=REGISTRY,
)
SNAPSHOT_BYTES = Counter(
    "raftstore_snapshot_bytes",
    "bytes of group snapshots taken, sent and installed",
    ["event"],
    registry=REGISTRY,
)
REPLICA_MOVES = Counter(
    "raftstore_replica_moves",
    "replica moves run by this node's rebalancer: started, completed, removed, failed",
    ["event"],
    registry=REGISTRY,
)
for _event in ("taken", "sent", "installed"):
    SNAPSHOTS.labels(_event)
    SNAPSHOT_BYTES.labels(_event)
for _event in ("started", "completed", "removed", "failed"):
    REPLICA_MOVES.labels(_event)


def observe_snapshot(event: str, size: int) -> None:
    """``group.on_snapshot``: a snapshot event and its bytes."""
    if event in ("sent", "sent_last"):
        SNAPSHOT_BYTES.labels("sent").inc(size)
        if event == "sent_last":
            SNAPSHOTS.labels("sent").inc()
        return
    SNAPSHOTS.labels(event).inc()
    SNAPSHOT_BYTES.labels(event).inc(size)


def count_proposal(fut: asyncio.Future[Any], write: bool) -> None:
    """Count one proposal and, once it ends, whether it failed (services.kv's hook)."""
    kind = "write" if write else "read"
    PROPOSALS.labels(kind).inc()

    def done(f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            PROPOSALS_FAILED.labels(kind).inc()

    fut.add_done_callback(done)


# --- requests: a gRPC server interceptor (no code in the services) --------------------


def _result_of(context: grpc.aio.ServicerContext, exc: BaseException | None) -> str:
    if exc is None:
        return "OK"
    for key, value in context.trailing_metadata() or ():
        if key == RESULT_CODE_KEY:
            try:
                return ResultCode(int(value)).name
            except ValueError:
                return str(value)
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "CANCELLED" if isinstance(exc, asyncio.CancelledError) else "UNKNOWN"


def timed_command(command: str, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
        start = time.perf_counter()
        exc: BaseException | None = None
        try:
            return await behavior(request, context)
        except BaseException as e:
            exc = e
            raise
        finally:
            result = _result_of(context, exc)
            REQUESTS.labels(command, result).inc()
            REQUEST_SECONDS.labels(command, result).observe(time.perf_counter() - start)

    return wrapper


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every unary KV call; other services pass through untouched (the
    commands of a KV Stream are counted one by one by ``stream.py``)."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        handler = await continuation(handler_call_details)
        if handler is None or not method.startswith(KV_PREFIX) or handler.unary_unary is None:
            return handler
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                timed_command(method[len(KV_PREFIX) :], handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
            self._wrapped[method] = wrapped
        return wrapped


# --- state read at scrape time ---------------------------------------------------------

_ROLES = ("leader", "follower", "candidate")
_GROUP_GAUGES = (
    ("term", "term", "current Raft term of this replica"),
    ("commit_index", "commit_index", "highest log index this replica knows committed"),
    ("applied_index", "applied_index", "highest log index applied to this replica's store"),
    ("last_log_index", "last_log_index", "last index in this replica's journal"),
    ("snapshot_index", "snapshot_index", "log index of this replica's latest snapshot"),
    ("log_entries", "log_entries", "entries held in this replica's journal"),
)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily("raftstore_" + name, doc, labels=labels)


class NodeCollector:
    """Reads the node's groups, peers, stores and disk when Prometheus scrapes.

    Thread: the event loop thread (the endpoint runs there), which owns the Raft state.
    """

    def __init__(self, node: Any) -> None:
        self._node = node

    def collect(self) -> Iterator[Metric]:
        yield from self._node_families()
        yield from self._group_families()
        yield from self._engine_families()
        yield from self._disk_families()
        yield from self._namespace_families()

    def _namespace_families(self) -> Iterator[Metric]:
        nsup = getattr(self._node, "nsup", None)
        stop = getattr(self._node, "stop_writes", None)
        if nsup is None or stop is None:
            return
        ns_label = ["namespace"]
        expired = CounterMetricFamily(
            "raftstore_expired_records", "expired records this node's nsup deleted", labels=ns_label
        )
        examined = CounterMetricFamily(
            "raftstore_nsup_examined_records", "records nsup sweeps examined", labels=ns_label
        )
        by_group = CounterMetricFamily(
            "raftstore_group_expired_records", "expired records nsup deleted", labels=["group"]
        )
        size = _gauge("namespace_stored_bytes", "the namespace's bytes on this node", ns_label)
        cap = _gauge("namespace_stop_writes_size_bytes", "stop-writes cap (0: none)", ns_label)
        stopped = _gauge("namespace_stop_writes", "1 while growing writes are refused", ns_label)
        for ns in nsup.namespaces():
            stats = nsup.stats_of(ns)
            expired.add_metric([ns], stats.expired)
            examined.add_metric([ns], stats.examined)
            size.add_metric([ns], stop.sizes.get(ns, 0))
            cap.add_metric([ns], stop.cap(ns))
            stopped.add_metric([ns], 1 if stop.stopped(ns) else 0)
        for gid, count in sorted(nsup.group_expired.items()):
            by_group.add_metric([gid], count)
        yield from (expired, examined, by_group, size, cap, stopped)

    def _node_families(self) -> Iterator[Metric]:
        config = self._node.config
        info = _gauge("node_info", "this node (value 1)", ["node_id", "cluster_id", "version"])
        info.add_metric([config.node_id, config.cluster_id, __version__], 1)
        uptime = _gauge("node_uptime_seconds", "seconds since the node started")
        uptime.add_metric([], self._node.uptime())
        peers = _gauge("peer_connected", "1 when the peer mesh link to a member is up", ["peer"])
        mesh = getattr(self._node, "mesh", None)
        for m in config.members:
            if m.id != config.node_id and mesh is not None:
                peers.add_metric([m.id], 1 if mesh.is_connected(m.id) else 0)
        yield from (info, uptime, peers)
        if mesh is not None:
            tls = CounterMetricFamily(
                "raftstore_peer_tls_failures", "peer connections whose TLS handshake failed"
            )
            tls.add_metric([], mesh.tls_failures)
            refused = CounterMetricFamily(
                "raftstore_peer_rejections",
                "peer connections refused by the mesh handshake (secret, cluster, node, frames)",
            )
            refused.add_metric([], mesh.security_events)
            yield from (tls, refused)
        counters = getattr(mesh, "counters", None)
        if counters is not None:
            for name, doc in (
                ("frames_sent", "frames written to peers (each carries a batch of messages)"),
                ("messages_sent", "Raft and node messages sent to peers"),
                ("frames_received", "authenticated frames received from peers"),
                ("messages_received", "messages received from peers"),
                ("bad_frames", "authenticated frames dropped as malformed"),
            ):
                family = CounterMetricFamily(f"raftstore_peer_{name}", doc)
                family.add_metric([], getattr(counters, name))
                yield family
        driver = getattr(self._node, "driver", None)
        if driver is not None:
            quiet = _gauge("groups_quiesced", "replicas hosted here that are quiesced")
            quiet.add_metric([], driver.quiesced_count())
            yield quiet

    def _group_families(self) -> Iterator[Metric]:
        leader = _gauge("group_leader", "1 when this replica leads its group", ["group"])
        role = _gauge("group_role", "1 for this replica's current role", ["group", "role"])
        gauges = {k: _gauge("group_" + name, doc, ["group"]) for k, name, doc in _GROUP_GAUGES}
        size = _gauge("store_size_bytes", "RocksDB live data + memtables (estimate)", ["group"])
        keys = _gauge(
            "store_keys", "RocksDB keys: records, sessions, metadata (estimate)", ["group"]
        )
        for gid, group in list(self._node.groups.items()):
            st = group.status()
            leader.add_metric([gid], 1 if st["role"] == "leader" else 0)
            for r in _ROLES:
                role.add_metric([gid, r], 1 if st["role"] == r else 0)
            for key, family in gauges.items():
                family.add_metric([gid], st[key])
            size.add_metric([gid], _store_size(group))
            keys.add_metric([gid], _store_property(group, "rocksdb.estimate-num-keys"))
        yield from (leader, role, *gauges.values(), size, keys)

    def _engine_families(self) -> Iterator[Metric]:
        engine = getattr(self._node, "engine", None)
        if engine is None:
            return
        memtables = _gauge("engine_memtable_bytes", "memtables of every group's column family")
        cache = _gauge("engine_block_cache_bytes", "the block cache shared by every group")
        try:
            memtables.add_metric([], engine.memtable_bytes())
            cache.add_metric([], engine.block_cache_bytes())
        except Exception:  # a closed engine (node stopping): report nothing
            return
        yield from (memtables, cache)

    def _disk_families(self) -> Iterator[Metric]:
        avail = _gauge("data_dir_available_bytes", "bytes available to the node in its data dir")
        cap = _gauge("data_dir_capacity_bytes", "size of the file system holding the data dir")
        try:
            st = os.statvfs(self._node.config.data_dir)
        except OSError:
            return
        avail.add_metric([], st.f_bavail * st.f_frsize)
        cap.add_metric([], st.f_blocks * st.f_frsize)
        yield from (avail, cap)


def _store_size(group: Any) -> float:
    try:
        return float(group.store.approximate_size())
    except Exception:  # a closed store or a test double: report nothing rather than fail
        return 0.0


def _store_property(group: Any, name: str) -> float:
    """A RocksDB property of the group's column family (per-CF, not the node's DB)."""
    try:
        return float(group.store.property_int(name))
    except Exception:  # a closed store or a test double: report nothing rather than fail
        return 0.0


# --- the HTTP endpoint ----------------------------------------------------------------

_MAX_HEADER_LINES = 100
_READ_TIMEOUT = 5.0


class MetricsServer:
    """``GET /metrics`` on the node's event loop (HTTP/1.0, one response per connection)."""

    def __init__(self, node: Any) -> None:
        self._collector = NodeCollector(node)
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (raises OSError when the port is taken)."""
        REGISTRY.register(self._collector)
        journal.on_fdatasync = FSYNC_SECONDS.observe
        replica_group.on_apply = APPLY_SECONDS.observe
        replica_group.on_snapshot = observe_snapshot
        try:
            self._server = await asyncio.start_server(self._handle, host, port)
        except OSError:
            self._unregister()
            raise
        log.info("metrics on http://%s:%d/metrics", host, port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            self._unregister()

    def _unregister(self) -> None:
        journal.on_fdatasync = None
        replica_group.on_apply = None
        replica_group.on_snapshot = None
        REGISTRY.unregister(self._collector)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body, ctype = await self._respond(reader)
            head = f"HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\n"
            head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass  # a client that hung up or sent junk gets nothing more
        finally:
            writer.close()

    async def _respond(self, reader: asyncio.StreamReader) -> tuple[str, bytes, str]:
        request = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT)
        for _ in range(_MAX_HEADER_LINES):
            line = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT)
            if line in (b"\r\n", b"\n", b""):
                break
        parts = request.decode("latin-1").split()
        if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
            return "405 Method Not Allowed", b"GET /metrics\n", "text/plain"
        if parts[1].split("?")[0] != "/metrics":
            return "404 Not Found", b"GET /metrics\n", "text/plain"
        body = generate_latest(REGISTRY)
        return "200 OK", b"" if parts[0] == "HEAD" else body, CONTENT_TYPE_LATEST
