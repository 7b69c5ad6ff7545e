#!/usr/bin/env python3
"""What a running full scan costs an RU,50 load, and batch writes against single puts.

    python scripts/scan_effect.py                       # 100 K records, 3 local nodes
    python scripts/scan_effect.py --records 1000000     # 1 M (loading takes a while)
    python scripts/scan_effect.py --hosts 127.0.0.1:3000 --skip-load   # an existing cluster

Starts three node processes (journal fsync on, as deployed) unless ``--hosts`` is given,
loads ``--records`` records of set ``bench`` (keys 0..N-1, one 100-byte bin, as
``raftstore bench`` writes them) with ``batch_write`` calls of 100 records, then:

1. one full scan of the set alone: records/s;
2. ``raftstore bench -w RU,50 -z 64`` over those keys for ``--seconds`` alone, then again
   while another process scans the set in a loop: ops/s before and during, their ratio,
   p99, and the looping scans' records/s; ``--rounds`` times, alternating (alone, during,
   alone, during, ...), so that a change in the machine's other load hits both sides;
3. single puts at c=16 against ``batch_write`` of 100 records at c=16 for
   ``--batch-seconds`` each (``scripts/bench_batch.py``): records/s, their ratio and, with
   the nodes started here, node CPU per record (a figure other load does not distort).

Every process it starts (nodes, bench, scanner) is stopped before it returns; each phase
is bounded in time. ``--json`` adds one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_batch import phase as write_phase  # noqa: E402
from raftstore_client import AsyncClient, BatchWrite, Client  # noqa: E402

from tests.jepsen.cluster import Cluster  # noqa: E402

NAMESPACE, SET = "test", "bench"
LOAD_BATCH, LOAD_CONCURRENCY = 100, 16
SCANNER_MAX_S = 600.0  # a scanner left alone stops by itself after this long


def load(hosts: list[str], records: int) -> float:
    """Write keys 0..records-1 with batch_write; records/s."""

    async def main() -> None:
        client = await AsyncClient.connect(hosts, timeout=60)
        todo = list(range(0, records, LOAD_BATCH))
        bins = {"b0": "v" * 100}

        async def writer() -> None:
            while todo:
                first = todo.pop()
                keys = range(first, min(first + LOAD_BATCH, records))
                results = await client.batch_write(
                    [BatchWrite((NAMESPACE, SET, k), bins) for k in keys]
                )
                failed = [r for r in results if not r.ok]
                if failed:
                    raise RuntimeError(f"{len(failed)} records of a load batch failed: {failed[0]}")

        try:
            await asyncio.gather(*(writer() for _ in range(LOAD_CONCURRENCY)))
        finally:
            await client.close()

    start = time.monotonic()
    asyncio.run(main())
    return records / (time.monotonic() - start)


def scan_once(hosts: list[str]) -> tuple[int, float]:
    """(records, seconds) of one full scan of the set."""
    with Client(hosts, timeout=30) as client:
        start = time.monotonic()
        count = sum(1 for _ in client.scan(NAMESPACE, SET))
        return count, time.monotonic() - start


def scanner(hosts: list[str], limit_s: float) -> int:
    """The looping scanner (a child process): scan until SIGTERM or ``limit_s``, then
    print one JSON line: records returned, seconds spent, scans completed."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    deadline = time.monotonic() + limit_s
    records = scans = 0
    start = time.monotonic()
    with Client(hosts, timeout=30) as client:
        while not stop and time.monotonic() < deadline:
            for _ in client.scan(NAMESPACE, SET):
                records += 1
                if stop or time.monotonic() >= deadline:
                    break
            else:
                scans += 1
    seconds = time.monotonic() - start
    print(json.dumps({"records": records, "seconds": round(seconds, 3), "scans": scans}))
    return 0


