"""The register workload: read, write and compare-and-set on many independent keys.

Workers are split into key groups of ``group_size`` (default: one worker per node, so each
key is reached through every node). A group works on one key for ``ops_per_key``
invocations, then moves to a fresh key, as Jepsen's ``independent`` generator does: each
key's history stays small for the linearizability search (bounded concurrency and length
per key).

Operations, each on the group's current key (bin ``v``):

- ``read``: LINEARIZE get; the value, or null when the record is absent;
- ``write v``: put; ``v`` is unique per key (``worker * 10**6 + counter``);
- ``cas [old, new]``: ``old`` is the value this worker last observed on the key (the
  value it expects). The operation reads the record's generation and value; if the value
  is not ``old`` it fails (nothing written); otherwise it puts ``new`` with
  EXPECT_GEN_EQUAL on that generation (CREATE_ONLY when the record was absent), so it
  takes effect only if the register still holds ``old``. A GenerationError is a ``fail``.

Checked by `check_linearizability` with the ``register`` model.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from raftstore_client import (
    Client,
    GenPolicy,
    RecordExistsAction,
    RecordNotFound,
    WritePolicy,
)

from tests.jepsen.checkers import check_linearizability
from tests.jepsen.history import Op, OpType
from tests.jepsen.recorder import Invocation, OpFailed
from tests.jepsen.workloads.base import Check, OpStream, UniqueValues, WorkloadConfig

__all__ = ["KeyRotation", "RegisterWorkload"]

BIN = "v"
READ_SHARE = 0.4
WRITE_SHARE = 0.3  # the rest are cas (when the worker has observed a value of the key)


class KeyRotation:
    """The current key of one group of workers; each key gets ``ops_per_key`` invocations.

    Thread-safe: the group's workers share it.
    """

    def __init__(self, group: int, ops_per_key: int, used: set[str], lock: threading.Lock):
        self.group = group
        self.ops_per_key = ops_per_key
        self._index = 0
        self._taken = 0
        self._used = used
        self._lock = lock

    def take(self) -> str:
        with self._lock:
            if self._taken >= self.ops_per_key:
                self._index += 1
                self._taken = 0
            self._taken += 1
            key = f"{self.group}-{self._index}"
            self._used.add(key)
            return key


class RegisterWorkload:
    name = "register"
    functions = frozenset({"read", "write", "cas"})

    def __init__(
        self, config: WorkloadConfig, *, ops_per_key: int = 80, group_size: int | None = None
    ) -> None:
        self.config = config
        self.ops_per_key = ops_per_key
        self.group_size = group_size or config.nodes
        self._used: set[str] = set()
        lock = threading.Lock()
        groups = -(-config.concurrency // self.group_size)
        self._rotations = [KeyRotation(g, ops_per_key, self._used, lock) for g in range(groups)]
        self._lock = lock

    def setup(self, client: Client) -> None:
        """Nothing to create: every key starts absent (the register's initial null)."""

    def worker_ops(self, worker: int, rng: random.Random) -> OpStream:
        rotation = self._rotations[worker // self.group_size]
        values = UniqueValues(worker)
        seen: dict[str, Any] = {}  # key -> the value this worker last observed
        while True:
            key = rotation.take()
            if key not in seen:
                seen.clear()
            invocation = self._choose(rng, key, seen, values)
            done = yield invocation
            if done is not None and done.type == OpType.OK:
                seen[key] = done.value[1] if invocation.f == "cas" else done.value

    @staticmethod
    def _choose(
        rng: random.Random, key: str, seen: dict[str, Any], values: UniqueValues
    ) -> Invocation:
        roll = rng.random()
        if roll < READ_SHARE:
            return Invocation("read", key)
        if roll < READ_SHARE + WRITE_SHARE or key not in seen:
            return Invocation("write", key, values.next())
        return Invocation("cas", key, [seen[key], values.next()])

    def execute(self, client: Client, invocation: Invocation) -> Any:
        key = self.config.key(invocation.key)
        if invocation.f == "read":
            return _read(client, key)[1]
        if invocation.f == "write":
            client.put(key, {BIN: invocation.value})
            return invocation.value
        if invocation.f == "cas":
            return _cas(client, key, *invocation.value)
        raise ValueError(f"register has no function {invocation.f!r}")

    def final_reads(self) -> list[Invocation]:
        with self._lock:
            return [Invocation("read", key) for key in sorted(self._used)]

    def check(self, history: Sequence[Op], time_limit: float) -> Mapping[str, Check]:
        return {"linearizable": check_linearizability(history, "register", time_limit)}

    def describe(self) -> dict[str, Any]:
        return {
            "model": "register",
            "ops_per_key": self.ops_per_key,
            "group_size": self.group_size,
            "keys": len(self._used),
        }


def _read(client: Client, key: Any) -> tuple[int | None, Any]:
    """(generation, value) of the register; (None, None) when the record is absent."""
    try:
        record = client.get(key)
    except RecordNotFound:
        return None, None
    return record.meta.gen, record.bins.get(BIN)


def _cas(client: Client, key: Any, old: Any, new: Any) -> list[Any]:
    generation, current = _read(client, key)
    if current != old:
        raise OpFailed("cas-mismatch")
    if generation is None:
        policy = WritePolicy(exists=RecordExistsAction.CREATE_ONLY)
    else:
        policy = WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=generation)
    client.put(key, {BIN: new}, policy)
    return [old, new]
