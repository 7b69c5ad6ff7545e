"""Running a request where it belongs.

``Dispatcher.run`` executes the local handler when this node leads the group, forwards
the request to the leader otherwise, answers with a leader hint when the client asked for
one (or the request was already forwarded once), and waits a little for an election to
finish when no leader is known. A command that found this node no longer leading before
it was proposed (NotLeader) is re-routed: it never ran.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from raftstore_node.forwarder import Forwarder, RelayedError
from raftstore_node.routing import Group, Route, RouteKind, Router
from raftstore_node.status import FORWARDED_KEY, abort

from raftstore.errors import PartitionUnavailable, RaftstoreError, ServerError
from raftstore.replication.group import NotLeader

ELECTION_WAIT = 0.05
ELECTION_WAIT_MAX = 2.5  # about one election: longer means this node is cut off
DEFAULT_DEADLINE = 10.0
DEADLINE_MARGIN = 0.05


class NoLeaderHint(PartitionUnavailable):
    """Not forwarded: the client asked for a hint, or the request was forwarded already."""

    def __init__(self, message: str, hint: str | None) -> None:
        super().__init__(message)
        self.hint = hint


async def answer(
    context: grpc.aio.ServicerContext,
    handler: Callable[[], Awaitable[Any]],
    on_bug: Callable[[BaseException], None],
) -> Any:
    """Run a service's handler; its errors leave as gRPC statuses: a leader hint, a
    leader's error relayed unchanged, a result code. Anything else is a bug: ``on_bug``
    logs it and the call is answered SERVER_ERROR; the node keeps serving."""
    try:
        return await handler()
    except NoLeaderHint as e:
        await abort(context, e, e.hint)
    except RelayedError as e:
        context.set_trailing_metadata(e.metadata)
        await context.abort(e.code, e.details)
    except RaftstoreError as e:
        await abort(context, e)
    except asyncio.CancelledError:
        raise
    except Exception as e:
        on_bug(e)
        await abort(context, ServerError(f"internal error: {type(e).__name__}"))


def deadline_of(context: grpc.aio.ServicerContext) -> float:
    """Absolute monotonic deadline of a call, a little before the client's own."""
    remaining = context.time_remaining()
    if remaining is None:
        remaining = DEFAULT_DEADLINE
    return time.monotonic() + max(0.0, min(remaining, 3600) - DEADLINE_MARGIN)


def was_forwarded(context: grpc.aio.ServicerContext) -> bool:
    return any(k == FORWARDED_KEY for k, _ in (context.invocation_metadata() or ()))


class Dispatcher:
    def __init__(self, router: Router, forwarder: Forwarder) -> None:
        self._router = router
        self._forwarder = forwarder

    async def run(
        self,
        *,
        context: grpc.aio.ServicerContext,
        group: Group,
        method: str,
        request: Any,
        response_type: Any,
        local: Callable[[float], Awaitable[Any]],
        write: bool,
        no_forward: bool,
    ) -> Any:
        deadline = deadline_of(context)
        hint_only = no_forward or was_forwarded(context)
        while True:
            route = await self._wait_for_leader(group, deadline)
            if route.kind is RouteKind.LOCAL:
                try:
                    return await local(deadline)
                except NotLeader:
                    continue  # lost leadership before proposing: route again
            if route.kind is RouteKind.NO_LEADER:
                raise PartitionUnavailable(f"group {group.group_id} has no leader")
            if hint_only:
                raise NoLeaderHint(
                    f"group {group.group_id} is led by {route.leader_id}", route.hint
                )
            assert route.leader_id is not None
            timeout = max(0.001, deadline - time.monotonic())
            return await self._forwarder.forward(
                route.leader_id, method, request, response_type, timeout, write
            )

    async def _wait_for_leader(self, group: Group, deadline: float) -> Route:
        route = self._router.route(group)
        give_up = min(deadline, time.monotonic() + ELECTION_WAIT_MAX)
        while route.kind is RouteKind.NO_LEADER and time.monotonic() + ELECTION_WAIT < give_up:
            await asyncio.sleep(ELECTION_WAIT)
            route = self._router.route(group)
        return route
