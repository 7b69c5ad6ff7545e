"""Soak: a long run at 80 % of the measured capacity, with a rolling restart in the middle.

One Jepsen-style run (``tests.jepsen.runner``, workload ``set``: every acknowledged element
must be in the final reads; the replicas must converge) on a 3-node cluster, with:

- a background mixed load (`MixedLoad`, one asyncio thread, ``AsyncClient``): 40 % puts
  with a TTL of 30-300 s, 40 % reads, 10 % increments, 10 % deletes over 5000 keys of 100
  B values. Its capacity is measured first (10 s, unthrottled), then it runs throttled to
  ``load_share`` (80 %) of that until the run heals;
- the fault plan: one ``restart-rolling`` (each node stopped cleanly, restarted, waited
  for, in turn) at the middle of the run;
- the resident memory (VmRSS) of every node process sampled every 5 s;
- the nodes compact their Raft logs every 60 s (``SNAPSHOT_SECONDS``; the default is
  600 s), so the log held in memory stops growing within the warm-up.

Pass marks (`judge`): the Jepsen run passes (set checker valid, replicas converge, enough
ok operations); the mixed load saw no error other than the retryable ones (TIMEOUT,
PARTITION_UNAVAILABLE, KEY_BUSY, DEVICE_OVERLOAD, no node reachable) and those only
during the rolling restart (from its start to 15 s after it ended); every node process
that ran from warm-up to its stop or to the end grew less than 10 % in resident memory
after its warm-up (the first ``warm_s`` seconds of its life).

``python -m tests.soak [--time 600] [--out DIR]`` prints the figures; the ``slow`` test
``tests/soak/test_soak.py`` runs it for 10 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raftstore_client import AsyncClient, RaftstoreError, RecordNotFound
from raftstore_client import operations as ops

from tests.jepsen.cluster import Cluster
from tests.jepsen.nemesis import Fault
from tests.jepsen.runner import RunResult, run

RETRYABLE = {"TIMEOUT", "PARTITION_UNAVAILABLE", "KEY_BUSY", "DEVICE_OVERLOAD"}
RETRYABLE |= {"SERVER_NOT_AVAILABLE"}
KEYS = 5000
RESTART_GRACE_S = 15.0  # retryable errors are allowed until this long after the restart
SAMPLE_EVERY_S = 5.0
# Each group keeps its Raft log in memory until it compacts it into a snapshot (after
# 20000 entries or 600 s by default): memory that grows for ten minutes, then drops. The
# soak compacts every 60 s, within its warm-up, so that what it measures after warm-up
# is growth that compaction does not bound.
SNAPSHOT_SECONDS = 60


@dataclass
class LoadFigures:
    """What the mixed load did, second by second (seconds since the load started)."""

    capacity_ops: float = 0.0
    target_ops: float = 0.0
    ok_per_s: Counter[int] = field(default_factory=Counter)
    errors: list[tuple[float, str]] = field(default_factory=list)  # (wall time, code name)
    samples: dict[str, str] = field(default_factory=dict)  # code name -> first message


class MixedLoad:
    """The background load: ``concurrency`` coroutines on one event loop, throttled by a
    shared token bucket when ``rate`` is set."""

    def __init__(self, hosts: list[str], seed: int, concurrency: int = 32) -> None:
        self.hosts = hosts
        self.rng = random.Random(seed)
        self.concurrency = concurrency
        self.figures = LoadFigures()

    async def _one(self, client: AsyncClient) -> None:
        key = ("test", "soak", self.rng.randrange(KEYS))
        draw = self.rng.random()
        try:
            if draw < 0.4:
                value = self.rng.randbytes(100)
                await client.put(key, {"v": value, "n": 0}, ttl=self.rng.randint(30, 300))
            elif draw < 0.8:
                await client.get(key)
            elif draw < 0.9:
                await client.operate(key, [ops.increment("n", 1)])
            else:
                await client.delete(key)
        except RecordNotFound:
            pass  # deleted or expired: an answer, not an error

    async def run(self, stop: threading.Event, seconds: float, rate: float | None) -> float:
        """Run until ``stop`` or ``seconds``; ops/s completed ok."""
        started = time.monotonic()
        ok = 0
        next_at = started

        async def worker(client: AsyncClient) -> None:
            nonlocal ok, next_at
            while not stop.is_set() and time.monotonic() - started < seconds:
                if rate:
                    next_at = max(next_at + 1.0 / rate, time.monotonic() - 1.0)
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                try:
                    await self._one(client)
                except RaftstoreError as exc:
                    self.figures.errors.append((time.time(), exc.code.name))
                    if exc.code.name not in RETRYABLE:
                        self.figures.samples.setdefault(exc.code.name, str(exc)[:300])
                    await asyncio.sleep(0.05)
                    continue
                ok += 1
                self.figures.ok_per_s[int(time.time())] += 1

        async with AsyncClient(self.hosts, timeout=5) as client:
            await asyncio.gather(*(worker(client) for _ in range(self.concurrency)))
        return ok / max(1e-9, time.monotonic() - started)


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Soak:
    """One soak run's settings and, once `background` has run, its figures."""

    load_share: float = 0.8
    seed: int = 1
    load: LoadFigures | None = None
    rss: list[tuple[float, dict[str, tuple[int, int]]]] = field(default_factory=list)
    changes: list[float] = field(default_factory=list)  # wall times a node stopped/started

    def background(self, cluster: Cluster, stop: threading.Event) -> dict[str, Any]:
        """Measure capacity, then load at ``load_share`` of it and sample memory."""
        sampler = threading.Thread(target=self._sample, args=(cluster, stop), daemon=True)
        sampler.start()
        mixed = MixedLoad(cluster.hosts, self.seed)
        capacity = asyncio.run(mixed.run(stop, 10.0, None))
        first = mixed.figures  # errors of the measurement count too
        mixed.figures = LoadFigures(
            capacity_ops=capacity,
            target_ops=capacity * self.load_share,
            errors=first.errors,
            samples=first.samples,
        )
        asyncio.run(mixed.run(stop, float("inf"), mixed.figures.target_ops))
        sampler.join(SAMPLE_EVERY_S * 2)
        self.load = mixed.figures
        return {
            "capacity_ops": round(capacity, 1),
            "target_ops": round(mixed.figures.target_ops, 1),
            "errors": dict(Counter(code for _t, code in mixed.figures.errors)),
            "error_samples": mixed.figures.samples,
        }

    def _sample(self, cluster: Cluster, stop: threading.Event) -> None:
        """Every 0.5 s: note when a node stops or comes back (a new pid); every
        SAMPLE_EVERY_S: the resident memory of every node process."""
        seen: dict[str, int | None] = {}
        next_rss = time.monotonic()
        while not stop.wait(0.5):
            now = time.time()
            for node_id in cluster.ids:
                pid = cluster.pid(node_id) if cluster.is_running(node_id) else None
                if node_id in seen and seen[node_id] != pid:
                    self.changes.append(now)
                seen[node_id] = pid
            if time.monotonic() < next_rss:
                continue
            next_rss += SAMPLE_EVERY_S
            sample = {}
            for node_id, pid in seen.items():
                kib = rss_kib(pid) if pid else None
                if pid and kib:
                    sample[node_id] = (pid, kib)
            self.rss.append((now, sample))

    def restart_window(self) -> tuple[float, float] | None:
        """Wall-clock times of the first and the last node stop or start seen."""
        return (min(self.changes), max(self.changes)) if self.changes else None


