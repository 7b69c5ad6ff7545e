"""Bin names and bin values: validation, normalisation and encoding.

A bin value is one of (Aerospike's particle types)::

    None     only inside lists and as a map value; a top-level None in a write means
             "delete this bin" and is handled by the caller, never stored
    bool     a type of its own (True is not the integer 1 here)
    int      within int64
    float    any double, NaN and infinities included
    str      valid UTF-8 (no lone surrogates)
    bytes    bytearray is accepted and normalised to bytes
    list     tuple is accepted and normalised to list
    dict     keys int (int64), str or bytes; values any of these types

Lists and maps nest at most ``MAX_DEPTH`` levels. Bin names are non-empty strings of at
most ``MAX_BIN_NAME_BYTES`` bytes of UTF-8.

Normalised values are encoded with msgpack (str and bytes stay distinct, floats stay
floats, ints stay ints, bools stay bools), so ``decode_value(encode_value(v)) == v`` for
every normalised ``v``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack

from raftstore.errors import BinNameTooLong, ParameterError
from raftstore.keys import INT64_MAX, INT64_MIN

MAX_BIN_NAME_BYTES = 15
MAX_DEPTH = 32

Value = Any  # None | bool | int | float | str | bytes | list | dict, nested


def type_name(value: object) -> str:
    """The name used for ``value``'s type in error messages."""
    return "None" if value is None else type(value).__name__


def _utf8_length(text: str, what: str) -> int:
    """Number of UTF-8 bytes of ``text``; raise ParameterError if it has lone surrogates."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ParameterError(f"{what} is not valid UTF-8 (it contains a lone surrogate)")


def validate_bin_name(name: object) -> str:
    """Return ``name`` as a str if it is a valid bin name.

    Raises:
        ParameterError: not a string, or empty, or not encodable as UTF-8.
        BinNameTooLong: longer than MAX_BIN_NAME_BYTES bytes of UTF-8.
    """
    if not isinstance(name, str) or not name:
        raise ParameterError(f"bin name must be a non-empty string, not {name!r}")
    size = _utf8_length(name, f"bin name {name!r}")
    if size > MAX_BIN_NAME_BYTES:
        raise BinNameTooLong(
            f"bin name {name!r} is {size} bytes; the limit is {MAX_BIN_NAME_BYTES}"
        )
    return str(name)


def normalize_bins(bins: object) -> dict[str, Value]:
    """Validate the bins of a write and return them normalised.

    A None value is kept (it asks to delete that bin). Raises ParameterError or
    BinNameTooLong naming the offending bin.
    """
    if not isinstance(bins, Mapping):
        raise ParameterError(f"bins must be a mapping of bin name to value, not {type_name(bins)}")
    out: dict[str, Value] = {}
    for name, value in bins.items():
        name = validate_bin_name(name)
        out[name] = None if value is None else normalize_value(value, name)
    return out


def normalize_value(value: object, bin_name: str, depth: int = 0) -> Value:
    """Return ``value`` normalised (bytearray -> bytes, tuple -> list, subclasses -> base).

    ``depth`` is the number of lists/maps that enclose ``value``: 0 for a bin's value,
    1 for an item of a bin's list or a value of a bin's map. None is accepted only at
    depth > 0. Raises ParameterError naming ``bin_name`` and the unsupported type.
    """
    # Fast path for the common exact types (every replica runs this on its event loop).
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:
        return value
    if (type(value) is str and value.isascii()) or type(value) in (float, bytes):
        return value
    if value is None:
        if depth > 0:
            return None
        raise ParameterError(f"bin {bin_name!r}: None is only allowed inside a list or map")
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _check_int(value, bin_name)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        _utf8_length(value, f"bin {bin_name!r}: string value")
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (list, tuple, dict)):
        return _normalize_container(value, bin_name, depth)
    raise ParameterError(f"bin {bin_name!r}: unsupported value type {type_name(value)}")


def _check_int(value: int, bin_name: str) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ParameterError(f"bin {bin_name!r}: integer {value} is outside int64")
    return int(value)


def _normalize_container(value: list | tuple | dict, bin_name: str, depth: int) -> Value:
    if depth >= MAX_DEPTH:
        raise ParameterError(
            f"bin {bin_name!r}: lists and maps nest deeper than {MAX_DEPTH} levels"
        )
    if isinstance(value, dict):
        return {
            normalize_map_key(k, bin_name): normalize_value(v, bin_name, depth + 1)
            for k, v in value.items()
        }
    return [normalize_value(item, bin_name, depth + 1) for item in value]


def normalize_map_key(key: object, bin_name: str) -> int | str | bytes:
    """Return a map key normalised; raise ParameterError unless it is int64, str or bytes."""
    if type(key) is str and key.isascii():  # fast paths, as in normalize_value
        return key
    if type(key) is int and INT64_MIN <= key <= INT64_MAX:
        return key
    if isinstance(key, bool) or not isinstance(key, (int, str, bytes)):
        raise ParameterError(
            f"bin {bin_name!r}: map keys must be int, str or bytes, not {type_name(key)}"
        )
    if isinstance(key, int):
        return _check_int(key, bin_name)
    if isinstance(key, str):
        _utf8_length(key, f"bin {bin_name!r}: map key")
        return str(key)
    return bytes(key)


def encode_value(value: Value) -> bytes:
    """msgpack bytes of a normalised value (or of a structure built from such values)."""
    return msgpack.packb(value, use_bin_type=True)


def decode_value(data: bytes) -> Value:
    """Inverse of ``encode_value``. Raises ValueError (or a subclass) on malformed data."""
    return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=False)
