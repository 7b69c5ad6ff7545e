"""Fault injection for the Jepsen-style suite; refused unless the node enables it."""

from __future__ import annotations

from typing import Any

import grpc

from raftstore.failpoints import FailpointError
from raftstore.v1 import testing_pb2, testing_pb2_grpc


class FaultInjectionService(testing_pb2_grpc.FaultInjectionServicer):
    def __init__(self, node: Any) -> None:
        self._node = node

    async def SetPartition(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        if not self._node.config.enable_fault_injection:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                "fault injection is disabled (start the node with --enable-fault-injection)",
            )
        unknown = [n for n in request.blocked_node_ids if self._node.config.member(n) is None]
        if unknown:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown nodes {unknown}")
        self._node.mesh.block(set(request.blocked_node_ids))
        return testing_pb2.SetPartitionResponse(blocked_node_ids=sorted(self._node.mesh.blocked))

    async def ArmFailpoint(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            self._node.failpoints.arm(request.name, request.action, request.skip, request.count)
        except FailpointError as e:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        return testing_pb2.ArmFailpointResponse()
