"""Joining a running cluster: ``raftstore node --config node.toml --join HOST:PORT``.

A node whose data directory holds no cluster state and that is told to join asks any
member (``HOST:PORT``, a client address) to admit it. The request names the node, its
addresses and rack, and proves the cluster secret; the member forwards it to the leader
of the metadata group, which adds the node to the roster (idempotently: a node that
retries after a crash is admitted once) and answers with the cluster state. The node
saves that state and starts; the rebalancer then moves replicas to it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc
from raftstore_node.cluster_state import ClusterState

from raftstore.admin_auth import now_ms, proof
from raftstore.namespaces import ConfigError
from raftstore.v1 import cluster_pb2, cluster_pb2_grpc

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 120.0
_FINAL = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT)


def join_fields(node_id: str, client: str, peer: str, rack: str) -> list[str]:
    """What a Join request's proof covers (besides the cluster id and timestamp)."""
    return ["join", node_id, client, peer, rack]


async def request_join(config: Any, timeout: float = JOIN_TIMEOUT) -> ClusterState:
    """The cluster state from the cluster, once this node is in its roster."""
    me = config.me
    deadline = time.monotonic() + timeout
    last = "no answer"
    channel = (
        grpc.aio.secure_channel(config.join, config.tls.channel_credentials())
        if config.tls is not None
        else grpc.aio.insecure_channel(config.join)
    )
    async with channel:
        stub = cluster_pb2_grpc.ClusterStub(channel)
        while time.monotonic() < deadline:
            ts = now_ms()
            fields = join_fields(me.id, me.client, me.peer, me.rack)
            request = cluster_pb2.JoinRequest(
                cluster_id=config.cluster_id,
                node_id=me.id,
                client_address=me.client,
                peer_address=me.peer,
                rack=me.rack,
                timestamp_ms=ts,
                proof=proof(config.secret, config.cluster_id, fields, ts),
            )
            try:
                answer = await stub.Join(request, timeout=10.0)
                return ClusterState.from_json(answer.cluster_state_json)
            except grpc.aio.AioRpcError as e:
                last = f"{e.code().name}: {e.details()}"
                if e.code() in (
                    grpc.StatusCode.PERMISSION_DENIED,
                    grpc.StatusCode.INVALID_ARGUMENT,
                ):
                    raise ConfigError(f"joining through {config.join} refused: {last}") from None
            log.info("joining through %s: %s; retrying", config.join, last)
            await asyncio.sleep(1.0)
    raise ConfigError(f"could not join through {config.join} in {timeout:.0f}s: {last}")
