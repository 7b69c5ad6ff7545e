"""Keys: digests distinguish key types and sets; partitions are in range; bad keys raise."""

import pytest

from raftstore.errors import ParameterError
from raftstore.keys import DIGEST_SIZE, N_PARTITIONS, Key, compute_digest, partition_id


def test_int_str_and_bytes_keys_with_the_same_text_have_distinct_digests() -> None:
    digests = {compute_digest("", k) for k in (7, "7", b"7", "\x00" * 7 + "\x07")}
    assert len(digests) == 4


def test_int_key_and_bytes_of_its_encoding_differ() -> None:
    assert compute_digest("", 7) != compute_digest("", (7).to_bytes(8, "big"))


@pytest.mark.parametrize("user_key", [1, "k", b"k"])
def test_same_key_in_different_sets_has_different_digests(user_key: object) -> None:
    assert compute_digest("a", user_key) != compute_digest("b", user_key)
    assert compute_digest("", user_key) != compute_digest("a", user_key)


def test_digest_is_deterministic_and_16_bytes() -> None:
    assert compute_digest("s", "k") == compute_digest("s", "k")
    assert len(compute_digest("s", "k")) == DIGEST_SIZE


def test_partition_ids_are_in_range_and_spread() -> None:
    partitions = {Key.of("test", "", i).partition for i in range(20_000)}
    assert all(0 <= p < N_PARTITIONS for p in partitions)
    assert len(partitions) > N_PARTITIONS * 0.9


def test_partition_id_takes_12_bits_of_the_first_two_bytes_little_endian() -> None:
    assert partition_id(bytes([0xFF, 0xFF]) + bytes(14)) == 4095
    assert partition_id(bytes([0x01, 0x10]) + bytes(14)) == 1


@pytest.mark.parametrize(
    ("namespace", "set_name", "user_key"),
    [
        ("test", "", True),
        ("test", "", 1.5),
        ("test", "", None),
        ("test", "", [1]),
        ("test", "", 2**63),
        ("test", "", -(2**63) - 1),
        ("test", "", "x" * 1025),
        ("test", "", b"x" * 1025),
        ("", "", 1),
        (7, "", 1),
        ("n" * 32, "", 1),
        ("test", "s" * 64, 1),
        ("test", "bad\0set", 1),
        ("test", 7, 1),
    ],
)
def test_malformed_keys_raise_parameter_error(
    namespace: object, set_name: object, user_key: object
) -> None:
    with pytest.raises(ParameterError):
        Key.of(namespace, set_name, user_key)  # type: ignore[arg-type]


@pytest.mark.parametrize("digest", [b"", b"x" * 15, b"x" * 17, "x" * 16])
def test_digest_keys_need_16_bytes(digest: object) -> None:
    with pytest.raises(ParameterError):
        Key.from_digest("test", "", digest)  # type: ignore[arg-type]


def test_from_tuple_accepts_user_key_and_digest_forms() -> None:
    key = Key.from_tuple(("test", "s", 5))
    assert key == Key.of("test", "s", 5)
    assert Key.from_tuple(("test", "s", None, key.digest)).digest == key.digest
