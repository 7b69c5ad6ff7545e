"""The asyncio Python client: the same commands and guarantees as ``Client``.

    client = await AsyncClient.connect(["127.0.0.1:3000"])
    await client.put(("test", "users", 1), {"name": "Alice"})
    key, meta, bins = await client.get(("test", "users", 1))
    await client.close()

Use it from one event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import grpc
from raftstore_client import _calls, _index, _scan, batch
from raftstore_client import _convert as cv
from raftstore_client._auth import AsyncAuthInterceptor, Credentials
from raftstore_client._errors import translate
from raftstore_client._routing import PartitionTable
from raftstore_client._session import (
    RETRYABLE_CODES,
    ROUTING_CODES,
    RetryState,
    Session,
    SessionTokens,
)
from raftstore_client._stream import KINDS, MAX_COMMAND_BYTES, CommandStream, StreamFailure
from raftstore_client.client import _CHANNEL_OPTIONS, parse_hosts
from raftstore_client.tls import TLS
from raftstore_client.types import Meta, Record

from raftstore.commands import Op
from raftstore.errors import (
    DeviceOverload,
    PartitionUnavailable,
    RaftstoreError,
    ResultCode,
    SecurityError,
    ServerNotAvailable,
    Timeout,
)
from raftstore.keys import N_PARTITIONS
from raftstore.policy import ReadMode, WritePolicy
from raftstore.v1 import (
    cluster_pb2,
    cluster_pb2_grpc,
    index_pb2,
    index_pb2_grpc,
    kv_pb2_grpc,
    security_pb2_grpc,
)
from raftstore.v1.exp_pb2 import Expression


class AsyncClient:
    """See ``Client`` for the arguments; create with ``await AsyncClient.connect(hosts)``."""

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
        streaming: bool = True,
    ) -> None:
        self.tls = tls
        # single-record commands on one KV.Stream per node (False: one unary call each)
        self.streaming = streaming
        self.timeout = timeout
        self.max_retries = max_retries
        self.read_mode = read_mode
        self.attempt_timeout = attempt_timeout
        self.retries = 0  # attempts after the first, over the client's life
        self.session = Session() if exactly_once else None
        self.tokens = SessionTokens()
        self._table = PartitionTable(parse_hosts(hosts), pinned)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, kv_pb2_grpc.KVStub] = {}
        self._streams: dict[str, CommandStream] = {}
        self._refreshing: asyncio.Task[None] | None = None
        self._creds = Credentials(user, password or "") if user else None
        self._raw: dict[str, grpc.aio.Channel] = {}  # without the token (login)
        self._login_lock = asyncio.Lock()

    @classmethod
    async def connect(cls, hosts: str | Sequence[str], **kwargs: Any) -> AsyncClient:
        client = cls(hosts, **kwargs)
        await client._start()
        return client

    async def _start(self) -> None:
        if self._creds is not None and not self._creds.token:
            await self.login()
        await self.refresh()

    def _new_channel(self, address: str, interceptors: Any = None) -> grpc.aio.Channel:
        if self.tls is not None:
            return grpc.aio.secure_channel(
                address, self.tls.credentials(), options=_CHANNEL_OPTIONS, interceptors=interceptors
            )
        return grpc.aio.insecure_channel(
            address, options=_CHANNEL_OPTIONS, interceptors=interceptors
        )

    def _channel(self, address: str) -> grpc.aio.Channel:
        ch = self._channels.get(address)
        if ch is None:
            interceptors = None
            if self._creds is not None:
                interceptors = [AsyncAuthInterceptor(self._creds, self._relogin)]
            ch = self._new_channel(address, interceptors)
            self._channels[address] = ch
            self._stubs[address] = kv_pb2_grpc.KVStub(ch)
        return ch

    async def login(self) -> None:
        """Log in at the first node that answers (``connect`` does it when a user is
        given); raises NotAuthenticated (80) for a wrong user or password."""
        assert self._creds is not None, "no user given"
        errors = []
        for address in self._table.addresses():
            if address not in self._raw:
                self._raw[address] = self._new_channel(address)
            stub = security_pb2_grpc.SecurityStub(self._raw[address])
            try:
                answer = await stub.Login(self._creds.login_request(), timeout=self.timeout)
            except grpc.RpcError as e:
                t = translate(e, write=False, address=address)
                if t.from_server and t.error.code not in RETRYABLE_CODES:
                    raise t.error from None
                errors.append(str(t.error))
                continue
            self._creds.token = answer.token
            return
        raise ServerNotAvailable(f"no node answered the login ({'; '.join(errors)})")

    async def _relogin(self, seen: str) -> bool:
        assert self._creds is not None
        async with self._login_lock:
            if self._creds.token != seen:
                return True
            try:
                await self.login()
            except RaftstoreError:
                return False
            return True

    async def refresh(self) -> None:
        errors = []
        for address in self._table.addresses():
            try:
                stub = cluster_pb2_grpc.ClusterStub(self._channel(address))
                pmap = await stub.GetPartitionMap(
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

    async def close(self) -> None:
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()
        for ch in [*self._channels.values(), *self._raw.values()]:
            await ch.close()
        self._channels.clear()
        self._raw.clear()
        self._stubs.clear()

    async def __aenter__(self) -> AsyncClient:
        if not self._table.loaded:  # ``async with AsyncClient(hosts)`` as well as connect()
            await self._start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- execution --------------------------------------------------------------------

    async def _execute(self, call: _calls.Call) -> Any:
        state = RetryState(
            call.write,
            self.session is not None and call.seq > 0,
            time.monotonic() + self.timeout,
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
                try:
                    response = await self._attempt(
                        address, call, state.remaining(self.attempt_timeout)
                    )
                except _Failed as f:
                    t = f.translated
                    await self._learn(group, address, t)
                    delay = state.next_delay(t)
                    if delay is None:
                        raise state.final(t) from None
                    self.retries += 1
                    await asyncio.sleep(delay)
                    continue
                if getattr(response, "session_token", b""):
                    self.tokens.observe(response.session_token)
                return call.parse(response)
        finally:
            if call.seq and self.session is not None:
                self.session.end(call.seq)

    async def _attempt(self, address: str, call: _calls.Call, timeout: float) -> Any:
        """One attempt of ``call`` at ``address``: on the node's stream when streaming,
        else a unary call; raises ``_Failed`` with the translated error either way."""
        self._channel(address)
        if not (
            self.streaming and call.method in KINDS and call.request.ByteSize() <= MAX_COMMAND_BYTES
        ):
            try:
                return await getattr(self._stubs[address], call.method)(
                    call.request, timeout=timeout
                )
            except grpc.RpcError as e:
                raise _Failed(translate(e, write=call.write, address=address)) from None
        stream = self._stream(address)
        try:
            return await stream.execute(call.method, call.request, call.write, timeout)
        except StreamFailure as f:
            t = f.translated
        if (  # as AsyncAuthInterceptor: log in again once, then retry on a new stream
            self._creds is not None
            and t.error.code == ResultCode.NOT_AUTHENTICATED
            and await self._relogin(self._token_of(stream))
        ):
            try:
                return await self._stream(address).execute(
                    call.method, call.request, call.write, timeout
                )
            except StreamFailure as f:
                t = f.translated
        raise _Failed(t)

    def _stream(self, address: str) -> CommandStream:
        """This client's stream to ``address``: a new one if none, if it broke, or if it
        was opened with an older token (that one closes once its commands are answered)."""
        stream = self._streams.get(address)
        metadata = (self._creds.pair(self._creds.token),) if self._creds is not None else ()
        if stream is None or stream.broken or stream.metadata != metadata:
            if stream is not None:
                stream.retire()  # its commands in flight still get their answers
            stream = CommandStream(self._stubs[address], address, metadata)
            self._streams[address] = stream
        return stream

    @staticmethod
    def _token_of(stream: CommandStream) -> str:
        return stream.metadata[0][1].removeprefix("Bearer ") if stream.metadata else ""

    async def _learn(self, group: str, address: str, t: Any) -> None:
        """Update routing after a failed attempt; answers about the record teach nothing."""
        if t.leader_hint:
            self._table.set_leader(group, *t.leader_hint)
            return
        if not t.from_server:
            self._table.forget_address(address)
        elif t.error.code in ROUTING_CODES:
            self._table.forget_leader(group)
        else:
            return
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._quiet_refresh())
        await asyncio.shield(self._refreshing)

    async def _quiet_refresh(self) -> None:
        try:
            await self.refresh()
        except ServerNotAvailable:
            pass

    # --- commands (see Client for their contracts) -----------------------------------

    async def put(
        self,
        key: Any,
        bins: Mapping[str, Any],
        policy: WritePolicy | None = None,
        *,
        ttl: int | None = None,
        filter: Expression | None = None,
    ) -> Meta:
        return await self._execute(_calls.put(self.session, key, bins, policy, ttl, filter))

    async def get(
        self, key: Any, *, read_mode: ReadMode | None = None, filter: Expression | None = None
    ) -> Record:
        return await self._execute(_calls.get(key, None, read_mode or self.read_mode, filter))

    async def select(
        self,
        key: Any,
        bins: Sequence[str],
        *,
        read_mode: ReadMode | None = None,
        filter: Expression | None = None,
    ) -> Record:
        mode = read_mode or self.read_mode
        return await self._execute(_calls.get(key, list(bins), mode, filter))

    async def exists(
        self, key: Any, *, read_mode: ReadMode | None = None, filter: Expression | None = None
    ) -> tuple[Any, Meta | None]:
        return await self._execute(_calls.exists(key, read_mode or self.read_mode, filter))

    async def delete(
        self, key: Any, policy: WritePolicy | None = None, *, filter: Expression | None = None
    ) -> None:
        await self._execute(_calls.delete(self.session, key, policy, filter))

    async def touch(
        self,
        key: Any,
        ttl: int | None = None,
        policy: WritePolicy | None = None,
        *,
        filter: Expression | None = None,
    ) -> Meta:
        return await self._execute(_calls.touch(self.session, key, ttl, policy, filter))

    async def operate(
        self,
        key: Any,
        ops: Sequence[Op],
        policy: WritePolicy | None = None,
        *,
        read_mode: ReadMode | None = None,
        filter: Expression | None = None,
    ) -> Record:
        mode = read_mode or self.read_mode
        return await self._execute(
            _calls.operate(self.session, key, ops, policy, mode, ordered=False, flt=filter)
        )

    async def operate_ordered(
        self,
        key: Any,
        ops: Sequence[Op],
        policy: WritePolicy | None = None,
        *,
        read_mode: ReadMode | None = None,
        filter: Expression | None = None,
    ) -> Any:
        mode = read_mode or self.read_mode
        return await self._execute(
            _calls.operate(self.session, key, ops, policy, mode, ordered=True, flt=filter)
        )

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
    ) -> AsyncIterator[Record]:
        """An async iterator of records; see ``Client.scan`` (``async for rec in ...``)."""
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

    async def _scan(
        self,
        plan: _scan.ScanPlan,
        stream_timeout: float,
        open_stream: Callable[[str, Any, float], Any] | None = None,
    ) -> AsyncIterator[Record]:
        while not plan.done:
            address, request = plan.next_stream(self._table)
            self._channel(address)
            if open_stream is None:
                call = self._stubs[address].Scan(request, timeout=stream_timeout)
            else:
                call = open_stream(address, request, stream_timeout)
            try:
                async for response in call:
                    for record in plan.observe(response):
                        yield record
            except grpc.RpcError as e:
                t = translate(e, write=False, address=address)
                if not plan.quiet(t):
                    await self._learn(plan.group(self._table), address, t)
                delay = plan.after_error(t)
                if delay is None:
                    raise t.error from None
                self.retries += 1
                await asyncio.sleep(delay)
            finally:
                call.cancel()

    async def batch_write(
        self,
        records: Sequence[batch.BatchItem],
        *,
        policy: WritePolicy | None = None,
        ttl: int | None = None,
        filter: Expression | None = None,
    ) -> list[batch.BatchRecord]:
        """See ``Client.batch_write``; the parts run concurrently."""
        p = batch.plan(self.session, records, self._table.group_of, policy, ttl, filter)

        async def run(c: _calls.Call) -> Any:
            try:
                return await self._execute(c)
            except RaftstoreError as e:
                return e

        outcomes = await asyncio.gather(*(run(c) for _, _, c in p.parts))
        return batch.assemble(p, list(outcomes))

    async def batch_operate(
        self,
        keys: Sequence[Any],
        ops: Sequence[Op],
        *,
        policy: WritePolicy | None = None,
        ttl: int | None = None,
        filter: Expression | None = None,
    ) -> list[batch.BatchRecord]:
        """See ``Client.batch_operate``."""
        items = [batch.BatchWrite(k, ops=ops) for k in keys]
        return await self.batch_write(items, policy=policy, ttl=ttl, filter=filter)

    async def truncate(
        self, namespace: str, set: str | None = None, before_ms: int | None = None
    ) -> dict[str, int]:
        """See ``Client.truncate``."""
        return await self._execute(batch.truncate_call(self.session, namespace, set, before_ms))  # type: ignore[no-any-return]

    # --- secondary indexes ------------------------------------------------------------

    async def create_index(
        self,
        namespace: str,
        set: str | None,
        bin: str,
        index_type: str,
        collection: str = "DEFAULT",
        name: str | None = None,
    ) -> str:
        """See ``Client.create_index``."""
        name = name or f"{set or 'all'}_{bin}_{str(index_type).lower()}"
        request = _index.create_request(namespace, set, bin, index_type, collection, name)
        await self._index_call("CreateIndex", request)
        return name

    async def drop_index(self, namespace: str, name: str) -> None:
        """See ``Client.drop_index``."""
        request = index_pb2.DropIndexRequest(namespace=namespace, name=name)
        await self._index_call("DropIndex", request)

    async def list_indexes(self, namespace: str) -> list[_index.IndexInfo]:
        """See ``Client.list_indexes``."""
        request = index_pb2.ListIndexesRequest(namespace=namespace)
        response = await self._index_call("ListIndexes", request)
        return [_index.info(s) for s in response.indexes]

    async def wait_for_index(self, namespace: str, name: str, timeout: float = 60.0) -> None:
        """See ``Client.wait_for_index``."""
        deadline = time.monotonic() + timeout
        while True:
            found = [i for i in await self.list_indexes(namespace) if i.name == name]
            if found and found[0].ready:
                return
            if time.monotonic() >= deadline:
                raise Timeout(f"index {name!r} is not ready after {timeout} s: {found}")
            await asyncio.sleep(0.1)

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
    ) -> AsyncIterator[Record]:
        """An async iterator of records; see ``Client.query`` (one task per group)."""
        plans = _index.plan(
            self._table, namespace, set, bin_name=bin, equals=equals, between=between,
            index=index, collection=collection, filter=filter, bins=bins,
            page_size=page_size, records_per_second=records_per_second,
            mode=read_mode or self.read_mode, timeout=self.timeout, max_retries=self.max_retries,
        )  # fmt: skip

        def open_stream(address: str, scan: Any, timeout: float) -> Any:
            stub = index_pb2_grpc.IndexStub(self._channel(address))
            return stub.Query(plans.request(scan), timeout=timeout)

        return _merged([self._scan(p, stream_timeout, open_stream) for p in plans.plans])

    async def _index_call(self, method: str, request: Any) -> Any:
        """See ``Client._index_call``."""
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            addresses = self._table.addresses()
            address = addresses[attempt % len(addresses)]
            stub = index_pb2_grpc.IndexStub(self._channel(address))
            try:
                timeout = max(0.1, deadline - time.monotonic())
                return await getattr(stub, method)(request, timeout=timeout)
            except grpc.RpcError as e:
                error = translate(e, write=False, address=address).error
            if not isinstance(error, _INDEX_RETRIED):
                raise error
            if time.monotonic() + 0.25 >= deadline:
                raise error
            attempt += 1
            await asyncio.sleep(0.25)

    async def get_many(
        self,
        keys: Sequence[Any],
        bins: Sequence[str] | None = None,
        *,
        read_mode: ReadMode | None = None,
        filter: Expression | None = None,
    ) -> list[Record | None]:
        parsed = [cv.key_of(k) for k in keys]
        mode = read_mode or self.read_mode
        groups = list(_calls.group_keys(parsed, self._table.group_of).values())
        parts = await asyncio.gather(
            *(
                self._execute(_calls.batch_get([parsed[i] for i in pos], bins, mode, filter))
                for pos in groups
            )
        )
        out: list[Record | None] = [None] * len(parsed)
        for positions, part in zip(groups, parts, strict=True):
            for i, rec in zip(positions, part, strict=True):
                out[i] = rec
        return out


class _Failed(Exception):
    """An attempt failed: the error as translated at the transport boundary."""

    def __init__(self, translated: Any) -> None:
        super().__init__(translated.error.message)
        self.translated = translated


_DONE = object()
# transient answers an index definition call is retried on (it is idempotent)
_INDEX_RETRIED = (PartitionUnavailable, Timeout, ServerNotAvailable, DeviceOverload)


async def _merged(streams: list[AsyncIterator[Record]]) -> AsyncIterator[Record]:
    """Records of every stream as they come, each stream drained by its own task; the
    first error of any stream is raised here. Closing the iterator cancels the tasks."""
    out: asyncio.Queue[Any] = asyncio.Queue(maxsize=4096)

    async def drain(stream: AsyncIterator[Record]) -> None:
        try:
            async for record in stream:
                await out.put(record)
            await out.put(_DONE)
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # handed to the consumer
            await out.put(e)

    tasks = [asyncio.ensure_future(drain(s)) for s in streams]
    try:
        running = len(tasks)
        while running:
            item = await out.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
