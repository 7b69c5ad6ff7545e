#!/usr/bin/env python3
"""The cost of access control: `raftstore bench` RU,50 with security off and on, side by
side in one sitting.

    .venv/bin/python scripts/bench_security.py [--duration 10] [--concurrency 64] [--rounds 2]

Each round starts a fresh 3-node cluster per configuration, in turn (off, on), preloads
it, and runs RU,50 at the given concurrency; with security on the benchmark's clients
log in as ``admin`` once and send the token with every call, which every node verifies
and authorises (and again at the leader when a call is forwarded).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def main() -> int:
    from bench_matrix import bench

    from tests.jepsen.cluster import Cluster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--keys", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    rows = []
    for rnd in range(1, args.rounds + 1):
        for security in (False, True):
            tmp = Path(tempfile.mkdtemp(prefix="bench-security-"))
            try:
                with Cluster(tmp, nodes=3, security=security) as cluster:
                    auth = cluster.client_auth
                    login = ("--user", auth["user"], "--password", auth["password"]) if auth else ()
                    warm = argparse.Namespace(**{**vars(args), "duration": 3})
                    bench(cluster.hosts, "I", 16, warm, login)
                    res = bench(cluster.hosts, "RU,50", args.concurrency, args, login)
                    name = "security on" if security else "security off"
                    rows.append((rnd, name, res))
                    print(json.dumps({"round": rnd, "config": name, **res}), flush=True)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\n{'round':<7}{'configuration':<15}{'ops/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    )
    for rnd, name, r in rows:
        print(
            f"{rnd:<7}{name:<15}{r['ops_s']:>10.0f}{r['all']['p50_ms']:>9.2f}"
            f"{r['all']['p99_ms']:>9.2f}{sum(r['errors'].values()):>8}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
