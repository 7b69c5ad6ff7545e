"""A closed-loop load generator for the overload tests, run as a separate process:

    python -m tests.integration.load_driver PLAN.json RESULT.json

PLAN.json: {"duration": s, "pause_ms": [lo, hi], "lanes": [{"label", "address", "method",
"workers", "payloads": [base64 request bytes]}]}. Each worker of a lane sends the lane's
pre-serialized requests (round robin) to its address, one at a time, for ``duration``
seconds; after a refused request (KEY_BUSY, DEVICE_OVERLOAD) it backs off as the
raftstore client does: ``pause_ms`` = [first, cap], doubling after each refusal in a row,
each wait drawn between half and 1.5 times that. RESULT.json holds, per lane, the latency (ms)
of every answered request by outcome: "ok", "shed" (14 or 18) and a count of other codes.
Requests are sent raw (no client library) so that the generator costs little CPU.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import sys
import time
from typing import Any

import grpc

SHED = {"14", "18"}


async def _worker(
    call: Any, payloads: list[bytes], stop: float, pause: tuple[float, float], out: dict[str, Any]
) -> None:
    i = random.randrange(len(payloads))
    backoff = pause[0]
    while time.monotonic() < stop:
        start = time.monotonic()
        try:
            await call(payloads[i % len(payloads)], timeout=5)
            outcome = "ok"
        except grpc.aio.AioRpcError as e:
            md = dict(e.trailing_metadata() or ())
            rc = str(md.get("raftstore-result-code", e.code().name))
            outcome = "shed" if rc in SHED else rc
            out["details"].setdefault(rc, e.details())
        ms = (time.monotonic() - start) * 1000
        if outcome in ("ok", "shed"):
            out[outcome].append(round(ms, 2))
        else:
            out["other"][outcome] = out["other"].get(outcome, 0) + 1
        if outcome == "shed":
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5) / 1000)
            backoff = min(backoff * 2, pause[1])
        else:
            backoff = pause[0]
        i += 1


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    stop = time.monotonic() + plan["duration"]
    pause = tuple(plan.get("pause_ms", [20, 500]))
    results: dict[str, Any] = {}
    tasks = []
    channels = []
    for lane in plan["lanes"]:
        ch = grpc.aio.insecure_channel(lane["address"])
        channels.append(ch)
        call = ch.unary_unary(f"/raftstore.v1.KV/{lane.get('method', 'Put')}")
        payloads = [base64.b64decode(p) for p in lane["payloads"]]
        out = results.setdefault(lane["label"], {"ok": [], "shed": [], "other": {}, "details": {}})
        tasks += [
            asyncio.create_task(_worker(call, payloads, stop, pause, out))  # type: ignore[arg-type]
            for _ in range(lane["workers"])
        ]
    await asyncio.gather(*tasks)
    for ch in channels:
        await ch.close()
    return results


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        plan = json.load(f)
    result = asyncio.run(run(plan))
    with open(argv[1], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
