"""What every workload provides to the runner, and small helpers they share.

A workload is an object with:

- ``name`` and ``functions`` (the ``f`` values it invokes; each must see some ``ok``
  operations for a run to count);
- ``setup(client)``: create its records before any worker starts (no faults yet);
- ``worker_ops(worker, rng)``: the operation generator of one worker, a Python generator
  that yields `Invocation` values and is sent each completion event (`Op`) back, so it
  can base later operations on what it observed; it never ends by itself (the runner
  stops asking);
- ``execute(client, invocation)``: run one operation with a pinned `Client` and return
  its ``ok`` value, or raise (see `tests.jepsen.recorder.classify`);
- ``final_reads()``: the reads to run through every node after the cluster healed;
- optionally ``replica_keys()``: the records ``replicas-converge`` compares across nodes
  (default: the keys of the final reads);
- ``check(history, time_limit)``: the checks of the history, by name;
- ``describe()``: its parameters (checker arguments included) for results.json.

Every workload writes only to records of its own set (one per run), so runs never
interfere. Values written are unique per key (``worker * 10**6 + counter``).
"""

from __future__ import annotations

import random
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from raftstore_client import Client

from tests.jepsen.checkers import CheckResult
from tests.jepsen.history import Op
from tests.jepsen.recorder import Invocation

__all__ = ["NAMESPACE", "Check", "OpStream", "UniqueValues", "Workload", "WorkloadConfig"]

NAMESPACE = "test"
VALUE_STRIDE = 10**6  # values are worker * VALUE_STRIDE + counter

OpStream = Generator[Invocation, Op | None, None]
Check = CheckResult | Any  # a checker result: a frozen dataclass with verdict and valid


@dataclass(frozen=True, slots=True)
class WorkloadConfig:
    """Per-run parameters: the set that holds the run's records, and the workers."""

    set_name: str
    concurrency: int
    nodes: int

    def key(self, user_key: Any) -> tuple[str, str, Any]:
        return (NAMESPACE, self.set_name, user_key)


class Workload(Protocol):
    name: str
    functions: frozenset[str]

    def setup(self, client: Client) -> None: ...

    def worker_ops(self, worker: int, rng: random.Random) -> OpStream: ...

    def execute(self, client: Client, invocation: Invocation) -> Any: ...

    def final_reads(self) -> list[Invocation]: ...

    def check(self, history: Sequence[Op], time_limit: float) -> Mapping[str, Check]: ...

    def describe(self) -> dict[str, Any]: ...


class UniqueValues:
    """A worker's unique values: worker * 10**6 + 1, + 2, ..."""

    def __init__(self, worker: int) -> None:
        self._base = worker * VALUE_STRIDE
        self._count = 0

    def next(self) -> int:
        self._count += 1
        if self._count >= VALUE_STRIDE:
            raise RuntimeError("a worker ran out of unique values")
        return self._base + self._count
