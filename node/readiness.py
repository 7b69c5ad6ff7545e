"""Readiness: the gRPC health status of service ``raftstore.ready``.

A node is ready when every group it replicates has a known leader and this replica has
applied all but ``READY_LAG`` of the entries it knows committed: it has joined and caught
up. Until the first check, and whenever that stops being true, the status is NOT_SERVING.
Kubernetes' readiness probe asks for this service (``grpc.service: raftstore.ready``); the
liveness probe asks for the overall status ("" service), which is SERVING while the process
serves. Thread: the event loop (``watch`` is a task of the node).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from grpc_health.v1 import health_pb2

READY_SERVICE = "raftstore.ready"
READY_LAG = 100  # entries a replica may trail its commit index and still count as caught up
INTERVAL = 0.5

log = logging.getLogger("raftstore.node")


def not_ready_reason(groups: Iterable[Any]) -> str | None:
    """Why this node is not ready (None: it is), from each replica's ``status()``."""
    for group in groups:
        st = group.status()
        if not st["leader"]:
            return f"group {st['group_id']} has no known leader"
        lag = st["commit_index"] - st["applied_index"]
        if lag > READY_LAG:
            return f"group {st['group_id']} trails its commit index by {lag} entries"
    return None


async def watch(node: Any, interval: float = INTERVAL) -> None:
    """Keep ``raftstore.ready`` in node.health up to date until cancelled."""
    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    await node.health.set(READY_SERVICE, not_serving)
    ready = False
    while True:
        reason = not_ready_reason(list(node.groups.values()))
        if (reason is None) != ready:
            ready = reason is None
            await node.health.set(READY_SERVICE, serving if ready else not_serving)
            log.info(
                "node %s %s", node.config.node_id, "ready" if ready else f"not ready: {reason}"
            )
        await asyncio.sleep(interval)
