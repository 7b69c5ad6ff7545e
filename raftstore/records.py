"""Records: bins plus metadata, and their stored encoding.

Stored form: one format-version byte, then msgpack of
``[generation, void_time_ms, last_update_ms, set_name, user_key, bins]``.
``record_size`` is the length of that encoding; a namespace's ``max_record_size`` is
compared against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from raftstore.errors import ServerError
from raftstore.keys import UserKey
from raftstore.values import Value, decode_value, encode_value

RECORD_FORMAT_VERSION = 1
MAX_GENERATION = 2**32 - 1
NEVER_EXPIRES = 0


@dataclass(frozen=True, slots=True)
class Record:
    """One stored record.

    ``bins`` holds normalised values (see ``raftstore.values``) and is never mutated
    once the record is built. ``generation`` is 1..2^32-1. ``void_time_ms`` is 0 when
    the record never expires, else the absolute unix time (ms) at which it expires.
    ``user_key`` is set only when a write asked to store it (send-key).
    """

    bins: dict[str, Value]
    generation: int = 1
    void_time_ms: int = NEVER_EXPIRES
    last_update_ms: int = 0
    set_name: str = ""
    user_key: UserKey | None = None


def next_generation(record: Record | None) -> int:
    """Generation after a write: 1 for a new record, else +1 wrapping 2^32-1 to 1."""
    if record is None or record.generation >= MAX_GENERATION:
        return 1
    return record.generation + 1


def encode_record(record: Record) -> bytes:
    """The stored bytes of a record."""
    body = [
        record.generation,
        record.void_time_ms,
        record.last_update_ms,
        record.set_name,
        record.user_key,
        record.bins,
    ]
    return bytes((RECORD_FORMAT_VERSION,)) + encode_value(body)


def decode_record(data: bytes) -> Record:
    """Inverse of ``encode_record``.

    Raises:
        ServerError: unknown format version or malformed bytes (stored data is corrupt).
    """
    if not data or data[0] != RECORD_FORMAT_VERSION:
        version = data[0] if data else None
        raise ServerError(f"stored record has unknown format version {version}")
    try:
        gen, void, last_update, set_name, user_key, bins = decode_value(data[1:])
    except (ValueError, TypeError) as e:
        raise ServerError(f"stored record is malformed: {e}")
    if not isinstance(bins, dict) or not all(isinstance(x, int) for x in (gen, void, last_update)):
        raise ServerError("stored record is malformed: wrong field types")
    return Record(bins, gen, void, last_update, set_name, user_key)


def record_size(record: Record) -> int:
    """Size in bytes of the record's stored encoding."""
    return len(encode_record(record))


def is_expired(record: Record, now_ms: int) -> bool:
    """True when the record has a void time and it is not after ``now_ms``."""
    return record.void_time_ms != NEVER_EXPIRES and record.void_time_ms <= now_ms


def ttl_seconds(record: Record, now_ms: int) -> int:
    """Remaining time to live in seconds.

    -1 if the record never expires; 0 if it has expired; otherwise the remaining time
    rounded up, so at least 1 while the record is live.
    """
    if record.void_time_ms == NEVER_EXPIRES:
        return -1
    remaining_ms = record.void_time_ms - now_ms
    if remaining_ms <= 0:
        return 0
    return -(-remaining_ms // 1000)
