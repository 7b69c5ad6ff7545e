#!/usr/bin/env python3
"""The cost of TLS and of access control: `raftstore bench` RU,50 at c=64 on a plain
cluster, a TLS cluster and a TLS cluster with security on, side by side in one sitting.

    .venv/bin/python scripts/security_cost.py [--duration 10] [--concurrency 64] [--rounds 1]

Each round starts a fresh 3-node cluster on this machine per configuration, in turn:

- ``plain``: no TLS, security off;
- ``tls``: mutual TLS on the client port and on the peer links (``[tls]`` with
  ``client_auth``; certificates from a CA made for the run);
- ``tls+auth``: the same, plus access control: the benchmark's clients log in as
  ``admin`` once and send the token with every call, which every node verifies and
  authorises (again at the leader when a call is forwarded).

Each cluster is warmed with 3 s of inserts (c=16), then measured. The table gives ops/s,
p50 and p99 (ms) and each figure's ratio to ``plain`` of the same round. Every node
process is killed when its configuration is done (the Cluster manager), and the bench
subprocesses are bounded by a timeout.
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

CONFIGS = ("plain", "tls", "tls+auth")


def _run_config(name: str, pki: dict[str, str], args: argparse.Namespace) -> dict:
    from bench_matrix import bench
    from raftstore_client import TLS

    from tests.jepsen.cluster import Cluster

    tls_on = name != "plain"
    tmp = Path(tempfile.mkdtemp(prefix=f"security-cost-{name.replace('+', '-')}-"))
    node_tls = {
        "cert_file": pki["node"],
        "key_file": pki["node_key"],
        "ca_file": pki["ca"],
        "client_auth": True,
    }
    client_tls = TLS.from_files(pki["ca"], pki["client"], pki["client_key"])
    try:
        with Cluster(
            tmp,
            nodes=3,
            tls=node_tls if tls_on else None,
            client_tls=client_tls if tls_on else None,
            security=name == "tls+auth",
        ) as cluster:
            extra: tuple[str, ...] = ()
            if tls_on:
                extra += ("--tls-ca", pki["ca"], "--tls-cert", pki["client"])
                extra += ("--tls-key", pki["client_key"])
            auth = cluster.client_auth
            if auth:
                extra += ("--user", auth["user"], "--password", auth["password"])
            warm = argparse.Namespace(**{**vars(args), "duration": 3})
            bench(cluster.hosts, "I", 16, warm, extra)
            return bench(cluster.hosts, "RU,50", args.concurrency, args, extra)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _pki(directory: Path) -> dict[str, str]:
    from tests.pki import CA

    ca = CA.create(directory)
    node, node_key = ca.issue("node")
    client, client_key = ca.issue("client", ips=(), dns=("client.raftstore.test",))
    return {
        "ca": str(ca.path),
        "node": str(node),
        "node_key": str(node_key),
        "client": str(client),
        "client_key": str(client_key),
    }


def _ratio(value: float | None, base: float | None) -> str:
    if not value or not base:
        return "-"
    return f"{value / base:.2f}"


def _table(rows: list[tuple[int, str, dict]]) -> None:
    print(
        f"\n{'round':<6}{'configuration':<15}{'ops/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'errors':>8}{'ops/s x':>9}{'p50 x':>7}{'p99 x':>7}"
    )
    base = {rnd: r for rnd, name, r in rows if name == "plain"}
    for rnd, name, r in rows:
        b = base.get(rnd, r)
        p50, p99 = r["all"]["p50_ms"], r["all"]["p99_ms"]
        print(
            f"{rnd:<6}{name:<15}{r['ops_s']:>9.0f}{p50:>8.2f}{p99:>8.2f}"
            f"{sum(r['errors'].values()):>8}{_ratio(r['ops_s'], b['ops_s']):>9}"
            f"{_ratio(p50, b['all']['p50_ms']):>7}{_ratio(p99, b['all']['p99_ms']):>7}"
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10, help="measured seconds per config")
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--procs", type=int, default=2, help="bench client processes")
    p.add_argument("--keys", type=int, default=10000)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--configs", default=",".join(CONFIGS), help="subset, comma-separated")
    args = p.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown or args.duration <= 0 or args.concurrency < 1 or args.rounds < 1:
        p.error(f"configs must be among {CONFIGS}; duration, concurrency and rounds positive")
    rows = []
    pki_dir = Path(tempfile.mkdtemp(prefix="security-cost-pki-"))
    try:
        pki = _pki(pki_dir)
        for rnd in range(1, args.rounds + 1):
            for name in configs:
                res = _run_config(name, pki, args)
                rows.append((rnd, name, res))
                print(json.dumps({"round": rnd, "config": name, **res}), flush=True)
    finally:
        shutil.rmtree(pki_dir, ignore_errors=True)
    _table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
