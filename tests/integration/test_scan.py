"""Scans on real node processes: every record exactly once, filters, ranges, cursors,
resuming across a leader kill, no election during a large scan, bad input."""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from raftstore_client import AsyncClient, Client, ReadMode, exp

from raftstore.errors import ParameterError
from raftstore.keys import partition_id
from raftstore.v1 import kv_pb2, kv_pb2_grpc
from tests.integration.helpers import load_records, moved_terms, result_code, settled_terms
from tests.jepsen.cluster import Cluster

RECORDS = 20_000


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, dict]]:
    with Cluster(
        tmp_path_factory.mktemp("scan"), nodes=3, node_args=["--unsafe-no-fsync"]
    ) as cluster:
        yield cluster, load_records(cluster.hosts, RECORDS)


def digests(records: list) -> collections.Counter:
    return collections.Counter(r.key[3] for r in records)


def once(wanted: object) -> collections.Counter:
    """Each digest of ``wanted`` (an iterable of digests) counted once."""
    return collections.Counter(list(wanted))  # type: ignore[call-overload]


def test_a_full_scan_returns_every_record_exactly_once_and_no_election_happens(
    loaded: tuple[Cluster, dict],
) -> None:
    cluster, written = loaded
    before = settled_terms(cluster)
    with Client(cluster.hosts, timeout=10) as client:
        start = time.monotonic()
        records = list(client.scan("test"))
        elapsed = time.monotonic() - start
    print(f"scan of {len(records)} records: {len(records) / elapsed:.0f} records/s")
    assert digests(records) == once(written)
    order = [(partition_id(r.key[3]), r.key[3]) for r in records]
    assert order == sorted(order)
    for r in records[:200]:
        set_name, i = written[r.key[3]]
        assert r.key[:3] == ("test", set_name, i)
        assert r.bins == {"i": i, "s": set_name, "pad": "x" * 32} and r.meta.gen == 1
    assert moved_terms(before, cluster) == {}


def test_set_filter_bins_and_metadata_only(loaded: tuple[Cluster, dict]) -> None:
    cluster, written = loaded
    with Client(cluster.hosts, timeout=10) as client:
        in_b = list(client.scan("test", "b", ["i"], page_size=100))
        meta = list(client.scan("test", "a", metadata_only=True))
    assert digests(in_b) == once(d for d, (s, _) in written.items() if s == "b")
    assert all(r.bins == {"i": written[r.key[3]][1]} for r in in_b)
    assert digests(meta) == once(d for d, (s, _) in written.items() if s == "a")
    assert all(r.bins == {} and r.meta.gen == 1 and r.meta.ttl == -1 for r in meta)


def test_a_filter_expression_selects_the_records_a_scan_returns(
    loaded: tuple[Cluster, dict],
) -> None:
    cluster, written = loaded
    wanted = exp.and_(exp.lt(exp.int_bin("i"), 500), exp.eq(exp.set_name(), "b"))
    with Client(cluster.hosts, timeout=10) as client:
        got = list(client.scan("test", filter=wanted, bins=["i"]))
        with pytest.raises(ParameterError):  # a non-boolean filter is refused
            list(client.scan("test", filter=exp.int_bin("i")))
    expected = once(d for d, (s, i) in written.items() if s == "b" and i < 500)
    assert digests(got) == expected and expected


def test_a_partition_range_and_one_partition_after_a_digest(loaded: tuple[Cluster, dict]) -> None:
    cluster, written = loaded
    with Client(cluster.hosts, timeout=10) as client:
        part = list(client.scan("test", partition_begin=1000, partition_count=600))
        one = sorted(d for d in written if partition_id(d) == 1234)
        after = list(
            client.scan("test", partition_begin=1234, partition_count=1, after_digest=one[0])
        )
    want = once(d for d in written if 1000 <= partition_id(d) < 1600)
    assert digests(part) == want
    assert [r.key[3] for r in after] == one[1:]


def test_a_scan_resumes_from_the_cursor_of_the_last_record_returned(
    loaded: tuple[Cluster, dict],
) -> None:
    cluster, written = loaded
    with Client(cluster.hosts, timeout=10) as client:
        first = []
        for record in client.scan("test", page_size=50):
            first.append(record)
            if len(first) == 7_000:
                break  # the caller stops (or crashes) here
        last = first[-1].key[3]
        p = partition_id(last)
        rest = list(
            client.scan("test", partition_begin=p, partition_count=4096 - p, after_digest=last)
        )
    assert digests(first + rest) == once(written)


