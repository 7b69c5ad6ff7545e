"""Filter expressions, built in Python (Aerospike Expressions)::

    from raftstore_client import exp

    adult = exp.ge(exp.int_bin("age"), 21)
    client.get(key, filter=adult)                      # FilteredOut (27) if not selected
    client.put(key, {"tier": "gold"}, filter=exp.and_(adult, exp.lt(exp.ttl(), 3600)))

Every function returns a ``raftstore.v1.Expression`` message (``proto/raftstore/v1/
exp.proto``), the format any language sends; Python values (None, bool, int, float, str,
bytes) are accepted wherever an expression is and become literals. The server checks the
tree (types, arity, at most 32 levels and 256 nodes) and answers ParameterError (4) when
it is malformed.

Typed: ``int_bin("a")`` is the bin's value only when it holds an int; a missing bin or one
of another type makes the filter *unknown*, and a record whose filter is not true is
filtered out. Comparisons and arithmetic need arguments of one type — ``to_float`` /
``to_int`` convert. Times are unix milliseconds (``ttl`` is seconds; -1: never expires).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2

from raftstore.errors import ParameterError
from raftstore.keys import INT64_MAX, INT64_MIN
from raftstore.v1 import exp_pb2 as pb

Expression = pb.Expression

__all__ = [
    "Expression",
    "abs_",
    "add",
    "and_",
    "bin_exists",
    "bin_type",
    "bool_bin",
    "bytes_bin",
    "digest_modulo",
    "div",
    "eq",
    "float_bin",
    "ge",
    "generation",
    "gt",
    "int_bin",
    "key_exists",
    "last_update",
    "le",
    "list_bin",
    "list_size",
    "lt",
    "map_bin",
    "map_size",
    "mod",
    "mul",
    "ne",
    "not_",
    "or_",
    "record_exists",
    "set_name",
    "since_update",
    "string_bin",
    "sub",
    "to_float",
    "to_int",
    "ttl",
    "val",
    "void_time",
]

# --- literals and reads ---------------------------------------------------------------


def val(value: Any) -> Expression:
    """A literal: None, bool, int (int64), float, str or bytes."""
    msg = Expression()
    if value is None:
        msg.nil_value = struct_pb2.NULL_VALUE
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
    elif isinstance(value, (bytes, bytearray)):
        msg.bytes_value = bytes(value)
    else:
        raise ParameterError(f"an expression literal cannot be a {type(value).__name__}")
    return msg


def _arg(value: Any) -> Expression:
    return value if isinstance(value, Expression) else val(value)


def _bin(name: str, kind: int) -> Expression:
    msg = Expression()
    msg.bin.name = name
    msg.bin.type = kind
    return msg


def int_bin(name: str) -> Expression:
    return _bin(name, pb.EXP_TYPE_INT)


def float_bin(name: str) -> Expression:
    return _bin(name, pb.EXP_TYPE_FLOAT)


def string_bin(name: str) -> Expression:
    return _bin(name, pb.EXP_TYPE_STRING)


def bytes_bin(name: str) -> Expression:
    return _bin(name, pb.EXP_TYPE_BYTES)


def bool_bin(name: str) -> Expression:
    return _bin(name, pb.EXP_TYPE_BOOL)


def list_bin(name: str) -> Expression:
    return _bin(name, pb.EXP_TYPE_LIST)


def map_bin(name: str) -> Expression:
    return _bin(name, pb.EXP_TYPE_MAP)


def _meta(field: int) -> Expression:
    msg = Expression()
    msg.meta.field = field
    return msg


def ttl() -> Expression:
    """Seconds until the record expires; -1 when it never does."""
    return _meta(pb.META_FIELD_TTL)


def void_time() -> Expression:
    """Unix ms at which the record expires; -1 when it never does."""
    return _meta(pb.META_FIELD_VOID_TIME)


def last_update() -> Expression:
    """Unix ms of the record's last write."""
    return _meta(pb.META_FIELD_LAST_UPDATE)


