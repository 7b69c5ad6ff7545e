"""Records: stored encoding, size, expiry and generation arithmetic."""

import pytest

from raftstore.errors import ServerError
from raftstore.records import (
    MAX_GENERATION,
    RECORD_FORMAT_VERSION,
    Record,
    decode_record,
    encode_record,
    is_expired,
    next_generation,
    record_size,
    ttl_seconds,
)

RECORDS = [
    Record({"a": 1}),
    Record({"f": 1.0, "b": True, "s": "x", "y": b"x"}, 7, 5000, 1234, "set", "user"),
    Record({"l": [1, [2, None]], "m": {1: "a", b"k": {"n": 1.5}}}, MAX_GENERATION, 0, 1, "", 42),
    Record({"x": 0}, 2, 10, 3, "s", b"\x00raw"),
]


@pytest.mark.parametrize("record", RECORDS)
def test_encode_decode_round_trips_every_field(record: Record) -> None:
    decoded = decode_record(encode_record(record))
    assert decoded == record
    assert repr(decoded) == repr(record)


def test_encoding_starts_with_the_format_version() -> None:
    assert encode_record(RECORDS[0])[0] == RECORD_FORMAT_VERSION


def test_user_key_types_stay_distinct_through_encoding() -> None:
    keys = [
        decode_record(encode_record(Record({"a": 1}, user_key=k))).user_key for k in (7, "7", b"7")
    ]
    assert [type(k) for k in keys] == [int, str, bytes]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02" + encode_record(RECORDS[0])[1:],
        b"\x01\xc1",
        b"\x01\x91\x01",
        b"\x01\x96\x01\x02\x03\xa0\xc0\x01",
    ],
)
def test_decoding_corrupt_or_unknown_bytes_raises_server_error(data: bytes) -> None:
    with pytest.raises(ServerError):
        decode_record(data)


def test_record_size_is_the_encoded_length_and_grows_with_bins() -> None:
    small = Record({"a": "x"})
    big = Record({"a": "x" * 1000})
    assert record_size(small) == len(encode_record(small))
    assert record_size(big) - record_size(small) >= 999


@pytest.mark.parametrize(
    ("void", "now", "expired"),
    [(0, 10**15, False), (1000, 999, False), (1000, 1000, True), (1000, 1001, True)],
)
def test_expiry_is_void_time_at_or_before_now(void: int, now: int, expired: bool) -> None:
    assert is_expired(Record({"a": 1}, void_time_ms=void), now) is expired


@pytest.mark.parametrize(
    ("void", "now", "ttl"),
    [
        (0, 123, -1),
        (10_000, 0, 10),
        (10_000, 1, 10),
        (10_000, 9_000, 1),
        (10_000, 9_999, 1),
        (10_000, 8_999, 2),
        (10_000, 10_000, 0),
        (10_000, 20_000, 0),
    ],
)
def test_ttl_seconds_rounds_up_and_is_at_least_one_while_live(
    void: int, now: int, ttl: int
) -> None:
    assert ttl_seconds(Record({"a": 1}, void_time_ms=void), now) == ttl


@pytest.mark.parametrize(
    ("current", "expected"),
    [(None, 1), (Record({}, 1), 2), (Record({}, 41), 42), (Record({}, MAX_GENERATION), 1)],
)
def test_next_generation_starts_at_one_and_wraps_past_2_32_minus_1(
    current: Record | None, expected: int
) -> None:
    assert next_generation(current) == expected
