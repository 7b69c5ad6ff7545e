#!/usr/bin/env python3
"""Rebalancing figures: grow a loaded 3-node cluster by 2 nodes under a running load.

    .venv/bin/python scripts/rebalance_bench.py [--records 200000] [--concurrency 64]

Starts 3 real node processes (RF 3, 8 groups), inserts ``--records`` records of 100 B,
measures ``raftstore bench -w RU,50`` throughput before, then runs the same load while two
nodes join and the rebalancer moves replicas to them, and after. Prints the time to
rebalance, the records moved per second (replicas moved x records per group / time), and
ops/s before, during and after the move (per-second figures from the bench).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GROUPS = 8


def bench(hosts: list[str], args: argparse.Namespace, seconds: float, extra: list[str]) -> Any:
    cmd = [
        sys.executable, "-m", "raftstore_client.cli", "bench", "-w", "RU,50",
        "-z", str(args.concurrency), "--procs", "2", "-k", str(args.records),
        "-t", str(seconds), "--warmup", "1", "--hosts", ",".join(hosts), "--timeout", "10",
        *extra,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 600)


class LoadLoop(threading.Thread):
    """Back-to-back ``raftstore bench`` windows of ``window`` seconds until stopped:
    (start, end, ops/s) of each, on the monotonic clock."""

    def __init__(self, hosts: list[str], args: argparse.Namespace, window: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.hosts, self.args, self.window = hosts, args, window
        self.windows: list[tuple[float, float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            start = time.monotonic()
            out = bench(self.hosts, self.args, self.window, ["--json", "--quiet", "--warmup", "0"])
            lines = out.stdout.strip().splitlines()
            if lines:
                self.windows.append((start, time.monotonic(), json.loads(lines[-1])["ops_s"]))

    def mean(self, start: float, end: float) -> float:
        inside = [ops for a, b, ops in self.windows if a >= start and b <= end]
        return statistics.mean(inside) if inside else float("nan")


def main() -> int:
    from tests.jepsen.cluster import Cluster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--measure", type=float, default=20.0, help="seconds before and after")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rebalance-"))
    try:
        with Cluster(tmp, nodes=3, replication_factor=3, partition_groups=GROUPS) as cluster:
            hosts = list(cluster.hosts)
            t0 = time.monotonic()
            bench(hosts, args, 1, ["--preload", "--quiet", "--json"])
            print(f"loaded {args.records} records in {time.monotonic() - t0:.0f} s", flush=True)
            old = {g.group_id: set(g.replica_node_ids) for g in cluster.partition_map("n1").groups}
            load = LoadLoop(hosts, args)
            started = time.monotonic()
            load.start()
            time.sleep(args.measure)
            join_at = time.monotonic()
            cluster.add_node()
            cluster.add_node()
            pmap = cluster.wait_settled(timeout=3600)
            settled = time.monotonic()
            time.sleep(args.measure + load.window)
            load.stop.set()
            load.join(120)
            moves = sum(
                len(set(g.replica_node_ids) - old[g.group_id])
                for g in pmap.groups
                if g.namespace == "test"
            )
            took = settled - join_at
            records = moves * args.records / GROUPS
            print(
                f"replicas moved: {moves}; time to rebalance: {took:.1f} s; "
                f"records moved: {records:.0f} ({records / took:.0f} records/s)"
            )
            before = load.mean(started, join_at)
            during = load.mean(join_at, settled)
            after = load.mean(settled, time.monotonic())
            print(
                f"RU,50 c={args.concurrency} ops/s: before {before:.0f}, during {during:.0f} "
                f"({during / before:.0%} of before), after {after:.0f}"
            )
    except BaseException:
        print(f"failed; node logs kept in {tmp}", file=sys.stderr)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