def test_the_async_client_and_allow_replica_scans_see_the_same_records(
    loaded: tuple[Cluster, dict],
) -> None:
    cluster, written = loaded

    async def scan() -> list:
        client = await AsyncClient.connect(cluster.hosts, timeout=10)
        try:
            return [
                r
                async for r in client.scan(
                    "test", "a", partition_count=2048, read_mode=ReadMode.ALLOW_REPLICA
                )
            ]
        finally:
            await client.close()

    records = asyncio.run(scan())
    want = {d for d, (s, _) in written.items() if s == "a" and partition_id(d) < 2048}
    assert digests(records) == once(want)


def test_bad_input_is_refused_with_a_result_code_and_changes_nothing(
    loaded: tuple[Cluster, dict],
) -> None:
    cluster, written = loaded
    digest = next(iter(written))

    def bad(**fields: object) -> kv_pb2.ScanRequest:
        req = kv_pb2.ScanRequest(namespace="test")
        for name, value in fields.items():
            if name in ("begin", "count", "after_digest"):
                setattr(req.partition_filter, name, value)
            elif isinstance(value, list):
                getattr(req, name).extend(value)
            else:
                setattr(req, name, value)
        return req

    cases = [
        (bad(namespace="nope"), 20),
        (bad(namespace=""), 4),
        (bad(begin=-1, count=5), 4),
        (bad(begin=4000, count=200), 4),
        (bad(begin=5, count=0), 4),
        (bad(records_per_second=-1), 4),
        (bad(page_size=-1), 4),
        (bad(page_size=1_000_000), 4),
        (bad(metadata_only=True, bins=["a"]), 4),
        (bad(bins=["x" * 16]), 21),
        (bad(begin=(partition_id(digest) + 1) % 4096, count=1, after_digest=digest), 4),
        (bad(begin=0, count=1, after_digest=b"short"), 4),
    ]
    with grpc.insecure_channel(cluster.hosts[0]) as ch:
        stub = kv_pb2_grpc.KVStub(ch)
        for request, code in cases:
            with pytest.raises(grpc.RpcError) as err:
                list(stub.Scan(request, timeout=10))
            assert result_code(err.value) == code, request
        raw = ch.unary_stream("/raftstore.v1.KV/Scan")
        with pytest.raises(grpc.RpcError) as err:
            list(raw(b"\xff\xff\xff", timeout=10))
        assert result_code(err.value) == 4
    with Client(cluster.hosts, timeout=10) as client:
        assert digests(list(client.scan("test", metadata_only=True))) == once(written)


def test_a_node_that_does_not_lead_ends_the_stream_with_a_leader_hint(
    loaded: tuple[Cluster, dict],
) -> None:
    cluster, _ = loaded
    leaders = cluster.leaders()
    gid, leader = next((g, n) for g, n in leaders.items() if g.startswith("test/"))
    other = next(n for n in cluster.ids if n != leader)
    begin = int(gid.split("/")[1]) * 4096 // 8
    with grpc.insecure_channel(cluster.address(other)) as ch:
        request = kv_pb2.ScanRequest(namespace="test")
        request.partition_filter.begin, request.partition_filter.count = begin, 1
        with pytest.raises(grpc.RpcError) as err:
            list(kv_pb2_grpc.KVStub(ch).Scan(request, timeout=10))
    md = dict(err.value.trailing_metadata() or ())  # type: ignore[attr-defined]
    assert md["raftstore-result-code"] == "11"
    assert md["raftstore-leader"] == f"{leader}={cluster.address(leader)}"


def test_the_cli_scans_a_set_as_json_lines(loaded: tuple[Cluster, dict]) -> None:
    cluster, written = loaded
    out = subprocess.run(
        [
            *(sys.executable, "-m", "raftstore_client.cli", "scan", "test", "--set", "b"),
            *("--bins", "i", "--partition-count", "512", "--json", "--hosts", cluster.hosts[0]),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    want = {d.hex() for d, (s, _) in written.items() if s == "b" and partition_id(d) < 512}
    assert {rec["key"]["digest"] for rec in lines} == want
    assert all(set(rec["bins"]) == {"i"} for rec in lines)
    assert out.stderr.strip() == f"{len(want)} records"


def test_a_scan_across_a_leader_kill_returns_every_record_exactly_once(tmp_path: Path) -> None:
    with Cluster(tmp_path / "c", nodes=3, node_args=["--unsafe-no-fsync"]) as cluster:
        written = load_records(cluster.hosts, 4_000)
        with Client(cluster.hosts, timeout=20) as client:
            records = []
            killed = None
            # throttled so that the kill lands in the middle of the scan
            for record in client.scan("test", records_per_second=2_000, page_size=20):
                records.append(record)
                if len(records) == 1_000:
                    gid = f"test/{partition_id(record.key[3]) * 8 // 4096}"
                    killed = cluster.leaders()[gid]
                    cluster.kill(killed)
            assert killed is not None and client.retries > 0
    assert digests(records) == once(written)
