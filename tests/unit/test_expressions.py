"""Filter expressions: the checks ``parse`` makes, and evaluation against records (pure)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from raftstore_client import exp

from raftstore.errors import ParameterError
from raftstore.expressions import (
    MAX_DEPTH,
    MAX_NODES,
    UNKNOWN,
    ExpType,
    Subject,
    evaluate,
    parse,
    parse_filter,
    selects,
    to_pb,
    wrap_int64,
)
from raftstore.keys import INT64_MAX, INT64_MIN, Key
from raftstore.records import Record
from raftstore.v1 import exp_pb2 as pb

KEY = Key.of("test", "users", "alice")
NOW = 1_000_000
RECORD = Record(
    bins={"age": 30, "score": 2.5, "name": "alice", "raw": b"\x01", "ok": True,
          "tags": [1, 2, 3], "prefs": {"a": 1}},
    generation=4,
    void_time_ms=NOW + 90_500,
    last_update_ms=NOW - 2_000,
    set_name="users",
    user_key="alice",
)  # fmt: skip


def value(e: pb.Expression, record: Record | None = RECORD) -> object:
    return evaluate(parse(e), Subject(record, KEY, NOW))


def passes(e: pb.Expression, record: Record | None = RECORD) -> bool:
    return selects(parse_filter(e), Subject(record, KEY, NOW))


# --- typed bins and unknown -----------------------------------------------------------


def test_a_typed_bin_read_returns_the_value_only_for_its_own_type() -> None:
    assert value(exp.int_bin("age")) == 30
    assert value(exp.float_bin("score")) == 2.5
    assert value(exp.string_bin("name")) == "alice"
    assert value(exp.bytes_bin("raw")) == b"\x01"
    assert value(exp.bool_bin("ok")) is True
    assert value(exp.list_bin("tags")) == [1, 2, 3]
    assert value(exp.map_bin("prefs")) == {"a": 1}
    assert value(exp.float_bin("age")) is UNKNOWN
    assert value(exp.int_bin("ok")) is UNKNOWN  # a bool is not an int
    assert value(exp.int_bin("missing")) is UNKNOWN
    assert value(exp.int_bin("age"), record=None) is UNKNOWN


def test_an_unknown_filter_does_not_select_the_record() -> None:
    assert passes(exp.ge(exp.int_bin("age"), 21))
    assert not passes(exp.ge(exp.int_bin("missing"), 21))
    assert not passes(exp.not_(exp.ge(exp.int_bin("missing"), 21)))  # not unknown = unknown
    assert not passes(exp.eq(exp.string_bin("age"), "30"))


def test_and_or_follow_three_valued_logic() -> None:
    unknown = exp.eq(exp.int_bin("missing"), 1)
    true, false = exp.val(True), exp.val(False)
    assert value(exp.and_(unknown, false)) is False
    assert value(exp.and_(unknown, true)) is UNKNOWN
    assert value(exp.or_(unknown, true)) is True
    assert value(exp.or_(unknown, false)) is UNKNOWN
    assert value(exp.and_(true, true, true)) is True
    assert value(exp.or_(false, false)) is False


# --- metadata -------------------------------------------------------------------------


def test_metadata_of_a_record_uses_the_given_time() -> None:
    assert value(exp.ttl()) == 91  # 90.5 s left, rounded up
    assert value(exp.void_time()) == NOW + 90_500
    assert value(exp.last_update()) == NOW - 2_000
    assert value(exp.since_update()) == 2_000
    assert value(exp.set_name()) == "users"
    assert value(exp.generation()) == 4
    assert value(exp.key_exists()) is True
    assert value(exp.record_exists()) is True
    forever = Record({"a": 1}, void_time_ms=0)
    assert value(exp.ttl(), forever) == -1
    assert value(exp.void_time(), forever) == -1
    assert value(exp.key_exists(), forever) is False


def test_metadata_of_an_absent_record() -> None:
    for e in (exp.ttl(), exp.void_time(), exp.last_update(), exp.since_update()):
        assert value(e, None) is UNKNOWN
    assert value(exp.generation(), None) == 0
    assert value(exp.record_exists(), None) is False
    assert value(exp.key_exists(), None) is False
    assert value(exp.set_name(), None) == "users"  # from the key
    assert value(exp.bin_exists("age"), None) is False
    assert value(exp.bin_type("age"), None) == 0


def test_bin_exists_bin_type_sizes_and_digest_modulo() -> None:
    assert value(exp.bin_exists("age")) is True
    assert value(exp.bin_exists("nope")) is False
    types = {n: value(exp.bin_type(n)) for n in RECORD.bins}
    assert types == {"age": 1, "score": 2, "name": 3, "raw": 4, "ok": 17, "tags": 20, "prefs": 19}
    assert value(exp.bin_type("nope")) == 0
    assert value(exp.list_size("tags")) == 3
    assert value(exp.map_size(exp.map_bin("prefs"))) == 1
    assert value(exp.list_size("prefs")) is UNKNOWN
    expected = int.from_bytes(KEY.digest[8:12], "little") % 7
    assert value(exp.digest_modulo(7)) == expected


# --- arithmetic -----------------------------------------------------------------------


def test_integer_arithmetic_wraps_truncates_and_is_unknown_on_zero_division() -> None:
    assert value(exp.add(exp.int_bin("age"), 12, 1)) == 43
    assert value(exp.sub(10, 3, 2)) == 5
    assert value(exp.mul(INT64_MAX, 2)) == -2  # wraps
    assert value(exp.add(INT64_MAX, 1)) == INT64_MIN
    assert value(exp.div(-7, 2)) == -3  # towards zero
    assert value(exp.mod(-7, 2)) == -1  # sign of the dividend
    assert value(exp.div(INT64_MIN, -1)) == INT64_MIN  # wraps
    assert value(exp.abs_(INT64_MIN)) == INT64_MIN
    assert value(exp.div(1, 0)) is UNKNOWN
    assert value(exp.mod(1, 0)) is UNKNOWN


def test_float_arithmetic_and_conversions() -> None:
    assert value(exp.mul(exp.float_bin("score"), 2.0)) == 5.0
    assert value(exp.div(1.0, 0.0)) is UNKNOWN
    assert value(exp.abs_(-1.5)) == 1.5
    assert value(exp.to_int(-2.9)) == -2
    assert value(exp.to_int(math.nan)) is UNKNOWN
    assert value(exp.to_int(1e300)) is UNKNOWN
    assert value(exp.to_float(exp.int_bin("age"))) == 30.0
    assert passes(exp.gt(exp.to_float(exp.int_bin("age")), exp.float_bin("score")))


# --- properties -----------------------------------------------------------------------

ints = st.integers(INT64_MIN, INT64_MAX)
COMPARISONS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _same_type_pairs() -> st.SearchStrategy[tuple[object, object]]:
    return st.one_of(
        st.tuples(ints, ints),
        st.tuples(st.floats(allow_nan=True), st.floats(allow_nan=True)),
        st.tuples(st.text(), st.text()),
        st.tuples(st.binary(), st.binary()),
    )


@given(pair=_same_type_pairs(), name=st.sampled_from(sorted(COMPARISONS)))
def test_comparisons_agree_with_python(pair: tuple[object, object], name: str) -> None:
    a, b = pair
    record = Record({"a": a, "b": b})
    read = {int: exp.int_bin, float: exp.float_bin, str: exp.string_bin, bytes: exp.bytes_bin}
    bin_read = read[type(a)]
    e = getattr(exp, name)(bin_read("a"), bin_read("b"))
    assert value(e, record) is COMPARISONS[name](a, b)
    assert value(getattr(exp, name)(a, b)) is COMPARISONS[name](a, b)  # literals alike


@given(a=ints, b=ints)
def test_integer_arithmetic_matches_int64_semantics(a: int, b: int) -> None:
    assert value(exp.add(a, b)) == wrap_int64(a + b)
    assert value(exp.sub(a, b)) == wrap_int64(a - b)
    assert value(exp.mul(a, b)) == wrap_int64(a * b)
    assert INT64_MIN <= value(exp.mul(a, b)) <= INT64_MAX  # type: ignore[operator]
    if b != 0:
        # C's division: the only q, r with q*b + r == a, |r| < |b| and r signed as a
        q, r = value(exp.div(a, b)), value(exp.mod(a, b))
        assert wrap_int64(q * b + r) == a  # type: ignore[operator]
        assert abs(r) < abs(b)  # type: ignore[arg-type]
        assert r == 0 or (r < 0) == (a < 0)  # type: ignore[operator]


def _trees() -> st.SearchStrategy[pb.Expression]:
    leaves = st.one_of(
        st.builds(exp.val, ints),
        st.builds(exp.int_bin, st.sampled_from(["age", "missing", "ok"])),
        st.just(exp.generation()),
        st.just(exp.ttl()),
    )
    ints_tree = st.recursive(
        leaves,
        lambda t: st.one_of(
            st.builds(exp.add, t, t), st.builds(exp.div, t, t), st.builds(exp.abs_, t)
        ),
        max_leaves=12,
    )
    comparisons = st.builds(exp.lt, ints_tree, ints_tree)

    def logic(t: st.SearchStrategy[pb.Expression]) -> st.SearchStrategy[pb.Expression]:
        return st.one_of(
            st.builds(exp.and_, t, t), st.builds(exp.or_, t, t), st.builds(exp.not_, t)
        )

    return st.recursive(comparisons, logic, max_leaves=6)


@given(tree=_trees())
def test_a_parsed_tree_serialises_back_to_itself_and_evaluates_to_a_truth_value(
    tree: pb.Expression,
) -> None:
    node = parse_filter(tree)
    assert parse(to_pb(node)) == node
    assert to_pb(node).SerializeToString(deterministic=True) == tree.SerializeToString(
        deterministic=True
    )
    assert value(tree) in (True, False, UNKNOWN)
    assert value(tree, None) in (True, False, UNKNOWN)


# --- malformed expressions ------------------------------------------------------------


def _raw_call(op: int, *args: pb.Expression) -> pb.Expression:
    msg = pb.Expression()
    msg.call.op = op
    for a in args:
        msg.call.args.add().CopyFrom(a)
    return msg


def _nested(depth: int) -> pb.Expression:
    e = exp.val(True)
    for _ in range(depth - 1):
        e = exp.not_(e)
    return e


BAD = {
    "no kind": (pb.Expression(), "no kind"),
    "unknown op": (_raw_call(999, exp.val(1)), "unknown expression operator 999"),
    "unspecified op": (_raw_call(0), "unknown expression operator 0"),
    "unknown meta": (pb.Expression(meta=pb.MetaExpression(field=77)), "metadata field 77"),
    "untyped bin": (pb.Expression(bin=pb.BinExpression(name="a")), "bin type 0"),
    "empty bin name": (exp.int_bin(""), "bin name"),
    "long bin name": (exp.int_bin("x" * 16), "bin name"),
    "arity": (_raw_call(pb.EXP_OP_EQ, exp.val(1)), "EQ takes 2 arguments, not 1"),
    "and of one": (exp.and_(True), "AND takes at least 2 arguments, not 1"),
    "mixed types": (exp.eq(exp.int_bin("a"), 1.0), "EQ takes two arguments of one type"),
    "int vs float": (exp.add(1, 2.0), "ADD takes all ints or all floats"),
    "bool order": (exp.lt(True, False), "LT takes two ints, floats, strings or bytes"),
    "list eq": (exp.eq(exp.list_bin("l"), exp.list_bin("m")), "compare LIST_SIZE"),
    "not an int": (exp.not_(1), "NOT takes booleans"),
    "size of an int": (exp.list_size(exp.int_bin("a")), "LIST_SIZE takes a LIST"),
    "bin_exists of a bin": (_raw_call(pb.EXP_OP_BIN_EXISTS, exp.string_bin("a")), "bin name"),
    "modulo 0": (exp.digest_modulo(0), "int literal > 0"),
    "too deep": (_nested(MAX_DEPTH + 1), f"deeper than {MAX_DEPTH}"),
    "too many nodes": (exp.and_(*[True] * MAX_NODES), f"more than {MAX_NODES} nodes"),
    "not boolean": (exp.add(1, 2), "a filter must be a boolean expression, not INT"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_malformed_filter_is_a_parameter_error_with_a_clear_message(name: str) -> None:
    message, expected = BAD[name]
    with pytest.raises(ParameterError) as info:
        parse_filter(message)
    assert info.value.code == 4
    assert expected in info.value.message


def test_the_limits_themselves_are_accepted() -> None:
    assert parse_filter(_nested(MAX_DEPTH)).type is ExpType.BOOL
    assert parse_filter(exp.and_(*[True] * (MAX_NODES - 1))).type is ExpType.BOOL


def test_a_builder_literal_must_be_a_scalar_within_int64() -> None:
    with pytest.raises(ParameterError):
        exp.val([1])
    with pytest.raises(ParameterError):
        exp.val(INT64_MAX + 1)
    assert parse(exp.val(None)).type is ExpType.NIL
    assert passes(exp.ne(exp.int_bin("age"), None))
    assert not passes(exp.eq(exp.int_bin("age"), None))
