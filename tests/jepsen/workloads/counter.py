"""The counter workload: increments of one counter and LINEARIZE reads of it.

The counter is bin ``n`` of one record, set to 0 in setup. ``add d`` (d in 1..5) is an
``operate`` with one ``increment`` (retried exactly once by the client's identity);
``read`` returns the bin.

Checked by `check_counter` (initial 0): each ok read lies between the sum of the adds
certainly applied before it and the sum of the adds that may have been.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from raftstore_client import Client, RecordNotFound, operations

from tests.jepsen.checkers import check_counter
from tests.jepsen.history import Op
from tests.jepsen.recorder import Invocation
from tests.jepsen.workloads.base import Check, OpStream, WorkloadConfig

__all__ = ["CounterWorkload"]

KEY = "counter"
BIN = "n"
READ_SHARE = 0.4
MAX_DELTA = 5


class CounterWorkload:
    name = "counter"
    functions = frozenset({"add", "read"})

    def __init__(self, config: WorkloadConfig) -> None:
        self.config = config

    def setup(self, client: Client) -> None:
        client.put(self.config.key(KEY), {BIN: 0})

    def worker_ops(self, worker: int, rng: random.Random) -> OpStream:
        while True:
            if rng.random() < READ_SHARE:
                yield Invocation("read", KEY)
            else:
                yield Invocation("add", KEY, rng.randint(1, MAX_DELTA))

    def execute(self, client: Client, invocation: Invocation) -> Any:
        key = self.config.key(KEY)
        if invocation.f == "add":
            client.operate(key, [operations.increment(BIN, invocation.value)])
            return invocation.value
        if invocation.f == "read":
            try:
                return client.get(key).bins.get(BIN, 0)
            except RecordNotFound:
                return 0  # the counter vanished: check_counter reports reads below bound
        raise ValueError(f"counter has no function {invocation.f!r}")

    def final_reads(self) -> list[Invocation]:
        return [Invocation("read", KEY)]

    def check(self, history: Sequence[Op], time_limit: float) -> Mapping[str, Check]:
        return {"counter": check_counter(history, 0)}

    def describe(self) -> dict[str, Any]:
        return {"model": "counter", "counter_initial": 0}
