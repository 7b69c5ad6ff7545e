#!/usr/bin/env python3
"""raftstore and etcd side by side in one sitting, with ../shared/peerbench's load generator.

    .venv/bin/python scripts/peerbench.py [--workloads W,A,C] [--concurrency 64] [--duration 10]

Starts a 3-node etcd cluster (Debian's etcd-server, fsync on: apt-get install -y
etcd-server etcd-client), runs each workload against it, stops it, then does the same
against a fresh 3-node raftstore cluster of real node processes, and prints both results
with the ratios. The same generator, concurrency, key space and value size serve both.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PEERBENCH = ROOT.parent / "shared" / "peerbench"


def loadgen(
    peerbench: Path,
    target: str,
    addrs: list[str],
    workload: str,
    args: argparse.Namespace,
    preload: bool,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(peerbench / "loadgen.py"),
        "--target",
        target,
        "--addrs",
        ",".join(addrs),
        "--workload",
        workload,
        "--concurrency",
        str(args.concurrency),
        "--procs",
        str(args.procs),
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--keys",
        str(args.keys),
        "--value-size",
        str(args.value_size),
    ]
    if preload:
        cmd.append("--preload")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}  # raftstore_peerbench shim
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=peerbench, timeout=900, env=env)
    if out.returncode != 0:
        raise SystemExit(f"loadgen failed for {target}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_etcd(peerbench: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    sys.path.insert(0, str(peerbench))
    from etcd_cluster import EtcdCluster  # type: ignore[import-not-found]

    results = {}
    with EtcdCluster() as etcd:
        for i, w in enumerate(args.workloads):
            results[w] = loadgen(peerbench, "etcd", etcd.clients, w, args, preload=i == 0)
            print(json.dumps(results[w]), flush=True)
    return results


def run_raftstore(peerbench: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from tests.jepsen.cluster import Cluster

    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="peerbench-raftstore-"))
    try:
        with Cluster(tmp, nodes=3, node_args=list(args.node_arg)) as cluster:
            for i, w in enumerate(args.workloads):
                res = loadgen(
                    peerbench, "raftstore_peerbench:target", cluster.hosts, w, args, preload=i == 0
                )
                res["target"] = "raftstore"
                results[w] = res
                print(json.dumps(res), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peerbench", type=Path, default=DEFAULT_PEERBENCH)
    p.add_argument("--workloads", default="W,A,C", type=lambda s: s.split(","))
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--keys", type=int, default=10000)
    p.add_argument("--value-size", type=int, default=100)
    p.add_argument(
        "--node-arg",
        action="append",
        default=[],
        help="extra raftstore node argument (e.g. --node-arg=--unsafe-no-fsync)",
    )
    args = p.parse_args()
    if shutil.which("etcd") is None:
        raise SystemExit("etcd is not installed: apt-get install -y etcd-server etcd-client")
    etcd = run_etcd(args.peerbench, args)
    raftstore = run_raftstore(args.peerbench, args)
    print(
        f"\nworkload  concurrency {args.concurrency}  {args.duration:.0f}s each"
        f"{'  raftstore node args: ' + ' '.join(args.node_arg) if args.node_arg else ''}"
    )
    head = f"{'etcd ops/s':>12}{'raftstore':>12}{'ratio':>8}   {'etcd p99':>9}{'raftstore':>11}"
    print(f"{'':9}{head}{'ratio':>8}")
    for w in args.workloads:
        e, r = etcd[w], raftstore[w]
        print(
            f"{w:<9}{e['ops_s']:>12.0f}{r['ops_s']:>12.0f}{r['ops_s'] / e['ops_s']:>8.2f}   "
            f"{e['p99_ms']:>7.1f}ms{r['p99_ms']:>9.1f}ms{r['p99_ms'] / e['p99_ms']:>8.2f}"
            f"   errors etcd={e['errors']} raftstore={r['errors']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
