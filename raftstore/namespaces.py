"""Namespace configuration and the partition → partition group mapping.

Each namespace has its own partition groups (Raft groups). Partition ``p`` of a
namespace with ``G`` groups belongs to group ``p * G // 4096``: contiguous ranges, so a
group owns 4096 / G neighbouring partitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from raftstore.keys import MAX_NAMESPACE_LEN, N_PARTITIONS

DEFAULT_MAX_RECORD_SIZE = 1024 * 1024
MAX_PARTITION_GROUPS = 256
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class ConfigError(ValueError):
    """A configuration value is invalid; the message says which and why."""


@dataclass(frozen=True, slots=True)
class NamespaceConfig:
    """A namespace: replication factor, default TTL (s, 0 = never), limits, groups."""

    name: str
    replication_factor: int = 3
    default_ttl: int = 0
    max_record_size: int = DEFAULT_MAX_RECORD_SIZE
    partition_groups: int = 8

    def validate(self) -> NamespaceConfig:
        if not _NAME_RE.match(self.name) or len(self.name.encode()) > MAX_NAMESPACE_LEN:
            raise ConfigError(
                f"namespace name {self.name!r} must be 1-{MAX_NAMESPACE_LEN} characters of "
                "letters, digits, '_', '.', '-'"
            )
        if not 1 <= self.replication_factor <= 7:
            raise ConfigError(f"namespace {self.name}: replication_factor must be 1..7")
        if self.default_ttl < 0:
            raise ConfigError(f"namespace {self.name}: default_ttl must be >= 0 (0 = never)")
        if not 1024 <= self.max_record_size <= 128 * 1024 * 1024:
            raise ConfigError(f"namespace {self.name}: max_record_size must be 1 KiB..128 MiB")
        if not 1 <= self.partition_groups <= MAX_PARTITION_GROUPS:
            raise ConfigError(
                f"namespace {self.name}: partition_groups must be 1..{MAX_PARTITION_GROUPS}"
            )
        return self


def group_of_partition(partition: int, partition_groups: int) -> int:
    """Index of the partition group that owns ``partition``."""
    return partition * partition_groups // N_PARTITIONS


def group_id(namespace: str, index: int) -> str:
    """The cluster-wide name of a partition group, e.g. ``test/3``."""
    return f"{namespace}/{index}"


def parse_group_id(gid: str) -> tuple[str, int]:
    ns, _, idx = gid.rpartition("/")
    return ns, int(idx)
