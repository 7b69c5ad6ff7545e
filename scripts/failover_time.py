#!/usr/bin/env python3
"""Time from a group leader's SIGKILL to the first acknowledged write on that group.

    .venv/bin/python scripts/failover_time.py [--trials 10]

Each trial: pick a group, SIGKILL its leader, write to a key of that group with short
attempts until one is acknowledged, record the time; restart the killed node and wait
until it has caught up. Prints every trial and min / median / max.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from raftstore_client import Client, RaftstoreError

    from tests.integration.helpers import key_in_group, replicas_caught_up, wait_until
    from tests.jepsen.cluster import Cluster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=10)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="failover-"))
    times = []
    try:
        with Cluster(tmp, nodes=3) as cluster:
            client = Client(cluster.hosts, timeout=30, attempt_timeout=0.25, max_retries=1000)
            for trial in range(args.trials):
                group = f"test/{trial % 8}"
                key = key_in_group(group, f"failover{trial}-")
                client.put(key, {"v": 0})
                victim = cluster.leaders()[group]
                cluster.kill(victim)
                killed = time.monotonic()
                while True:
                    try:
                        client.put(key, {"v": 1})
                        break
                    except RaftstoreError:
                        continue
                elapsed = time.monotonic() - killed
                times.append(elapsed)
                new_leader = cluster.leaders().get(group, "?")
                print(
                    f"trial {trial + 1:>2}: {group} leader {victim} killed; first acknowledged "
                    f"write after {elapsed * 1000:.0f} ms (new leader {new_leader})",
                    flush=True,
                )
                cluster.restart(victim)
                cluster.wait_ready()
                wait_until(lambda: replicas_caught_up(cluster, cluster.ids), 60, "catch-up")
            client.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\nleader SIGKILL -> first acknowledged write, {len(times)} trials: "
        f"min {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
