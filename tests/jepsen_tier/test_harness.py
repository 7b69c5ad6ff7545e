"""The harness's own parts, without a cluster: fault plans, fault shapes, outcome
classification, recording, operation generators (milliseconds in all)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from raftstore_client import GenerationError, ReadMode, RecordNotFound, Timeout

from tests.jepsen.checkers import Verdict
from tests.jepsen.history import HistoryWriter, Op, OpType, pair_operations, read_jsonl
from tests.jepsen.nemesis import FAMILIES, Fault, Nemesis, parse_nemeses, plan
from tests.jepsen.recorder import Invocation, OpFailed, ProcessIds, Recorder, classify
from tests.jepsen.runner import op_counts, run
from tests.jepsen.workloads import (
    WORKLOADS,
    RegisterWorkload,
    SetQueryWorkload,
    SetScanWorkload,
    SetWorkload,
    WorkloadConfig,
)
from tests.jepsen.workloads.replicas import check_replicas
from tests.jepsen.workloads.set import check_no_duplicates

IDS = ["n1", "n2", "n3"]
GROUPS = [f"test/{i}" for i in range(8)]


# --- nemesis --------------------------------------------------------------------------


def test_a_plan_is_a_function_of_its_seed() -> None:
    kinds = parse_nemeses("kill,pause,partition")
    assert plan(7, kinds, 120, IDS, GROUPS) == plan(7, kinds, 120, IDS, GROUPS)
    assert plan(7, kinds, 120, IDS, GROUPS) != plan(8, kinds, 120, IDS, GROUPS)


def test_planned_faults_do_not_overlap_and_end_within_the_fault_phase() -> None:
    faults = plan(3, parse_nemeses("kill,pause,partition"), 300, IDS, GROUPS)
    assert len(faults) > 10
    for before, after in itertools.pairwise(faults):
        assert before.at + before.hold < after.at
    assert faults[-1].at + faults[-1].hold <= 300
    assert {f.kind for f in faults} == set(parse_nemeses("kill,pause,partition"))


def test_pauses_and_partitions_outlast_the_election_timeout() -> None:
    faults = plan(5, parse_nemeses("pause,partition"), 600, IDS, GROUPS)
    assert min(f.hold for f in faults) > 2.0


def test_nemesis_names_expand_to_kinds_and_unknown_names_are_rejected() -> None:
    assert parse_nemeses("pause") == FAMILIES["pause"]
    assert parse_nemeses("partition-leader,kill-all") == ("partition-leader", "kill-all")
    assert parse_nemeses("none") == ()
    with pytest.raises(ValueError, match="unknown nemesis"):
        parse_nemeses("kill,flood")


class FakeCluster:
    """Records what the nemesis asks of a cluster."""

    ids = IDS

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.paused: set[str] = set()

    def leaders(self) -> dict[str, str]:
        return {"test/3": "n2"}

    def is_running(self, node_id: str) -> bool:
        return False  # as after a kill

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args))


def _start(tmp_path: Path, kind: str, nodes: tuple[str, ...] = ("n3", "n1", "n2")) -> list:
    cluster = FakeCluster()
    with HistoryWriter(tmp_path / "h.jsonl") as history:
        nemesis = Nemesis(cluster, history, tmp_path / "n.jsonl")  # type: ignore[arg-type]
        undo = nemesis.start(Fault(0.0, kind, 1.0, nodes, "test/3"))
        undo()
        nemesis.close()
    return cluster.calls


def test_a_bridge_cuts_the_two_ends_and_keeps_the_middle_node_connected(tmp_path: Path) -> None:
    calls = _start(tmp_path, "partition-bridge")
    assert calls == [("partition_links", ({frozenset({"n3", "n2"})},)), ("heal", ())]


def test_a_leader_fault_targets_the_leader_of_the_drawn_group(tmp_path: Path) -> None:
    assert _start(tmp_path, "partition-leader")[0] == ("partition", ([{"n2"}, {"n1", "n3"}],))
    assert _start(tmp_path, "kill-leader") == [("kill", ("n2",)), ("restart", ("n2",))]
    assert _start(tmp_path, "pause-leader") == [("pause", ("n2",)), ("resume", ("n2",))]


def test_kill_all_kills_every_node(tmp_path: Path) -> None:
    calls = _start(tmp_path, "kill-all")
    assert [c for c in calls if c[0] == "kill"] == [("kill", (n,)) for n in IDS]


def test_every_nemesis_action_is_recorded_as_invoke_then_info(tmp_path: Path) -> None:
    _start(tmp_path, "partition-halves")
    events = read_jsonl(tmp_path / "h.jsonl")
    assert [(e.process, e.type, e.f) for e in events] == [
        ("nemesis", "invoke", "partition"),
        ("nemesis", "info", "partition"),
        ("nemesis", "invoke", "heal"),
        ("nemesis", "info", "heal"),
    ]
    assert events[0].value["targets"] == [["n1"], ["n2", "n3"]]
    assert read_jsonl(tmp_path / "n.jsonl") == events


# --- recorder -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OpFailed("cas-mismatch"), (OpType.FAIL, "cas-mismatch")),
        (GenerationError("gen", in_doubt=True), (OpType.FAIL, "GenerationError(3, in-doubt)")),
        (Timeout("slow", in_doubt=True), (OpType.INFO, "Timeout(9, in-doubt)")),
        (Timeout("slow"), (OpType.FAIL, "Timeout(9)")),
        (RecordNotFound("gone"), (OpType.FAIL, "RecordNotFound(2)")),
        (KeyError("surprise"), (OpType.INFO, "KeyError")),
    ],
)
def test_outcomes_are_classified_as_jepsen_expects(exc: Exception, expected: tuple) -> None:
    outcome = classify(exc)
    assert (outcome.type, outcome.error) == expected


def test_after_an_indeterminate_operation_the_worker_continues_as_a_new_process(
    tmp_path: Path,
) -> None:
    def execute(client: Any, inv: Invocation) -> Any:
        if inv.value == 2:
            raise Timeout("lost", in_doubt=True)
        return inv.value

    with HistoryWriter(tmp_path / "h.jsonl") as history:
        recorder = Recorder(history, 1, "n2", None, ProcessIds(4))  # type: ignore[arg-type]
        for value in (1, 2, 3):
            recorder.run(Invocation("write", "k", value), execute)
    ops = pair_operations(read_jsonl(tmp_path / "h.jsonl"))
    assert [(op.process, op.type.value, op.value) for op in ops] == [
        (1, "ok", 1),
        (1, "info", 2),
        (5, "ok", 3),
    ]
    assert {op.invoke.node for op in ops} == {"n2"}
    counts = op_counts(read_jsonl(tmp_path / "h.jsonl"), heal_index=1)
    assert (counts["ok"], counts["info"], counts["ok_after_heal"]) == (2, 1, 1)


# --- workloads ------------------------------------------------------------------------


def test_register_keys_rotate_and_values_are_unique_per_key() -> None:
    workload = RegisterWorkload(WorkloadConfig("s", concurrency=6, nodes=3), ops_per_key=10)
    streams = [workload.worker_ops(w, random.Random(w)) for w in range(6)]
    invocations = [next(s) for s in streams]
    for _ in range(40):
        invocations += [s.send(None) for s in streams]
    per_key: dict[str, int] = {}
    for inv in invocations:
        per_key[inv.key] = per_key.get(inv.key, 0) + 1
    assert max(per_key.values()) == 10
    assert {k.split("-")[0] for k in per_key} == {"0", "1"}  # two groups of three workers
    written = [inv.value for inv in invocations if inv.f == "write"]
    assert len(written) == len(set(written))
    assert not [inv for inv in invocations if inv.f == "cas"]  # nothing observed: no cas


def test_a_register_cas_expects_the_value_the_worker_last_observed() -> None:
    workload = RegisterWorkload(WorkloadConfig("s", concurrency=1, nodes=1), ops_per_key=1000)
    stream = workload.worker_ops(0, random.Random(1))
    inv = next(stream)
    last = None
    for index in range(200):
        if inv.f == "cas":
            assert inv.value[0] == last
        completion = _ok(index, inv)
        last = inv.value[1] if inv.f == "cas" else (7 if inv.f == "read" else inv.value)
        inv = stream.send(completion)


def _ok(index: int, inv: Invocation) -> Op:
    value = 7 if inv.f == "read" else inv.value
    return Op(index, index, 0, "ok", inv.f, inv.key, value)


def test_a_read_that_returns_an_element_twice_is_a_violation() -> None:
    history = [
        Op(0, 0, 0, "invoke", "read", "set"),
        Op(1, 1, 0, "ok", "read", "set", [1, 2, 1]),
    ]
    result = check_no_duplicates(history)
    assert result.verdict is Verdict.INVALID
    assert result.duplicates == ((1, 2),)
    assert check_no_duplicates(history[:1]).verdict is Verdict.UNKNOWN


def test_healing_everything_resumes_restarts_and_retries_the_heal(tmp_path: Path) -> None:
    class HealLater(FakeCluster):
        refusals = 2

        def heal(self) -> None:
            self.calls.append(("heal", ()))
            if self.refusals:
                self.refusals -= 1
                raise ConnectionError("a restarted node is not listening yet")

    cluster = HealLater()
    cluster.paused = {"n2"}
    with HistoryWriter(tmp_path / "h.jsonl") as history:
        nemesis = Nemesis(cluster, history, tmp_path / "n.jsonl")  # type: ignore[arg-type]
        assert nemesis.heal_all(timeout=5)
        nemesis.close()
    assert cluster.calls[:2] == [("resume", ("n2",)), ("restart", ("n1",))]
    assert cluster.calls.count(("heal", ())) == 3
    events = read_jsonl(tmp_path / "n.jsonl")
    assert [(e.type, e.f, e.error) for e in events][-2:] == [
        ("invoke", "heal", None),
        ("info", "heal", None),
    ]
    assert nemesis.errors == 0


def test_set_reads_are_periodic_across_workers_and_adds_are_unique() -> None:
    workload = SetWorkload(WorkloadConfig("s", concurrency=3, nodes=3), read_interval=60)
    streams = [workload.worker_ops(w, random.Random(w)) for w in range(3)]
    invocations = [next(s) for s in streams] + [s.send(None) for s in streams for _ in range(50)]
    assert [inv.f for inv in invocations].count("read") == 1
    added = [inv.value for inv in invocations if inv.f == "add"]
    assert len(added) == len(set(added)) == len(invocations) - 1


class FakeScanClient:
    """Scans and queries that return records, or raise part-way (a read that failed)."""

    def __init__(self, values: list[int], fail_after: int | None = None) -> None:
        self.values, self.fail_after = values, fail_after
        self.calls: list[tuple[str, Any]] = []

    def _records(self) -> Any:
        for i, v in enumerate(self.values):
            if i == self.fail_after:
                raise Timeout("no progress")
            yield SimpleNamespace(bins={"v": v})

    def scan(self, namespace: str, set_name: str, bins: Any = None, read_mode: Any = None) -> Any:
        self.calls.append(("scan", (namespace, set_name, bins, read_mode)))
        return self._records()

    def query(self, namespace: str, set_name: str, **kwargs: Any) -> Any:
        args = (namespace, set_name, kwargs["bin"], kwargs["between"], kwargs["read_mode"])
        self.calls.append(("query", args))
        return self._records()

    def put(self, key: Any, bins: Any) -> None:
        self.calls.append(("put", (key, bins)))


@pytest.mark.parametrize("workload_class", [SetScanWorkload, SetQueryWorkload])
def test_set_scan_reads_return_the_set_and_a_read_that_breaks_is_recorded_failed(
    tmp_path: Path, workload_class: Any
) -> None:
    workload = workload_class(WorkloadConfig("s1", concurrency=3, nodes=3), read_interval=60)
    assert workload.name in WORKLOADS
    streams = [workload.worker_ops(w, random.Random(w)) for w in range(3)]
    invocations = [next(s) for s in streams] + [s.send(None) for s in streams for _ in range(20)]
    assert [inv.f for inv in invocations].count("read") == 1
    added = [inv.value for inv in invocations if inv.f == "add"]
    assert len(added) == len(set(added)) == len(invocations) - 1
    client = FakeScanClient([5, 3, 4])
    assert workload.execute(client, Invocation("add", "scan", 3)) == 3
    assert client.calls[-1] == ("put", (("test", "s1", 3), {"v": 3}))
    assert workload.execute(client, Invocation("read", "scan")) == [3, 4, 5]
    kind, args = client.calls[-1]
    assert kind == ("scan" if workload_class is SetScanWorkload else "query")
    assert args[-1] is ReadMode.LINEARIZE  # ALLOW_REPLICA only for the negative control
    assert workload.replica_keys() == [("test", "s1", 3)]
    with HistoryWriter(tmp_path / "h.jsonl") as writer:
        broken = FakeScanClient([5, 3, 4], fail_after=2)
        recorder = Recorder(writer, 0, "n1", broken, ProcessIds(3))  # type: ignore[arg-type]
        done = recorder.run(Invocation("read", "scan"), workload.execute)
    assert done.type == OpType.FAIL and done.value is None  # not an empty read
    assert done.error == "Timeout(9)"


def test_replica_reads_are_refused_for_a_workload_without_scans(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsafe-replica-reads needs"):
        run("register", "kill", 1.0, 1, tmp_path / "run", unsafe_replica_reads=True)
    assert not (tmp_path / "run").exists()  # refused before anything started


class FakeReplica:
    def __init__(self, gen: int, bins: dict[str, Any], applied: int = 9) -> None:
        self.gen, self.bins, self.applied = gen, bins, applied

    def get(self, key: Any, read_mode: Any = None) -> Any:
        return SimpleNamespace(meta=SimpleNamespace(gen=self.gen), bins=self.bins)


class FakeStatusCluster:
    def __init__(self, replicas: dict[str, FakeReplica]) -> None:
        self.replicas = replicas
        self.ids = list(replicas)

    def status(self, node_id: str, timeout: float = 2.0) -> Any:
        group = SimpleNamespace(group_id="test/0", applied_index=self.replicas[node_id].applied)
        return SimpleNamespace(groups=[group])


def _compare(replicas: dict[str, FakeReplica]) -> Any:
    cluster = FakeStatusCluster(replicas)
    return check_replicas(cluster, replicas, [("test", "s", "k")], timeout=0.3)  # type: ignore[arg-type]


def test_replicas_that_hold_different_versions_of_a_record_are_a_violation() -> None:
    same = {n: FakeReplica(3, {"v": 7}) for n in IDS}
    assert _compare(same).verdict is Verdict.VALID
    diverged = {**same, "n3": FakeReplica(3, {"v": 8})}
    result = _compare(diverged)
    assert result.verdict is Verdict.INVALID
    assert result.differences[0]["replicas"]["n3"] == (3, {"v": 8})


def test_replicas_whose_applied_indexes_never_settle_are_unknown() -> None:
    lagging = {n: FakeReplica(3, {"v": 7}, applied=9 if n != "n2" else 8) for n in IDS}
    result = _compare(lagging)
    assert result.verdict is Verdict.UNKNOWN
    assert result.unsettled == {"test/0": {"n1": 9, "n2": 8, "n3": 9}}
