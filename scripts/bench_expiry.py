#!/usr/bin/env python3
"""What an nsup sweep costs: records examined per second, the event loop time of one
slice, and the apply time of the Expire entries, on a real RocksDB group store.

    python scripts/bench_expiry.py --records 100000

Writes ``--records`` records (half of them expired, 3 small bins, one numeric secondary
index) into one group's column family, then runs the sweep exactly as a leader does —
``raftstore.expiry.expired_rows`` slices of ``nsup.SLICE_ROWS`` rows — and applies the
expired ones as ``Expire`` entries of ``nsup.EXPIRE_BATCH`` records through the state
machine (what every replica does). No network, no Raft: the figures are the sweep's own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from raftstore_node.nsup import EXPIRE_BATCH, SLICE_ROWS  # noqa: E402

from raftstore.commands import BuildIndex, CreateIndex, Entry, Expire, Put, Request  # noqa: E402
from raftstore.expiry import expired_rows  # noqa: E402
from raftstore.keys import Key  # noqa: E402
from raftstore.namespaces import NamespaceConfig  # noqa: E402
from raftstore.policy import WritePolicy  # noqa: E402
from raftstore.sindex import IndexDef, IndexType  # noqa: E402
from raftstore.state_machine import StateMachine  # noqa: E402
from raftstore.storage.engine import Engine  # noqa: E402

NOW = 1_000_000


def load(machine: StateMachine, store: object, records: int) -> int:
    index = 1
    definition = IndexDef("test", "n_idx", "", "n", IndexType.NUMERIC)
    machine.apply(Entry(NOW, (Request(CreateIndex("test", definition)),)), store, index)  # type: ignore[arg-type]
    machine.apply(Entry(NOW, (Request(BuildIndex("test", "n_idx", b"", 10)),)), store, index + 1)  # type: ignore[arg-type]
    index += 2
    for start in range(0, records, 500):
        puts = tuple(
            Request(
                Put(
                    Key.of("test", "s", i),
                    {"n": i, "name": f"user{i}", "score": i * 0.5},
                    WritePolicy(ttl=1 if i % 2 else -1),
                )
            )
            for i in range(start, min(records, start + 500))
        )
        machine.apply(Entry(NOW, puts), store, index)  # type: ignore[arg-type]
        index += 1
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    machine = StateMachine({"test": NamespaceConfig("test")})
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Path(tmp) / "store")
        store = engine.store("test/0")
        index = load(machine, store, args.records)
        now = NOW + 10_000
        slices: list[float] = []
        found = []
        after: bytes | None = None
        start = time.perf_counter()
        while True:
            t = time.perf_counter()
            part = expired_rows(store, "test", after, SLICE_ROWS, now)
            slices.append(time.perf_counter() - t)
            found += part.expired
            after = part.cursor
            if after is None:
                break
        sweep = time.perf_counter() - start
        applies: list[float] = []
        for i in range(0, len(found), EXPIRE_BATCH):
            command = Expire("test", now, tuple(found[i : i + EXPIRE_BATCH]))
            t = time.perf_counter()
            machine.apply(Entry(now, (Request(command),)), store, index)
            applies.append(time.perf_counter() - t)
            index += 1
        left = sum(1 for _ in store.scan("test"))
        engine.close()
    ms = sorted(x * 1000 for x in slices)
    print(f"records={args.records} expired={len(found)} left={left}")
    print(
        f"sweep: {args.records / sweep:,.0f} records examined/s; slice of {SLICE_ROWS} rows: "
        f"mean {statistics.mean(ms):.2f} ms, p99 {ms[int(len(ms) * 0.99)]:.2f} ms, "
        f"max {ms[-1]:.2f} ms"
    )
    per = sum(applies) / max(1, len(found)) * 1e6
    print(
        f"expire apply: {per:.1f} us per record (index rows included); entry of "
        f"{EXPIRE_BATCH}: mean {statistics.mean(applies) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
