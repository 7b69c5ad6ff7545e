"""Foreign errors are translated once, here: grpc.RpcError -> the raftstore exception tree.

The server puts the Aerospike-numbered result code, the in-doubt flag and a leader hint
in trailing metadata (see proto/raftstore/v1/kv.proto). A failure without a result code
comes from the transport: for a write it is in doubt (the command may have reached the
leader), for a read it is not — except ``RESOURCE_EXHAUSTED`` for a message over the
node's receive limit, which gRPC refused unread: RECORD_TOO_BIG, not in doubt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc

from raftstore.errors import (
    RaftstoreError,
    RecordTooBig,
    ServerError,
    ServerNotAvailable,
    Timeout,
    error_for,
)

RESULT_CODE_KEY = "raftstore-result-code"
IN_DOUBT_KEY = "raftstore-in-doubt"
LEADER_KEY = "raftstore-leader"


@dataclass(frozen=True, slots=True)
class Translated:
    error: RaftstoreError
    leader_hint: tuple[str, str] | None  # (node id, client address)
    from_server: bool  # the server answered (vs. a transport failure)


def _metadata(e: grpc.RpcError) -> dict[str, str]:
    try:
        md = e.trailing_metadata() or ()  # type: ignore[attr-defined]
    except Exception:
        md = ()
    return {k: v for k, v in md if isinstance(v, str)}


def translate(e: grpc.RpcError, *, write: bool, address: str) -> Translated:
    code: grpc.StatusCode = e.code()  # type: ignore[attr-defined]
    details = e.details() or code.name  # type: ignore[attr-defined]
    return translate_status(code, details, _metadata(e), write=write, address=address)


def translate_stream_error(err: Any, *, write: bool, address: str) -> Translated:
    """A command's ``StreamError`` (kv.proto): what its unary call would have ended with."""
    md = {RESULT_CODE_KEY: str(err.result_code)} if err.result_code else {}
    if err.in_doubt:
        md[IN_DOUBT_KEY] = "1"
    if err.leader:
        md[LEADER_KEY] = err.leader
    code = _STATUS_BY_VALUE.get(err.grpc_status, grpc.StatusCode.UNKNOWN)
    return translate_status(code, err.message or code.name, md, write=write, address=address)


def translate_status(
    code: grpc.StatusCode, details: str, md: dict[str, str], *, write: bool, address: str
) -> Translated:
    hint = None
    if LEADER_KEY in md and "=" in md[LEADER_KEY]:
        node, _, addr = md[LEADER_KEY].partition("=")
        hint = (node, addr)
    if RESULT_CODE_KEY in md:
        try:
            rc = int(md[RESULT_CODE_KEY])
        except ValueError:
            rc = int(ServerError.default_code)
        return Translated(error_for(rc, details, in_doubt=md.get(IN_DOUBT_KEY) == "1"), hint, True)
    where = f"{address}: {code.name}: {details}"
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details:
        return Translated(RecordTooBig(where), None, True)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return Translated(Timeout(where, in_doubt=write), None, False)
    if code == grpc.StatusCode.UNAVAILABLE:
        return Translated(ServerNotAvailable(where, in_doubt=write), None, False)
    if code == grpc.StatusCode.CANCELLED:
        # Not this client's doing (its own cancellations raise CancelledError): the node
        # cancelled the call, as a stopping server does with calls still in flight.
        # Like UNAVAILABLE: try another node (a write is in doubt, its retry exactly-once).
        return Translated(ServerNotAvailable(where, in_doubt=write), None, False)
    return Translated(ServerError(where, in_doubt=write), None, False)


_STATUS_BY_VALUE = {s.value[0]: s for s in grpc.StatusCode}
