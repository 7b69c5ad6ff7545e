"""Operation builders for ``Client.operate``, in the spirit of aerospike_helpers.operations.

from raftstore_client import operations as op
client.operate(key, [op.increment("visits", 1), op.read("visits")])
"""

from __future__ import annotations

from typing import Any

from raftstore.commands import Op, OpType


def read(bin_name: str = "") -> Op:
    """Value of a bin; "" reads every bin."""
    return Op(OpType.READ, bin_name)


def write(bin_name: str, value: Any) -> Op:
    return Op(OpType.WRITE, bin_name, value)


def increment(bin_name: str, delta: int | float) -> Op:
    return Op(OpType.INCR, bin_name, delta)


def append(bin_name: str, value: str | bytes) -> Op:
    return Op(OpType.APPEND, bin_name, value)


def prepend(bin_name: str, value: str | bytes) -> Op:
    return Op(OpType.PREPEND, bin_name, value)


def touch() -> Op:
    return Op(OpType.TOUCH)


def delete() -> Op:
    return Op(OpType.DELETE)


def list_append(bin_name: str, value: Any) -> Op:
    return Op(OpType.LIST_APPEND, bin_name, value)


def list_append_items(bin_name: str, values: list[Any]) -> Op:
    return Op(OpType.LIST_APPEND_ITEMS, bin_name, list(values))


def list_insert(bin_name: str, index: int, value: Any) -> Op:
    return Op(OpType.LIST_INSERT, bin_name, value, index=index)


def list_set(bin_name: str, index: int, value: Any) -> Op:
    return Op(OpType.LIST_SET, bin_name, value, index=index)


def list_get(bin_name: str, index: int) -> Op:
    return Op(OpType.LIST_GET, bin_name, index=index)


def list_get_range(bin_name: str, index: int, count: int | None = None) -> Op:
    return Op(OpType.LIST_GET_RANGE, bin_name, index=index, count=count)


def list_pop(bin_name: str, index: int) -> Op:
    return Op(OpType.LIST_POP, bin_name, index=index)


def list_remove(bin_name: str, index: int, count: int | None = None) -> Op:
    return Op(OpType.LIST_REMOVE, bin_name, index=index, count=count)


def list_size(bin_name: str) -> Op:
    return Op(OpType.LIST_SIZE, bin_name)


def list_clear(bin_name: str) -> Op:
    return Op(OpType.LIST_CLEAR, bin_name)


def map_put(bin_name: str, key: Any, value: Any) -> Op:
    return Op(OpType.MAP_PUT, bin_name, value, map_key=key)


def map_put_items(bin_name: str, items: dict[Any, Any]) -> Op:
    return Op(OpType.MAP_PUT_ITEMS, bin_name, dict(items))


def map_get_by_key(bin_name: str, key: Any) -> Op:
    return Op(OpType.MAP_GET_BY_KEY, bin_name, map_key=key)


def map_remove_by_key(bin_name: str, key: Any) -> Op:
    return Op(OpType.MAP_REMOVE_BY_KEY, bin_name, map_key=key)


def map_increment(bin_name: str, key: Any, delta: int | float) -> Op:
    return Op(OpType.MAP_INCREMENT, bin_name, delta, map_key=key)


def map_size(bin_name: str) -> Op:
    return Op(OpType.MAP_SIZE, bin_name)


def map_clear(bin_name: str) -> Op:
    return Op(OpType.MAP_CLEAR, bin_name)
