"""Small request/response calls between nodes over the authenticated peer mesh.

The rebalancer asks a group's leader for its replication status, to change its membership
or to hand over leadership. These calls must not be open to clients, so they travel on the
mesh (only peers proving the cluster secret reach it), as node-level messages
``{"type": "rpc", "id", "method", "args"}`` answered by ``{"type": "rpc_reply", "id",
"result"}`` or ``{"type": "rpc_reply", "id", "error"}``. A call to this node itself runs
the handler directly.

Thread: the node's raft loop thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from raftstore.errors import PartitionUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class PeerRPC:
    def __init__(self, self_id: str, send: Callable[[str, dict[str, Any]], bool]) -> None:
        self._self_id = self_id
        self._send = send
        self._handlers: dict[str, Handler] = {}
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[str, asyncio.Future[dict[str, Any]]]] = {}

    def register(self, method: str, handler: Handler) -> None:
        self._handlers[method] = handler

    async def call(
        self, peer: str, method: str, args: dict[str, Any], timeout: float = 3.0
    ) -> dict[str, Any]:
        """The peer's answer; PartitionUnavailable when it cannot be had in time."""
        if peer == self._self_id:
            return await asyncio.wait_for(self._run(method, args), timeout)
        call_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = (peer, fut)
        try:
            message = {"type": "rpc", "id": call_id, "method": method, "args": args}
            if not self._send(peer, message):
                raise PartitionUnavailable(f"node {peer} is not connected")
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise PartitionUnavailable(f"node {peer} did not answer {method} in time") from None
        finally:
            self._waiting.pop(call_id, None)

    async def _run(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = self._handlers.get(method)
        if handler is None:
            raise PartitionUnavailable(f"unknown peer call {method!r}")
        return await handler(args)

    def on_message(self, peer: str, message: dict[str, Any]) -> None:
        """A node-level ``rpc`` or ``rpc_reply`` message from an authenticated peer."""
        call_id = message.get("id")
        if not isinstance(call_id, int):
            return
        if message.get("type") == "rpc_reply":
            waiting = self._waiting.get(call_id)
            if waiting is None or waiting[0] != peer or waiting[1].done():
                return
            if isinstance(message.get("result"), dict):
                waiting[1].set_result(message["result"])
            else:
                waiting[1].set_exception(PartitionUnavailable(str(message.get("error"))))
            return
        method, args = message.get("method"), message.get("args")
        if isinstance(method, str) and isinstance(args, dict):
            asyncio.get_running_loop().create_task(self._answer(peer, call_id, method, args))

    async def _answer(self, peer: str, call_id: int, method: str, args: dict[str, Any]) -> None:
        try:
            reply: dict[str, Any] = {"result": await self._run(method, args)}
        except Exception as e:  # the caller gets the reason; this node keeps serving
            reply = {"error": f"{type(e).__name__}: {e}"}
        self._send(peer, {"type": "rpc_reply", "id": call_id, **reply})
