#!/usr/bin/env python3
"""Scan throughput on a local 3-node cluster, and what a running scan costs other reads.

    python scripts/bench_scan.py --records 100000
    python scripts/bench_scan.py --hosts 127.0.0.1:3000 --skip-load   # an existing cluster

Starts three node processes (journal fsync off: loading is not what is measured), writes
``--records`` records (namespace test, sets a and b, 3 small bins), then prints records/s
of a full scan, a metadata-only scan and a one-set scan (sync client), the latency of
single-record gets while a scan runs against the same latency idle, and whether any
group's term moved (an election) during the scans.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from raftstore_client import Client  # noqa: E402

from tests.integration.helpers import load_records, moved_terms, settled_terms  # noqa: E402
from tests.jepsen.cluster import Cluster  # noqa: E402


def timed_scan(client: Client, **kwargs: object) -> tuple[int, float]:
    start = time.monotonic()
    n = sum(1 for _ in client.scan("test", **kwargs))  # type: ignore[arg-type]
    return n, time.monotonic() - start


def get_latencies(client: Client, keys: list, stop: threading.Event) -> list[float]:
    out: list[float] = []
    i = 0
    while not stop.is_set():
        start = time.monotonic()
        client.get(keys[i % len(keys)])
        out.append((time.monotonic() - start) * 1000)
        i += 1
        time.sleep(0.005)
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def latency_while(client: Client, keys: list, work: object) -> list[float]:
    stop = threading.Event()
    result: list[list[float]] = []
    thread = threading.Thread(target=lambda: result.append(get_latencies(client, keys, stop)))
    thread.start()
    work()  # type: ignore[operator]
    stop.set()
    thread.join()
    return result[0]


def bench(hosts: list[str], cluster: Cluster | None, records: int, load: bool) -> None:
    if load:
        start = time.monotonic()
        load_records(hosts, records)
        print(f"loaded {records} records in {time.monotonic() - start:.1f} s")
    before = settled_terms(cluster) if cluster else None
    with Client(hosts, timeout=30) as client, Client(hosts, timeout=30) as reader:
        keys = [("test", "a", i) for i in range(0, min(records, 2000), 2)]
        for label, kwargs in (
            ("full scan", {}),
            ("metadata-only scan", {"metadata_only": True}),
            ("set b, bin i", {"set": "b", "bins": ["i"]}),
            ("full scan, page 1000", {"page_size": 1000}),
        ):
            n, seconds = timed_scan(client, **kwargs)
            print(f"{label:24s} {n:>9d} records  {n / seconds:>9.0f} records/s")
        idle = latency_while(reader, keys, lambda: time.sleep(3))
        busy = latency_while(reader, keys, lambda: timed_scan(client))
    for label, values in (("gets, idle", idle), ("gets during a scan", busy)):
        print(
            f"{label:24s} p50 {pct(values, 0.5):6.1f} ms  p99 {pct(values, 0.99):6.1f} ms"
            f"  max {max(values):6.1f} ms  ({len(values)} gets)"
        )
    if cluster and before is not None:
        moved = moved_terms(before, cluster)
        print(f"groups whose term moved during the scans: {len(moved)} {moved or ''}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--hosts", help="an existing cluster (namespace test) instead")
    parser.add_argument("--skip-load", action="store_true", help="the records are there")
    args = parser.parse_args(argv)
    if args.hosts:
        bench(args.hosts.split(","), None, args.records, not args.skip_load)
        return 0
    with (
        tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp,
        Cluster(Path(tmp), nodes=3, node_args=["--unsafe-no-fsync"]) as cluster,
    ):
        bench(cluster.hosts, cluster, args.records, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
