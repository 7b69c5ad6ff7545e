"""The one table from result codes to gRPC status codes, and aborting a call with an error.

Every error leaves the server as a gRPC status whose trailing metadata carries
``raftstore-result-code`` (Aerospike-numbered), ``raftstore-in-doubt`` ("1" when a write
may have applied) and, when known, ``raftstore-leader`` ("<node id>=<client address>").
The client's ``_errors`` module maps them back.
"""

from __future__ import annotations

import grpc

from raftstore.errors import RaftstoreError, ResultCode

RESULT_CODE_KEY = "raftstore-result-code"
IN_DOUBT_KEY = "raftstore-in-doubt"
LEADER_KEY = "raftstore-leader"
FORWARDED_KEY = "raftstore-forwarded"
AUTHORIZATION_KEY = "authorization"  # "Bearer <token>" (security.proto)

GRPC_STATUS: dict[ResultCode, grpc.StatusCode] = {
    ResultCode.SERVER_ERROR: grpc.StatusCode.INTERNAL,
    ResultCode.KEY_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ResultCode.GENERATION_ERROR: grpc.StatusCode.FAILED_PRECONDITION,
    ResultCode.PARAMETER_ERROR: grpc.StatusCode.INVALID_ARGUMENT,
    ResultCode.KEY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ResultCode.TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    ResultCode.PARTITION_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ResultCode.BIN_TYPE_ERROR: grpc.StatusCode.FAILED_PRECONDITION,
    ResultCode.RECORD_TOO_BIG: grpc.StatusCode.INVALID_ARGUMENT,
    ResultCode.UNSUPPORTED_FEATURE: grpc.StatusCode.UNIMPLEMENTED,
    ResultCode.NAMESPACE_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ResultCode.BIN_NAME_TOO_LONG: grpc.StatusCode.INVALID_ARGUMENT,
    ResultCode.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
    ResultCode.ELEMENT_NOT_FOUND: grpc.StatusCode.FAILED_PRECONDITION,
    ResultCode.ELEMENT_EXISTS: grpc.StatusCode.FAILED_PRECONDITION,
    ResultCode.OP_NOT_APPLICABLE: grpc.StatusCode.FAILED_PRECONDITION,
    ResultCode.FILTERED_OUT: grpc.StatusCode.FAILED_PRECONDITION,
    ResultCode.OUT_OF_SPACE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ResultCode.KEY_BUSY: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ResultCode.DEVICE_OVERLOAD: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ResultCode.SECURITY_NOT_ENABLED: grpc.StatusCode.FAILED_PRECONDITION,
    ResultCode.INVALID_USER: grpc.StatusCode.NOT_FOUND,
    ResultCode.USER_ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ResultCode.INVALID_PASSWORD: grpc.StatusCode.INVALID_ARGUMENT,
    ResultCode.INVALID_PRIVILEGE: grpc.StatusCode.INVALID_ARGUMENT,
    ResultCode.NOT_AUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ResultCode.ROLE_VIOLATION: grpc.StatusCode.PERMISSION_DENIED,
    ResultCode.INDEX_FOUND: grpc.StatusCode.ALREADY_EXISTS,
    ResultCode.INDEX_NOTFOUND: grpc.StatusCode.NOT_FOUND,
    ResultCode.INDEX_NOTREADABLE: grpc.StatusCode.FAILED_PRECONDITION,
    ResultCode.INDEX_NAME_MAXLEN: grpc.StatusCode.INVALID_ARGUMENT,
}


def trailing_metadata(
    err: RaftstoreError, leader: str | None = None
) -> tuple[tuple[str, str], ...]:
    md = [(RESULT_CODE_KEY, str(int(err.code)))]
    if err.in_doubt:
        md.append((IN_DOUBT_KEY, "1"))
    if leader:
        md.append((LEADER_KEY, leader))
    return tuple(md)


async def abort(
    context: grpc.aio.ServicerContext, err: RaftstoreError, leader: str | None = None
) -> None:
    """End the call with ``err`` (raises, as grpc.aio's abort does)."""
    context.set_trailing_metadata(trailing_metadata(err, leader))
    await context.abort(GRPC_STATUS.get(err.code, grpc.StatusCode.UNKNOWN), err.message)