def since_update() -> Expression:
    """Milliseconds since the record's last write."""
    return _meta(pb.META_FIELD_SINCE_UPDATE)


def set_name() -> Expression:
    return _meta(pb.META_FIELD_SET_NAME)


def generation() -> Expression:
    """The record's generation; 0 when it does not exist."""
    return _meta(pb.META_FIELD_GENERATION)


def key_exists() -> Expression:
    """True when the user key is stored with the record (written with send_key)."""
    return _meta(pb.META_FIELD_KEY_EXISTS)


def record_exists() -> Expression:
    """True when the record exists (``not_(record_exists())``: create only)."""
    return _meta(pb.META_FIELD_RECORD_EXISTS)


# --- calls ----------------------------------------------------------------------------


def _call(op: int, *args: Any) -> Expression:
    msg = Expression()
    msg.call.op = op
    for arg in args:
        msg.call.args.add().CopyFrom(_arg(arg))
    return msg


def eq(a: Any, b: Any) -> Expression:
    return _call(pb.EXP_OP_EQ, a, b)


def ne(a: Any, b: Any) -> Expression:
    return _call(pb.EXP_OP_NE, a, b)


def lt(a: Any, b: Any) -> Expression:
    return _call(pb.EXP_OP_LT, a, b)


def le(a: Any, b: Any) -> Expression:
    return _call(pb.EXP_OP_LE, a, b)


def gt(a: Any, b: Any) -> Expression:
    return _call(pb.EXP_OP_GT, a, b)


def ge(a: Any, b: Any) -> Expression:
    return _call(pb.EXP_OP_GE, a, b)


def and_(*exps: Any) -> Expression:
    return _call(pb.EXP_OP_AND, *exps)


def or_(*exps: Any) -> Expression:
    return _call(pb.EXP_OP_OR, *exps)


def not_(e: Any) -> Expression:
    return _call(pb.EXP_OP_NOT, e)


def add(*exps: Any) -> Expression:
    return _call(pb.EXP_OP_ADD, *exps)


def sub(*exps: Any) -> Expression:
    return _call(pb.EXP_OP_SUB, *exps)


def mul(*exps: Any) -> Expression:
    return _call(pb.EXP_OP_MUL, *exps)


def div(*exps: Any) -> Expression:
    """Division; ints truncate towards zero; by zero: unknown."""
    return _call(pb.EXP_OP_DIV, *exps)


def mod(a: Any, b: Any) -> Expression:
    """Remainder of ints, with the sign of ``a``; by zero: unknown."""
    return _call(pb.EXP_OP_MOD, a, b)


def abs_(e: Any) -> Expression:
    return _call(pb.EXP_OP_ABS, e)


def to_int(e: Any) -> Expression:
    return _call(pb.EXP_OP_TO_INT, e)


def to_float(e: Any) -> Expression:
    return _call(pb.EXP_OP_TO_FLOAT, e)


def list_size(e: Expression | str) -> Expression:
    """Items of a list expression (a str names a list bin)."""
    return _call(pb.EXP_OP_LIST_SIZE, list_bin(e) if isinstance(e, str) else e)


def map_size(e: Expression | str) -> Expression:
    """Entries of a map expression (a str names a map bin)."""
    return _call(pb.EXP_OP_MAP_SIZE, map_bin(e) if isinstance(e, str) else e)


def bin_exists(name: str) -> Expression:
    return _call(pb.EXP_OP_BIN_EXISTS, name)


def bin_type(name: str) -> Expression:
    """Aerospike's particle type of the bin: 0 none, 1 int, 2 float, 3 string, 4 bytes,
    17 bool, 19 map, 20 list."""
    return _call(pb.EXP_OP_BIN_TYPE, name)


def digest_modulo(n: int) -> Expression:
    """The record digest's bytes 8..11 (little-endian) modulo ``n`` (> 0): a sample."""
    return _call(pb.EXP_OP_DIGEST_MODULO, n)
