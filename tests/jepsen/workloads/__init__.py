"""The workloads of the Jepsen-style harness: register, set, set-scan, set-query, bank,
counter.

`make_workload(name, config)` builds one; see `base` for what a workload provides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from tests.jepsen.workloads.bank import BankWorkload
from tests.jepsen.workloads.base import NAMESPACE, Workload, WorkloadConfig
from tests.jepsen.workloads.counter import CounterWorkload
from tests.jepsen.workloads.register import RegisterWorkload
from tests.jepsen.workloads.set import SetWorkload
from tests.jepsen.workloads.set_scan import SetQueryWorkload, SetScanWorkload

__all__ = [
    "NAMESPACE",
    "WORKLOADS",
    "BankWorkload",
    "CounterWorkload",
    "RegisterWorkload",
    "SetQueryWorkload",
    "SetScanWorkload",
    "SetWorkload",
    "Workload",
    "WorkloadConfig",
    "make_workload",
]

WORKLOADS: Final[dict[str, Callable[[WorkloadConfig], Workload]]] = {
    "register": RegisterWorkload,
    "set": SetWorkload,
    "set-scan": SetScanWorkload,
    "set-query": SetQueryWorkload,
    "bank": BankWorkload,
    "counter": CounterWorkload,
}


def make_workload(name: str, config: WorkloadConfig) -> Workload:
    """The workload called ``name``; ValueError for an unknown name."""
    try:
        factory = WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; expected one of {sorted(WORKLOADS)}")
    return factory(config)
