"""The JSONL history format: HistoryWriter, write_jsonl/read_jsonl and operation pairing."""

from __future__ import annotations

import itertools
import json
import threading

import pytest

from tests.jepsen.history import (
    HistoryError,
    HistoryWriter,
    Op,
    OpType,
    pair_operations,
    read_jsonl,
    write_jsonl,
)


def ticking_clock(start=1000, step=10):
    ticks = iter(range(start, 10**9, step))
    return lambda: next(ticks)


def test_writer_assigns_consecutive_indices_and_clock_times(tmp_path):
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path, clock=ticking_clock()) as writer:
        invoke = writer.invoke(3, "write", "k", 4, node="n1")
        done = writer.complete(invoke, "ok")
    assert (invoke.index, invoke.time, done.index, done.time) == (0, 1000, 1, 1010)
    assert read_jsonl(path) == (invoke, done)


def test_completion_copies_invoke_value_and_node_unless_given(tmp_path):
    with HistoryWriter(tmp_path / "h.jsonl") as writer:
        write = writer.complete(writer.invoke(0, "write", "k", 7, "n1"), "info", error="timeout")
        read = writer.complete(writer.invoke(1, "read", "k"), "ok", value=None, node="n2")
    assert (write.value, write.node, write.error, write.type) == (7, "n1", "timeout", "info")
    assert (read.value, read.node) == (None, "n2")


def test_jsonl_lines_use_jepsen_field_names_in_order(tmp_path):
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path, clock=lambda: 5) as writer:
        writer.invoke(2, "cas", "k", [1, 2])
    line = json.loads(path.read_text().splitlines()[0])
    assert list(line) == ["index", "time", "process", "type", "f", "key", "value", "node", "error"]
    assert line == {
        "index": 0, "time": 5, "process": 2, "type": "invoke", "f": "cas", "key": "k",
        "value": [1, 2], "node": None, "error": None,
    }  # fmt: skip


def test_writer_flushes_each_event_before_returning(tmp_path):
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path) as writer:
        writer.invoke(0, "read", "k")
        assert len(read_jsonl(path)) == 1


def test_complete_rejects_non_invoke_events_and_non_completion_types(tmp_path):
    with HistoryWriter(tmp_path / "h.jsonl") as writer:
        invoke = writer.invoke(0, "read")
        with pytest.raises(ValueError, match="completion type"):
            writer.complete(invoke, "invoke")
        done = writer.complete(invoke, "ok", value=1)
        with pytest.raises(ValueError, match="needs an invoke"):
            writer.complete(done, "ok")


def test_concurrent_writers_produce_a_consistent_pairable_history(tmp_path):
    path = tmp_path / "h.jsonl"
    threads, rounds = 8, 200
    with HistoryWriter(path) as writer:

        def client(process):
            for i in range(rounds):
                writer.complete(writer.invoke(process, "write", "k", i), "ok")

        workers = [threading.Thread(target=client, args=(p,)) for p in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    ops = read_jsonl(path)
    assert [op.index for op in ops] == list(range(2 * threads * rounds))
    assert all(a.time <= b.time for a, b in itertools.pairwise(ops))
    operations = pair_operations(ops)
    assert len(operations) == threads * rounds
    assert all(op.type is OpType.OK and op.value == op.invoke.value for op in operations)


def test_nemesis_events_are_kept_in_the_history_but_not_paired(tmp_path):
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path) as writer:
        writer.event("nemesis", "nemesis", "partition", value={"isolated": ["n1"]})
        writer.complete(writer.invoke(0, "read"), "ok", value=None)
    ops = read_jsonl(path)
    assert [op.type for op in ops] == ["nemesis", "invoke", "ok"]
    assert ops[0].value == {"isolated": ["n1"]}
    assert [op.process for op in pair_operations(ops)] == [0]


def test_write_jsonl_round_trips_through_read_jsonl(tmp_path):
    path = tmp_path / "h.jsonl"
    ops = (
        Op(0, 10, 1, "invoke", "transfer", None, {"from": "a", "to": "b", "amount": 3}),
        Op(1, 20, 1, "fail", "transfer", None, {"from": "a", "to": "b", "amount": 3}, "n2", "x"),
    )
    write_jsonl(path, ops)
    assert read_jsonl(path) == ops


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"index": 0}\nnot json\n', "h.jsonl:1: field 'time'"),
        ('{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "r"}\n{', "h.jsonl:2"),
        ('{"index": true, "time": 0, "process": 0, "type": "invoke", "f": "r"}', "'index'"),
        ('{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "r", "key": [1]}', "key"),
        ('{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "r", "node": 3}', "node"),
    ],
)
def test_read_jsonl_rejects_malformed_lines_naming_the_line(tmp_path, text, message):
    path = tmp_path / "h.jsonl"
    path.write_text(text)
    with pytest.raises(HistoryError, match=message):
        read_jsonl(path)


def test_read_jsonl_rejects_indices_that_do_not_increase(tmp_path):
    path = tmp_path / "h.jsonl"
    write_jsonl(path, [Op(1, 0, 0, "invoke", "read"), Op(1, 1, 0, "ok", "read")])
    with pytest.raises(HistoryError, match="does not increase"):
        read_jsonl(path)


def test_pairing_matches_each_completion_to_its_process_invoke():
    ops = [
        Op(0, 0, 0, "invoke", "write", "k", 1),
        Op(1, 1, 1, "invoke", "read", "k"),
        Op(2, 2, 1, "ok", "read", "k", 1),
        Op(3, 3, 2, "invoke", "write", "k", 2),
        Op(4, 4, 0, "info", "write", "k", 1),
    ]
    pairs = pair_operations(ops)
    assert [(p.process, p.type, p.value, p.complete_index) for p in pairs] == [
        (0, OpType.INFO, 1, 4),
        (1, OpType.OK, 1, 2),
        (2, OpType.INFO, 2, None),
    ]


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([Op(0, 0, 0, "ok", "read")], "no pending invoke"),
        ([Op(0, 0, 0, "invoke", "read"), Op(1, 1, 0, "ok", "write")], "does not match"),
        ([Op(0, 0, 0, "invoke", "read", "a"), Op(1, 1, 0, "ok", "read", "b")], "does not match"),
    ],
)
def test_pairing_rejects_inconsistent_histories(ops, message):
    with pytest.raises(HistoryError, match=message):
        pair_operations(ops)
