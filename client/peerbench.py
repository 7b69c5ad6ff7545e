"""Target plug-in for ../shared/peerbench/loadgen.py.

Used as ``--target raftstore_peerbench:target`` through the top-level shim
``scripts/raftstore_peerbench.py`` (loadgen imports top-level modules only).

loadgen calls ``target(addrs)`` inside each of its processes and drives the two returned
coroutines: ``put`` writes the value as bin "v" of key ``(test, peerbench, key)``; ``get``
is a LINEARIZE read (a missing record is an answer, not an error, as an empty etcd Range).
Commands go on ``AsyncClient``'s stream per node; ``RAFTSTORE_PEERBENCH_TRANSPORT=unary``
in the environment sends one unary call per command instead (for comparison). loadgen
preloads in its main process and then forks its workers without closing the target's
client, and a process forked while a gRPC stream is open hangs in the child: the main
process (the preload) therefore always uses unary calls, the workers streams.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
from collections.abc import Awaitable, Callable
from typing import Any

from raftstore_client.aio import AsyncClient

from raftstore.errors import RecordNotFound

NAMESPACE = "test"
SET = "peerbench"
STREAMING = os.environ.get("RAFTSTORE_PEERBENCH_TRANSPORT", "stream") != "unary"


def target(
    addrs: list[str],
) -> tuple[Callable[..., Awaitable[None]], Callable[..., Awaitable[Any]]]:
    client: AsyncClient | None = None
    lock = asyncio.Lock()

    async def connected() -> AsyncClient:
        nonlocal client
        async with lock:
            if client is None:
                streaming = STREAMING and mp.current_process().name != "MainProcess"
                client = await AsyncClient.connect(addrs, timeout=10, streaming=streaming)
        return client

    async def put(worker: int, key: bytes, value: bytes) -> None:
        await (await connected()).put((NAMESPACE, SET, key), {"v": value})

    async def get(worker: int, key: bytes) -> Any:
        try:
            return (await (await connected()).get((NAMESPACE, SET, key))).bins.get("v")
        except RecordNotFound:
            return None

    return put, get
