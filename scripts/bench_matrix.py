#!/usr/bin/env python3
"""`raftstore bench` against several node configurations in one sitting, side by side.

    .venv/bin/python scripts/bench_matrix.py [--duration 10] [--concurrency 64]

Each configuration gets a fresh 3-node cluster of real node processes; the same workloads
run against each (RU,50 at the given concurrency, RU,50 with one sequential client, and
RU,95), and the table shows throughput and p50/p99 per configuration:

    no-fsync+log-reads   journal never fsynced, every read through the log (the "before")
    fsync+log-reads      durable journal, every read through the log
    fsync+readindex      durable journal, ReadIndex reads (the default)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = {
    "no-fsync+log-reads": ["--unsafe-no-fsync", "--read-path", "log"],
    "fsync+log-reads": ["--read-path", "log"],
    "fsync+readindex": [],
}


def bench(
    hosts: list[str],
    workload: str,
    concurrency: int,
    args: argparse.Namespace,
    extra: tuple[str, ...] = (),
) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "raftstore_client.cli",
        "bench",
        "--hosts",
        ",".join(hosts),
        "-w",
        workload,
        "-z",
        str(concurrency),
        "-t",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "-k",
        str(args.keys),
        "--procs",
        str(min(args.procs, concurrency)),
        "--json",
        *extra,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"bench failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    from tests.jepsen.cluster import Cluster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--keys", type=int, default=10000)
    p.add_argument("--configs", default=",".join(CONFIGS), type=lambda s: s.split(","))
    args = p.parse_args()
    workloads = [("RU,50", args.concurrency), ("RU,50", 1), ("RU,95", args.concurrency)]
    rows = []
    for name in args.configs:
        tmp = Path(tempfile.mkdtemp(prefix="bench-matrix-"))
        try:
            with Cluster(tmp, nodes=3, node_args=CONFIGS[name]) as cluster:
                bench(cluster.hosts, "I", 16, argparse.Namespace(**{**vars(args), "duration": 3}))
                for workload, conc in workloads:
                    res = bench(cluster.hosts, workload, conc, args)
                    rows.append((name, workload, conc, res))
                    print(json.dumps({"config": name, **res}), flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\n{'configuration':<22}{'workload':<10}{'conc':>5}{'ops/s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'read p99':>10}{'write p99':>10}{'errors':>8}"
    )
    for name, workload, conc, r in rows:
        print(
            f"{name:<22}{workload:<10}{conc:>5}{r['ops_s']:>10.0f}{r['all']['p50_ms']:>9.2f}"
            f"{r['all']['p99_ms']:>9.2f}{r['read']['p99_ms'] or 0:>10.2f}"
            f"{r['write']['p99_ms'] or 0:>10.2f}{sum(r['errors'].values()):>8}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
