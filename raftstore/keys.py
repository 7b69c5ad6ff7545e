"""Record keys, digests and partition ids.

A key is ``(namespace, set, user_key)``. The digest identifies the record inside its
namespace: xxh3-128 over ``set (UTF-8) + key type (1 byte) + key bytes``, as Aerospike
digests RIPEMD-160 over the same fields; its 16 bytes are the 128-bit hash big-endian
(xxHash's canonical form, as ``xxh3_128_digest`` returns it). The partition id is 12 bits
of the digest (the first two bytes, little-endian, masked to 0..4095), as in Aerospike.

Key type bytes follow Aerospike's particle types: 1 integer (8 bytes big-endian,
two's complement), 3 string (UTF-8), 4 bytes (raw).
"""

from __future__ import annotations

from dataclasses import dataclass

import xxhash

from raftstore.errors import ParameterError

N_PARTITIONS = 4096
DIGEST_SIZE = 16
MAX_NAMESPACE_LEN = 31  # bytes, as Aerospike
MAX_SET_LEN = 63  # bytes, as Aerospike
MAX_USER_KEY_LEN = 1024  # bytes of a string or bytes user key
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

KEY_TYPE_INT = 1
KEY_TYPE_STRING = 3
KEY_TYPE_BYTES = 4

UserKey = int | str | bytes


def user_key_bytes(user_key: UserKey) -> tuple[int, bytes]:
    """Return (key type, key bytes) for a user key; raise ParameterError if malformed."""
    if isinstance(user_key, bool):
        raise ParameterError("user key must be int, str or bytes, not bool")
    if isinstance(user_key, int):
        if not INT64_MIN <= user_key <= INT64_MAX:
            raise ParameterError(f"integer user key {user_key} is outside int64")
        return KEY_TYPE_INT, user_key.to_bytes(8, "big", signed=True)
    if isinstance(user_key, str):
        data = user_key.encode("utf-8", errors="strict")
        kind = KEY_TYPE_STRING
    elif isinstance(user_key, (bytes, bytearray, memoryview)):
        data = bytes(user_key)
        kind = KEY_TYPE_BYTES
    else:
        raise ParameterError(f"user key must be int, str or bytes, not {type(user_key).__name__}")
    if len(data) > MAX_USER_KEY_LEN:
        raise ParameterError(f"user key is {len(data)} bytes; the limit is {MAX_USER_KEY_LEN}")
    return kind, data


def compute_digest(set_name: str, user_key: UserKey) -> bytes:
    """The 16-byte digest of a user key within a set."""
    kind, data = user_key_bytes(user_key)
    return xxhash.xxh3_128_digest(set_name.encode("utf-8") + bytes((kind,)) + data)


def partition_id(digest: bytes) -> int:
    """Partition (0..4095) of a digest."""
    if len(digest) != DIGEST_SIZE:
        raise ParameterError(f"digest must be {DIGEST_SIZE} bytes, got {len(digest)}")
    return (digest[0] | (digest[1] << 8)) & (N_PARTITIONS - 1)


def validate_namespace(namespace: object) -> str:
    if not isinstance(namespace, str) or not namespace:
        raise ParameterError("namespace must be a non-empty string")
    if len(namespace.encode("utf-8")) > MAX_NAMESPACE_LEN:
        raise ParameterError(f"namespace name is longer than {MAX_NAMESPACE_LEN} bytes")
    return namespace


def validate_set(set_name: object) -> str:
    if set_name is None:
        return ""
    if not isinstance(set_name, str):
        raise ParameterError("set name must be a string")
    if len(set_name.encode("utf-8")) > MAX_SET_LEN:
        raise ParameterError(f"set name is longer than {MAX_SET_LEN} bytes")
    if "\0" in set_name:
        raise ParameterError("set name must not contain NUL")
    return set_name


@dataclass(frozen=True, slots=True)
class Key:
    """A validated record key with its digest.

    ``user_key`` is None when the key was given by digest only.
    """

    namespace: str
    set_name: str
    user_key: UserKey | None
    digest: bytes

    @classmethod
    def of(cls, namespace: str, set_name: str | None, user_key: UserKey) -> Key:
        """Build a key from its parts; raise ParameterError if any part is malformed."""
        ns = validate_namespace(namespace)
        st = validate_set(set_name)
        return cls(ns, st, user_key, compute_digest(st, user_key))

    @classmethod
    def from_digest(cls, namespace: str, set_name: str | None, digest: bytes) -> Key:
        ns = validate_namespace(namespace)
        st = validate_set(set_name)
        if not isinstance(digest, (bytes, bytearray)) or len(digest) != DIGEST_SIZE:
            raise ParameterError(f"digest must be {DIGEST_SIZE} bytes")
        return cls(ns, st, None, bytes(digest))

    @classmethod
    def from_tuple(cls, key: object) -> Key:
        """Accept ``(namespace, set, user_key)`` or ``(namespace, set, None, digest)``."""
        if isinstance(key, Key):
            return key
        if not isinstance(key, tuple) or len(key) not in (3, 4):
            raise ParameterError("key must be a (namespace, set, user_key) tuple")
        if len(key) == 4 and key[2] is None:
            return cls.from_digest(key[0], key[1], key[3])
        return cls.of(key[0], key[1], key[2])

    @property
    def partition(self) -> int:
        return partition_id(self.digest)

    def as_tuple(self) -> tuple[str, str, UserKey | None, bytes]:
        return (self.namespace, self.set_name, self.user_key, self.digest)
