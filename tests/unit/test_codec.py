"""The replicated envelope round-trips every command and rejects anything malformed."""

from __future__ import annotations

import pytest
from raftstore_client import exp

from raftstore.codec import FORMAT_VERSION, CodecError, decode_entry, encode_entry
from raftstore.commands import Delete, Entry, Op, Operate, OpType, Put, Read, Request, Touch
from raftstore.expressions import parse_filter
from raftstore.keys import Key
from raftstore.policy import GenPolicy, RecordExistsAction, WritePolicy
from raftstore.v1 import command_pb2

KEY = Key.of("test", "s", "k")
POLICY = WritePolicy(RecordExistsAction.REPLACE_ONLY, GenPolicy.EXPECT_GEN_GT, 7, -2, True, True)


@pytest.mark.parametrize(
    "command",
    [
        Put(
            KEY,
            {
                "s": "x",
                "b": b"\x00",
                "i": -(2**63),
                "f": 1.0,
                "t": True,
                "n": None,
                "l": [1, "a", b"b", [None]],
                "m": {1: "a", "k": {b"x": 2.5}},
            },
            POLICY,
        ),
        Put(Key.of("test", "", 42), {"a": 1}),
        Put(Key.from_digest("test", "s", b"\x01" * 16), {"a": 1}),
        Read(KEY),
        Read(KEY, ("a", "b")),
        Read(KEY, None, True),
        Read(KEY, (), False),
        Delete(KEY, POLICY),
        Touch(KEY, POLICY),
        Operate(
            KEY,
            (
                Op(OpType.INCR, "n", 1),
                Op(OpType.LIST_GET_RANGE, "l", None, -2, 5),
                Op(OpType.MAP_PUT, "m", [1, 2], 0, None, b"k"),
                Op(OpType.READ),
            ),
        ),
    ],
)
def test_every_command_round_trips(command: object) -> None:
    entry = Entry(1_700_000_000_123, (Request(command, b"client", 5, 3),))  # type: ignore[arg-type]
    decoded = decode_entry(encode_entry(entry))
    assert decoded == entry
    assert type(decoded.requests[0].command.key.user_key) is type(command.key.user_key)  # type: ignore[attr-defined]


def test_an_entry_carries_many_requests_in_order() -> None:
    entry = Entry(5, tuple(Request(Put(Key.of("test", "s", i), {"i": i})) for i in range(100)))
    assert decode_entry(encode_entry(entry)) == entry


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xff\xff",
        command_pb2.Entry(format_version=FORMAT_VERSION + 1).SerializeToString(),
        command_pb2.Entry(
            format_version=FORMAT_VERSION, requests=[command_pb2.Request()]
        ).SerializeToString(),
        command_pb2.Entry(
            format_version=FORMAT_VERSION,
            requests=[
                command_pb2.Request(
                    put=command_pb2.PutCommand(
                        key=command_pb2.CommandKey(namespace="t", digest=b"x"), bins=b"\x91\x01"
                    )
                )
            ],
        ).SerializeToString(),
        command_pb2.Entry(
            format_version=FORMAT_VERSION,
            requests=[
                command_pb2.Request(
                    put=command_pb2.PutCommand(
                        key=command_pb2.CommandKey(namespace="t", digest=b"x" * 16), bins=b"\xc1"
                    )
                )
            ],
        ).SerializeToString(),
    ],
    ids=["garbage", "future-version", "no-command", "short-digest", "bad-msgpack"],
)
def test_malformed_entries_raise_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError):
        decode_entry(data)


FILTER = parse_filter(
    exp.and_(exp.ge(exp.int_bin("age"), 21), exp.lt(exp.ttl(), 60), exp.ne(exp.val(None), 1.5))
)


@pytest.mark.parametrize(
    "command",
    [
        Put(KEY, {"a": 1}, POLICY, FILTER),
        Read(KEY, ("a",), False, FILTER),
        Read(KEY, None, True, FILTER),
        Delete(KEY, POLICY, FILTER),
        Touch(KEY, POLICY, FILTER),
        Operate(KEY, (Op(OpType.INCR, "a", 1),), POLICY, FILTER),
    ],
    ids=lambda c: type(c).__name__,
)
def test_a_filter_travels_with_every_command(command: object) -> None:
    entry = Entry(5, (Request(command),))  # type: ignore[arg-type]
    assert decode_entry(encode_entry(entry)) == entry


def test_a_malformed_filter_in_an_entry_is_a_codec_error() -> None:
    msg = command_pb2.Entry(format_version=FORMAT_VERSION, now_ms=1)
    read = msg.requests.add().read
    read.key.namespace, read.key.digest = "test", KEY.digest
    read.filter.call.op = 999
    with pytest.raises(CodecError, match="unknown expression operator 999"):
        decode_entry(msg.SerializeToString())
