#!/usr/bin/env python3
"""Batch writes against single puts at the same concurrency, on a local 3-node cluster.

    python scripts/bench_batch.py                        # 16 writers, 100-record batches
    python scripts/bench_batch.py --concurrency 16 --batch 100 --seconds 15
    python scripts/bench_batch.py --hosts 127.0.0.1:3000   # an existing cluster

Starts three node processes (journal fsync on, as deployed) unless ``--hosts`` is given,
then runs ``--concurrency`` asyncio writers for ``--seconds`` each: first single puts
(one record per call), then ``batch_write`` calls of ``--batch`` records on random keys
(spread over every partition group). Prints records/s of both and their ratio: each
batch is split by the client per group and applied as one Raft entry per group. With the
nodes started here it also prints the nodes' CPU time per record (user + system, the three
nodes summed, from /proc): a figure that other load on the machine does not distort.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from raftstore_client import AsyncClient, BatchWrite  # noqa: E402

from tests.jepsen.cluster import Cluster  # noqa: E402

KEYS = 100_000


async def run(hosts: list[str], concurrency: int, seconds: float, batch: int | None) -> float:
    """Records/s written by ``concurrency`` writers for ``seconds``."""
    client = await AsyncClient.connect(hosts, timeout=30)
    written = 0
    bins = {"a": 1, "b": "x" * 32}

    async def writer(seed: int) -> None:
        nonlocal written
        rng = random.Random(seed)
        while time.monotonic() < stop:
            if batch is None:
                await client.put(("test", "bench", rng.randrange(KEYS)), bins)
                written += 1
            else:
                keys = [("test", "bench", rng.randrange(KEYS)) for _ in range(batch)]
                results = await client.batch_write([BatchWrite(k, bins) for k in keys])
                written += sum(1 for r in results if r.ok)

    try:
        await client.put(("test", "bench", -1), bins)  # warm the channels
        start = time.monotonic()
        stop = start + seconds
        await asyncio.gather(*(writer(i) for i in range(concurrency)))
        return written / (time.monotonic() - start)
    finally:
        await client.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def phase(hosts: list[str], pids: list[int], label: str, *args: object) -> float:
    cpu = cpu_seconds(pids) if pids else 0.0
    start = time.monotonic()
    rate = asyncio.run(run(hosts, *args))  # type: ignore[arg-type]
    records = rate * (time.monotonic() - start)
    line = f"{label}: {rate:,.0f} records/s"
    if pids:
        per = (cpu_seconds(pids) - cpu) / max(1.0, records) * 1e6
        line += f", node CPU {per:,.0f} us/record"
    print(line, flush=True)
    return rate


def bench(hosts: list[str], concurrency: int, seconds: float, batch: int, pids: list[int]) -> None:
    single = phase(hosts, pids, f"single puts, c={concurrency}", concurrency, seconds, None)
    batched = phase(
        hosts, pids, f"batch_write of {batch}, c={concurrency}", concurrency, seconds, batch
    )
    print(f"ratio: {batched / single:.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", help="an existing cluster (default: start 3 nodes)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    if args.hosts:
        bench(args.hosts.split(","), args.concurrency, args.seconds, args.batch, [])
        return 0
    with tempfile.TemporaryDirectory() as tmp, Cluster(Path(tmp), nodes=3) as cluster:
        cluster.wait_settled()
        pids = [p for p in (cluster.pid(n) for n in cluster.ids) if p]
        bench(cluster.hosts, args.concurrency, args.seconds, args.batch, pids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
