"""Shared helpers for integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from raftstore.keys import Key
from raftstore.namespaces import group_of_partition
from raftstore.v1 import kv_pb2_grpc, values_pb2
from tests.jepsen.cluster import Cluster


def group_of(key: tuple[str, str, Any], groups: int = 8) -> str:
    k = Key.of(*key)
    return f"{k.namespace}/{group_of_partition(k.partition, groups)}"


def key_in_group(group: str, prefix: str = "k", groups: int = 8) -> tuple[str, str, str]:
    """A key of namespace test, set s, whose partition belongs to ``group``."""
    for i in range(100_000):
        key = ("test", "s", f"{prefix}{i}")
        if group_of(key, groups) == group:
            return key
    raise AssertionError(f"no key for {group}")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stub(cluster: Cluster, node_id: str) -> tuple[grpc.Channel, kv_pb2_grpc.KVStub]:
    ch = grpc.insecure_channel(cluster.address(node_id))
    return ch, kv_pb2_grpc.KVStub(ch)


def pb_key(namespace: str, set_name: str, user_key: str) -> values_pb2.Key:
    return values_pb2.Key(namespace=namespace, set=set_name, string_key=user_key)


def result_code(err: grpc.RpcError) -> int:
    md = dict(err.trailing_metadata() or ())  # type: ignore[attr-defined]
    return int(md["raftstore-result-code"])


def replicas_caught_up(cluster: Cluster, nodes: list[str]) -> bool:
    """Every listed node has applied as far as the leader of every group has committed."""
    try:
        statuses = {n: {g.group_id: g for g in cluster.status(n).groups} for n in nodes}
    except grpc.RpcError:
        return False
    leaders = cluster.leaders()
    for gid, leader in leaders.items():
        target = cluster.status(leader).groups
        commit = next(g.commit_index for g in target if g.group_id == gid)
        if any(statuses[n][gid].applied_index < commit for n in nodes):
            return False
    return True


def group_terms(cluster: Cluster) -> dict[str, int]:
    """group id -> the highest term any running node reports for it."""
    out: dict[str, int] = {}
    for node_id in cluster.ids:
        if not cluster.is_running(node_id) or node_id in cluster.paused:
            continue
        for g in cluster.status(node_id).groups:
            out[g.group_id] = max(out.get(g.group_id, 0), g.term)
    return out


def settled_terms(cluster: Cluster, quiet: float = 3.0, timeout: float = 30.0) -> dict[str, int]:
    """Group terms once no term has moved for ``quiet`` seconds (start-up elections and
    leader balancing are over); a later change means an election happened."""
    deadline = time.monotonic() + timeout
    terms, since = group_terms(cluster), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = group_terms(cluster)
        if now != terms:
            terms, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return terms
    raise AssertionError(f"terms still moving after {timeout}s: {terms}")


def moved_terms(before: dict[str, int], cluster: Cluster) -> dict[str, tuple[int, int]]:
    """Groups whose term changed since ``before``: group id -> (before, now)."""
    now = group_terms(cluster)
    return {g: (before.get(g, 0), t) for g, t in now.items() if before.get(g, 0) != t}


def load_records(
    hosts: list[str], n: int, sets: tuple[str, ...] = ("a", "b"), concurrency: int = 64
) -> dict[bytes, tuple[str, int]]:
    """Write ``n`` records of namespace test (record i in set ``sets[i % len(sets)]``, user
    key i stored, bins i, s, pad); digest -> (set, i) of every record written."""
    import asyncio

    from raftstore_client import AsyncClient, WritePolicy

    written: dict[bytes, tuple[str, int]] = {}
    policy = WritePolicy(send_key=True)

    async def writer(client: AsyncClient, todo: list[int]) -> None:
        while todo:
            i = todo.pop()
            key = ("test", sets[i % len(sets)], i)
            await client.put(key, {"i": i, "s": sets[i % len(sets)], "pad": "x" * 32}, policy)
            written[Key.of(*key).digest] = (key[1], i)

    async def main() -> None:
        client = await AsyncClient.connect(hosts, timeout=30)
        todo = list(range(n))
        await asyncio.gather(*(writer(client, todo) for _ in range(concurrency)))
        await client.close()

    asyncio.run(main())
    return written
