#!/usr/bin/env python3
"""Where a node's CPU goes under load: CPU by component, ops per Raft entry, CPU per op.

    .venv/bin/python scripts/profile_node.py [--workload RU,50] [--concurrency 64]
        [--duration 15] [--raw-dir DIR]

Starts a fresh 3-node cluster of real node processes, loads it with `raftstore bench`,
and meanwhile samples every node with py-spy (`record --gil --nonblocking --format raw`:
only the thread holding the GIL, which is where a Python node's CPU time goes). Each
sample is charged to the innermost frame that belongs to a known component; the table
shows each component's share of all samples over the three nodes. Alongside it:

- ops/s, and client writes per Raft entry appended by the group leaders (group commit:
  how many writes one entry carries);
- node CPU (user + system, from /proc, the three nodes summed) per operation.

``--transport unary`` loads the nodes with one gRPC call per command instead of the KV
stream; ``RAFTSTORE_EVENT_LOOP=asyncio`` in the environment runs the nodes on asyncio's
loop instead of uvloop. py-spy is installed by `pip install py-spy` (not a test
dependency). Keep the raw profiles with --raw-dir to open them elsewhere (e.g.
speedscope, or `py-spy` flamegraphs).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (component, substrings of a frame's file path); the innermost matching frame decides.
COMPONENTS: list[tuple[str, tuple[str, ...]]] = [
    ("RocksDB", ("rocksdict", "/storage/")),
    (
        "apply + codec",
        (
            "raftstore/state_machine.py",
            "raftstore/codec.py",
            "raftstore/records.py",
            "raftstore/values.py",
            "raftstore/operations.py",
            "raftstore/commands.py",
            "raftstore/expressions.py",
            "raftstore/wire.py",
            "msgpack",
            "google/protobuf",
        ),
    ),
    ("journal + fsync", ("replication/journal.py", "replication/wal.py", "replication/driver.py")),
    ("pysyncobj + group", ("pysyncobj/", "replication/group.py", "replication/readindex.py")),
    ("mesh", ("replication/mesh.py", "replication/messages.py", "node/leaders.py")),
    (
        "request handlers",
        (
            "/node/services/",
            "/node/dispatch.py",
            "/node/stream.py",
            "/node/parsing.py",
            "/node/convert.py",
            "/node/admission.py",
            "/node/routing.py",
            "/node/forwarder.py",
            "/node/metrics.py",
        ),
    ),
    ("gRPC", ("grpc/", "grpc_")),
    (
        "event loop",
        ("asyncio/", "uvloop", "selectors.py", "threading.py", "concurrent/futures"),
    ),
]


def component(stack: str) -> str:
    """The component of one raw py-spy stack (frames root first, ';'-separated)."""
    for frame in reversed(stack.split(";")):
        for name, needles in COMPONENTS:
            if any(n in frame for n in needles):
                return name
    return "other"


def read_raw(path: Path) -> collections.Counter[str]:
    """Samples per component in a py-spy raw file (``stack count`` per line)."""
    out: collections.Counter[str] = collections.Counter()
    if not path.exists():
        return out
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out[component(stack)] += int(count)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def leader_entries(cluster: object) -> int:
    """Log entries appended so far by the leaders of every group (their last indexes)."""
    total = 0
    for node_id in cluster.ids:  # type: ignore[attr-defined]
        for g in cluster.status(node_id).groups:  # type: ignore[attr-defined]
            if g.role == 3:  # RAFT_ROLE_LEADER
                total += g.last_log_index
    return total


def main() -> int:
    from tests.jepsen.cluster import Cluster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", default="RU,50")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--duration", type=float, default=15)
    p.add_argument("--keys", type=int, default=10000)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--transport", choices=["stream", "unary"], default="stream")
    p.add_argument("--rate", type=int, default=97, help="py-spy samples per second")
    p.add_argument("--raw-dir", type=Path, help="keep the raw py-spy profiles here")
    args = p.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")

    tmp = Path(tempfile.mkdtemp(prefix="profile-node-"))
    raw_dir = args.raw_dir or tmp / "profiles"
    raw_dir.mkdir(parents=True, exist_ok=True)
    try:
        with Cluster(tmp / "cluster", nodes=3) as cluster:
            bench = [
                sys.executable,
                "-m",
                "raftstore_client.cli",
                "bench",
                "--hosts",
                ",".join(cluster.hosts),
                "-k",
                str(args.keys),
                "--procs",
                str(args.procs),
                "--json",
            ]
            load = ["-w", "I", "-z", "16", "-t", "3", "--warmup", "0"]
            subprocess.run([*bench, *load], capture_output=True, check=True, timeout=300)
            pids = {n: cluster.pid(n) for n in cluster.ids}
            cpu0 = {n: cpu_seconds(pid) for n, pid in pids.items() if pid}
            entries0 = leader_entries(cluster)
            spies = [
                subprocess.Popen(
                    [
                        py_spy,
                        "record",
                        "--gil",
                        "--nonblocking",
                        "--format",
                        "raw",
                        "--rate",
                        str(args.rate),
                        "--duration",
                        str(int(args.duration)),
                        "--pid",
                        str(pid),
                        "--output",
                        str(raw_dir / f"{n}.txt"),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for n, pid in pids.items()
                if pid
            ]
            started = time.monotonic()
            run = [
                "-w",
                args.workload,
                "-z",
                str(args.concurrency),
                "-t",
                str(args.duration),
                "--warmup",
                "0",
                "--transport",
                args.transport,
            ]
            out = subprocess.run([*bench, *run], capture_output=True, text=True, timeout=900)
            elapsed = time.monotonic() - started
            cpu1 = {n: cpu_seconds(pid) for n, pid in pids.items() if pid}
            entries1 = leader_entries(cluster)
            for spy in spies:
                spy.wait(timeout=120)
            if out.returncode != 0:
                raise SystemExit(f"bench failed: {out.stderr[-2000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
        samples: collections.Counter[str] = collections.Counter()
        for n in pids:  # read before the temporary folder (and its profiles) goes
            samples.update(read_raw(raw_dir / f"{n}.txt"))
    finally:
        if args.raw_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(tmp / "cluster", ignore_errors=True)

    ops = result["all"]["count"]
    writes = result["write"]["count"]
    entries = max(1, entries1 - entries0)
    cpu = sum(cpu1[n] - cpu0[n] for n in cpu1)
    print(
        f"{args.workload} c={args.concurrency} {args.duration:.0f}s on 3 nodes: "
        f"{result['ops_s']:.0f} ops/s, p50 {result['all']['p50_ms']} ms, "
        f"p99 {result['all']['p99_ms']} ms"
    )
    print(
        f"writes per Raft entry: {writes / entries:.2f} ({writes} writes, {entries} entries "
        f"appended by leaders)"
    )
    print(
        f"node CPU: {cpu:.1f} s over {elapsed:.1f} s (3 nodes summed), "
        f"{1000 * cpu / max(1, ops):.2f} ms per operation"
    )
    total = sum(samples.values())
    print(f"\nCPU by component (py-spy --gil, {total} samples over the 3 nodes):")
    for name, count in samples.most_common():
        print(f"  {name:<20} {100 * count / max(1, total):5.1f} %")
    if args.raw_dir:
        print(f"\nraw profiles: {raw_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
