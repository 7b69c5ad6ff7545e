"""Requests are parsed here, not by the gRPC framework: size first, then protobuf.

The generated ``add_*Servicer_to_server`` functions let gRPC deserialize a request before
any raftstore code runs, so a malformed message ends as ``UNKNOWN`` and a traceback in the
log for every request. ``add_service`` registers a service from its descriptor with
raw-bytes handlers instead (reflection and stock clients see the same service):

1. a request longer than ``limit`` bytes is answered RECORD_TOO_BIG (13) before parsing;
2. bytes that are not a valid message are answered ``INVALID_ARGUMENT`` with
   PARAMETER_ERROR (4), and counted in one rate-limited log line, never a traceback;
3. with security on, ``guard.check`` authenticates and authorises the call (``auth.py``):
   NOT_AUTHENTICATED (80) or ROLE_VIOLATION (81) before any handler runs;
4. otherwise the servicer's method runs with the parsed message, and ``request_size``
   holds the request's length for it (it decides whether conversion leaves the loop).

gRPC's own receive limit (``receive_limit``) stays above ``limit`` as a hard stop: a
request over it is refused by gRPC's core with ``RESOURCE_EXHAUSTED`` (no result code;
the Python client maps it to RECORD_TOO_BIG).

Thread: handlers run on the node's event loop thread.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from raftstore_node.status import abort

from raftstore.errors import ParameterError, RaftstoreError, RecordTooBig
from raftstore.namespaces import NamespaceConfig

log = logging.getLogger("raftstore.node.parsing")

REQUEST_OVERHEAD = 1024 * 1024
"""Bytes a request may carry beyond the record itself: key, policy, and the protobuf
framing of list items and map entries (a few bytes each, at most MAX_ELEMENTS of them)."""

request_size: contextvars.ContextVar[int] = contextvars.ContextVar("request_size", default=0)
"""Length in bytes of the request being served (set for the servicer's method)."""


def request_limit(namespaces: Iterable[NamespaceConfig]) -> int:
    """Largest request answered with more than RECORD_TOO_BIG: the largest namespace's
    max_record_size plus ``REQUEST_OVERHEAD``."""
    return max((ns.max_record_size for ns in namespaces), default=0) + REQUEST_OVERHEAD


def receive_limit(namespaces: Iterable[NamespaceConfig]) -> int:
    """gRPC's ``max_receive_message_length``: twice ``request_limit``. Between the two a
    request is read and answered RECORD_TOO_BIG with its result code; beyond, gRPC's
    core refuses it unread."""
    return 2 * request_limit(namespaces)


class RateLimitedLog:
    """One warning line per ``interval`` seconds at most, with the count it stands for."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._what = what
        self._interval = interval
        self._clock = clock
        self._count = 0
        self._next = 0.0
        self.total = 0

    def note(self, detail: str) -> None:
        self._count += 1
        self.total += 1
        now = self._clock()
        if now < self._next:
            return
        self._logger.warning(
            "%d %s in the last %.0f s (latest: %s)",
            self._count,
            self._what,
            self._interval,
            detail,
        )
        self._count = 0
        self._next = now + self._interval


Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class RequestParser:
    """Builds the raw-bytes handlers of services; shares one limit and one log line."""

    def __init__(self, limit: int, guard: Any = None) -> None:
        self.limit = limit
        self.guard = guard  # auth.Guard with security on, else None
        self.malformed = RateLimitedLog(log, "malformed requests answered PARAMETER_ERROR")

    def add_service(
        self, server: grpc.aio.Server, servicer: Any, service: ServiceDescriptor
    ) -> None:
        """Register every method of ``service`` with ``servicer``'s implementation: unary
        ones return their response; server-streaming ones write theirs with
        ``context.write`` and return None; bidirectional ones (``KV.Stream``) receive the
        raw messages, the context and this parser, and parse each command with ``parse``."""
        handlers = {}
        for m in service.methods:
            method = f"/{service.full_name}/{m.name}"
            serializer = message_factory.GetMessageClass(m.output_type).SerializeToString
            behavior = getattr(servicer, m.name)
            if m.client_streaming:
                handlers[m.name] = grpc.stream_stream_rpc_method_handler(
                    self._stream_handler(behavior),
                    request_deserializer=None,
                    response_serializer=serializer,
                )
                continue
            kind = (
                grpc.unary_stream_rpc_method_handler
                if m.server_streaming
                else grpc.unary_unary_rpc_method_handler
            )
            handlers[m.name] = kind(
                self._handler(behavior, message_factory.GetMessageClass(m.input_type), method),
                request_deserializer=None,  # raw bytes: parsed by the handler
                response_serializer=serializer,
            )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service.full_name, handlers),)
        )
        server.add_registered_method_handlers(service.full_name, handlers)

    def parse(
        self,
        method: str,
        request_type: Any,
        raw: bytes,
        metadata: Iterable[Any],
        peer: Callable[[], str],
    ) -> Any:
        """Steps 1-3 above for one request: the parsed message, or RecordTooBig,
        ParameterError, NotAuthenticated or RoleViolation."""
        if len(raw) > self.limit:
            raise RecordTooBig(
                f"request of {len(raw)} bytes exceeds this node's limit of {self.limit}"
            )
        try:
            request = request_type.FromString(raw)
        except Exception as e:  # DecodeError, or a recursion limit of the parser
            self.malformed.note(f"{method} from {peer()}: {e}")
            raise ParameterError(f"malformed {request_type.__name__}: {e}") from None
        if self.guard is not None:
            self.guard.check(method, request, metadata)
        return request

    def _handler(self, behavior: Behavior, request_type: Any, method: str) -> Behavior:
        async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            try:
                request = self.parse(
                    method, request_type, raw, context.invocation_metadata() or (), context.peer
                )
            except RaftstoreError as e:
                await abort(context, e)
            request_size.set(len(raw))
            return await behavior(request, context)

        return handle

    def _stream_handler(self, behavior: Callable[..., Awaitable[None]]) -> Behavior:
        async def handle(requests: Any, context: grpc.aio.ServicerContext) -> None:
            await behavior(requests, context, self)

        return handle
