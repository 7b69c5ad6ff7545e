#!/usr/bin/env python3
"""Multi-raft costs of a node: idle CPU with many groups, and peer frames under load.

    .venv/bin/python scripts/multiraft_bench.py idle [--groups 64] [--seconds 20]
        [--raft quiesce=true]
    .venv/bin/python scripts/multiraft_bench.py load [--groups 8] [--seconds 10]
        [--workload RU,50] [--concurrency 64]

Starts a fresh 3-node cluster of real node processes (``tests.jepsen.cluster``), waits for
every group to have a leader and a few quiet seconds, then

- ``idle``: samples each node's CPU (user + system from ``/proc/<pid>/stat``) over
  ``--seconds`` with no load and prints it as a percentage of one core, with the number of
  groups quiesced on each node;
- ``load``: runs ``raftstore bench`` for ``--seconds`` and prints ops/s and the peer mesh's
  counters over that window: frames and messages sent per second (the three nodes summed)
  and messages per frame.

The counters come from each node's Prometheus endpoint (``raftstore_peer_frames_sent_total``,
``raftstore_peer_messages_sent_total``, ``raftstore_groups_quiesced``).
``--raft peer_batch=false`` / ``--raft quiesce=true`` start the nodes with multi-raft
batching off (on by default) or quiescence on (opt-in), ``[raft]`` settings, for a
before/after comparison in one sitting.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.jepsen.cluster import Cluster  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def scrape(cluster: Cluster, node_id: str) -> dict[str, float]:
    """The node's unlabelled-or-summed metric values, by family name."""
    url = f"http://{cluster.node(node_id).metrics}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"^(raftstore_[a-z_]+)(?:\{[^}]*\})? ([-+0-9.eE]+|NaN)$", line)
        if m and m.group(2) != "NaN":
            out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(2))
    return out


def sample_idle_cpu(cluster: Cluster, seconds: float) -> dict[str, float]:
    """Percent of one core each node used over ``seconds`` (no load)."""
    pids = {n: cluster.pid(n) for n in cluster.ids}
    before = {n: cpu_seconds(p) for n, p in pids.items() if p}
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    return {n: 100.0 * (cpu_seconds(pids[n]) - before[n]) / elapsed for n in before}  # type: ignore[arg-type]


def quiesced(cluster: Cluster) -> dict[str, int]:
    return {n: int(scrape(cluster, n).get("raftstore_groups_quiesced", 0)) for n in cluster.ids}


def start(directory: Path, groups: int, raft: dict[str, bool]) -> Cluster:
    cluster = Cluster(directory, nodes=3, partition_groups=groups, raft=raft)
    cluster.start(timeout=180)
    cluster.wait_ready(timeout=180)
    return cluster


def idle(args: argparse.Namespace, raft: dict[str, bool]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cluster = start(Path(tmp), args.groups, raft)
        try:
            time.sleep(args.settle)
            cpu = sample_idle_cpu(cluster, args.seconds)
            q = quiesced(cluster)
        finally:
            cluster.close()
    total = sum(cpu.values())
    print(f"idle CPU, {args.groups} groups, {args.seconds:.0f}s, raft {raft or '{}'}:")
    for n in sorted(cpu):
        print(f"  {n}: {cpu[n]:6.1f}% of a core, groups quiesced here: {q.get(n, 0)}")
    print(f"  total: {total:.1f}%  mean per node: {total / len(cpu):.1f}%")


def load(args: argparse.Namespace, raft: dict[str, bool]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cluster = start(Path(tmp), args.groups, raft)
        try:
            time.sleep(2.0)
            before = {n: scrape(cluster, n) for n in cluster.ids}
            t0 = time.monotonic()
            bench = subprocess.run(
                [
                    str(Path(sys.executable).parent / "raftstore"),
                    "bench",
                    "--hosts",
                    ",".join(cluster.hosts),
                    "-w",
                    args.workload,
                    "-z",
                    str(args.concurrency),
                    "-t",
                    str(int(args.seconds)),
                ],
                capture_output=True,
                text=True,
                timeout=args.seconds + 120,
            )
            elapsed = time.monotonic() - t0
            after = {n: scrape(cluster, n) for n in cluster.ids}
        finally:
            cluster.close()
    print(bench.stdout.strip())
    if bench.returncode != 0:
        print(bench.stderr.strip())

    def delta(name: str) -> float:
        return sum(after[n].get(name, 0.0) - before[n].get(name, 0.0) for n in after)

    frames = delta("raftstore_peer_frames_sent_total")
    messages = delta("raftstore_peer_messages_sent_total")
    what = f"{args.workload}, -z {args.concurrency}, raft {raft or '{}'}"
    print(f"peer mesh over {elapsed:.1f}s ({what}):")
    print(f"  frames/s {frames / elapsed:.0f}  messages/s {messages / elapsed:.0f}")
    print(f"  messages/frame {messages / max(frames, 1):.2f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("mode", choices=["idle", "load"])
    p.add_argument("--groups", type=int, default=None)
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--settle", type=float, default=5.0, help="idle: quiet seconds first")
    p.add_argument("--workload", default="RU,50")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--raft", action="append", default=[], help="peer_batch|quiesce=true|false")
    args = p.parse_args()
    raft = {k: v.lower() == "true" for k, _, v in (e.partition("=") for e in args.raft)}
    if args.mode == "idle":
        args.groups = args.groups or 64
        args.seconds = args.seconds or 20.0
        idle(args, raft)
    else:
        args.groups = args.groups or 8
        args.seconds = args.seconds or 10.0
        load(args, raft)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
