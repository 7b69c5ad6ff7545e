"""Filter expressions (Aerospike Expressions): parsing, type checking and evaluation.

``parse(msg)`` turns a ``raftstore.v1.Expression`` (``proto/raftstore/v1/exp.proto``)
into an immutable tree once, when a request arrives and again when a replica decodes its
log entry; ``selects(tree, subject)`` evaluates it against one record, or against the
absence of one. Both are pure: evaluation reads time only from ``Subject.now_ms`` (the
entry's time) and is deterministic on every replica.

Static typing (checked by ``parse``; every failure is ParameterError, result code 4, with
a message naming the node): every node has a type; a filter must be boolean; comparison
and arithmetic arguments share one type (int and float never mix implicitly); operators
have a fixed arity; BIN_EXISTS/BIN_TYPE take a bin-name literal and DIGEST_MODULO a
positive int literal. A tree deeper than ``MAX_DEPTH`` or with more than ``MAX_NODES``
nodes is refused before it is walked further.

Evaluation is three-valued, as Aerospike's: a typed bin read that finds no bin, or a bin
of another type (a bool is not an int), or a record that does not exist, yields
``UNKNOWN``; so do the time metadata of a record that does not exist, division or modulo
by zero and ``to_int`` of NaN, an infinity or a float outside int64. Unknown propagates
through comparisons and arithmetic; AND is false when any argument is false, OR true when
any is true, otherwise unknown. A record is selected only when its filter is ``True``.
Integer arithmetic wraps at 64 bits (two's complement); DIV truncates towards zero and MOD
takes the sign of the dividend, like C.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeAlias

from raftstore.errors import ParameterError
from raftstore.keys import INT64_MAX, INT64_MIN, Key
from raftstore.records import NEVER_EXPIRES, Record, ttl_seconds
from raftstore.v1 import exp_pb2 as pb

MAX_DEPTH = 32
MAX_NODES = 256
MAX_BIN_NAME_BYTES = 15


class ExpType(IntEnum):
    """Static type of an expression (``raftstore.v1.ExpType``)."""

    NIL = pb.EXP_TYPE_NIL
    BOOL = pb.EXP_TYPE_BOOL
    INT = pb.EXP_TYPE_INT
    FLOAT = pb.EXP_TYPE_FLOAT
    STRING = pb.EXP_TYPE_STRING
    BYTES = pb.EXP_TYPE_BYTES
    LIST = pb.EXP_TYPE_LIST
    MAP = pb.EXP_TYPE_MAP


class MetaField(IntEnum):
    """Record metadata an expression can read (``raftstore.v1.MetaField``)."""

    TTL = pb.META_FIELD_TTL
    VOID_TIME = pb.META_FIELD_VOID_TIME
    LAST_UPDATE = pb.META_FIELD_LAST_UPDATE
    SINCE_UPDATE = pb.META_FIELD_SINCE_UPDATE
    SET_NAME = pb.META_FIELD_SET_NAME
    GENERATION = pb.META_FIELD_GENERATION
    KEY_EXISTS = pb.META_FIELD_KEY_EXISTS
    RECORD_EXISTS = pb.META_FIELD_RECORD_EXISTS


class ExpOp(IntEnum):
    """Operators of call nodes (``raftstore.v1.ExpOp``)."""

    EQ = pb.EXP_OP_EQ
    NE = pb.EXP_OP_NE
    LT = pb.EXP_OP_LT
    LE = pb.EXP_OP_LE
    GT = pb.EXP_OP_GT
    GE = pb.EXP_OP_GE
    AND = pb.EXP_OP_AND
    OR = pb.EXP_OP_OR
    NOT = pb.EXP_OP_NOT
    ADD = pb.EXP_OP_ADD
    SUB = pb.EXP_OP_SUB
    MUL = pb.EXP_OP_MUL
    DIV = pb.EXP_OP_DIV
    MOD = pb.EXP_OP_MOD
    ABS = pb.EXP_OP_ABS
    TO_INT = pb.EXP_OP_TO_INT
    TO_FLOAT = pb.EXP_OP_TO_FLOAT
    LIST_SIZE = pb.EXP_OP_LIST_SIZE
    MAP_SIZE = pb.EXP_OP_MAP_SIZE
    BIN_EXISTS = pb.EXP_OP_BIN_EXISTS
    BIN_TYPE = pb.EXP_OP_BIN_TYPE
    DIGEST_MODULO = pb.EXP_OP_DIGEST_MODULO


class _Unknown:
    """The third truth value: the expression could not be evaluated for this record."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