def memory_growth(
    rss: list[tuple[float, dict[str, tuple[int, int]]]], warm_s: float
) -> dict[str, dict[str, Any]]:
    """Per node process (node, pid): RSS at its first sample, after ``warm_s`` of its
    samples, at its last sample, and the growth from warm to last."""
    lives: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for t, sample in rss:
        for node, (pid, kib) in sample.items():
            lives.setdefault((node, pid), []).append((t, kib))
    out: dict[str, dict[str, Any]] = {}
    for (node, pid), series in sorted(lives.items(), key=lambda item: item[1][0][0]):
        first_t = series[0][0]
        warm = next((kib for t, kib in series if t - first_t >= warm_s), None)
        entry: dict[str, Any] = {
            "start_mib": round(series[0][1] / 1024, 1),
            "warm_mib": None if warm is None else round(warm / 1024, 1),
            "end_mib": round(series[-1][1] / 1024, 1),
            "seconds": round(series[-1][0] - first_t),
        }
        if warm is not None and series[-1][0] - first_t >= 2 * warm_s:
            entry["growth"] = round(series[-1][1] / warm - 1, 3)
        out[f"{node}/{pid}"] = entry
    return out


def judge(result: RunResult, soak: Soak, warm_s: float) -> list[str]:
    """Every reason the soak failed (empty: it passed)."""
    problems = [f"jepsen: {p}" for p in result.problems]
    window = soak.restart_window()
    load = soak.load or LoadFigures()
    for wall, code in load.errors:
        if code not in RETRYABLE:
            problems.append(f"a non-retryable error {code} at {wall:.0f}")
        elif window is None or not window[0] - 1 <= wall <= window[1] + RESTART_GRACE_S:
            problems.append(f"a retryable error {code} at {wall:.0f}, outside the restart")
    for life, entry in memory_growth(soak.rss, warm_s).items():
        if entry.get("growth", 0.0) >= 0.10:
            problems.append(f"{life}: resident memory grew {entry['growth']:.0%} after warm-up")
    return problems[:50]


