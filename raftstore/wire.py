"""Conversion of values and keys between Python and the ``raftstore.v1`` protobuf messages.

Shared by the node and the client (it needs only protobuf). Python values: None, bool,
int (int64), float, str, bytes, list, dict with int/str/bytes keys. Decoding rejects a
Value without a kind, map keys of other types and nesting deeper than ``MAX_DEPTH`` with
ParameterError, so malformed requests never reach the state machine. An ``ElementBudget``
bounds the list items and map entries a decoding may produce: each container's length is
charged before any of its items is decoded, so an oversized value is refused at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

from raftstore.errors import ParameterError, RecordTooBig
from raftstore.keys import INT64_MAX, INT64_MIN, Key
from raftstore.v1 import values_pb2 as vpb

MAX_DEPTH = 32


class ElementBudget:
    """How many more list items and map entries a decoding may produce (all levels)."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def take(self, n: int) -> None:
        """Charge ``n`` elements; RecordTooBig once more than ``limit`` were charged."""
        self.left -= n
        if self.left < 0:
            raise RecordTooBig(
                f"values hold more than {self.limit} list items and map entries in all"
            )


def value_to_pb(value: Any, out: vpb.Value | None = None, depth: int = 0) -> vpb.Value:
    """Python value -> Value message; ParameterError for unsupported types."""
    msg = out if out is not None else vpb.Value()
    if depth > MAX_DEPTH:
        raise ParameterError(f"value nested deeper than {MAX_DEPTH}")
    if value is None:
        msg.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        msg.bool_value = value
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ParameterError(f"integer {value} is outside int64")
        msg.int_value = value
    elif isinstance(value, float):
        msg.float_value = value
    elif isinstance(value, str):
        msg.string_value = value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        msg.bytes_value = bytes(value)
    elif isinstance(value, (list, tuple)):
        items = msg.list_value.items
        msg.list_value.SetInParent()
        for item in value:
            value_to_pb(item, items.add(), depth + 1)
    elif isinstance(value, Mapping):
        msg.map_value.SetInParent()
        for k, v in value.items():
            entry = msg.map_value.entries.add()
            if not isinstance(k, (int, str, bytes)) or isinstance(k, bool):
                raise ParameterError(f"map key {k!r}: keys must be int, str or bytes")
            value_to_pb(k, entry.key, depth + 1)
            value_to_pb(v, entry.value, depth + 1)
    else:
        raise ParameterError(f"unsupported value type {type(value).__name__}")
    return msg


def value_from_pb(msg: vpb.Value, depth: int = 0, budget: ElementBudget | None = None) -> Any:
    """Value message -> Python value; ParameterError when malformed, RecordTooBig when it
    holds more elements than ``budget`` allows (None: no bound)."""
    if depth > MAX_DEPTH:
        raise ParameterError(f"value nested deeper than {MAX_DEPTH}")
    kind = msg.WhichOneof("kind")
    if kind is None:
        raise ParameterError("value has no kind set")
    if kind == "list_value":
        items = msg.list_value.items
        if budget is not None:
            budget.take(len(items))
        return [value_from_pb(v, depth + 1, budget) for v in items]
    if kind == "map_value":
        entries = msg.map_value.entries
        if budget is not None:
            budget.take(len(entries))
        out: dict[Any, Any] = {}
        for entry in entries:
            k = value_from_pb(entry.key, depth + 1, budget)
            if not isinstance(k, (int, str, bytes)) or isinstance(k, bool):
                raise ParameterError("map keys must be int, string or bytes")
            out[k] = value_from_pb(entry.value, depth + 1, budget)
        return out
    if kind == "null_value":
        return None
    return getattr(msg, kind)


def bins_from_pb(
    bins: Mapping[str, vpb.Value], budget: ElementBudget | None = None
) -> dict[str, Any]:
    return {name: value_from_pb(v, 0, budget) for name, v in bins.items()}


def bins_to_pb(bins: Mapping[str, Any], out: Any) -> None:
    """Fill a protobuf map<string, Value> field from a dict."""
    for name, value in bins.items():
        value_to_pb(value, out[name])


def key_to_pb(key: Key, out: vpb.Key | None = None) -> vpb.Key:
    msg = out if out is not None else vpb.Key()
    msg.namespace = key.namespace
    msg.set = key.set_name
    uk = key.user_key
    if isinstance(uk, int):
        msg.int_key = uk
    elif isinstance(uk, str):
        msg.string_key = uk
    elif isinstance(uk, bytes):
        msg.bytes_key = uk
    msg.digest = key.digest
    return msg


def key_from_pb(msg: vpb.Key) -> Key:
    """Key message -> validated Key; ParameterError if malformed or inconsistent."""
    kind = msg.WhichOneof("user_key")
    if kind is None:
        if not msg.digest:
            raise ParameterError("key needs a user key or a digest")
        return Key.from_digest(msg.namespace, msg.set, msg.digest)
    key = Key.of(msg.namespace, msg.set, getattr(msg, kind))
    if msg.digest and msg.digest != key.digest:
        raise ParameterError("key digest does not match the user key")
    return key
