"""Filter expressions with the Python client: run against a cluster started by `raftstore local`.

.venv/bin/python examples/filters.py [host:port ...]
"""

from __future__ import annotations

import os
import sys

from raftstore_client import Client, FilteredOut, exp
from raftstore_client import operations as op


def main(hosts: list[str]) -> None:
    with Client(hosts) as client:
        keys = [("test", "people", name) for name in ("ann", "ben", "cat")]
        for key, age in zip(keys, (17, 34, 52), strict=True):
            client.put(key, {"age": age, "tags": ["new"]}, ttl=3600)

        adult = exp.ge(exp.int_bin("age"), 21)
        records = client.get_many(keys, filter=adult)  # None: filtered out
        print(f"adults: {[r.key[2] if r else None for r in records]}")

        # A write is applied only when the filter selects the record.
        try:
            client.operate(keys[0], [op.list_append("tags", "adult")], filter=adult)
        except FilteredOut as e:
            print(f"ann filtered out: {e}")
        young_list = exp.and_(adult, exp.lt(exp.list_size("tags"), 3), exp.gt(exp.ttl(), 60))
        rec = client.operate(keys[1], [op.list_append("tags", "adult")], filter=young_list)
        print(f"ben tagged: gen={rec.meta.gen}")

        # Create only if absent, as a filter.
        try:
            client.put(keys[2], {"age": 0}, filter=exp.not_(exp.record_exists()))
        except FilteredOut:
            print("cat exists already: not overwritten")
        for key in keys:
            client.delete(key)


if __name__ == "__main__":
    main(sys.argv[1:] or os.environ.get("RAFTSTORE_HOSTS", "127.0.0.1:3000").split(","))