# --- the tree -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any  # None, bool, int, float, str or bytes
    type: ExpType


@dataclass(frozen=True, slots=True)
class BinRead:
    name: str
    type: ExpType


@dataclass(frozen=True, slots=True)
class MetaRead:
    field: MetaField

    @property
    def type(self) -> ExpType:
        return _META_TYPES[self.field]


@dataclass(frozen=True, slots=True)
class Call:
    op: ExpOp
    args: tuple[Node, ...]
    type: ExpType


Node: TypeAlias = Literal | BinRead | MetaRead | Call


@dataclass(frozen=True, slots=True)
class Subject:
    """What a filter is evaluated against: the live record under ``key`` (None when
    there is none) at the entry's time ``now_ms``."""

    record: Record | None
    key: Key
    now_ms: int


_META_TYPES = {
    MetaField.TTL: ExpType.INT,
    MetaField.VOID_TIME: ExpType.INT,
    MetaField.LAST_UPDATE: ExpType.INT,
    MetaField.SINCE_UPDATE: ExpType.INT,
    MetaField.SET_NAME: ExpType.STRING,
    MetaField.GENERATION: ExpType.INT,
    MetaField.KEY_EXISTS: ExpType.BOOL,
    MetaField.RECORD_EXISTS: ExpType.BOOL,
}
_VALUE_TYPES: dict[type, ExpType] = {
    type(None): ExpType.NIL,
    bool: ExpType.BOOL,
    int: ExpType.INT,
    float: ExpType.FLOAT,
    str: ExpType.STRING,
    bytes: ExpType.BYTES,
    list: ExpType.LIST,
    dict: ExpType.MAP,
}
# Aerospike's particle types, answered by BIN_TYPE (0: no such bin).
PARTICLE_TYPES = {
    ExpType.INT: 1,
    ExpType.FLOAT: 2,
    ExpType.STRING: 3,
    ExpType.BYTES: 4,
    ExpType.BOOL: 17,
    ExpType.MAP: 19,
    ExpType.LIST: 20,
}
_LITERAL_KINDS = {
    "nil_value": ExpType.NIL,
    "int_value": ExpType.INT,
    "float_value": ExpType.FLOAT,
    "string_value": ExpType.STRING,
    "bytes_value": ExpType.BYTES,
    "bool_value": ExpType.BOOL,
}


def value_type(value: object) -> ExpType | None:
    """The expression type of a stored bin value (None for anything else)."""
    return _VALUE_TYPES.get(type(value))


# --- parsing and type checking --------------------------------------------------------


def parse_filter(msg: pb.Expression) -> Node:
    """``parse`` a filter: the expression must be boolean. Raises ParameterError."""
    node = parse(msg)
    if node.type is not ExpType.BOOL:
        raise ParameterError(f"a filter must be a boolean expression, not {node.type.name}")
    return node


def parse(msg: pb.Expression) -> Node:
    """The checked tree of ``msg``; ParameterError (with the reason) when it is malformed."""
    if not isinstance(msg, pb.Expression):
        raise ParameterError("an expression must be a raftstore.v1.Expression message")
    return _Parser().node(msg, 1)


