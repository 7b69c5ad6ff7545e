"""Per-node settings of a namespace: expiry (nsup) and stop-writes.

They are written in the namespace's ``[[namespace]]`` table of the node configuration but,
unlike the namespace's own configuration (``raftstore.namespaces.NamespaceConfig``, fixed
in the cluster state when the cluster is founded), they belong to this node and are read
at every start — a restart with other values changes them::

    [[namespace]]
    name = "test"
    nsup_period = 120               # seconds between expiry sweeps (0: off)
    nsup_deletes_per_second = 10000 # this node's expiry deletes, at most
    stop_writes_size = "1G"         # stored bytes at which writes stop (0: no cap)

Sizes are a number of bytes or a number with a binary suffix K, M, G or T (``"64M"``,
``"1GiB"``). Every value is checked here, once, with a message naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from raftstore.namespaces import ConfigError

DEFAULT_NSUP_PERIOD = 120.0
DEFAULT_NSUP_DELETES_PER_SECOND = 10_000
MAX_NSUP_PERIOD = 86_400.0
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True, slots=True)
class NamespaceSettings:
    """One namespace's per-node settings (see the module docstring)."""

    nsup_period: float = DEFAULT_NSUP_PERIOD
    nsup_deletes_per_second: int = DEFAULT_NSUP_DELETES_PER_SECOND
    stop_writes_size: int = 0


DEFAULTS = NamespaceSettings()
KEYS = frozenset(NamespaceSettings.__dataclass_fields__)


def parse_size(value: object, what: str) -> int:
    """Bytes from an int >= 0 or a string such as ``"64M"`` / ``"1GiB"``; ConfigError else."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(
            f'{what}: expected bytes as an integer >= 0 or a size like "64M" or "1G" '
            f"(suffixes K, M, G, T), got {value!r}"
        )
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def split(table: Mapping[str, Any]) -> tuple[dict[str, Any], NamespaceSettings]:
    """A ``[[namespace]]`` table's namespace keys, and its validated per-node settings."""
    name = table.get("name", "?")
    rest = {k: v for k, v in table.items() if k not in KEYS}
    period = table.get("nsup_period", DEFAULT_NSUP_PERIOD)
    if (
        isinstance(period, bool)
        or not isinstance(period, (int, float))
        or not (period == 0 or 0.1 <= period <= MAX_NSUP_PERIOD)
    ):
        raise ConfigError(
            f"namespace {name}: nsup_period must be 0 (off) or 0.1..{MAX_NSUP_PERIOD:.0f} "
            f"seconds, got {period!r}"
        )
    rate = table.get("nsup_deletes_per_second", DEFAULT_NSUP_DELETES_PER_SECOND)
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= 1_000_000:
        raise ConfigError(
            f"namespace {name}: nsup_deletes_per_second must be an integer 1..1000000, got {rate!r}"
        )
    cap = parse_size(table.get("stop_writes_size", 0), f"namespace {name}: stop_writes_size")
    return rest, NamespaceSettings(float(period), rate, cap)
