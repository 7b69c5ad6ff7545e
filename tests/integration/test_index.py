"""Secondary indexes on real node processes: a background build over existing records with
its state visible, queries equal to a full scan filtered client-side, maintenance across
writes, updates and deletes, the index surviving a whole-cluster SIGKILL, bad input."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator

import grpc
import pytest
from raftstore_client import AsyncClient, Client, WritePolicy, exp

from raftstore.errors import BinNameTooLong, IndexFound, IndexNotFound, ParameterError, ResultCode
from raftstore.keys import partition_id
from raftstore.v1 import index_pb2, index_pb2_grpc, values_pb2
from tests.integration.helpers import load_records, result_code
from tests.jepsen.cluster import Cluster

RECORDS = 6_000


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, dict]]:
    with Cluster(
        tmp_path_factory.mktemp("index"), nodes=3, node_args=["--unsafe-no-fsync"]
    ) as cluster:
        yield cluster, load_records(cluster.hosts, RECORDS)


def digests(records: list) -> collections.Counter:
    return collections.Counter(r.key[3] for r in records)


def test_an_index_over_existing_records_builds_in_the_background_with_visible_state(
    loaded: tuple[Cluster, dict],
) -> None:
    cluster, _ = loaded
    with Client(cluster.hosts, timeout=10) as client:
        assert client.create_index("test", "a", "i", "NUMERIC", name="a_i") == "a_i"
        assert client.create_index("test", None, "s", "STRING", name="all_s") == "all_s"
        first = {i.name: i for i in client.list_indexes("test")}
        assert set(first) == {"a_i", "all_s"}
        assert first["a_i"].groups == first["a_i"].groups_total == 8
        assert (first["a_i"].type, first["a_i"].collection, first["a_i"].set) == (
            "NUMERIC",
            "DEFAULT",
            "a",
        )
        client.wait_for_index("test", "a_i", timeout=60)
        client.wait_for_index("test", "all_s", timeout=60)
        done = {i.name: i for i in client.list_indexes("test")}
    for info in done.values():
        assert info.ready and info.groups_ready == 8 and info.progress == pytest.approx(1.0)
        assert info.records_examined == RECORDS  # every record of the namespace, once


def test_queries_equal_a_full_scan_filtered_client_side(loaded: tuple[Cluster, dict]) -> None:
    cluster, _ = loaded
    with Client(cluster.hosts, timeout=10) as client:
        client.wait_for_index("test", "a_i", timeout=60)
        scan = list(client.scan("test"))
        in_range = list(client.query("test", "a", bin="i", between=(100, 2500)))
        equal = list(client.query("test", "a", bin="i", equals=1234))
        strings = list(client.query("test", bin="s", equals="b", bins=["i"]))
        seventh = exp.eq(exp.mod(exp.int_bin("i"), 7), 0)
        filtered = list(client.query("test", "a", bin="i", between=(0, 10**6), filter=seventh))
    assert digests(in_range) == digests(
        [r for r in scan if r.key[1] == "a" and 100 <= r.bins["i"] <= 2500]
    )
    assert len(in_range) == len({r.key[3] for r in in_range}) > 0
    assert digests(equal) == digests([r for r in scan if r.key[1] == "a" and r.bins["i"] == 1234])
    assert len(equal) == 1 and equal[0].bins["i"] == 1234 and equal[0].key[2] == 1234
    assert digests(strings) == digests([r for r in scan if r.bins["s"] == "b"])
    assert all(set(r.bins) == {"i"} for r in strings)
    assert digests(filtered) == digests(
        [r for r in scan if r.key[1] == "a" and r.bins["i"] % 7 == 0]
    )


def test_the_index_follows_writes_updates_and_deletes(loaded: tuple[Cluster, dict]) -> None:
    cluster, _ = loaded
    with Client(cluster.hosts, timeout=10) as client:
        client.wait_for_index("test", "a_i", timeout=60)
        send_key = WritePolicy(send_key=True)
        client.put(("test", "a", "new"), {"i": 50_000}, send_key)
        client.put(("test", "a", "moved"), {"i": 60_000}, send_key)
        client.put(("test", "a", "moved"), {"i": 60_001}, send_key)
        client.put(("test", "a", "gone"), {"i": 70_000}, send_key)
        client.delete(("test", "a", "gone"))
        client.put(("test", "b", "other_set"), {"i": 50_000}, send_key)

        def keys(lo: int, hi: int) -> list:
            return sorted(r.key[2] for r in client.query("test", "a", bin="i", between=(lo, hi)))

        assert keys(50_000, 50_000) == ["new"]
        assert keys(60_000, 60_000) == []
        assert keys(60_001, 60_001) == ["moved"]
        assert keys(70_000, 70_000) == []
        assert keys(49_000, 80_000) == ["moved", "new"]


def test_the_async_client_queries_and_lists(loaded: tuple[Cluster, dict]) -> None:
    cluster, _ = loaded

    async def main() -> tuple[list, list]:
        client = await AsyncClient.connect(cluster.hosts, timeout=10)
        try:
            indexes = await client.list_indexes("test")
            records = [r async for r in client.query("test", "a", bin="i", between=(10, 99))]
            return indexes, records
        finally:
            await client.close()

    indexes, records = asyncio.run(main())
    assert {i.name for i in indexes} >= {"a_i", "all_s"}
    assert sorted(r.bins["i"] for r in records) == [i for i in range(10, 100) if i % 2 == 0]


def test_bad_index_input_is_answered_with_a_clear_code(loaded: tuple[Cluster, dict]) -> None:
    cluster, _ = loaded
    with Client(cluster.hosts, timeout=10) as client:
        client.wait_for_index("test", "a_i", timeout=60)
        with pytest.raises(IndexNotFound, match="no DEFAULT index on bin 'nope'") as unknown:
            list(client.query("test", "a", bin="nope", equals=1))
        assert unknown.value.code == ResultCode.INDEX_NOTFOUND
        with pytest.raises(IndexNotFound, match="'missing' does not exist"):
            list(client.query("test", "a", index="missing", equals=1))
        with pytest.raises(ParameterError, match="is NUMERIC; a query value 'x'") as mismatch:
            list(client.query("test", "a", index="a_i", equals="x"))
        assert mismatch.value.code == ResultCode.PARAMETER_ERROR
        with pytest.raises(ParameterError, match="either equals"):
            list(client.query("test", "a", bin="i", equals=1, between=(1, 2)))
        with pytest.raises(ParameterError, match="range is empty"):
            list(client.query("test", "a", bin="i", between=(5, 1)))
        with pytest.raises(IndexFound):
            client.create_index("test", "a", "i", "STRING", name="a_i")
        client.create_index("test", "a", "i", "NUMERIC", name="a_i")  # same again: fine
        with pytest.raises(IndexNotFound):
            client.drop_index("test", "never_created")
        with pytest.raises(ParameterError, match="index type"):
            client.create_index("test", "a", "i", "GEO", name="g")
        with pytest.raises(BinNameTooLong, match="the limit is 15"):
            client.create_index("test", "a", "x" * 20, "NUMERIC", name="long_bin")
        assert {i.name for i in client.list_indexes("test")} == {"a_i", "all_s"}
    stub = index_pb2_grpc.IndexStub(grpc.insecure_channel(cluster.hosts[0]))
    bad = index_pb2.QueryRequest(bin="i")
    bad.scan.namespace = "test"
    with pytest.raises(grpc.RpcError) as no_bounds:
        list(stub.Query(bad, timeout=5))
    assert result_code(no_bounds.value) == ResultCode.PARAMETER_ERROR
    bad.lo.CopyFrom(values_pb2.Value(int_value=1))
    bad.hi.CopyFrom(values_pb2.Value(int_value=2))
    bad.scan.namespace = "nope"
    with pytest.raises(grpc.RpcError) as no_ns:
        list(stub.Query(bad, timeout=5))
    assert result_code(no_ns.value) == ResultCode.NAMESPACE_NOT_FOUND
    with pytest.raises(grpc.RpcError) as bad_type:
        stub.CreateIndex(index_pb2.CreateIndexRequest(namespace="test", bin="i", name="t"))
    assert result_code(bad_type.value) == ResultCode.PARAMETER_ERROR


def test_drop_index_removes_it_everywhere(loaded: tuple[Cluster, dict]) -> None:
    cluster, _ = loaded
    with Client(cluster.hosts, timeout=10) as client:
        client.create_index("test", "b", "i", "NUMERIC", name="b_i")
        client.wait_for_index("test", "b_i", timeout=60)
        assert len(list(client.query("test", "b", bin="i", between=(0, 99)))) == 50
        client.drop_index("test", "b_i")
        assert "b_i" not in {i.name for i in client.list_indexes("test")}
        with pytest.raises(IndexNotFound):
            list(client.query("test", "b", bin="i", between=(0, 99)))


def test_the_cli_creates_lists_queries_and_drops(
    loaded: tuple[Cluster, dict], capsys: pytest.CaptureFixture[str]
) -> None:
    cluster, _ = loaded
    from raftstore_client.cli import main

    hosts = ["--hosts", ",".join(cluster.hosts)]
    create = ["index", "create", "test", "cli_s", "--set", "b", "--bin", "s", "--type", "string"]
    assert main([*create, "--wait", "60", *hosts]) == 0
    assert main(["index", "list", "test", *hosts]) == 0
    listed = capsys.readouterr().out
    assert "cli_s  test.b.s  STRING DEFAULT  ready  groups 8/8" in listed
    assert (
        main(["query", "test", "--set", "b", "--bin", "s", "--equals", "b", "--json", *hosts]) == 0
    )
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == RECORDS // 2  # set b's loaded records have s = "b"
    assert f"{RECORDS // 2} records" in out.err
    assert main(["query", "test", "--bin", "s", "--index", "a_i", "--equals", "x", *hosts]) == 1
    assert "PARAMETER_ERROR (4)" in capsys.readouterr().err
    assert main(["index", "drop", "test", "cli_s", *hosts]) == 0
    assert main(["index", "drop", "test", "cli_s", *hosts]) == 1
    assert "INDEX_NOTFOUND (201)" in capsys.readouterr().err


def test_a_query_across_a_leader_kill_returns_every_record_exactly_once(
    loaded: tuple[Cluster, dict],
) -> None:
    cluster, _ = loaded
    with Client(cluster.hosts, timeout=30) as client:
        client.wait_for_index("test", "a_i", timeout=60)
        want = digests(list(client.scan("test", "a")))
        records = []
        killed = None
        # throttled so that the kill lands in the middle of every group's stream
        for record in client.query(
            "test", "a", bin="i", between=(0, 10**6), records_per_second=100, page_size=10
        ):
            records.append(record)
            if len(records) == 200:
                gid = f"test/{partition_id(record.key[3]) * 8 // 4096}"
                killed = cluster.leaders()[gid]
                cluster.kill(killed)
        assert killed is not None and client.retries > 0
    cluster.restart(killed)
    cluster.wait_ready()
    assert digests(records) == want


def test_the_index_survives_a_whole_cluster_sigkill_and_restart(
    loaded: tuple[Cluster, dict],
) -> None:
    cluster, _ = loaded
    with Client(cluster.hosts, timeout=10) as client:
        client.wait_for_index("test", "a_i", timeout=60)
        before = digests(list(client.query("test", "a", bin="i", between=(0, 10**6))))
        client.put(("test", "a", "last"), {"i": 99_999}, WritePolicy(send_key=True))
    cluster.kill_all()
    cluster.restart_all()
    with Client(cluster.hosts, timeout=30) as client:
        infos = {i.name: i for i in client.list_indexes("test")}
        assert infos["a_i"].ready and infos["all_s"].ready
        after = list(client.query("test", "a", bin="i", between=(0, 10**6)))
        last = list(client.query("test", "a", bin="i", equals=99_999))
    assert [r.key[2] for r in last] == ["last"]
    assert digests(after) - digests(last) == before
