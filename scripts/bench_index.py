#!/usr/bin/env python3
"""Secondary index figures on a local 3-node cluster: build rate and query latency.

    python scripts/bench_index.py --records 100000
    python scripts/bench_index.py --hosts 127.0.0.1:3000 --skip-load   # an existing cluster

Starts three node processes (journal fsync off: loading is not what is measured), writes
``--records`` records (namespace test, sets a and b; bin ``i`` = the record number), then
creates a NUMERIC index on bin ``i`` of set ``a`` over them and times its background
build, and prints p50/p99 latency of equality queries (1 record each), of range queries
returning ``--range`` records, and of a get for comparison, each sequential (sync client,
one query at a time, every group's stream in parallel).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from raftstore_client import Client  # noqa: E402

from tests.integration.helpers import load_records  # noqa: E402
from tests.jepsen.cluster import Cluster  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def latencies(run: Callable[[int], int], n: int, seed: int = 7) -> tuple[list[float], int]:
    rng = random.Random(seed)
    out, returned = [], 0
    for _ in range(n):
        start = time.perf_counter()
        returned += run(rng.randrange(0, 1 << 30))
        out.append((time.perf_counter() - start) * 1000)
    return out, returned


def bench(hosts: list[str], records: int, load: bool, queries: int, width: int) -> None:
    if load:
        start = time.monotonic()
        load_records(hosts, records)
        print(f"loaded {records} records in {time.monotonic() - start:.1f} s")
    evens = records // 2  # set a holds the even record numbers
    with Client(hosts, timeout=60) as client:
        start = time.monotonic()
        client.create_index("test", "a", "i", "NUMERIC", name="bench_a_i")
        client.wait_for_index("test", "bench_a_i", timeout=3600)
        seconds = time.monotonic() - start
        print(
            f"index build over {records} records: {seconds:.1f} s "
            f"({records / seconds:.0f} records/s)"
        )

        def equality(r: int) -> int:
            return sum(1 for _ in client.query("test", "a", bin="i", equals=2 * (r % evens)))

        def in_range(r: int) -> int:
            lo = 2 * (r % max(1, evens - width))
            return sum(
                1 for _ in client.query("test", "a", bin="i", between=(lo, lo + 2 * width - 1))
            )

        def get(r: int) -> int:
            client.get(("test", "a", 2 * (r % evens)))
            return 1

        for label, run in (
            ("equality query", equality),
            (f"range query ({width})", in_range),
            ("get", get),
        ):
            run(0)  # warm channels
            values, returned = latencies(run, queries)
            print(
                f"{label:22s} p50 {pct(values, 0.5):7.2f} ms  p99 {pct(values, 0.99):7.2f} ms  "
                f"({queries} sequential, {returned / queries:.1f} records each)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--range", type=int, default=100, help="records per range query")
    parser.add_argument("--hosts", help="an existing cluster (namespace test) instead")
    parser.add_argument("--skip-load", action="store_true", help="the records are there")
    args = parser.parse_args(argv)
    if args.hosts:
        bench(args.hosts.split(","), args.records, not args.skip_load, args.queries, args.range)
        return 0
    with (
        tempfile.TemporaryDirectory(prefix="bench-index-") as tmp,
        Cluster(Path(tmp), nodes=3, node_args=["--unsafe-no-fsync"]) as cluster,
    ):
        bench(cluster.hosts, args.records, True, args.queries, args.range)
    return 0


if __name__ == "__main__":
    sys.exit(main())
