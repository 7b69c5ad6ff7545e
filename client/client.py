"""The synchronous Python client.

    from raftstore_client import Client, WritePolicy, GenPolicy

    client = Client(["127.0.0.1:3000"])
    key = ("test", "users", "alice")
    client.put(key, {"name": "Alice", "visits": 1})
    key, meta, bins = client.get(key)
    client.put(key, {"visits": 2},
               policy=WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=meta.gen))

The client fetches the partition map, sends each command to its group's leader, follows
leader hints, refreshes the map when a node stops answering, and retries only what is safe:
reads, writes that surely did not run, and — because every write carries an exactly-once
identity (client id, sequence number) that the server deduplicates — writes whose outcome
is in doubt. An error raised after an in-doubt attempt has ``in_doubt`` set.

Every single-record command and ``get_many`` take ``filter=``, an expression built with
``raftstore_client.exp``: a record it does not select raises FilteredOut (27) and a write
is not applied (``get_many`` returns None for it).

Thread-safe: share one Client between threads.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from raftstore_client import _calls, _index, _scan, batch
from raftstore_client import _convert as cv
from raftstore_client._auth import AuthInterceptor, Credentials
from raftstore_client._errors import translate
from raftstore_client._routing import PartitionTable
from raftstore_client._session import (
    RETRYABLE_CODES,
    ROUTING_CODES,
    RetryState,
    Session,
    SessionTokens,
)
from raftstore_client.tls import TLS
from raftstore_client.types import Meta, Record

from raftstore.commands import Op
from raftstore.errors import (
    DeviceOverload,
    PartitionUnavailable,
    RaftstoreError,
    SecurityError,
    ServerNotAvailable,
    Timeout,
)
from raftstore.keys import N_PARTITIONS
from raftstore.policy import ReadMode, WritePolicy
from raftstore.security import Privilege, Role, parse_privileges
from raftstore.v1 import (
    cluster_pb2,
    cluster_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    kv_pb2_grpc,
    security_pb2,
    security_pb2_grpc,
)
from raftstore.v1.exp_pb2 import Expression

MAX_MESSAGE = 64 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]


_DONE = object()
QUERY_THREADS = 32  # threads draining query streams, shared by a client's queries
# transient answers an index definition call is retried on (it is idempotent)
_INDEX_RETRIED = (PartitionUnavailable, Timeout, ServerNotAvailable, DeviceOverload)


def _merged(streams: list[Iterator[Record]], pool: ThreadPoolExecutor) -> Iterator[Record]:
    """Records of every stream as they come, each stream drained by a thread of ``pool``;
    the first error of any stream is raised here. Closing the iterator (or dropping it)
    stops them."""
    if len(streams) == 1:
        yield from streams[0]
        return
    out: queue.Queue[Any] = queue.Queue(maxsize=4096)
    stop = threading.Event()

    def drain(stream: Iterator[Record]) -> None:
        try:
            for record in stream:
                while not stop.is_set():
                    try:
                        out.put(record, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(_DONE)
        except BaseException as e:  # handed to the consumer
            out.put(e)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    try:
        for stream in streams:
            pool.submit(drain, stream)
        running = len(streams)
        while running:
            item = out.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        while True:  # unblock producers waiting on a full queue
            try:
                out.get_nowait()
            except queue.Empty:
                break


def parse_hosts(hosts: str | Sequence[str]) -> list[str]:
    items = hosts.split(",") if isinstance(hosts, str) else list(hosts)
    out = [h.strip() for h in items if h and h.strip()]
    if not out:
        raise ServerNotAvailable("no hosts given")
    return out


class Client:
    """A connection to a raftstore cluster.

    Args:
        hosts: one or more "host:port" client addresses (a list or a comma-separated string).
        timeout: total seconds a command may take, retries included.
        attempt_timeout: seconds one attempt may take (default: all that is left), like
            Aerospike's socket timeout; a write that runs out of it is in doubt and retried.
        max_retries: retries per command after the first attempt (default: as many as
            the timeout allows; they are 20-100 ms apart).
        exactly_once: give writes an identity the server deduplicates (default on).
        read_mode: default read mode (LINEARIZE).
        pinned: send every command to ``hosts`` only (round robin), which forward it to the
            group leader, instead of routing to leaders directly. A pinned client sees the
            cluster as a Jepsen client does: only through its own node(s).
        tls: connect with TLS (``raftstore_client.TLS``: CA, and a certificate and key for
            nodes that require client certificates); default plain text.
        user, password: log in (security on): the client logs in once, sends the token
            with every call, and logs in again when the token expires or is revoked.

    Raises ServerNotAvailable when no host answers with a partition map, and
    NotAuthenticated (80) when the login is refused.
    """

    def __init__(
        self,
        hosts: str | Sequence[str],
        *,
        timeout: float = 5.0,
        max_retries: int | None = None,
        exactly_once: bool = True,
        read_mode: ReadMode = ReadMode.LINEARIZE,
        pinned: bool = False,
        attempt_timeout: float | None = None,
        tls: TLS | None = None,
        user: str | None = None,
        password: str | None = None,
    ) -> None:
        self.tls = tls
        self.timeout = timeout
        self.max_retries = max_retries
        self.read_mode = read_mode
        self.attempt_timeout = attempt_timeout
        self.retries = 0  # attempts after the first, over the client's life
        self.session = Session() if exactly_once else None
        self.tokens = SessionTokens()
        self._table = PartitionTable(parse_hosts(hosts), pinned)
        self._channels: dict[str, grpc.Channel] = {}
        self._raw: dict[str, grpc.Channel] = {}  # without the token (login)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None  # runs batch parts concurrently
        self._creds = Credentials(user, password or "") if user else None
        if self._creds is not None:
            self.login()
        self.refresh()

    # --- connection management --------------------------------------------------------

    def _channel(self, address: str, raw: bool = False) -> grpc.Channel:
        with self._lock:
            ch = self._channels.get(address)
            if ch is None:
                ch = (
                    grpc.secure_channel(address, self.tls.credentials(), options=_CHANNEL_OPTIONS)
                    if self.tls is not None
                    else grpc.insecure_channel(address, options=_CHANNEL_OPTIONS)
                )
                self._raw[address] = ch
                if self._creds is not None:
                    ch = grpc.intercept_channel(ch, AuthInterceptor(self._creds, self._relogin))
                self._channels[address] = ch
            return self._raw[address] if raw else ch

    def login(self) -> None:
        """Log in at the first node that answers (done by the constructor when a user is
        given); raises NotAuthenticated (80) for a wrong user or password."""
        assert self._creds is not None, "no user given"
        errors = []
        for address in self._table.addresses():
            stub = security_pb2_grpc.SecurityStub(self._channel(address, raw=True))
            try:
                answer = stub.Login(self._creds.login_request(), timeout=self.timeout)
            except grpc.RpcError as e:
                t = translate(e, write=False, address=address)
                if t.from_server and t.error.code not in RETRYABLE_CODES:
                    raise t.error from None
                errors.append(str(t.error))
                continue
            self._creds.token = answer.token
            return
        raise ServerNotAvailable(f"no node answered the login ({'; '.join(errors)})")

    def _relogin(self, seen: str) -> bool:
        """After NOT_AUTHENTICATED: log in again (once for all threads); True if a new
        token is there to retry with."""
        assert self._creds is not None
        with self._creds.lock:
            if self._creds.token != seen:
                return True
            try:
                self.login()
            except RaftstoreError:
                return False
            return True

    def refresh(self) -> None:
        """Fetch the partition map from the first node that answers."""
        errors = []
        for address in self._table.addresses():
            try:
                stub = cluster_pb2_grpc.ClusterStub(self._channel(address))
                pmap = stub.GetPartitionMap(
                    cluster_pb2.GetPartitionMapRequest(), timeout=min(2.0, self.timeout)
                )
            except grpc.RpcError as e:
                t = translate(e, write=False, address=address)
                if isinstance(t.error, SecurityError):  # refused, not unreachable
                    raise t.error from None
                errors.append(f"{address}: {e.code().name}")  # type: ignore[attr-defined]
                continue
            self._table.update(pmap)
            return
        raise ServerNotAvailable(f"no node answered with a partition map ({'; '.join(errors)})")

    def close(self) -> None:
        with self._lock:
            for ch in self._raw.values():
                ch.close()
            self._channels.clear()
            self._raw.clear()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- execution --------------------------------------------------------------------

    def _execute(self, call: _calls.Call, timeout: float | None = None) -> Any:
        state = RetryState(
            call.write,
            self.session is not None and call.seq > 0,
            time.monotonic() + (timeout or self.timeout),
            self.max_retries,
        )
        group = self._table.group_of(call.key)
        if self._table.pinned or call.any_replica:
            # a pinned node, or a replica that cannot answer yet, forwards to the leader
            call.request.header.no_forward = False
        try:
            while True:
                address = self._table.address_for(group, call.any_replica)
                if call.mode is ReadMode.SESSION:
                    call.request.header.session_token = self.tokens.token(group)
                method = getattr(kv_pb2_grpc.KVStub(self._channel(address)), call.method)
                try:
                    response = method(call.request, timeout=state.remaining(self.attempt_timeout))
                except grpc.RpcError as e:
                    t = translate(e, write=call.write, address=address)
                    self._learn(group, address, t)
                    delay = state.next_delay(t)
                    if delay is None:
                        raise state.final(t) from None
                    self.retries += 1
                    time.sleep(delay)
                    continue
                if getattr(response, "session_token", b""):
                    self.tokens.observe(response.session_token)
                return call.parse(response)
        finally:
            if call.seq and self.session is not None:
                self.session.end(call.seq)

    def _learn(self, group: str, address: str, t: Any) -> None:
        """Update routing after a failed attempt; answers about the record teach nothing."""
        if t.leader_hint:
            self._table.set_leader(group, *t.leader_hint)
        elif not t.from_server:
            self._table.forget_address(address)
            self._try_refresh()
        elif t.error.code in ROUTING_CODES:
            self._table.forget_leader(group)
            self._try_refresh()

    def _try_refresh(self) -> None:
        try:
            self.refresh()
        except ServerNotAvailable:
            pass

    # --- single-record commands -------------------------------------------------------

    def put(
        self,
        key: Any,
        bins: Mapping[str, Any],
        policy: WritePolicy | None = None,
        *,
        ttl: int | None = None,
        filter: Expression | None = None,
    ) -> Meta:
        """Write bins (a None value deletes that bin); returns the new metadata."""
        return self._execute(_calls.put(self.session, key, bins, policy, ttl, filter))

    def get(
        self, key: Any, *, read_mode: ReadMode | None = None, filter: Expression | None = None
    ) -> Record:
        """(key, meta, bins) of a record; raises RecordNotFound if it does not exist."""
        return self._execute(_calls.get(key, None, read_mode or self.read_mode, filter))

    def select(
        self,
        key: Any,
        bins: Sequence[str],
        *,
        read_mode: ReadMode | None = None,
        filter: Expression | None = None,
    ) -> Record:
        """Like get, returning only the named bins."""
        return self._execute(_calls.get(key, list(bins), read_mode or self.read_mode, filter))

    def exists(
        self, key: Any, *, read_mode: ReadMode | None = None, filter: Expression | None = None
    ) -> tuple[Any, Meta | None]:
        """(key, meta) — meta is None when the record does not exist (not an error)."""
        return self._execute(_calls.exists(key, read_mode or self.read_mode, filter))

    def delete(
        self, key: Any, policy: WritePolicy | None = None, *, filter: Expression | None = None
    ) -> None:
        """Delete a record; raises RecordNotFound if it does not exist."""
        self._execute(_calls.delete(self.session, key, policy, filter))

    def touch(
        self,
        key: Any,
        ttl: int | None = None,
        policy: WritePolicy | None = None,
        *,
        filter: Expression | None = None,
    ) -> Meta:
        """Reset a record's expiry and bump its generation."""
        return self._execute(_calls.touch(self.session, key, ttl, policy, filter))

    def operate(
        self,
        key: Any,
        ops: Sequence[Op],
        policy: WritePolicy | None = None,
        *,
        read_mode: ReadMode | None = None,
        filter: Expression | None = None,
    ) -> Record:
        """Apply operations atomically; bins hold the last result of each bin."""
        mode = read_mode or self.read_mode
        return self._execute(
            _calls.operate(self.session, key, ops, policy, mode, ordered=False, flt=filter)
        )

    def operate_ordered(
        self,
        key: Any,
        ops: Sequence[Op],
        policy: WritePolicy | None = None,
        *,
        read_mode: ReadMode | None = None,
        filter: Expression | None = None,
    ) -> tuple[Any, Meta, list[tuple[str, Any]]]:
        """Like operate, returning every (bin, result) in operation order."""
        mode = read_mode or self.read_mode
        return self._execute(
            _calls.operate(self.session, key, ops, policy, mode, ordered=True, flt=filter)
        )

    def increment(
        self, key: Any, bin_name: str, delta: int | float = 1, policy: WritePolicy | None = None
    ) -> Meta:
        from raftstore_client import operations

        rec = self.operate(key, [operations.increment(bin_name, delta)], policy)
        return rec.meta

    # --- batch ------------------------------------------------------------------------

    def get_many(
        self,
        keys: Sequence[Any],
        bins: Sequence[str] | None = None,
        *,
        read_mode: ReadMode | None = None,
        filter: Expression | None = None,
    ) -> list[Record | None]:
        """Records in the order of ``keys``; None where a record does not exist or
        ``filter`` does not select it."""
        parsed = [cv.key_of(k) for k in keys]
        out: list[Record | None] = [None] * len(parsed)
        mode = read_mode or self.read_mode
        for positions in _calls.group_keys(parsed, self._table.group_of).values():
            batch = [parsed[i] for i in positions]
            part = self._execute(_calls.batch_get(batch, bins, mode, filter))
            for i, rec in zip(positions, part, strict=True):
                out[i] = rec
        return out

    def batch_write(
        self,
        records: Sequence[batch.BatchItem],
        *,
        policy: WritePolicy | None = None,
        ttl: int | None = None,
        filter: Expression | None = None,
    ) -> list[batch.BatchRecord]:
        """Apply reads, writes, deletes and operates on many keys (``BatchWrite``,
        ``BatchRead``, ``BatchDelete`` of ``raftstore_client.batch``); one ``BatchRecord``
        per item, in order. ``policy``, ``ttl`` and ``filter`` apply to items without
        their own. One Raft entry per partition group; a failing item never fails the
        others; retries of in-doubt parts are applied at most once."""
        p = batch.plan(self.session, records, self._table.group_of, policy, ttl, filter)
        return batch.assemble(p, self._execute_parts([c for _, _, c in p.parts]))

    def batch_operate(
        self,
        keys: Sequence[Any],
        ops: Sequence[Op],
        *,
        policy: WritePolicy | None = None,
        ttl: int | None = None,
        filter: Expression | None = None,
    ) -> list[batch.BatchRecord]:
        """Apply the same ``ops`` to every key (Aerospike's batch_operate): one
        ``BatchRecord`` per key, in order (see ``batch_write``)."""
        items = [batch.BatchWrite(k, ops=ops) for k in keys]
        return self.batch_write(items, policy=policy, ttl=ttl, filter=filter)

    def _execute_parts(self, calls: list[_calls.Call]) -> list[Any]:
        """Each call's parsed answer or the RaftstoreError that ended it; concurrently."""

        def run(c: _calls.Call) -> Any:
            try:
                return self._execute(c)
            except RaftstoreError as e:
                return e

        if len(calls) <= 1:
            return [run(c) for c in calls]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="batch")
            pool = self._pool
        futures = [pool.submit(run, c) for c in calls[1:]]
        return [run(calls[0]), *(f.result() for f in futures)]

    def truncate(
        self, namespace: str, set: str | None = None, before_ms: int | None = None
    ) -> dict[str, int]:
        """Remove every record of ``namespace`` (of ``set`` only, when given) last updated
        at or before ``before_ms`` (unix ms; None: now), on every partition group.
        Returns the lut each group applied. Records written after it are kept."""
        return self._execute(batch.truncate_call(self.session, namespace, set, before_ms))  # type: ignore[no-any-return]

    # --- scan -------------------------------------------------------------------------

    def scan(
        self,
        namespace: str,
        set: str | None = None,  # Aerospike's name for it
        bins: Sequence[str] | None = None,
        *,
        metadata_only: bool = False,
        partition_begin: int = 0,
        partition_count: int = N_PARTITIONS,
        after_digest: bytes | None = None,
        records_per_second: int = 0,
        page_size: int = 0,
        read_mode: ReadMode | None = None,
        filter: Expression | None = None,
        stream_timeout: float = _scan.STREAM_TIMEOUT,
    ) -> Iterator[Record]:
        """Records of ``namespace`` (only set ``set`` when given) in partitions
        [partition_begin, partition_begin + partition_count), in (partition, digest) order.

        ``bins``: the bins to return (default all); ``metadata_only``: keys and metadata
        only. ``after_digest`` (a digest of ``partition_begin``, e.g. ``record.key[3]`` of
        the last record a previous scan returned) resumes after that record.
        ``records_per_second`` throttles (0: no limit); ``page_size`` is records per
        streamed message (0: the node's default). LINEARIZE (the default) reads each
        partition at its leader after a read index; ALLOW_REPLICA any replica's state.
        ``filter``: only records this expression selects (``raftstore_client.exp``).

        Resumes after any failure from the last record returned (each record once); raises
        the last error after ``timeout`` seconds without progress. Arguments are checked
        here (ParameterError, NamespaceNotFound) before anything is sent.
        """
        plan = _scan.plan(
            self._table,
            namespace,
            set,
            bins,
            metadata_only=metadata_only,
            partition_begin=partition_begin,
            partition_count=partition_count,
            after_digest=after_digest,
            records_per_second=records_per_second,
            page_size=page_size,
            mode=read_mode or self.read_mode,
            timeout=self.timeout,
            max_retries=self.max_retries,
            filter=filter,
        )
        return self._scan(plan, stream_timeout)

    def _scan(
        self,
        plan: _scan.ScanPlan,
        stream_timeout: float,
        open_stream: Callable[[str, Any, float], Any] | None = None,
    ) -> Iterator[Record]:
        while not plan.done:
            address, request = plan.next_stream(self._table)
            if open_stream is None:
                stub = kv_pb2_grpc.KVStub(self._channel(address))
                call = stub.Scan(request, timeout=stream_timeout)
            else:
                call = open_stream(address, request, stream_timeout)
            try:
                for response in call:
                    yield from plan.observe(response)
            except grpc.RpcError as e:
                t = translate(e, write=False, address=address)
                if not plan.quiet(t):
                    self._learn(plan.group(self._table), address, t)
                delay = plan.after_error(t)
                if delay is None:
                    raise t.error from None
                self.retries += 1
                time.sleep(delay)
            finally:
                call.cancel()

    # --- secondary indexes ------------------------------------------------------------

    def create_index(
        self,
        namespace: str,
        set: str | None,
        bin: str,
        index_type: str,
        collection: str = "DEFAULT",
        name: str | None = None,
    ) -> str:
        """Define a secondary index on ``bin`` of ``set`` (None: every set): ``index_type``
        NUMERIC (int values) or STRING; ``collection`` DEFAULT (the bin's value), LIST,
        MAPKEYS or MAPVALUES. Returns the index name (default ``<set>_<bin>_<type>``).

        Returns once every partition group holds the definition; existing records are
        indexed in the background (``list_indexes`` shows progress; ``wait_for_index``
        waits). The same definition again is fine; another one under the name raises
        IndexFound (200)."""
        name = name or f"{set or 'all'}_{bin}_{str(index_type).lower()}"
        request = _index.create_request(namespace, set, bin, index_type, collection, name)
        self._index_call("CreateIndex", request)
        return name

    def drop_index(self, namespace: str, name: str) -> None:
        """Remove an index and its entries from every group; IndexNotFound (201) if no
        group has it."""
        self._index_call("DropIndex", index_pb2.DropIndexRequest(namespace=namespace, name=name))

    def list_indexes(self, namespace: str) -> list[_index.IndexInfo]:
        """Every index of ``namespace`` with its build state across the groups."""
        response = self._index_call(
            "ListIndexes", index_pb2.ListIndexesRequest(namespace=namespace)
        )
        return [_index.info(s) for s in response.indexes]

    def wait_for_index(self, namespace: str, name: str, timeout: float = 60.0) -> None:
        """Wait until index ``name`` is ready in every group (Timeout after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [i for i in self.list_indexes(namespace) if i.name == name]
            if found and found[0].ready:
                return
            if time.monotonic() >= deadline:
                raise Timeout(f"index {name!r} is not ready after {timeout} s: {found}")
            time.sleep(0.1)

    def query(
        self,
        namespace: str,
        set: str | None = None,
        *,
        bin: str = "",
        equals: Any = None,
        between: tuple[Any, Any] | None = None,
        index: str = "",
        collection: str = "DEFAULT",
        filter: Expression | None = None,
        bins: Sequence[str] | None = None,
        page_size: int = 0,
        records_per_second: int = 0,
        read_mode: ReadMode | None = None,
        stream_timeout: float = _index.STREAM_TIMEOUT,
    ) -> Iterator[Record]:
        """Records of ``namespace`` (``set``) whose indexed ``bin`` equals ``equals`` or
        lies in ``between`` (inclusive), selected by ``filter`` when given.

        The index is ``index`` or the one on (set, bin, collection) whose type fits the
        values. One stream per partition group runs in parallel, each resumed from its
        own cursor after any failure: every record once. ``records_per_second`` throttles
        each group's stream (0: no limit); ``page_size`` as for ``scan``. Raises
        IndexNotFound (201), IndexNotReadable (203, still building) or ParameterError (4,
        values of another type than the index)."""
        plans = _index.plan(
            self._table, namespace, set, bin_name=bin, equals=equals, between=between,
            index=index, collection=collection, filter=filter, bins=bins,
            page_size=page_size, records_per_second=records_per_second,
            mode=read_mode or self.read_mode, timeout=self.timeout, max_retries=self.max_retries,
        )  # fmt: skip

        def open_stream(address: str, scan: Any, timeout: float) -> Any:
            stub = index_pb2_grpc.IndexStub(self._channel(address))
            return stub.Query(plans.request(scan), timeout=timeout)

        streams = [self._scan(p, stream_timeout, open_stream) for p in plans.plans]
        return _merged(streams, self._query_pool())

    def _query_pool(self) -> ThreadPoolExecutor:
        """The threads that drain query streams (started once: a thread start costs
        milliseconds on a busy machine, more than a small query)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="query")
            return self._pool

    def _index_call(self, method: str, request: Any) -> Any:
        """An index definition call at any node (it reaches every group's leader),
        retried while a group has no leader, until ``timeout``."""
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            addresses = self._table.addresses()
            address = addresses[attempt % len(addresses)]
            stub = index_pb2_grpc.IndexStub(self._channel(address))
            try:
                return getattr(stub, method)(request, timeout=max(0.1, deadline - time.monotonic()))
            except grpc.RpcError as e:
                error = translate(e, write=False, address=address).error
            if not isinstance(error, _INDEX_RETRIED):
                raise error
            if time.monotonic() + 0.25 >= deadline:
                raise error
            attempt += 1
            time.sleep(0.25)

    # --- cluster ----------------------------------------------------------------------

    def partition_map(self) -> cluster_pb2.PartitionMap:
        stub = cluster_pb2_grpc.ClusterStub(self._channel(self._table.addresses()[0]))
        return stub.GetPartitionMap(cluster_pb2.GetPartitionMapRequest(), timeout=self.timeout)

    def transfer_leader(self, group_id: str, node_id: str = "") -> tuple[str, int]:
        """Move ``group_id``'s leadership to replica ``node_id`` (default: its preferred
        replica); returns (leader id, term) once the target leads."""
        request = cluster_pb2.TransferLeaderRequest(group_id=group_id, node_id=node_id)
        out = self._admin_call("TransferLeader", request)
        return out.leader_node_id, out.term

    def remove_node(self, node_id: str, secret: bytes, dead: bool = False) -> int:
        """Drain ``node_id`` (its replicas move to the other nodes, then it leaves the
        roster), or with ``dead`` rebuild its replicas from the survivors. Proves the
        cluster ``secret``. Returns the cluster state's new epoch."""
        from raftstore.admin_auth import now_ms, proof

        ts = now_ms()
        fields = ["remove", node_id, "dead" if dead else "drain"]
        request = cluster_pb2.RemoveNodeRequest(
            cluster_id=self._table.cluster_id,
            node_id=node_id,
            dead=dead,
            timestamp_ms=ts,
            proof=proof(secret, self._table.cluster_id, fields, ts),
        )
        return int(self._admin_call("RemoveNode", request).epoch)

    def revive(self, dead: list[str], secret: bytes) -> tuple[list[str], list[str]]:
        """UNSAFE (Aerospike's revive): groups whose majority was on the ``dead`` nodes
        continue with their survivors, losing writes only the dead replicas held.
        Returns (revived groups, lost groups: no survivor). Follow with
        ``remove_node(n, secret, dead=True)`` for each dead node."""
        from raftstore.admin_auth import now_ms, proof

        ts = now_ms()
        dead = sorted(set(dead))
        request = cluster_pb2.ReviveRequest(
            cluster_id=self._table.cluster_id,
            dead_node_ids=dead,
            timestamp_ms=ts,
            proof=proof(secret, self._table.cluster_id, ["revive", *dead], ts),
        )
        out = self._admin_call("Revive", request)
        return list(out.revived_group_ids), list(out.lost_group_ids)

    def _admin_call(self, method: str, request: Any, stub_type: Any = None) -> Any:
        """An idempotent administrative call, retried (any node, backing off) while the
        cluster has no leader for it, until ``timeout``."""
        stub_type = stub_type or cluster_pb2_grpc.ClusterStub
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            addresses = self._table.addresses()
            address = addresses[attempt % len(addresses)]
            stub = stub_type(self._channel(address))
            try:
                return getattr(stub, method)(request, timeout=max(0.1, deadline - time.monotonic()))
            except grpc.RpcError as e:
                error = translate(e, write=False, address=address).error
            if not isinstance(error, (PartitionUnavailable, Timeout, ServerNotAvailable)):
                raise error
            if time.monotonic() + 0.25 >= deadline:
                raise error
            attempt += 1
            time.sleep(0.25)

    # --- users (security on) -------------------------------------------------------------

    def create_user(self, user: str, password: str, privileges: str | Sequence[Any] = ()) -> int:
        """Create ``user`` with ``privileges`` (``"read@test.s1,read-write@test"`` or
        Privilege values); needs user-admin. Returns the cluster state's epoch."""
        req = security_pb2.CreateUserRequest(
            user=user, password=password, privileges=_privileges_pb(privileges)
        )
        return int(self._security_call("CreateUser", req).epoch)

    def drop_user(self, user: str) -> int:
        req = security_pb2.DropUserRequest(user=user)
        return int(self._security_call("DropUser", req).epoch)

    def set_password(self, user: str, password: str) -> int:
        """A new password for ``user`` (any user may change its own); its earlier tokens
        are refused from then on (this client logs in again if it is that user)."""
        req = security_pb2.SetPasswordRequest(user=user, password=password)
        epoch = int(self._security_call("SetPassword", req).epoch)
        if self._creds is not None and self._creds.user == user:
            self._creds.set_password(password)
            self.login()
        return epoch

    def grant(self, user: str, privileges: str | Sequence[Any]) -> int:
        req = security_pb2.PrivilegesRequest(user=user, privileges=_privileges_pb(privileges))
        return int(self._security_call("GrantPrivileges", req).epoch)

    def revoke(self, user: str, privileges: str | Sequence[Any]) -> int:
        req = security_pb2.PrivilegesRequest(user=user, privileges=_privileges_pb(privileges))
        return int(self._security_call("RevokePrivileges", req).epoch)

    def users(self) -> dict[str, list[str]]:
        """Every user and its privileges as strings (never a password hash)."""
        out = self._security_call("ListUsers", security_pb2.ListUsersRequest())
        return {u.user: [str(_privilege(p)) for p in u.privileges] for u in out.users}

    def _security_call(self, method: str, request: Any) -> Any:
        return self._admin_call(method, request, security_pb2_grpc.SecurityStub)

    def node_status(self, address: str) -> cluster_pb2.NodeStatus:
        stub = cluster_pb2_grpc.ClusterStub(self._channel(address))
        try:
            return stub.GetNodeStatus(cluster_pb2.GetNodeStatusRequest(), timeout=self.timeout)
        except grpc.RpcError as e:
            raise translate(e, write=False, address=address).error from None


_ROLE_PB = {
    Role.READ: security_pb2.ROLE_READ,
    Role.READ_WRITE: security_pb2.ROLE_READ_WRITE,
    Role.SYS_ADMIN: security_pb2.ROLE_SYS_ADMIN,
    Role.USER_ADMIN: security_pb2.ROLE_USER_ADMIN,
}
_PB_ROLE = {v: k for k, v in _ROLE_PB.items()}


def _privileges_pb(privileges: str | Sequence[Any]) -> list[security_pb2.Privilege]:
    """Privileges as a string (``"read@test.s1,sys-admin"``) or Privilege values → proto;
    InvalidPrivilege (72) for a malformed one."""
    items = parse_privileges(privileges) if isinstance(privileges, str) else privileges
    return [
        security_pb2.Privilege(role=_ROLE_PB[p.role], namespace=p.namespace, set=p.set)
        for p in items
    ]


def _privilege(pb: security_pb2.Privilege) -> Privilege:
    return Privilege(_PB_ROLE[pb.role], pb.namespace, pb.set)
