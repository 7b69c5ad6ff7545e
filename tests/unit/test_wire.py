"""Values and keys convert between Python and protobuf exactly, and malformed input is refused."""

from __future__ import annotations

import pytest

from raftstore.errors import ParameterError
from raftstore.keys import Key
from raftstore.v1 import values_pb2
from raftstore.wire import key_from_pb, key_to_pb, value_from_pb, value_to_pb


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        0,
        -1,
        2**63 - 1,
        -(2**63),
        1.5,
        float("inf"),
        "",
        "ü",
        b"",
        b"\xff",
        [],
        [1, [2, [3]]],
        {},
        {"a": 1, 2: "b", b"c": [None]},
    ],
)
def test_values_round_trip_with_their_types(value: object) -> None:
    back = value_from_pb(value_to_pb(value))
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value", [{1, 2}, object(), 2**63, 1j, {(1,): 2}, {1.5: 2}, {True: 1}])
def test_unsupported_values_are_refused(value: object) -> None:
    with pytest.raises(ParameterError):
        value_to_pb(value)


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    deep: list[object] = []
    cur = deep
    for _ in range(40):
        nxt: list[object] = []
        cur.append(nxt)
        cur = nxt
    with pytest.raises(ParameterError):
        value_to_pb(deep)


def test_a_value_without_a_kind_is_refused() -> None:
    with pytest.raises(ParameterError):
        value_from_pb(values_pb2.Value())
    msg = values_pb2.Value()
    msg.map_value.entries.add(value=values_pb2.Value(int_value=1)).key.float_value = 1.0
    with pytest.raises(ParameterError):
        value_from_pb(msg)


@pytest.mark.parametrize(
    "key",
    [
        Key.of("test", "s", 1),
        Key.of("test", "", "x"),
        Key.of("ns", "set", b"\x00k"),
        Key.from_digest("t", "s", b"d" * 16),
    ],
)
def test_keys_round_trip(key: Key) -> None:
    assert key_from_pb(key_to_pb(key)) == key


def test_a_digest_that_contradicts_the_user_key_is_refused() -> None:
    msg = key_to_pb(Key.of("test", "s", "a"))
    msg.digest = Key.of("test", "s", "b").digest
    with pytest.raises(ParameterError):
        key_from_pb(msg)
