#!/usr/bin/env python3
"""The client transport and the node's event loop: `raftstore bench` with unary calls vs
the KV stream, on nodes running asyncio's loop vs uvloop, side by side in one sitting.

    .venv/bin/python scripts/bench_transport.py [--workload RU,50] [--concurrency 64]
        [--duration 10] [--rounds 2] [--loops asyncio,uvloop]

For each node event loop it starts a fresh 3-node cluster (``--event-loop``), preloads
the keys, then runs, ``--rounds`` times, the workload with ``--transport unary`` and
``--transport stream`` in turn. Each line: ops/s, p50/p99 latency, and node CPU per
operation (user + system of the three node processes, from /proc, over the run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    from tests.jepsen.cluster import Cluster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="RU,50")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--keys", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--loops", default="asyncio,uvloop", help="node event loops, in turn")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-transport-"))
    try:
        for loop in args.loops.split(","):
            env = {"RAFTSTORE_EVENT_LOOP": loop}
            with Cluster(tmp / loop, nodes=3, env=env) as cluster:
                bench = [
                    *(sys.executable, "-m", "raftstore_client.cli", "bench", "--json"),
                    *("--hosts", ",".join(cluster.hosts), "-k", str(args.keys)),
                    *("--procs", str(args.procs)),
                ]
                load = ["-w", "I", "-z", "16", "-t", "3", "--warmup", "0"]
                subprocess.run([*bench, *load], capture_output=True, check=True, timeout=300)
                pids = [pid for n in cluster.ids if (pid := cluster.pid(n))]
                for r in range(args.rounds):
                    for transport in ("unary", "stream"):
                        run = [
                            *("-w", args.workload, "-z", str(args.concurrency)),
                            *("-t", str(args.duration), "--warmup", "0"),
                            *("--transport", transport),
                        ]
                        cpu0 = sum(cpu_seconds(p) for p in pids)
                        out = subprocess.run(
                            [*bench, *run], capture_output=True, text=True, timeout=900
                        )
                        cpu1 = sum(cpu_seconds(p) for p in pids)
                        if out.returncode != 0:
                            raise SystemExit(f"bench failed: {out.stderr[-2000:]}")
                        s = json.loads(out.stdout.strip().splitlines()[-1])
                        ops = max(1, s["all"]["count"])
                        print(
                            f"round {r + 1}  node loop {loop:<7}  {transport:<6}  "
                            f"{s['ops_s']:>7.1f} ops/s  p50 {s['all']['p50_ms']:>6.2f} ms  "
                            f"p99 {s['all']['p99_ms']:>7.2f} ms  "
                            f"node CPU {(cpu1 - cpu0) * 1000 / ops:.2f} ms/op  "
                            f"errors {s['errors'] or 0}",
                            flush=True,
                        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
