"""Secondary indexes: order-preserving value encoding, and the index always equal to a
recomputation from the stored records after random operation sequences (in memory and
in RocksDB), with the background build interleaved with writes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftstore.commands import BuildIndex, CreateIndex, Delete, DropIndex, Entry, Put, Request
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig
from raftstore.policy import WritePolicy
from raftstore.query import IndexReader, QuerySpec, resolve, verify
from raftstore.records import decode_record, is_expired
from raftstore.scan import Cursor, ScanSpec
from raftstore.sindex import (
    Collection,
    IndexDef,
    IndexType,
    decode_index_value,
    decode_state,
    encode_index_value,
    index_prefix,
    index_row,
    split_row,
    values_of,
)
from raftstore.state_machine import StateMachine
from raftstore.storage.engine import Engine
from raftstore.storage.memory import MemoryStore

INT64 = st.integers(-(2**63), 2**63 - 1)


@given(INT64, INT64)
def test_numeric_encoding_orders_like_the_integers(a: int, b: int) -> None:
    ea, eb = encode_index_value(IndexType.NUMERIC, a), encode_index_value(IndexType.NUMERIC, b)
    assert ea is not None and eb is not None
    assert (ea < eb) == (a < b) and (ea == eb) == (a == b)
    assert decode_index_value(IndexType.NUMERIC, ea) == a


@given(st.text(), st.text())
def test_string_encoding_orders_like_utf8_bytes_and_is_prefix_free(a: str, b: str) -> None:
    ea, eb = encode_index_value(IndexType.STRING, a), encode_index_value(IndexType.STRING, b)
    assert ea is not None and eb is not None
    assert (ea < eb) == (a.encode() < b.encode())
    if a != b:
        assert not ea.startswith(eb) and not eb.startswith(ea)
    assert decode_index_value(IndexType.STRING, ea) == a


@given(st.text(), st.text(), st.binary(min_size=16, max_size=16))
def test_rows_order_by_value_before_partition_and_split_back(a: str, b: str, d: bytes) -> None:
    ea, eb = encode_index_value(IndexType.STRING, a), encode_index_value(IndexType.STRING, b)
    assert ea is not None and eb is not None
    ra, rb = index_row("ix", ea, d), index_row("ix", eb, b"\xff" * 16)
    if ea < eb:
        assert ra < rb
    value, partition, digest = split_row(index_prefix("ix"), ra)
    assert (value, digest) == (ea, d) and 0 <= partition < 4096


def test_values_of_other_types_bools_and_out_of_range_are_not_indexed() -> None:
    assert encode_index_value(IndexType.NUMERIC, True) is None
    assert encode_index_value(IndexType.NUMERIC, 2**63) is None
    assert encode_index_value(IndexType.NUMERIC, 1.5) is None
    assert encode_index_value(IndexType.STRING, b"bytes") is None


# --- the property: index == recomputation ---------------------------------------------

NS = "test"
KEYS = [Key.of(NS, s, k) for s in ("a", "b") for k in range(6)]
VALUES = st.one_of(
    st.none(), st.integers(-5, 5), st.sampled_from(["x", "y", "zz", ""]), st.booleans()
)
BINS = st.fixed_dictionaries(
    {
        "v": VALUES,
        "l": st.one_of(st.none(), st.lists(VALUES, max_size=4)),
        "m": st.one_of(st.none(), st.dictionaries(st.sampled_from(["k", "j"]), VALUES)),
    }
)
DEFS = [
    IndexDef(NS, "num", "a", "v", IndexType.NUMERIC),
    IndexDef(NS, "str_all", "", "v", IndexType.STRING),
    IndexDef(NS, "list_num", "", "l", IndexType.NUMERIC, Collection.LIST),
    IndexDef(NS, "mapkeys", "b", "m", IndexType.STRING, Collection.MAPKEYS),
    IndexDef(NS, "mapvals", "", "m", IndexType.NUMERIC, Collection.MAPVALUES),
]
OPS = st.one_of(
    st.tuples(st.just("put"), st.integers(0, len(KEYS) - 1), BINS, st.sampled_from([-1, 5])),
    st.tuples(st.just("delete"), st.integers(0, len(KEYS) - 1)),
    st.tuples(st.just("advance"), st.integers(1, 4000)),
    st.tuples(st.just("create"), st.integers(0, len(DEFS) - 1)),
    st.tuples(st.just("drop"), st.integers(0, len(DEFS) - 1)),
    st.tuples(st.just("build"), st.integers(0, len(DEFS) - 1), st.integers(1, 3)),
)


class Driver:
    """Applies operations one entry each (sometimes two requests per entry)."""

    def __init__(self, store: object) -> None:
        self.store = store
        self.machine = StateMachine({NS: NamespaceConfig(NS)})
        self.now = 1000
        self.index = 0

    def apply(self, *requests: Request) -> None:
        self.index += 1
        self.machine.apply(Entry(self.now, requests), self.store, self.index)  # type: ignore[arg-type]

    def run(self, op: tuple) -> None:
        kind = op[0]
        if kind == "put":
            bins = {k: v for k, v in op[2].items() if v is not None} or {"v": 0}
            self.apply(Request(Put(KEYS[op[1]], bins, WritePolicy(ttl=op[3]))))
        elif kind == "delete":
            self.apply(Request(Delete(KEYS[op[1]])))
        elif kind == "advance":
            self.now += op[1]
        elif kind == "create":
            self.apply(Request(CreateIndex(NS, DEFS[op[1]])))
        elif kind == "drop":
            self.apply(Request(DropIndex(NS, DEFS[op[1]].name)))
        else:
            self.build(DEFS[op[1]].name, op[2])

    def build(self, name: str, limit: int) -> None:
        data = self.store.index_defs().get(name)  # type: ignore[attr-defined]
        if data is not None:
            self.apply(Request(BuildIndex(NS, name, decode_state(data).cursor, limit)))

    def finish_builds(self) -> None:
        for name in list(self.store.index_defs()):  # type: ignore[attr-defined]
            while not decode_state(self.store.index_defs()[name]).ready:  # type: ignore[attr-defined]
                self.build(name, 2)


def index_rows(store: object) -> set[bytes]:
    rows: set[bytes] = set()
    for name in store.index_defs():  # type: ignore[attr-defined]
        prefix = index_prefix(name)
        rows.update(store.index_keys(prefix, prefix))  # type: ignore[attr-defined]
    return rows


def recomputed(store: object) -> set[bytes]:
    """Every row the stored records (expired ones too: they are still stored) imply."""
    rows: set[bytes] = set()
    for name, data in store.index_defs().items():  # type: ignore[attr-defined]
        definition = decode_state(data).definition
        for digest, raw in store.scan(NS):  # type: ignore[attr-defined]
            for value in values_of(definition, decode_record(raw)):
                rows.add(index_row(name, value, digest))
    return rows


@settings(max_examples=150, deadline=None)
@given(st.lists(OPS, max_size=40))
def test_indexes_equal_a_recomputation_from_the_records(ops: list[tuple]) -> None:
    driver = Driver(MemoryStore())
    for op in ops:
        driver.run(op)
        # while a build runs the rows are a subset (records ahead of the cursor may lack
        # theirs); a ready index is exact at every step
        assert index_rows(driver.store) <= recomputed(driver.store)
    driver.finish_builds()
    assert index_rows(driver.store) == recomputed(driver.store)


@settings(max_examples=60, deadline=None)
@given(st.lists(OPS, max_size=30), st.integers(-5, 5), st.integers(0, 5))
def test_a_query_equals_a_filtered_scan_of_the_live_records(
    ops: list[tuple], lo: int, width: int
) -> None:
    driver = Driver(MemoryStore())
    driver.run(("create", 0))
    for op in ops:
        if op[0] not in ("drop", "create"):
            driver.run(op)
    driver.finish_builds()
    store = driver.store
    spec = QuerySpec(ScanSpec(NS, "a"), "v", lo, lo + width)
    states = {n: decode_state(d) for n, d in store.index_defs().items()}
    state, bounds = resolve(states, spec)
    hits = IndexReader(store, state.definition.name, bounds, 0, 4096, Cursor(0), step_rows=3)
    got = None
    while got is None:
        got = hits.step()
    returned = {d for _, d in got if verify(spec, state, bounds, d, store.get(NS, d), driver.now)}
    expected = set()
    for digest, raw in store.scan(NS):
        rec = decode_record(raw)
        v = rec.bins.get("v")
        live = rec.set_name == "a" and not is_expired(rec, driver.now)
        if live and isinstance(v, int) and not isinstance(v, bool) and lo <= v <= lo + width:
            expected.add(digest)
    assert returned == expected


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "store")
    yield eng
    eng.close()


_GROUPS = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(OPS, max_size=30))
def test_rocksdb_and_memory_stores_hold_the_same_index_rows(
    engine: Engine, ops: list[tuple]
) -> None:
    rocks = engine.store(f"{NS}/{next(_GROUPS)}")
    memory, disk = Driver(MemoryStore()), Driver(rocks)
    for op in ops:
        memory.run(op)
        disk.run(op)
    memory.finish_builds()
    disk.finish_builds()
    assert rocks.index_defs() == memory.store.index_defs()
    assert index_rows(rocks) == index_rows(memory.store) == recomputed(rocks)
    rocks.destroy()


def test_the_index_reader_reads_again_from_the_start_when_the_state_moves() -> None:
    driver = Driver(MemoryStore())
    driver.run(("create", 0))
    for i in range(5):
        driver.run(("put", i, {"v": i, "l": None, "m": None}, -1))
    driver.finish_builds()
    store = driver.store
    spec = QuerySpec(ScanSpec(NS, "a"), "v", 0, 10)
    _, bounds = resolve({n: decode_state(d) for n, d in store.index_defs().items()}, spec)
    reader = IndexReader(store, "num", bounds, 0, 4096, Cursor(0), step_rows=2)
    assert reader.step() is None
    driver.run(("delete", 0))  # the applied index moves between two steps
    driver.run(("put", 5, {"v": 9, "l": None, "m": None}, -1))
    hits = None
    while hits is None:
        hits = reader.step()
    assert reader.restarts == 1
    wanted = {KEYS[i].digest for i in (1, 2, 3, 4, 5)}
    assert {d for _, d in hits} == wanted
    assert hits == sorted(hits)


@pytest.mark.parametrize("kind", ["memory", "rocks"])
def test_truncated_records_lose_their_index_rows_with_them(kind: str, engine: Engine) -> None:
    """A truncate hides records at once; each node's sweep then purges their rows outside
    the log, and their index rows go with them (queries re-check records either way)."""
    from raftstore.commands import Truncate

    store = MemoryStore() if kind == "memory" else engine.store(f"{NS}/{next(_GROUPS)}")
    driver = Driver(store)
    driver.apply(Request(CreateIndex(NS, DEFS[0])))
    driver.finish_builds()
    for i in range(4):
        driver.run(("put", i, {DEFS[0].bin: i, "s": "x"}, 0))
    before = index_rows(store)
    assert before == recomputed(store) and before
    driver.now += 10
    driver.apply(Request(Truncate(NS)))
    driver.now += 10
    driver.run(("put", 0, {DEFS[0].bin: 7}, 0))  # written after the truncate: kept
    hidden = [k.digest for k in KEYS[1:4]]
    store.purge(NS, hidden)  # type: ignore[attr-defined]
    assert index_rows(store) == recomputed(store)
    assert len(index_rows(store)) == 1
