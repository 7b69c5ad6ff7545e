"""The bank workload: transfers between accounts that are bins of ONE record.

``accounts`` bins ``a0``, ``a1``, ... each start with ``balance`` (the total is known).

- ``transfer {from, to, amount}``: read the record (generation and balances); if ``from``
  holds less than ``amount`` the transfer fails (nothing written); otherwise one atomic
  ``operate`` with two ``increment`` operations guarded by EXPECT_GEN_EQUAL on that
  generation, so no balance can go negative. A GenerationError is a ``fail``.
- ``read``: the whole record (LINEARIZE), ``{account: balance}``.

Checked by `check_bank` with the initial total: every ok read sums to it, none negative.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from raftstore_client import Client, GenPolicy, RecordNotFound, WritePolicy, operations

from tests.jepsen.checkers import check_bank
from tests.jepsen.history import Op
from tests.jepsen.recorder import Invocation, OpFailed
from tests.jepsen.workloads.base import Check, OpStream, WorkloadConfig

__all__ = ["BankWorkload"]

KEY = "accounts"
READ_SHARE = 0.5
MAX_AMOUNT = 5


class BankWorkload:
    name = "bank"
    functions = frozenset({"transfer", "read"})

    def __init__(self, config: WorkloadConfig, *, accounts: int = 5, balance: int = 20) -> None:
        self.config = config
        self.accounts = [f"a{i}" for i in range(accounts)]
        self.balance = balance
        self.total = balance * accounts

    def setup(self, client: Client) -> None:
        client.put(self.config.key(KEY), {a: self.balance for a in self.accounts})

    def worker_ops(self, worker: int, rng: random.Random) -> OpStream:
        while True:
            if rng.random() < READ_SHARE:
                yield Invocation("read", KEY)
            else:
                source, target = rng.sample(self.accounts, 2)
                amount = rng.randint(1, MAX_AMOUNT)
                yield Invocation("transfer", KEY, {"from": source, "to": target, "amount": amount})

    def execute(self, client: Client, invocation: Invocation) -> Any:
        key = self.config.key(KEY)
        if invocation.f == "read":
            try:
                return dict(client.get(key).bins)
            except RecordNotFound:
                return {}  # the accounts vanished: check_bank reports the wrong total
        if invocation.f == "transfer":
            _transfer(client, key, **invocation.value)
            return invocation.value
        raise ValueError(f"bank has no function {invocation.f!r}")

    def final_reads(self) -> list[Invocation]:
        return [Invocation("read", KEY)]

    def check(self, history: Sequence[Op], time_limit: float) -> Mapping[str, Check]:
        return {"bank": check_bank(history, self.total)}

    def describe(self) -> dict[str, Any]:
        return {"model": "bank", "accounts": self.accounts, "bank_total": self.total}


def _transfer(client: Client, key: Any, **transfer: Any) -> None:
    source, target, amount = transfer["from"], transfer["to"], transfer["amount"]
    record = client.get(key)
    if record.bins.get(source, 0) < amount:
        raise OpFailed("insufficient-funds")
    ops = [operations.increment(source, -amount), operations.increment(target, amount)]
    policy = WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=record.meta.gen)
    client.operate(key, ops, policy)
