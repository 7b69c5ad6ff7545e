"""Scan logic without a cluster: the store's start-after scan (both stores), reading a
partition in bounded steps from one state, what a row becomes, throttle, pages, request
checks, and the client's cursor and stream plan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from raftstore_client import _scan as client_scan
from raftstore_client._errors import Translated
from raftstore_client._routing import PartitionTable

from raftstore.errors import (
    BinNameTooLong,
    ParameterError,
    PartitionUnavailable,
    ServerError,
    Timeout,
)
from raftstore.keys import Key, partition_id
from raftstore.policy import ReadMode
from raftstore.records import Record, encode_record
from raftstore.scan import (
    PROGRESS_INTERVAL,
    Cursor,
    Pager,
    PartitionReader,
    ScanSpec,
    Throttle,
    select,
)
from raftstore.storage.base import Changes
from raftstore.storage.engine import Engine
from raftstore.storage.memory import MemoryStore
from raftstore.storage.rocks import GroupStore
from raftstore.v1 import cluster_pb2, kv_pb2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def keys_in_partition(partition: int, n: int) -> list[Key]:
    out = []
    i = 0
    while len(out) < n:
        key = Key.of("test", "s", f"k{i}")
        if key.partition == partition:
            out.append(key)
        i += 1
    return sorted(out, key=lambda k: k.digest)


def row(set_name: str = "s", **bins: object) -> bytes:
    return encode_record(Record(dict(bins or {"a": 1}), set_name=set_name))


@pytest.fixture(params=["memory", "rocks"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | GroupStore]:
    s = MemoryStore() if request.param == "memory" else Engine.standalone(tmp_path / "db", "test/0")
    yield s
    if isinstance(s, GroupStore):
        s.close()


def fill(store: MemoryStore | GroupStore, keys: list[Key], index: int = 1) -> None:
    store.commit(Changes({("test", k.digest): row() for k in keys}), index)


# --- the store contract: scan after a digest ------------------------------------------


def test_store_scan_starts_after_the_digest_in_key_order(store: MemoryStore | GroupStore) -> None:
    keys = keys_in_partition(7, 5) + keys_in_partition(8, 3)
    fill(store, keys)
    digests = [k.digest for k in keys]
    assert [d for d, _ in store.scan("test", 7)] == digests[:5]
    assert [d for d, _ in store.scan("test", 7, digests[1])] == digests[2:5]
    assert [d for d, _ in store.scan("test", 7, digests[4])] == []
    # without a partition, "after" means after that digest's position in the namespace
    assert [d for d, _ in store.scan("test", None, digests[3])] == digests[4:]


def test_store_scan_after_a_digest_that_is_not_stored(store: MemoryStore | GroupStore) -> None:
    keys = keys_in_partition(9, 4)
    fill(store, keys[::2])  # keys 0 and 2 stored
    assert [d for d, _ in store.scan("test", 9, keys[1].digest)] == [keys[2].digest]


# --- reading a partition in steps ---------------------------------------------------------


def test_a_small_partition_is_read_in_one_step(store: MemoryStore | GroupStore) -> None:
    keys = keys_in_partition(3, 5)
    fill(store, keys)
    rows = PartitionReader(store, "test", 3).step()
    assert rows is not None and [d for d, _ in rows] == [k.digest for k in keys]


def test_steps_continue_after_the_last_row_and_start_after_the_cursor(
    store: MemoryStore | GroupStore,
) -> None:
    keys = keys_in_partition(3, 7)
    fill(store, keys)
    reader = PartitionReader(store, "test", 3, after=keys[0].digest, step_rows=2)
    results = [reader.step() for _ in range(4)]
    assert results[:3] == [None, None, None]
    assert results[3] is not None and [d for d, _ in results[3]] == [k.digest for k in keys[1:]]
    assert reader.restarts == 0


def test_a_write_between_steps_makes_the_reader_start_again_from_the_new_state(
    store: MemoryStore | GroupStore,
) -> None:
    keys = keys_in_partition(5, 6)
    fill(store, keys[:4])
    reader = PartitionReader(store, "test", 5, step_rows=3)
    assert reader.step() is None
    # the state moves: one record deleted, two added — the result must be the new state only
    store.commit(Changes({("test", keys[0].digest): None, ("test", keys[4].digest): row()}), 2)
    store.commit(Changes({("test", keys[5].digest): row()}), 3)
    rows = None
    while rows is None:
        rows = reader.step()
    assert [d for d, _ in rows] == [k.digest for k in keys[1:]]
    assert reader.restarts == 1


def test_after_max_restarts_the_rest_is_read_in_one_step(store: MemoryStore | GroupStore) -> None:
    keys = keys_in_partition(5, 6)
    fill(store, keys)
    reader = PartitionReader(store, "test", 5, step_rows=2, max_restarts=1)
    assert reader.step() is None
    store.commit(Changes({("test", keys[0].digest): None}), 2)
    rows = reader.step()  # restarted once: no step limit any more
    assert rows is not None and [d for d, _ in rows] == [k.digest for k in keys[1:]]


def test_no_store_iterator_outlives_a_step() -> None:
    class Tracking(MemoryStore):
        open = 0

        def scan(self, namespace, partition=None, after_digest=None):  # type: ignore[no-untyped-def]
            rows = super().scan(namespace, partition, after_digest)

            def gen():  # type: ignore[no-untyped-def]
                Tracking.open += 1
                try:
                    yield from rows
                finally:
                    Tracking.open -= 1

            return gen()

    store = Tracking()
    fill(store, keys_in_partition(2, 5))  # type: ignore[arg-type]
    reader = PartitionReader(store, "test", 2, step_rows=2)
    while reader.step() is None:
        assert Tracking.open == 0
    assert Tracking.open == 0


def test_rocks_store_reopens_after_a_step_left_off_mid_partition(tmp_path: Path) -> None:
    """A live RocksDB iterator would keep the database locked: replace/reopen must work."""
    store = Engine.standalone(tmp_path / "db", "test/0")
    fill(store, keys_in_partition(4, 5))
    assert PartitionReader(store, "test", 4, step_rows=2).step() is None
    store.close()
    reopened = Engine.standalone(tmp_path / "db", "test/0")
    assert len(list(reopened.scan("test", 4))) == 5
    reopened.close()


# --- what a row becomes -------------------------------------------------------------------

DIGEST = Key.of("test", "s", 1).digest


def test_select_filters_the_set_and_expired_records() -> None:
    spec = ScanSpec("test", set_name="s")
    assert select(spec, DIGEST, row("other"), 0) is None
    assert select(spec, DIGEST, row("s"), 0) is not None
    expired = encode_record(Record({"a": 1}, void_time_ms=1000, set_name="s"))
    assert select(spec, DIGEST, expired, 999) is not None
    assert select(spec, DIGEST, expired, 1000) is None


def test_select_returns_the_asked_bins_or_none_with_metadata_only() -> None:
    data = encode_record(Record({"a": 1, "b": 2, "c": 3}, generation=4, set_name="s"))
    every = select(ScanSpec("test"), DIGEST, data, 0)
    some = select(ScanSpec("test", bins=("a", "c", "zz")), DIGEST, data, 0)
    meta = select(ScanSpec("test", metadata_only=True), DIGEST, data, 0)
    assert every is not None and every.record.bins == {"a": 1, "b": 2, "c": 3}
    assert some is not None and some.record.bins == {"a": 1, "c": 3}
    assert meta is not None and meta.record.bins == {} and meta.record.generation == 4
    assert meta.size == len(data) and meta.digest == DIGEST


# --- throttle and pages ---------------------------------------------------------------------


def test_throttle_spaces_records_at_the_rate() -> None:
    clock = Clock()
    throttle = Throttle(100, clock)
    assert throttle.wait(0) == 0.0  # the first record starts the clock
    assert throttle.wait(50) == pytest.approx(0.5)
    clock.now += 0.2
    assert throttle.wait(50) == pytest.approx(0.3)
    clock.now += 1.0
    assert throttle.wait(50) == 0.0
    assert Throttle(0, clock).wait(10**9) == 0.0


def test_pager_is_full_by_records_or_bytes() -> None:
    pager = Pager(Cursor(0), page_size=3, clock=Clock(), page_bytes=100)
    pager.add(10)
    pager.add(10)
    assert not pager.full
    pager.add(10)
    assert pager.full
    pager.take()
    pager.add(100)
    assert pager.full and pager.count == 1


def test_pager_sends_progress_only_when_the_cursor_moved_and_the_interval_passed() -> None:
    clock = Clock()
    pager = Pager(Cursor(0), page_size=10, clock=clock)
    clock.now += PROGRESS_INTERVAL
    assert not pager.due and not pager.pending  # nothing new
    pager.advance(Cursor(3))
    assert pager.pending and pager.due
    assert pager.take() == Cursor(3)
    pager.advance(Cursor(4))
    assert pager.pending and not pager.due  # the interval starts again
    clock.now += PROGRESS_INTERVAL
    assert pager.due


# --- request checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        ScanSpec("test", begin=-1),
        ScanSpec("test", begin=4096, end=4097),
        ScanSpec("test", begin=10, end=10),  # count 0
        ScanSpec("test", begin=4000, end=4200),
        ScanSpec("test", records_per_second=-1),
        ScanSpec("test", page_size=0),
        ScanSpec("test", page_size=-5),
        ScanSpec("test", page_size=10**6),
        ScanSpec("test", bins=("a",), metadata_only=True),
        ScanSpec("test", begin=0, end=1, after_digest=b"short"),
        ScanSpec("test", begin=partition_id(DIGEST) + 1, end=4096, after_digest=DIGEST),
    ],
)
def test_bad_scan_parameters_are_refused(spec: ScanSpec) -> None:
    with pytest.raises(ParameterError):
        spec.validate()


def test_a_long_bin_name_is_refused() -> None:
    with pytest.raises(BinNameTooLong):
        ScanSpec("test", bins=("x" * 16,)).validate()


def test_the_request_becomes_a_spec() -> None:
    from raftstore_node import convert

    req = kv_pb2.ScanRequest(namespace="test", set="s", bins=["a"], page_size=0)
    req.partition_filter.begin = partition_id(DIGEST)
    req.partition_filter.count = 2
    req.partition_filter.after_digest = DIGEST
    req.policy.read_mode = int(ReadMode.SESSION)
    spec = convert.scan_spec(req)
    assert (spec.begin, spec.end) == (partition_id(DIGEST), partition_id(DIGEST) + 2)
    assert spec.after_digest == DIGEST
    assert spec.mode is ReadMode.LINEARIZE and spec.page_size > 0 and spec.bins == ("a",)
    assert convert.scan_spec(kv_pb2.ScanRequest(namespace="test")).end == 4096
    with pytest.raises(ParameterError):
        convert.scan_spec(kv_pb2.ScanRequest(namespace=""))
    bad_mode = kv_pb2.ScanRequest(namespace="test")
    bad_mode.policy.read_mode = 77
    with pytest.raises(ParameterError):
        convert.scan_spec(bad_mode)


# --- the client's plan --------------------------------------------------------------------


def table(leaders: dict[int, str]) -> PartitionTable:
    """4 groups of 1024 partitions; group i led by leaders.get(i)."""
    pmap = cluster_pb2.PartitionMap(cluster_id="c")
    for n in ("n1", "n2"):
        pmap.nodes.add(node_id=n, client_address=f"{n}:1")
    ns = pmap.namespaces.add(name="test")
    ns.partition_group.extend(p * 4 // 4096 for p in range(4096))
    for i in range(4):
        pmap.groups.add(group_id=f"test/{i}", leader_node_id=leaders.get(i, ""))
    t = PartitionTable(["seed:1"])
    t.update(pmap)
    return t


def make_plan(t: PartitionTable, **kw: object) -> client_scan.ScanPlan:
    args: dict = dict(
        metadata_only=False,
        partition_begin=0,
        partition_count=4096,
        after_digest=None,
        records_per_second=0,
        page_size=0,
        mode=ReadMode.LINEARIZE,
        timeout=5.0,
        max_retries=None,
    )
    args.update(kw)
    return client_scan.plan(t, "test", None, None, **args)


def test_streams_cover_runs_of_partitions_with_the_same_leader() -> None:
    t = table({0: "n1", 1: "n1", 2: "n2", 3: "n1"})
    plan = make_plan(t)
    address, req = plan.next_stream(t)
    assert address == "n1:1"
    assert (req.partition_filter.begin, req.partition_filter.count) == (0, 2048)
    plan.observe(kv_pb2.ScanResponse(resume_partition=2048))
    address, req = plan.next_stream(t)
    assert (address, req.partition_filter.begin, req.partition_filter.count) == ("n2:1", 2048, 1024)


def test_a_group_without_a_known_leader_gets_a_stream_of_its_own() -> None:
    t = table({1: "n1"})
    plan = make_plan(t, partition_begin=100, partition_count=2000)
    _, req = plan.next_stream(t)
    assert (req.partition_filter.begin, req.partition_filter.count) == (100, 924)


def test_the_cursor_moves_before_records_are_handed_out_and_never_back() -> None:
    t = table({0: "n1"})
    plan = make_plan(t)
    response = kv_pb2.ScanResponse(resume_partition=partition_id(DIGEST), resume_digest=DIGEST)
    rec = response.records.add()
    rec.key.namespace, rec.key.set, rec.key.int_key, rec.key.digest = "test", "s", 1, DIGEST
    rec.metadata.generation = 2
    rec.bins["a"].int_value = 5
    records = plan.observe(response)
    assert records[0].key == ("test", "s", 1, DIGEST) and records[0].bins == {"a": 5}
    assert (plan.partition, plan.digest) == (partition_id(DIGEST), DIGEST)
    _, req = plan.next_stream(t)
    assert req.partition_filter.after_digest == DIGEST
    with pytest.raises(ServerError):
        plan.observe(kv_pb2.ScanResponse(resume_partition=0))
    plan.observe(kv_pb2.ScanResponse(resume_partition=4096))
    assert plan.done


def test_a_stream_deadline_after_progress_resumes_at_once_but_a_stall_gives_up() -> None:
    t = table({0: "n1"})
    plan = make_plan(t, timeout=0.0, max_retries=0)
    deadline = Translated(Timeout("deadline"), None, False)
    plan.next_stream(t)
    plan.observe(kv_pb2.ScanResponse(resume_partition=5))
    assert plan.after_error(deadline) == 0.0
    plan.next_stream(t)  # a new stream that makes no progress
    assert plan.after_error(Translated(PartitionUnavailable("x"), None, True)) is None


@pytest.mark.parametrize(
    "kw",
    [
        {"partition_begin": -1},
        {"partition_begin": 4096},
        {"partition_count": 0},
        {"partition_begin": 4000, "partition_count": 97},
        {"records_per_second": -1},
        {"page_size": -1},
        {"after_digest": b"x" * 16},
    ],
)
def test_the_client_refuses_bad_scan_arguments_before_sending(kw: dict) -> None:
    with pytest.raises(ParameterError):
        make_plan(table({}), **kw)


def test_the_client_refuses_an_unknown_namespace() -> None:
    from raftstore.errors import NamespaceNotFound

    with pytest.raises(NamespaceNotFound):
        client_scan.plan(
            table({}),
            "nope",
            None,
            None,
            metadata_only=False,
            partition_begin=0,
            partition_count=1,
            after_digest=None,
            records_per_second=0,
            page_size=0,
            mode=ReadMode.LINEARIZE,
            timeout=1,
            max_retries=None,
        )