class _Parser:
    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes = 0

    def node(self, msg: pb.Expression, depth: int) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ParameterError(f"expression has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise ParameterError(f"expression is nested deeper than {MAX_DEPTH} levels")
        kind = msg.WhichOneof("kind")
        if kind is None:
            raise ParameterError("expression node has no kind set")
        if kind in _LITERAL_KINDS:
            value = None if kind == "nil_value" else getattr(msg, kind)
            return Literal(value, _LITERAL_KINDS[kind])
        if kind == "bin":
            return BinRead(_bin_name(msg.bin.name), _enum(ExpType, msg.bin.type, "bin type"))
        if kind == "meta":
            return MetaRead(_enum(MetaField, msg.meta.field, "metadata field"))
        op = _enum(ExpOp, msg.call.op, "operator")
        args = tuple(self.node(a, depth + 1) for a in msg.call.args)
        return Call(op, args, _check_call(op, args))


def _enum(cls: type[IntEnum], number: int, what: str) -> Any:
    try:
        return cls(number)
    except ValueError:
        raise ParameterError(f"unknown expression {what} {number}") from None


def _bin_name(name: str) -> str:
    if not name or len(name.encode("utf-8", "surrogatepass")) > MAX_BIN_NAME_BYTES:
        raise ParameterError(
            f"expression bin name {name!r} must be 1 to {MAX_BIN_NAME_BYTES} bytes"
        )
    return name


_ORDERED = frozenset({ExpType.INT, ExpType.FLOAT, ExpType.STRING, ExpType.BYTES})
_NUMBERS = frozenset({ExpType.INT, ExpType.FLOAT})
_ARITY: dict[ExpOp, tuple[int, int | None]] = {
    **{op: (2, 2) for op in (ExpOp.EQ, ExpOp.NE, ExpOp.LT, ExpOp.LE, ExpOp.GT, ExpOp.GE)},
    **{op: (2, None) for op in (ExpOp.AND, ExpOp.OR, ExpOp.ADD, ExpOp.SUB, ExpOp.MUL)},
    ExpOp.DIV: (2, None),
    ExpOp.MOD: (2, 2),
    **{
        op: (1, 1)
        for op in (
            ExpOp.NOT,
            ExpOp.ABS,
            ExpOp.TO_INT,
            ExpOp.TO_FLOAT,
            ExpOp.LIST_SIZE,
            ExpOp.MAP_SIZE,
            ExpOp.BIN_EXISTS,
            ExpOp.BIN_TYPE,
            ExpOp.DIGEST_MODULO,
        )
    },
}


def _check_call(op: ExpOp, args: tuple[Node, ...]) -> ExpType:
    """The result type of ``op`` applied to ``args``; ParameterError when ill-typed."""
    low, high = _ARITY[op]
    if len(args) < low or (high is not None and len(args) > high):
        wanted = f"{low}" if low == high else f"at least {low}"
        raise ParameterError(f"{op.name} takes {wanted} arguments, not {len(args)}")
    types = [a.type for a in args]
    return _TYPE_RULES[op](op, args, types)


def _type_error(op: ExpOp, types: list[ExpType], wanted: str) -> ParameterError:
    got = ", ".join(t.name for t in types)
    return ParameterError(f"{op.name} takes {wanted}, not ({got})")


def _equality(op: ExpOp, args: tuple[Node, ...], types: list[ExpType]) -> ExpType:
    a, b = types
    if ExpType.LIST in types or ExpType.MAP in types:
        raise _type_error(op, types, "scalars (compare LIST_SIZE or MAP_SIZE of a collection)")
    if a != b and ExpType.NIL not in types:
        raise _type_error(op, types, "two arguments of one type")
    return ExpType.BOOL


def _ordering(op: ExpOp, args: tuple[Node, ...], types: list[ExpType]) -> ExpType:
    if types[0] != types[1] or types[0] not in _ORDERED:
        raise _type_error(op, types, "two ints, floats, strings or bytes")
    return ExpType.BOOL


def _logic(op: ExpOp, args: tuple[Node, ...], types: list[ExpType]) -> ExpType:
    if any(t is not ExpType.BOOL for t in types):
        raise _type_error(op, types, "booleans")
    return ExpType.BOOL


def _arithmetic(op: ExpOp, args: tuple[Node, ...], types: list[ExpType]) -> ExpType:
    if types[0] not in _NUMBERS or any(t != types[0] for t in types):
        raise _type_error(op, types, "all ints or all floats")
    return types[0]


def _typed(wanted: ExpType, result: ExpType) -> Callable[..., ExpType]:
    def rule(op: ExpOp, args: tuple[Node, ...], types: list[ExpType]) -> ExpType:
        if types[0] is not wanted:
            raise _type_error(op, types, f"a {wanted.name}")
        return result

    return rule


def _bin_name_literal(result: ExpType) -> Callable[..., ExpType]:
    def rule(op: ExpOp, args: tuple[Node, ...], types: list[ExpType]) -> ExpType:
        arg = args[0]
        if not isinstance(arg, Literal) or arg.type is not ExpType.STRING:
            raise _type_error(op, types, "a bin name (a string literal)")
        _bin_name(arg.value)
        return result

    return rule


def _modulo_literal(op: ExpOp, args: tuple[Node, ...], types: list[ExpType]) -> ExpType:
    arg = args[0]
    if not isinstance(arg, Literal) or arg.type is not ExpType.INT or arg.value <= 0:
        raise _type_error(op, types, "an int literal > 0")
    return ExpType.INT


_TYPE_RULES: dict[ExpOp, Callable[[ExpOp, tuple[Node, ...], list[ExpType]], ExpType]] = {
    ExpOp.EQ: _equality,
    ExpOp.NE: _equality,
    **{op: _ordering for op in (ExpOp.LT, ExpOp.LE, ExpOp.GT, ExpOp.GE)},
    **{op: _logic for op in (ExpOp.AND, ExpOp.OR, ExpOp.NOT)},
    **{op: _arithmetic for op in (ExpOp.ADD, ExpOp.SUB, ExpOp.MUL, ExpOp.DIV, ExpOp.ABS)},
    ExpOp.MOD: _typed(ExpType.INT, ExpType.INT),
    ExpOp.TO_INT: _typed(ExpType.FLOAT, ExpType.INT),
    ExpOp.TO_FLOAT: _typed(ExpType.INT, ExpType.FLOAT),
    ExpOp.LIST_SIZE: _typed(ExpType.LIST, ExpType.INT),
    ExpOp.MAP_SIZE: _typed(ExpType.MAP, ExpType.INT),
    ExpOp.BIN_EXISTS: _bin_name_literal(ExpType.BOOL),
    ExpOp.BIN_TYPE: _bin_name_literal(ExpType.INT),
    ExpOp.DIGEST_MODULO: _modulo_literal,
}
for _op in ExpOp:  # every operator has an arity and a type rule
    assert _op in _ARITY and _op in _TYPE_RULES, _op


# --- serialising ----------------------------------------------------------------------


def to_pb(node: Node, out: pb.Expression | None = None) -> pb.Expression:
    """The message of a parsed tree (``parse(to_pb(t)) == t``)."""
    msg = out if out is not None else pb.Expression()
    if isinstance(node, Literal):
        kind = next(k for k, t in _LITERAL_KINDS.items() if t is node.type)
        setattr(msg, kind, 0 if node.value is None else node.value)
    elif isinstance(node, BinRead):
        msg.bin.name = node.name
        msg.bin.type = int(node.type)
    elif isinstance(node, MetaRead):
        msg.meta.field = int(node.field)
    else:
        msg.call.op = int(node.op)
        for arg in node.args:
            to_pb(arg, msg.call.args.add())
    return msg


# --- evaluation -----------------------------------------------------------------------


def selects(node: Node, subject: Subject) -> bool:
    """True when the filter ``node`` is true for ``subject`` (false and unknown: not)."""
    return evaluate(node, subject) is True


def evaluate(node: Node, subject: Subject) -> Any:
    """The value of ``node`` for ``subject``, or UNKNOWN."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, BinRead):
        return _read_bin(node, subject.record)
    if isinstance(node, MetaRead):
        return _META[node.field](subject)
    return _CALLS[node.op](node, subject)


def _read_bin(node: BinRead, record: Record | None) -> Any:
    if record is None or node.name not in record.bins:
        return UNKNOWN
    value = record.bins[node.name]
    return value if value_type(value) is node.type else UNKNOWN


def _ttl(s: Subject) -> Any:
    return UNKNOWN if s.record is None else ttl_seconds(s.record, s.now_ms)


def _void_time(s: Subject) -> Any:
    if s.record is None:
        return UNKNOWN
    return -1 if s.record.void_time_ms == NEVER_EXPIRES else s.record.void_time_ms


_META: dict[MetaField, Callable[[Subject], Any]] = {
    MetaField.TTL: _ttl,
    MetaField.VOID_TIME: _void_time,
    MetaField.LAST_UPDATE: lambda s: UNKNOWN if s.record is None else s.record.last_update_ms,
    MetaField.SINCE_UPDATE: lambda s: (
        UNKNOWN if s.record is None else s.now_ms - s.record.last_update_ms
    ),
    MetaField.SET_NAME: lambda s: s.key.set_name,
    MetaField.GENERATION: lambda s: 0 if s.record is None else s.record.generation,
    MetaField.KEY_EXISTS: lambda s: s.record is not None and s.record.user_key is not None,
    MetaField.RECORD_EXISTS: lambda s: s.record is not None,
}


def _values(node: Call, subject: Subject) -> list[Any] | None:
    """Every argument's value, or None as soon as one is unknown."""
    out = []
    for arg in node.args:
        value = evaluate(arg, subject)
        if value is UNKNOWN:
            return None
        out.append(value)
    return out


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Call, Subject], Any]:
    def run(node: Call, subject: Subject) -> Any:
        values = _values(node, subject)
        return UNKNOWN if values is None else test(values[0], values[1])

    return run


