"""Quick start with the Python client: run against a cluster started by `raftstore local`.

.venv/bin/python examples/quickstart.py [host:port ...]
"""

from __future__ import annotations

import os
import sys

from raftstore_client import Client, GenerationError, GenPolicy, WritePolicy
from raftstore_client import operations as op


def main(hosts: list[str]) -> None:
    with Client(hosts) as client:
        key = ("test", "users", "carol")
        client.put(key, {"name": "Carol", "visits": 1}, ttl=3600)
        _key_tuple, meta, bins = client.get(key)
        print(f"get: gen={meta.gen} ttl={meta.ttl}s bins={bins}")

        # Compare-and-set: write only if nobody wrote since we read.
        client.put(
            key,
            {"visits": bins["visits"] + 1},
            policy=WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=meta.gen),
        )
        try:
            client.put(
                key,
                {"visits": 0},
                policy=WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=meta.gen),
            )
        except GenerationError as e:
            print(f"stale compare-and-set refused: {e}")

        # Several operations on one record, atomically.
        record = client.operate(
            key, [op.increment("visits", 10), op.list_append("log", "login"), op.read("visits")]
        )
        print(f"operate: visits={record.bins['visits']} gen={record.meta.gen}")

        records = client.get_many([key, ("test", "users", "nobody")])
        print(f"get_many: {[r.bins['name'] if r else None for r in records]}")
        client.delete(key)
        print(f"exists after delete: {client.exists(key)[1]}")


if __name__ == "__main__":
    main(sys.argv[1:] or os.environ.get("RAFTSTORE_HOSTS", "127.0.0.1:3000").split(","))
