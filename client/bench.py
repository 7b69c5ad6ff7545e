"""``raftstore bench``: asbench-style closed-loop load with throughput and latency figures.

Workloads (as asbench's ``-w``):
    RU,<read%>   reads and updates of uniformly random keys in [start, start + keys)
    I            inserts of keys start, start + 1, ... (each worker takes the next key)

Each of ``--concurrency`` workers (spread over ``--procs`` processes, asyncio inside each)
issues one command at a time, on ``AsyncClient``'s stream per node (``--transport unary``:
one gRPC call per command, as stock clients). After ``--warmup`` seconds it measures for
``--duration`` seconds and prints a line per second, then throughput and p50/p99/p99.9
latency per kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from raftstore.errors import RaftstoreError
from raftstore.policy import ReadMode


@dataclass(frozen=True, slots=True)
class Workload:
    read_fraction: float
    insert: bool

    @classmethod
    def parse(cls, text: str) -> Workload:
        kind, _, arg = text.upper().partition(",")
        if kind == "I":
            return cls(0.0, True)
        if kind == "RU" and arg.isdigit() and 0 <= int(arg) <= 100:
            return cls(int(arg) / 100, False)
        raise argparse.ArgumentTypeError(f"workload {text!r}: use RU,<read%> or I")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-w",
        "--workload",
        type=Workload.parse,
        default=Workload.parse("RU,50"),
        help="RU,<read%%> or I (default RU,50)",
    )
    p.add_argument("-k", "--keys", type=int, default=100_000, help="key space size")
    p.add_argument("--start-key", type=int, default=0)
    p.add_argument("-o", "--value-size", type=int, default=100, help="bytes in the bin value")
    p.add_argument("-z", "--concurrency", type=int, default=16, help="commands in flight")
    p.add_argument("--procs", type=int, default=1, help="client processes")
    p.add_argument("-t", "--duration", type=float, default=10.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    p.add_argument("-n", "--namespace", default="test")
    p.add_argument("-s", "--set", default="bench")
    p.add_argument("--read-mode", choices=[m.name.lower() for m in ReadMode], default="linearize")
    p.add_argument("--preload", action="store_true", help="insert every key before measuring")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    p.add_argument("--quiet", action="store_true", help="no per-second lines")
    p.add_argument(
        "--transport",
        choices=["stream", "unary"],
        default="stream",
        help="commands on one KV.Stream per node (default) or one unary call each",
    )


@dataclass(slots=True)
class Tally:
    reads: list[float] = field(default_factory=list)
    writes: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    per_second: dict[int, int] = field(default_factory=dict)


async def _worker(
    client: Any,
    args: argparse.Namespace,
    wid: int,
    nworkers: int,
    t: Tally,
    measure_from: float,
    stop_at: float,
    value: str,
) -> None:
    rnd = random.Random(os.getpid() * 1000 + wid)
    wl: Workload = args.workload
    next_insert = args.start_key + wid
    while (t0 := time.perf_counter()) < stop_at:
        if wl.insert:
            kind, k = "write", next_insert
            next_insert += nworkers
        else:
            kind = "read" if rnd.random() < wl.read_fraction else "write"
            k = args.start_key + rnd.randrange(args.keys)
        key = (args.namespace, args.set, k)
        try:
            if kind == "read":
                await client.get(key)
            else:
                await client.put(key, {"b0": value})
        except RaftstoreError as e:
            if not (kind == "read" and e.code.name == "KEY_NOT_FOUND"):
                t.errors[e.code.name] = t.errors.get(e.code.name, 0) + 1
                continue
        t1 = time.perf_counter()
        if t0 >= measure_from:
            (t.reads if kind == "read" else t.writes).append(t1 - t0)
            sec = int(t1 - measure_from)
            t.per_second[sec] = t.per_second.get(sec, 0) + 1


async def _preload(client: Any, args: argparse.Namespace, value: str) -> None:
    sem = asyncio.Semaphore(max(1, args.concurrency))

    async def one(k: int) -> None:
        async with sem:
            await client.put((args.namespace, args.set, k), {"b0": value})

    await asyncio.gather(*(one(k) for k in range(args.start_key, args.start_key + args.keys)))


def _credentials(args: argparse.Namespace) -> dict[str, Any]:
    """Log in (security on) when ``--user`` was given, bench never prompts; TLS when
    ``--tls-ca`` or ``--tls-cert`` was given."""
    out: dict[str, Any] = {}
    if getattr(args, "tls_ca", None) or getattr(args, "tls_cert", None):
        from raftstore_client.tls import TLS

        out["tls"] = TLS.from_files(args.tls_ca, args.tls_cert, args.tls_key)
    if getattr(args, "user", None):
        out.update(user=args.user, password=args.password or "")
    return out


async def _run_proc(args: argparse.Namespace, share: int, start_at: float) -> Tally:
    from raftstore_client.aio import AsyncClient

    client = await AsyncClient.connect(
        args.hosts,
        timeout=args.timeout,
        read_mode=ReadMode[args.read_mode.upper()],
        streaming=getattr(args, "transport", "stream") == "stream",
        **_credentials(args),
    )
    value = "v" * args.value_size
    t = Tally()
    measure_from = start_at + args.warmup
    stop_at = measure_from + args.duration
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    await asyncio.gather(
        *(_worker(client, args, w, share, t, measure_from, stop_at, value) for w in range(share))
    )
    await client.close()
    return t


def _proc_main(args: argparse.Namespace, share: int, start_at: float, q: Any) -> None:
    t = asyncio.run(_run_proc(args, share, start_at))
    q.put((t.reads, t.writes, t.errors, t.per_second))


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))] * 1000, 3)


def summarize(args: argparse.Namespace, t: Tally) -> dict[str, Any]:
    both = t.reads + t.writes
    out: dict[str, Any] = {
        "workload": args.workload_text,
        "concurrency": args.concurrency,
        "transport": getattr(args, "transport", "stream"),
        "duration_s": args.duration,
        "ops_s": round(len(both) / args.duration, 1),
        "errors": t.errors,
    }
    for name, lat in (("all", both), ("read", t.reads), ("write", t.writes)):
        out[name] = {
            "count": len(lat),
            "p50_ms": _pct(lat, 0.50),
            "p99_ms": _pct(lat, 0.99),
            "p999_ms": _pct(lat, 0.999),
        }
    return out


def _print_summary(s: dict[str, Any]) -> None:
    print(
        f"\n{s['workload']}  concurrency {s['concurrency']}  {s['transport']}  "
        f"{s['duration_s']:.0f}s: "
        f"{s['ops_s']:.1f} ops/s  errors {s['errors'] or 0}"
    )
    for name in ("all", "read", "write"):
        x = s[name]
        if x["count"]:
            print(
                f"  {name:<6} {x['count']:>8} ops   p50 {x['p50_ms']:.2f} ms   "
                f"p99 {x['p99_ms']:.2f} ms   p99.9 {x['p999_ms']:.2f} ms"
            )


def run_bench(args: argparse.Namespace) -> int:
    args.workload_text = (
        "I" if args.workload.insert else f"RU,{round(args.workload.read_fraction * 100)}"
    )
    if args.preload:
        from raftstore_client.aio import AsyncClient

        async def preload() -> None:
            client = await AsyncClient.connect(
                args.hosts, timeout=args.timeout, **_credentials(args)
            )
            await _preload(client, args, "v" * args.value_size)
            await client.close()

        asyncio.run(preload())
    procs = max(1, min(args.procs, args.concurrency))
    shares = [
        args.concurrency // procs + (1 if i < args.concurrency % procs else 0) for i in range(procs)
    ]
    start_at = time.perf_counter() + 0.5
    q: Any = mp.get_context("fork").Queue()
    workers = [
        mp.get_context("fork").Process(target=_proc_main, args=(args, s, start_at, q))
        for s in shares
    ]
    for w in workers:
        w.start()
    total = Tally()
    results = [q.get() for _ in workers]
    for w in workers:
        w.join()
    for reads, writes, errors, per_second in results:
        total.reads += reads
        total.writes += writes
        for k, v in errors.items():
            total.errors[k] = total.errors.get(k, 0) + v
        for k, v in per_second.items():
            total.per_second[k] = total.per_second.get(k, 0) + v
    if not args.quiet and not args.json:
        for sec in sorted(s for s in total.per_second if s < args.duration):
            print(f"  {sec + 1:>3}s  {total.per_second[sec]:>7} ops/s")
    summary = summarize(args, total)
    if args.json:
        print(json.dumps(summary))
    else:
        _print_summary(summary)
    return 0 if both_nonempty(total) else 1


def both_nonempty(t: Tally) -> bool:
    return bool(t.reads or t.writes)
