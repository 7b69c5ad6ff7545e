#!/usr/bin/env python3
"""Backup and restore throughput, and the proof that a round trip is exact.

    python scripts/bench_backup.py --records 20000
    python scripts/bench_backup.py --records 1000000 --directory /big/disk/bk   # the 1 M run

Starts a source and a target 3-node cluster (journal fsync off: loading is not what is
measured), writes ``--records`` records into sets a and b of namespace test (every bin
type, half with a stored user key and half digest-only, a third with a TTL) and an index,
backs the namespace up, restores it into the target, and compares every record of both
clusters (key, set, bins byte for byte, void time within 3 s). Prints records/s of backup
and restore; exits 1 if any record differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from raftstore_client import Client  # noqa: E402
from raftstore_client.backup import backup, differences, fingerprint, restore  # noqa: E402

from tests.integration.backup_data import load  # noqa: E402
from tests.jepsen.cluster import Cluster  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--directory", default=None, help="backup directory (default: a temp dir)")
    ap.add_argument("--parallel", type=int, default=8, help="backup ranges scanned at once")
    ap.add_argument("--restore-parallel", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=250)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(args.directory or Path(tmp) / "backup")
        flags = ["--unsafe-no-fsync"]
        with (
            Cluster(Path(tmp) / "source", nodes=3, node_args=flags) as src,
            Cluster(Path(tmp) / "target", nodes=3, node_args=flags) as dst,
            Client(src.hosts, timeout=60) as s,
            Client(dst.hosts, timeout=60) as t,
        ):
            return run(args, directory, s, t)


def run(args: argparse.Namespace, directory: Path, s: Client, t: Client) -> int:
    start = time.monotonic()
    load(s, args.records, ("a", "b"))
    s.create_index("test", "a", "i", "NUMERIC", name="a_i")
    s.wait_for_index("test", "a_i", timeout=600)
    print(f"loaded {args.records} records in {time.monotonic() - start:.1f} s", flush=True)
    b = backup(s, directory, "test", parallel=args.parallel)
    size = b.bytes / 1e6
    print(
        f"backup : {b.records} records in {b.seconds:.1f} s = "
        f"{b.records / b.seconds:.0f} records/s ({size:.1f} MB compressed)",
        flush=True,
    )
    r = restore(t, directory, batch_size=args.batch_size, parallel=args.restore_parallel)
    print(
        f"restore: {r.records} records in {r.seconds:.1f} s = "
        f"{r.records / r.seconds:.0f} records/s codes {r.codes}",
        flush=True,
    )
    start = time.monotonic()
    before, after = fingerprint(s, "test"), fingerprint(t, "test")
    diff = differences(before, after)
    drift = [after[d][1] - before[d][1] for d in before.keys() & after.keys() if before[d][1]]
    print(
        f"compare: {b.records} records, {len(diff)} differ; void time drift of TTL records "
        f"{min(drift, default=0)}..{max(drift, default=0)} ms "
        f"({time.monotonic() - start:.1f} s); indexes on target "
        f"{[i.name for i in t.list_indexes('test')]}"
    )
    return 1 if diff or r.codes != {"OK": b.records} else 0


if __name__ == "__main__":
    sys.exit(main())