def throughput_curve(load: LoadFigures, bucket_s: int = 30) -> list[tuple[int, float]]:
    """(seconds since the load's first second, ok ops/s) per ``bucket_s``."""
    if not load.ok_per_s:
        return []
    first = min(load.ok_per_s)
    buckets: Counter[int] = Counter()
    for second, count in load.ok_per_s.items():
        buckets[(second - first) // bucket_s * bucket_s] += count
    return [(start, round(count / bucket_s, 1)) for start, count in sorted(buckets.items())]


def soak(time_s: float, out_dir: Path, seed: int = 1, warm_s: float = 60.0) -> dict[str, Any]:
    """Run the soak; its figures and ``problems`` (empty when it passed)."""
    settings = Soak(seed=seed)
    rolling = Fault(
        at=round(time_s / 2, 3),
        kind="restart-rolling",
        hold=1.0,
        nodes=("n1", "n2", "n3"),
        group="test/0",
    )
    result = run(
        "set",
        ["restart-rolling"],
        time_s,
        seed,
        out_dir,
        fault_plan=(rolling,),
        background=settings.background,
        check_time_limit=300.0,
        raft={"snapshot_seconds": SNAPSHOT_SECONDS},
    )
    figures = {
        "jepsen": {"exit": result.exit.name, "verdict": result.verdict.value},
        "load": result.results.get("background"),
        "restart_window_s": None,
        "throughput_ops_per_30s": throughput_curve(settings.load or LoadFigures()),
        "memory": memory_growth(settings.rss, warm_s),
        "problems": judge(result, settings, warm_s),
    }
    window = settings.restart_window()
    if window is not None:
        figures["restart_window_s"] = round(window[1] - window[0], 1)
    (out_dir / "soak.json").write_text(json.dumps(figures, indent=1) + "\n")
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.splitlines()[0])
    p.add_argument("--time", type=float, default=600.0, help="seconds of load (default 600)")
    p.add_argument("--warm", type=float, default=60.0, help="warm-up seconds per process")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="", help="output directory (default: a new temp dir)")
    args = p.parse_args(argv)
    import tempfile

    out = Path(args.out or tempfile.mkdtemp(prefix="raftstore-soak-"))
    figures = soak(args.time, out, args.seed, args.warm)
    print(json.dumps(figures, indent=1))
    print(f"soak: {'PASSED' if not figures['problems'] else 'FAILED'} ({out})")
    return 0 if not figures["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
