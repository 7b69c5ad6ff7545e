"""Forwarding a client request to the node that leads its group, over gRPC.

A forwarded call carries ``raftstore-forwarded: <node id>`` (and, with security on, the
caller's ``authorization``, which the leader checks again) and is never forwarded again:
a node that receives it without leading the group answers PARTITION_UNAVAILABLE with a
leader hint, and the client retries. Errors of the forwarded call are relayed unchanged;
a transport failure without a result code is reported as PARTITION_UNAVAILABLE for reads
and as in doubt for writes (the leader may have applied the write).
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from raftstore_node.auth import caller_authorization
from raftstore_node.config import NodeConfig
from raftstore_node.status import AUTHORIZATION_KEY, FORWARDED_KEY, IN_DOUBT_KEY, RESULT_CODE_KEY

from raftstore.errors import PartitionUnavailable, RaftstoreError, Timeout, error_for

MAX_MESSAGE = 64 * 1024 * 1024


class RelayedError(Exception):
    """The leader answered with an error: relay its status and metadata as they are."""

    def __init__(
        self, code: grpc.StatusCode, details: str, metadata: tuple[tuple[str, str], ...]
    ) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.metadata = metadata


class Forwarder:
    def __init__(self, config: NodeConfig, is_blocked: Any) -> None:
        self._config = config
        self._is_blocked = is_blocked
        self._channels: dict[str, grpc.aio.Channel] = {}

    def update(self, config: NodeConfig) -> None:
        """The roster changed: addresses of new members; channels of gone ones closed."""
        self._config = config
        for node_id in [n for n in self._channels if config.member(n) is None]:
            channel = self._channels.pop(node_id)
            asyncio.get_running_loop().create_task(channel.close())

    def _channel(self, node_id: str) -> grpc.aio.Channel:
        ch = self._channels.get(node_id)
        if ch is None:
            member = self._config.member(node_id)
            assert member is not None
            options = [
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
            ]
            tls = self._config.tls
            ch = (
                grpc.aio.secure_channel(member.client, tls.channel_credentials(), options=options)
                if tls is not None
                else grpc.aio.insecure_channel(member.client, options=options)
            )
            self._channels[node_id] = ch
        return ch

    async def forward(
        self,
        node_id: str,
        method: str,
        request: Any,
        response_type: Any,
        timeout: float,
        write: bool,
    ) -> Any:
        """Call ``method`` on ``node_id``; raise RelayedError or a RaftstoreError."""
        if self._is_blocked(node_id):
            raise PartitionUnavailable(f"leader {node_id} is unreachable (partitioned)")
        call = self._channel(node_id).unary_unary(
            method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        metadata: tuple[tuple[str, str], ...] = ((FORWARDED_KEY, self._config.node_id),)
        caller = caller_authorization.get()
        if caller:
            metadata += ((AUTHORIZATION_KEY, caller),)
        try:
            return await call(request, timeout=timeout, metadata=metadata)
        except grpc.aio.AioRpcError as e:
            raise _translate(e, node_id, write) from None

    async def close(self) -> None:
        for ch in self._channels.values():
            await ch.close()


def _translate(e: grpc.aio.AioRpcError, node_id: str, write: bool) -> Exception:
    md = tuple((k, v) for k, v in (e.trailing_metadata() or ()) if isinstance(v, str))
    if any(k == RESULT_CODE_KEY for k, _ in md):
        return RelayedError(e.code(), e.details() or "", md)
    detail = f"forwarding to leader {node_id}: {e.code().name}: {e.details()}"
    if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return Timeout(detail, in_doubt=write)
    err: RaftstoreError = PartitionUnavailable(detail, in_doubt=write)
    if any(k == IN_DOUBT_KEY for k, _ in md):
        err = error_for(int(err.code), detail, in_doubt=True)
    return err