def bench(hosts: list[str], records: int, seconds: float, concurrency: int) -> dict[str, Any]:
    """``raftstore bench -w RU,50`` over the loaded keys: its JSON summary."""
    command = [
        str(Path(sys.executable).parent / "raftstore"),
        "bench",
        "--hosts",
        ",".join(hosts),
        "-w",
        "RU,50",
        "-z",
        str(concurrency),
        "-t",
        str(seconds),
        "-k",
        str(records),
        "-s",
        SET,
        "--json",
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"raftstore bench failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_during_scans(
    hosts: list[str], records: int, seconds: float, concurrency: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bench while a scanner process loops over the set: (bench, scanner) summaries."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--scanner", "--hosts", ",".join(hosts)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)  # the first scan is under way
        result = bench(hosts, records, seconds, concurrency)
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=60)
        return result, json.loads(out.strip().splitlines()[-1])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def measure(hosts: list[str], args: argparse.Namespace, pids: list[int]) -> dict[str, Any]:
    figures: dict[str, Any] = {"records": args.records}
    if not args.skip_load:
        figures["load_records_s"] = round(load(hosts, args.records))
        print(
            f"loaded {args.records:,} records: {figures['load_records_s']:,} records/s", flush=True
        )
    count, secs = scan_once(hosts)
    figures["scan_alone"] = {"records": count, "records_s": round(count / secs)}
    print(f"full scan alone: {count:,} records, {count / secs:,.0f} records/s", flush=True)
    rounds = [scan_round(hosts, args, r) for r in range(args.rounds)]
    figures["rounds"] = rounds
    figures["ratio"] = round(sum(r["ratio"] for r in rounds) / len(rounds), 3)
    print(f"ratio during/alone, mean of {len(rounds)} round(s): {figures['ratio']:.2f}", flush=True)
    figures.update(batch_vs_single(hosts, args, pids))
    return figures


def scan_round(hosts: list[str], args: argparse.Namespace, number: int) -> dict[str, Any]:
    """RU,50 alone, then during looping scans: both summaries, the scanner's, the ratio."""
    alone = bench(hosts, args.records, args.seconds, args.concurrency)
    during, scans = bench_during_scans(hosts, args.records, args.seconds, args.concurrency)
    scans["records_s"] = round(scans["records"] / max(scans["seconds"], 1e-9))
    ratio = round(during["ops_s"] / alone["ops_s"], 3)
    c = args.concurrency
    print(
        f"round {number + 1}: RU,50 c={c} alone {alone['ops_s']:,.0f} ops/s "
        f"(p99 {alone['all']['p99_ms']:.0f} ms), during scans {during['ops_s']:,.0f} ops/s "
        f"(p99 {during['all']['p99_ms']:.0f} ms, errors {during['errors'] or 0}); "
        f"ratio {ratio:.2f}; scans meanwhile {scans['records_s']:,} records/s",
        flush=True,
    )
    return {"bench_alone": alone, "bench_during_scan": during, "scanner": scans, "ratio": ratio}


def batch_vs_single(hosts: list[str], args: argparse.Namespace, pids: list[int]) -> dict[str, Any]:
    c, n, secs = args.batch_concurrency, args.batch, args.batch_seconds
    single = write_phase(hosts, pids, f"single puts, c={c}", c, secs, None)
    batched = write_phase(hosts, pids, f"batch_write of {n}, c={c}", c, secs, n)
    print(f"batch/single: {batched / single:.1f}x", flush=True)
    return {
        "single_put_records_s": round(single),
        "batch_records_s": round(batched),
        "batch_ratio": round(batched / single, 2),
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per bench")
    parser.add_argument("--concurrency", type=int, default=64, help="RU,50 bench concurrency")
    parser.add_argument("--rounds", type=int, default=2, help="alone/during pairs")
    parser.add_argument("--batch", type=int, default=100, help="records per batch_write")
    parser.add_argument("--batch-concurrency", type=int, default=16)
    parser.add_argument("--batch-seconds", type=float, default=10.0)
    parser.add_argument("--hosts", help="an existing cluster (namespace test) instead")
    parser.add_argument("--skip-load", action="store_true", help="the records are there")
    parser.add_argument("--json", action="store_true", help="also print every figure as JSON")
    parser.add_argument("--scanner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    numbers = (
        args.records,
        args.seconds,
        args.concurrency,
        args.rounds,
        args.batch,
        args.batch_concurrency,
    )
    if min(numbers) <= 0 or args.batch_seconds <= 0:
        parser.error("records, seconds, concurrency and batch sizes must be positive")
    if args.scanner and not args.hosts:
        parser.error("--scanner needs --hosts")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.scanner:
        return scanner(args.hosts.split(","), SCANNER_MAX_S)
    if args.hosts:
        figures = measure(args.hosts.split(","), args, [])
    else:
        with (
            tempfile.TemporaryDirectory(prefix="scan-effect-") as tmp,
            Cluster(Path(tmp), nodes=3) as cluster,
        ):
            cluster.wait_settled()
            pids = [p for p in (cluster.pid(n) for n in cluster.ids) if p]
            figures = measure(cluster.hosts, args, pids)
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
