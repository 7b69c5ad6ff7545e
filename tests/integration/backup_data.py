"""Records for backup tests and ``scripts/bench_backup.py``: every bin type, stored user
keys and digest-only ones (no send-key), records that never expire and ones with a TTL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from raftstore_client import BatchWrite, Client, ResultCode, WritePolicy


def sample_bins(i: int) -> dict[str, Any]:
    return {
        "i": i,
        "f": i / 7,
        "s": f"name-{i}",
        "b": i.to_bytes(4, "big"),
        "t": i % 2 == 0,
        "l": [i, str(i), float(i), b"\x00", [True, None]],
        "m": {i: "int key", "k": {"nested": [1.5, b"x"]}, b"raw": i % 5},
    }


def sample_item(namespace: str, set_name: str, i: int) -> BatchWrite:
    """Record ``i``: user key stored for even ``i``; a 1-day TTL for every third."""
    policy = WritePolicy(send_key=i % 2 == 0, ttl=86_400 if i % 3 == 0 else -1)
    return BatchWrite((namespace, set_name, i), sample_bins(i), policy=policy)


def load(
    client: Client,
    n: int,
    sets: tuple[str, ...] = ("a", "b"),
    namespace: str = "test",
    start: int = 0,
    batch: int = 500,
    threads: int = 4,
) -> None:
    """Write records ``start..start+n`` (record i in ``sets[i % len(sets)]``)."""

    def chunk(lo: int) -> None:
        hi = min(lo + batch, start + n)
        items = [sample_item(namespace, sets[i % len(sets)], i) for i in range(lo, hi)]
        bad = [r for r in client.batch_write(items) if r.result_code != ResultCode.OK]
        assert not bad, bad[:3]

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(chunk, range(start, start + n, batch)))
