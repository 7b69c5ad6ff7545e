#!/usr/bin/env python3
"""RocksDB tuning figures: point reads of present and absent keys, and writes, on one
group's column family of the node's engine, for a few `[storage]` settings side by side.

    python scripts/bench_storage.py [--records 300000] [--reads 100000]

Each setting gets a fresh engine in a temporary directory: RECORDS records of 100-byte
values written in batches of 500 (as applied Raft entries are), flushed and compacted
into table files, then READS random gets of stored keys and READS of absent keys (a
create, an exists check, a read of a deleted or expired record). Prints ops/s per
setting. The block cache is 8 MiB here so that most reads go to table files (through the
OS page cache), as on a node whose data outgrows its cache.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from raftstore.keys import Key
from raftstore.storage.base import Changes
from raftstore.storage.engine import Engine, StorageSettings

CACHE = 8 * 1024 * 1024
SETTINGS = {
    "bloom 10 bits, lz4 (default)": StorageSettings(block_cache_bytes=CACHE),
    "no bloom filter, lz4": StorageSettings(block_cache_bytes=CACHE, bloom_bits_per_key=0),
    "bloom 10 bits, no compression": StorageSettings(block_cache_bytes=CACHE, compression="none"),
    "bloom 10 bits, zstd": StorageSettings(block_cache_bytes=CACHE, compression="zstd"),
}


def run(settings: StorageSettings, records: int, reads: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    present = [Key.of("test", "bench", i).digest for i in range(records)]
    absent = [Key.of("test", "absent", i).digest for i in range(reads)]
    with tempfile.TemporaryDirectory(prefix="raftstore-bench-storage-") as tmp:
        eng = Engine(Path(tmp) / "store", settings=settings)
        store = eng.store("test/0")
        started = time.perf_counter()
        for first in range(0, records, 500):
            batch = {("test", d): rng.randbytes(100) for d in present[first : first + 500]}
            store.commit(Changes(batch), first // 500 + 1)
        write_s = time.perf_counter() - started
        store.db.flush(True)
        store.db.compact_range(None, None)
        size = sum(p.stat().st_size for p in (Path(tmp) / "store").glob("*.sst"))
        sample = rng.sample(present, min(reads, records))
        started = time.perf_counter()
        found = sum(store.get("test", d) is not None for d in sample)
        hit_s = time.perf_counter() - started
        started = time.perf_counter()
        missing = sum(store.get("test", d) is None for d in absent)
        miss_s = time.perf_counter() - started
        assert found == len(sample) and missing == len(absent)
        store.close()
        eng.close()
    return {
        "writes/s": records / write_s,
        "gets/s (present)": len(sample) / hit_s,
        "gets/s (absent)": len(absent) / miss_s,
        "table MiB": size / 1048576,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=300_000)
    p.add_argument("--reads", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    print(f"{args.records} records of 100 B, {args.reads} reads each kind, cache 8 MiB")
    print(
        f"{'setting':32} {'writes/s':>10} {'gets/s present':>15} {'gets/s absent':>14} {'MiB':>7}"
    )
    for name, settings in SETTINGS.items():
        r = run(settings, args.records, args.reads, args.seed)
        print(
            f"{name:32} {r['writes/s']:10.0f} {r['gets/s (present)']:15.0f}"
            f" {r['gets/s (absent)']:14.0f} {r['table MiB']:7.1f}"
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
