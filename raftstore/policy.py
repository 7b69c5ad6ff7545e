"""Write and read policies (Aerospike's concepts and defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from raftstore.errors import ParameterError

TTL_KEEP = -2  # keep the record's current expiry (new records get the namespace default)
TTL_NEVER = -1  # never expire
TTL_NAMESPACE_DEFAULT = 0
MAX_TTL = 10 * 365 * 24 * 3600  # ten years, as Aerospike's max-ttl ceiling


class RecordExistsAction(IntEnum):
    UPDATE = 1  # create or merge bins (default)
    UPDATE_ONLY = 2  # merge bins; KEY_NOT_FOUND if absent
    REPLACE = 3  # create or replace all bins
    REPLACE_ONLY = 4  # replace all bins; KEY_NOT_FOUND if absent
    CREATE_ONLY = 5  # create; KEY_EXISTS if present


class GenPolicy(IntEnum):
    NONE = 1
    EXPECT_GEN_EQUAL = 2  # write only if record generation == expected (compare-and-set)
    EXPECT_GEN_GT = 3  # write only if expected > record generation


class ReadMode(IntEnum):
    LINEARIZE = 1  # sees every write acknowledged before the read began (default)
    SESSION = 2  # sees this client's own writes; may lag others
    ALLOW_REPLICA = 3  # any replica's applied state; may be stale


@dataclass(frozen=True, slots=True)
class WritePolicy:
    """How a write treats an existing record, its generation and its expiry.

    The generation check applies to existing records only (as in Aerospike).
    """

    exists: RecordExistsAction = RecordExistsAction.UPDATE
    gen: GenPolicy = GenPolicy.NONE
    generation: int = 0
    ttl: int = TTL_NAMESPACE_DEFAULT
    send_key: bool = False
    durable_delete: bool = False

    def validate(self) -> WritePolicy:
        try:
            RecordExistsAction(self.exists)
            GenPolicy(self.gen)
        except ValueError as e:
            raise ParameterError(str(e))
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int):
            raise ParameterError("ttl must be an integer")
        if self.ttl < TTL_KEEP or self.ttl > MAX_TTL:
            raise ParameterError(f"ttl {self.ttl} must be -2, -1, 0 or 1..{MAX_TTL} seconds")
        if not 0 <= self.generation <= 0xFFFFFFFF:
            raise ParameterError("generation must be 0..2^32-1")
        return self


DEFAULT_WRITE_POLICY = WritePolicy()


@dataclass(frozen=True, slots=True)
class ReadPolicy:
    read_mode: ReadMode = ReadMode.LINEARIZE


DEFAULT_READ_POLICY = ReadPolicy()
