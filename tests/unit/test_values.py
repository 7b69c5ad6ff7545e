"""Bin names and values: what is accepted, how it is normalised, and the encoding."""

import math

import pytest

from raftstore.errors import BinNameTooLong, ParameterError, ResultCode
from raftstore.values import (
    MAX_DEPTH,
    decode_value,
    encode_value,
    normalize_bins,
    normalize_value,
    validate_bin_name,
)


def nest(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "name",
    ["a", "x" * 15, "é" * 7, "€" * 5, "bin with space"],
)
def test_bin_names_up_to_15_utf8_bytes_are_accepted(name: str) -> None:
    assert validate_bin_name(name) == name


@pytest.mark.parametrize("name", ["x" * 16, "é" * 8, "€" * 5 + "a"])
def test_bin_names_over_15_utf8_bytes_raise_bin_name_too_long(name: str) -> None:
    with pytest.raises(BinNameTooLong) as info:
        validate_bin_name(name)
    assert info.value.code == ResultCode.BIN_NAME_TOO_LONG == 21


@pytest.mark.parametrize("name", ["", None, 7, b"abc", "\ud800"])
def test_empty_or_non_string_bin_names_raise_parameter_error(name: object) -> None:
    with pytest.raises(ParameterError) as info:
        validate_bin_name(name)
    assert info.value.code == ResultCode.PARAMETER_ERROR == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (0, 0),
        (2**63 - 1, 2**63 - 1),
        (-(2**63), -(2**63)),
        (1.0, 1.0),
        (-0.0, -0.0),
        (math.inf, math.inf),
        ("", ""),
        ("héllo", "héllo"),
        (b"", b""),
        (bytearray(b"\x00\xff"), b"\x00\xff"),
        ((1, (2, 3)), [1, [2, 3]]),
        ([None, 1], [None, 1]),
        ({1: None, "s": [1.5], b"b": {"n": True}}, {1: None, "s": [1.5], b"b": {"n": True}}),
    ],
)
def test_supported_values_are_normalised(value: object, expected: object) -> None:
    result = normalize_value(value, "b")
    assert result == expected
    assert type(result) is type(expected)


def test_nan_is_a_supported_double() -> None:
    assert math.isnan(normalize_value(math.nan, "b"))


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ({1, 2}, "set"),
        (frozenset(), "frozenset"),
        (1j, "complex"),
        (object(), "object"),
        (memoryview(b"x"), "memoryview"),
        ([1, {2}], "set"),
        ({"k": 1j}, "complex"),
    ],
)
def test_unsupported_types_raise_parameter_error_naming_bin_and_type(
    value: object, type_name: str
) -> None:
    with pytest.raises(ParameterError) as info:
        normalize_value(value, "mybin")
    assert "mybin" in info.value.message
    assert type_name in info.value.message


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, [2**64], {"k": -(2**70)}])
def test_integers_outside_int64_are_rejected(value: object) -> None:
    with pytest.raises(ParameterError, match="int64"):
        normalize_value(value, "b")


@pytest.mark.parametrize("key", [1.5, True, (1,), None, 2**63])
def test_map_keys_other_than_int64_str_bytes_are_rejected(key: object) -> None:
    with pytest.raises(ParameterError):
        normalize_value({key: 1}, "b")


def test_none_is_rejected_as_a_top_level_value_but_allowed_nested() -> None:
    with pytest.raises(ParameterError):
        normalize_value(None, "b")
    assert normalize_value([None], "b") == [None]
    assert normalize_value({"k": None}, "b") == {"k": None}


def test_nesting_is_limited_to_max_depth_levels() -> None:
    assert normalize_value(nest(MAX_DEPTH), "b") == nest(MAX_DEPTH)
    with pytest.raises(ParameterError, match="nest"):
        normalize_value(nest(MAX_DEPTH + 1), "b")


def test_self_referencing_list_is_rejected_not_recursed_forever() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(ParameterError):
        normalize_value(loop, "b")


def test_normalize_bins_keeps_none_as_a_deletion_marker() -> None:
    assert normalize_bins({"a": None, "b": (1,)}) == {"a": None, "b": [1]}


@pytest.mark.parametrize("bins", [None, [("a", 1)], "a"])
def test_normalize_bins_requires_a_mapping(bins: object) -> None:
    with pytest.raises(ParameterError):
        normalize_bins(bins)


@pytest.mark.parametrize(
    "value",
    [
        1,
        1.0,
        True,
        0,
        False,
        "1",
        b"1",
        [1, 1.0, True, "1", b"1", None],
        {1: "int", "1": "str", b"1": "bytes"},
        {"nested": [{"deep": [1.5, b"x"]}]},
        2**63 - 1,
        -(2**63),
    ],
)
def test_encoding_round_trips_types_exactly(value: object) -> None:
    decoded = decode_value(encode_value(value))
    assert decoded == value
    assert repr(decoded) == repr(value)  # 1 vs 1.0 vs True, str vs bytes


@pytest.mark.parametrize("data", [b"\xc1", b"\x92\x01", b"\x91\x01\x02"])
def test_decoding_malformed_bytes_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_value(data)
