"""The set-scan and set-query workloads: a set of records, read by full scans or by
secondary-index range queries.

Each element is its own record of the run's set: ``add e`` puts key ``e`` with bin
``v = e`` (one write, retried exactly once by the client's identity). A read returns the
``v`` of every record of the set (sorted, duplicates kept):

- ``set-scan``: ``Client.scan`` of the set, LINEARIZE: each partition is read at its
  group's leader after a read index, and the client resumes from its cursor after a node
  dies, a leader moves or a stream breaks;
- ``set-query``: ``Client.query`` over a NUMERIC index on ``v`` (created in ``setup``),
  ``between (1, 2**62)``, LINEARIZE: one stream per partition group, each resumed from its
  own cursor.

A read that cannot finish (no leader for a while, a partition that stays unavailable
past the client's timeout) raises and is recorded ``fail``: it constrains nothing, it is
never taken as an empty set. Reads are periodic (one every ``read_interval`` seconds
across all workers), since each returns every element.

``read_mode`` ALLOW_REPLICA is the negative control (``run --unsafe-replica-reads``): each
partition is then read from whichever replica the client's stream reaches, perhaps one
cut off from its group, so acknowledged elements go missing and the check must say so.

Checked by `check_set_full` (every read holds every element acknowledged, or returned by
an earlier read, before it began; no phantoms; no failed add present) and
`check_no_duplicates` (a scan or query returns each record once, across resumptions).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from raftstore_client import Client, ReadMode

from tests.jepsen.checkers import check_set_full
from tests.jepsen.history import Op
from tests.jepsen.recorder import Invocation
from tests.jepsen.workloads.base import NAMESPACE, Check, OpStream, UniqueValues, WorkloadConfig
from tests.jepsen.workloads.set import check_no_duplicates

__all__ = ["SetQueryWorkload", "SetScanWorkload"]

BIN = "v"
KEY = "scan"  # the key recorded for every operation: the whole set is one key of the history
READ_INTERVAL = 0.5  # seconds between periodic reads, across all workers
QUERY_BOUNDS = (1, 2**62)  # every element (worker * 10**6 + n, n >= 1)
REPLICA_SAMPLE = 200  # records compared across replicas after the run (replicas-converge)


class SetScanWorkload:
    """Adds are puts of one record each; reads are full scans of the set."""

    name = "set-scan"
    functions = frozenset({"add", "read"})

    def __init__(self, config: WorkloadConfig, *, read_interval: float = READ_INTERVAL) -> None:
        self.config = config
        self.read_interval = read_interval
        self._next_read = 0.0
        self._lock = threading.Lock()
        self._added: list[int] = []  # elements whose put was attempted (for replica keys)
        self.read_mode = ReadMode.LINEARIZE  # ALLOW_REPLICA: the negative control

    def setup(self, client: Client) -> None:
        """Nothing to create: the set starts empty."""

    def worker_ops(self, worker: int, rng: random.Random) -> OpStream:
        values = UniqueValues(worker)
        while True:
            if self._read_due():
                yield Invocation("read", KEY)
            else:
                yield Invocation("add", KEY, values.next())

    def _read_due(self) -> bool:
        """True for one caller per ``read_interval`` (thread-safe)."""
        with self._lock:
            now = time.monotonic()
            if now < self._next_read:
                return False
            self._next_read = now + self.read_interval
            return True

    def execute(self, client: Client, invocation: Invocation) -> Any:
        if invocation.f == "add":
            with self._lock:
                self._added.append(invocation.value)
            client.put(self.config.key(invocation.value), {BIN: invocation.value})
            return invocation.value
        if invocation.f == "read":
            return sorted(rec.bins[BIN] for rec in self.read(client))
        raise ValueError(f"{self.name} has no function {invocation.f!r}")

    def read(self, client: Client) -> Any:
        """Every record of the set (an iterator that raises if the read cannot finish)."""
        return client.scan(NAMESPACE, self.config.set_name, bins=[BIN], read_mode=self.read_mode)

    def final_reads(self) -> list[Invocation]:
        return [Invocation("read", KEY)]

    def replica_keys(self) -> list[Any]:
        """The records ``replicas-converge`` compares: a sample of the attempted adds."""
        with self._lock:
            added = sorted(self._added)
        step = max(1, len(added) // REPLICA_SAMPLE)
        return [self.config.key(e) for e in added[::step]]

    def check(self, history: Sequence[Op], time_limit: float) -> Mapping[str, Check]:
        return {"set-full": check_set_full(history), "no-duplicates": check_no_duplicates(history)}

    def describe(self) -> dict[str, Any]:
        return {
            "model": "set-full",
            "read": self.name,
            "read_interval": self.read_interval,
            "read_mode": self.read_mode.name,
        }


class SetQueryWorkload(SetScanWorkload):
    """As `SetScanWorkload`, but reads are range queries over a NUMERIC index on ``v``."""

    name = "set-query"

    def setup(self, client: Client) -> None:
        """Create the index on ``v`` of the run's set and wait until it is ready."""
        index = client.create_index(NAMESPACE, self.config.set_name, BIN, "NUMERIC")
        client.wait_for_index(NAMESPACE, index, timeout=30.0)

    def read(self, client: Client) -> Any:
        return client.query(
            NAMESPACE,
            self.config.set_name,
            bin=BIN,
            between=QUERY_BOUNDS,
            read_mode=self.read_mode,
        )