def _eq(a: Any, b: Any) -> bool:
    # NIL compares equal only to NIL; True == 1 must not hold across types.
    return type(a) is type(b) and a == b


def _and(node: Call, subject: Subject) -> Any:
    unknown = False
    for arg in node.args:
        value = evaluate(arg, subject)
        if value is False:
            return False
        unknown = unknown or value is UNKNOWN
    return UNKNOWN if unknown else True


def _or(node: Call, subject: Subject) -> Any:
    unknown = False
    for arg in node.args:
        value = evaluate(arg, subject)
        if value is True:
            return True
        unknown = unknown or value is UNKNOWN
    return UNKNOWN if unknown else False


def _not(node: Call, subject: Subject) -> Any:
    value = evaluate(node.args[0], subject)
    return UNKNOWN if value is UNKNOWN else not value


def wrap_int64(value: int) -> int:
    """``value`` reduced to int64 with two's-complement wrap-around."""
    return (value - INT64_MIN) % 2**64 + INT64_MIN


def trunc_div(a: int, b: int) -> int:
    """Integer division truncating towards zero (C's ``/``); b != 0."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _int_div(a: int, b: int) -> Any:
    return UNKNOWN if b == 0 else wrap_int64(trunc_div(a, b))


def _float_div(a: float, b: float) -> Any:
    return UNKNOWN if b == 0 else a / b


def _fold(int_step: Callable[[int, int], Any], float_step: Callable[[float, float], Any]) -> Any:
    def run(node: Call, subject: Subject) -> Any:
        values = _values(node, subject)
        if values is None:
            return UNKNOWN
        step = int_step if node.type is ExpType.INT else float_step
        result = values[0]
        for value in values[1:]:
            result = step(result, value)
            if result is UNKNOWN:
                return UNKNOWN
        return result

    return run


def _mod(a: int, b: int) -> Any:
    return UNKNOWN if b == 0 else wrap_int64(a - b * trunc_div(a, b))


def _unary(fn: Callable[[Any], Any]) -> Callable[[Call, Subject], Any]:
    def run(node: Call, subject: Subject) -> Any:
        value = evaluate(node.args[0], subject)
        return UNKNOWN if value is UNKNOWN else fn(value)

    return run


def _abs(value: Any) -> Any:
    return wrap_int64(abs(value)) if isinstance(value, int) else abs(value)


def _to_int(value: float) -> Any:
    if not math.isfinite(value):
        return UNKNOWN
    result = int(value)
    return result if INT64_MIN <= result <= INT64_MAX else UNKNOWN


def _bin_literal_name(node: Call) -> str:
    arg = node.args[0]
    assert isinstance(arg, Literal)
    return arg.value


def _bin_exists(node: Call, subject: Subject) -> bool:
    record = subject.record
    return record is not None and _bin_literal_name(node) in record.bins


def _bin_type(node: Call, subject: Subject) -> int:
    record = subject.record
    name = _bin_literal_name(node)
    if record is None or name not in record.bins:
        return 0
    kind = value_type(record.bins[name])
    return 0 if kind is None else PARTICLE_TYPES.get(kind, 0)


def _digest_modulo(node: Call, subject: Subject) -> int:
    arg = node.args[0]
    assert isinstance(arg, Literal)
    return int.from_bytes(subject.key.digest[8:12], "little") % arg.value


_CALLS: dict[ExpOp, Callable[[Call, Subject], Any]] = {
    ExpOp.EQ: _compare(_eq),
    ExpOp.NE: _compare(lambda a, b: not _eq(a, b)),
    ExpOp.LT: _compare(lambda a, b: a < b),
    ExpOp.LE: _compare(lambda a, b: a <= b),
    ExpOp.GT: _compare(lambda a, b: a > b),
    ExpOp.GE: _compare(lambda a, b: a >= b),
    ExpOp.AND: _and,
    ExpOp.OR: _or,
    ExpOp.NOT: _not,
    ExpOp.ADD: _fold(lambda a, b: wrap_int64(a + b), lambda a, b: a + b),
    ExpOp.SUB: _fold(lambda a, b: wrap_int64(a - b), lambda a, b: a - b),
    ExpOp.MUL: _fold(lambda a, b: wrap_int64(a * b), lambda a, b: a * b),
    ExpOp.DIV: _fold(_int_div, _float_div),
    ExpOp.MOD: _fold(_mod, _mod),
    ExpOp.ABS: _unary(_abs),
    ExpOp.TO_INT: _unary(_to_int),
    ExpOp.TO_FLOAT: _unary(float),
    ExpOp.LIST_SIZE: _unary(len),
    ExpOp.MAP_SIZE: _unary(len),
    ExpOp.BIN_EXISTS: _bin_exists,
    ExpOp.BIN_TYPE: _bin_type,
    ExpOp.DIGEST_MODULO: _digest_modulo,
}
