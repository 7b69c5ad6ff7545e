"""A command's failure on the KV Stream translates to what its unary call would raise:
the node turns an aborted handler into a StreamError, the client turns it back."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from raftstore_client._errors import translate_status, translate_stream_error
from raftstore_node.status import trailing_metadata
from raftstore_node.stream import CommandContext, CommandFailed, error_result, failed_result

from raftstore.errors import (
    PartitionUnavailable,
    RecordNotFound,
    ServerNotAvailable,
    Timeout,
)
from raftstore.v1 import kv_pb2


def test_an_aborted_command_carries_code_doubt_and_leader_hint() -> None:
    err = Timeout("no result before the deadline", in_doubt=True)
    context = CommandContext(0.0, (), "peer")
    context.set_trailing_metadata(trailing_metadata(err, "n2=127.0.0.1:3001"))
    with pytest.raises(CommandFailed) as info:
        asyncio.run(context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, err.message))
    result = failed_result(7, info.value)
    assert result.id == 7
    assert (result.error.result_code, result.error.in_doubt) == (9, True)
    t = translate_stream_error(result.error, write=True, address="a")
    assert isinstance(t.error, Timeout) and t.error.in_doubt and t.from_server
    assert t.leader_hint == ("n2", "127.0.0.1:3001")
    assert context.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert context.time_remaining() == 0.0


def test_stream_and_unary_translations_agree() -> None:
    for err, hint in ((RecordNotFound("gone"), ""), (PartitionUnavailable("moved"), "n1=h:1")):
        result = error_result(3, err, hint)
        streamed = translate_stream_error(result.error, write=False, address="a")
        md = dict(trailing_metadata(err, hint or None))
        status = grpc.StatusCode.NOT_FOUND if err.code == 2 else grpc.StatusCode.UNAVAILABLE
        unary = translate_status(status, err.message, md, write=False, address="a")
        assert (type(streamed.error), streamed.error.code, streamed.leader_hint) == (
            type(unary.error),
            unary.error.code,
            unary.leader_hint,
        )


def test_an_error_without_a_result_code_is_a_transport_failure() -> None:
    bare = kv_pb2.StreamError(grpc_status=grpc.StatusCode.UNAVAILABLE.value[0], message="x")
    t = translate_stream_error(bare, write=True, address="a")
    assert isinstance(t.error, ServerNotAvailable) and t.error.in_doubt and not t.from_server
