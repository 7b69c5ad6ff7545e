"""Batch commands and truncation below the node: the replicated encoding, the cached
results of sessions, the markers in RocksDB (persist, travel in a snapshot, are reloaded
on install), the bounded sweep of hidden rows, and the node's conversion of batch items.

The state machine's behaviour is in testdata/state_machine/batch.txt and truncate.txt.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest
from raftstore_client import exp
from raftstore_node import convert
from raftstore_node.batch import Sweeper

from raftstore.codec import CodecError, decode_entry, encode_entry
from raftstore.commands import (
    Batch,
    Delete,
    Entry,
    Op,
    Operate,
    OpType,
    Put,
    Read,
    Request,
    Result,
    Truncate,
)
from raftstore.errors import ParameterError, RaftstoreError, ResultCode
from raftstore.expressions import parse_filter
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig
from raftstore.replication.snapshot import ROWS, Manifest, extract_rows, write_snapshot
from raftstore.state_machine import Session, StateMachine, decode_session, encode_session
from raftstore.storage.base import Changes
from raftstore.storage.engine import Engine
from raftstore.storage.memory import MemoryStore
from raftstore.truncation import hidden_rows
from raftstore.v1 import command_pb2, kv_pb2
from raftstore.wire import key_to_pb, value_to_pb

NS = {"test": NamespaceConfig("test")}


def _key(i: int, set_name: str = "s") -> Key:
    return Key.of("test", set_name, i)


# --- encoding ---------------------------------------------------------------------------


def test_a_batch_and_a_truncate_survive_the_replicated_encoding() -> None:
    flt = parse_filter(exp.ge(exp.int_bin("n"), 1))
    batch = Batch(
        (
            Put(_key(1), {"a": 1}, filter=flt),
            Delete(_key(2)),
            Operate(_key(3), (Op(OpType.INCR, "n", 1),)),
            Read(_key(4), ("a",)),
        )
    )
    entry = Entry(5, (Request(batch, b"c", 7, 3), Request(Truncate("test", "s", 99))))
    decoded = decode_entry(encode_entry(entry))
    assert decoded == entry


def test_a_batch_nested_in_a_batch_is_refused_when_decoded() -> None:
    msg = command_pb2.Entry(format_version=1, now_ms=1)
    inner = msg.requests.add().batch.items.add()
    inner.batch.SetInParent()
    with pytest.raises(CodecError):
        decode_entry(msg.SerializeToString())


def test_a_cached_batch_result_survives_the_session_encoding() -> None:
    result = Result(batch=(Result(generation=2), Result(ResultCode.GENERATION_ERROR, message="x")))
    session = Session(floor=1, last_seen_ms=5, results={3: result, 4: Result(generation=1)})
    assert decode_session(encode_session(session)) == session


def test_a_nested_batch_built_by_hand_is_one_items_error_not_a_crash() -> None:
    store = MemoryStore()
    bad = Batch((Put(_key(1), {"a": 1}), Batch(()), Truncate("test")))  # type: ignore[arg-type]
    [result] = StateMachine(NS).apply(Entry(1, (Request(bad),)), store, 1)
    assert [r.code for r in result.batch] == [
        ResultCode.OK,
        ResultCode.PARAMETER_ERROR,
        ResultCode.PARAMETER_ERROR,
    ]


# --- markers in RocksDB -------------------------------------------------------------------


def _apply(store: object, index: int, now_ms: int, *commands: object) -> list[Result]:
    entry = Entry(now_ms, tuple(Request(c) for c in commands))  # type: ignore[arg-type]
    return StateMachine(NS).apply(entry, store, index)  # type: ignore[arg-type]


def test_markers_persist_across_a_reopen_and_keep_hiding_records(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "store")
    store = eng.store("test/0")
    _apply(store, 1, 100, Put(_key(1), {"a": 1}), Put(_key(2, "t"), {"a": 2}))
    _apply(store, 2, 200, Truncate("test", "s"))
    assert store.truncations() == {("test", "s"): 200}
    del store  # a live handle keeps RocksDB's lock
    eng.close()
    eng = Engine(tmp_path / "store")
    try:
        store = eng.store("test/0")
        assert store.truncations() == {("test", "s"): 200}
        [gone, kept] = _apply(store, 3, 300, Read(_key(1)), Read(_key(2, "t")))
        assert gone.code == ResultCode.KEY_NOT_FOUND and kept.ok
    finally:
        eng.close()


def test_markers_travel_in_a_snapshot_and_are_reloaded_on_install(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "store")
    try:
        source = eng.store("test/0")
        _apply(source, 1, 100, *(Put(_key(i), {"a": i}) for i in range(10)))
        _apply(source, 2, 200, Truncate("test", "s", 150))
        target = eng.store("test/1")
        epoch = target.truncation_epoch
        assert target.truncations() == {}
        work = tmp_path / "work"
        work.mkdir()
        source.make_durable()
        assert source.export(work / ROWS)
        manifest = Manifest("test/0", (b"", 5, 1), (b"", 4, 1), ("n1",), 2)
        write_snapshot(tmp_path / "snap", manifest, work / ROWS)
        target.install(extract_rows(tmp_path / "snap", tmp_path / "in", target.sst_options()))
        assert target.truncations() == {("test", "s"): 150}
        assert target.truncation_epoch > epoch  # a sweeper must look again
        [result] = _apply(target, 3, 300, Read(_key(3)))
        assert result.code == ResultCode.KEY_NOT_FOUND
    finally:
        eng.close()


def test_purge_deletes_rows_without_moving_the_applied_index(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "store")
    try:
        store = eng.store("test/0")
        store.commit(Changes({("test", _key(1).digest): b"x"}), 4)
        store.purge("test", [_key(1).digest])
        assert store.get("test", _key(1).digest) is None and store.applied_index() == 4
    finally:
        eng.close()


# --- the sweep ------------------------------------------------------------------------------


def _truncated_store(rows: int) -> MemoryStore:
    store = MemoryStore()
    _apply(store, 1, 100, *(Put(_key(i), {"a": i}) for i in range(rows)))
    _apply(store, 2, 200, Put(_key(rows, "t"), {"keep": 1}), Truncate("test", "s"))
    _apply(store, 3, 300, Put(_key(0), {"new": 1}))  # written after: kept
    return store


def test_hidden_rows_reads_at_most_a_slice_and_resumes_from_its_cursor() -> None:
    store = _truncated_store(25)
    hidden, after = hidden_rows(store, "test", None, 10)
    assert len(hidden) <= 10 and after is not None
    seen = list(hidden)
    while after is not None:
        hidden, after = hidden_rows(store, "test", after, 10)
        seen += hidden
    assert sorted(seen) == sorted(_key(i).digest for i in range(1, 25))


def test_the_sweeper_deletes_exactly_the_hidden_rows_and_then_rests() -> None:
    store = _truncated_store(25)
    before = _apply(store, 4, 400, *(Read(_key(i)) for i in range(30)))
    sweeper = Sweeper({"test/0": SimpleNamespace(store=store)}, slice_rows=7)  # type: ignore[dict-item]
    assert asyncio.run(sweeper.sweep("test/0")) == 24
    assert {d for d, _ in store.scan("test")} == {_key(0).digest, _key(25, "t").digest}
    after = _apply(store, 5, 400, *(Read(_key(i)) for i in range(30)))
    assert [r.code for r in after] == [r.code for r in before]  # nothing observable changed
    assert asyncio.run(sweeper.sweep("test/0")) == 0  # swept at this epoch already


# --- the node's conversion ------------------------------------------------------------------


def _item(i: int, kind: int = kv_pb2.BATCH_ITEM_TYPE_PUT) -> kv_pb2.BatchItem:
    item = kv_pb2.BatchItem(type=kind)
    key_to_pb(_key(i), item.key)
    if kind == kv_pb2.BATCH_ITEM_TYPE_PUT:
        value_to_pb(i, item.bins["a"])
    return item


def test_a_batch_over_5000_keys_is_refused_as_a_whole() -> None:
    req = kv_pb2.BatchOperateRequest(items=[_item(i) for i in range(5001)])
    with pytest.raises(ParameterError, match="at most 5000"):
        convert.batch_items(req)


def test_an_empty_batch_or_a_malformed_batch_filter_is_refused_as_a_whole() -> None:
    with pytest.raises(ParameterError):
        convert.batch_items(kv_pb2.BatchOperateRequest())
    req = kv_pb2.BatchOperateRequest(items=[_item(1)])
    req.filter.call.op = 999
    with pytest.raises(ParameterError):
        convert.batch_items(req)


def test_a_malformed_item_is_refused_alone() -> None:
    no_bins = kv_pb2.BatchItem(type=kv_pb2.BATCH_ITEM_TYPE_PUT)
    key_to_pb(_key(2), no_bins.key)
    unknown = kv_pb2.BatchItem(type=99)
    key_to_pb(_key(3), unknown.key)
    no_key = kv_pb2.BatchItem(type=kv_pb2.BATCH_ITEM_TYPE_DELETE)
    req = kv_pb2.BatchOperateRequest(
        items=[_item(1), no_bins, unknown, no_key, _item(4, kv_pb2.BATCH_ITEM_TYPE_READ)]
    )
    out = convert.batch_items(req)
    assert isinstance(out[0], Put) and isinstance(out[4], Read)
    assert all(isinstance(e, RaftstoreError) for e in out[1:4])
    assert all(e.code == ResultCode.PARAMETER_ERROR for e in out[1:4])  # type: ignore[union-attr]


def test_an_items_own_policy_and_filter_override_the_batchs() -> None:
    req = kv_pb2.BatchOperateRequest(items=[_item(1), _item(2)])
    req.policy.exists = kv_pb2.RECORD_EXISTS_ACTION_CREATE_ONLY
    req.filter.CopyFrom(exp.eq(exp.int_bin("a"), 1))
    req.items[1].policy.exists = kv_pb2.RECORD_EXISTS_ACTION_REPLACE
    req.items[1].filter.CopyFrom(exp.eq(exp.int_bin("a"), 2))
    first, second = convert.batch_items(req)
    assert first.policy.exists.name == "CREATE_ONLY"  # type: ignore[union-attr]
    assert second.policy.exists.name == "REPLACE"  # type: ignore[union-attr]
    assert first.filter != second.filter  # type: ignore[union-attr]


def test_session_bytes_are_those_of_the_whole_structure_packed_at_once() -> None:
    from raftstore.state_machine import SESSION_FORMAT_VERSION, _result_row
    from raftstore.values import encode_value

    result = Result(batch=(Result(generation=2, bins={"a": [1, "x"]}), Result(ResultCode(3))))
    session = Session(floor=2, last_seen_ms=9, results={4: result, 3: Result(generation=1)})
    rows = [[seq, *_result_row(session.results[seq])] for seq in (3, 4)]
    expected = encode_value([SESSION_FORMAT_VERSION, 2, 9, rows])
    data = encode_session(session)
    assert data == expected
    again = decode_session(data)  # from the cache, with every row's bytes kept
    assert again == session and set(again.packed) == {3, 4}
    assert encode_session(again) == expected  # the kept rows give the same bytes
