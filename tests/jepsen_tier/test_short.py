"""The CI Jepsen tier: short runs on real node processes under kill, pause, partition,
failpoints and membership changes (nodes joining, draining, dying mid-migration), and
set-scan / set-query runs whose reads are full scans / index range queries.

Each run is ``TIME_S`` seconds of faults plus start-up, warm-up, healing, recovery and
final reads (about 30 s in all). A run passes only if its checks are valid, the cluster
recovered, and enough operations succeeded (`tests.jepsen.runner`).

The negative control starts the nodes with ``--unsafe-local-reads`` (LINEARIZE reads
answered from the believed leader's local state; a cut-off leader keeps believing for
30 s). The harness must report that run not linearizable, and the very same scenario
without the flag must pass. The scenario isolates the leader of a random group
(``partition-leader``) for 30 s of faults with 18 workers (6 per node, so that enough
reads reach the isolated node while its writes hang); it was caught on 10 of 10 seeds
(see tests/jepsen/HARNESS.md), against 7 of 10 with the default 9 workers and 20 s.
The scans' negative control reads at ALLOW_REPLICA (``unsafe_replica_reads``): stale
replicas must be caught missing acknowledged elements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.jepsen import cli
from tests.jepsen.checkers import Verdict
from tests.jepsen.nemesis import CRASH_POINTS
from tests.jepsen.runner import RunExit, RunResult, run, summary

TIME_S = 20.0
NEGATIVE_NEMESIS = "partition-leader"
NEGATIVE_SEED = 3
NEGATIVE_OPTIONS: dict[str, Any] = {"concurrency": 18}
NEGATIVE_TIME_S = 30.0
MIN_SCAN_READS = 10  # ok scans (queries) a set-scan run must judge


def _run(
    tmp_path: Path, workload: str, nemesis: str, seed: int, time_s: float = TIME_S, **options: Any
) -> RunResult:
    result = run(workload, nemesis, time_s, seed, tmp_path / "run", **options)
    print(summary(result))
    return result


def _check_cli(result: RunResult, *extra: str) -> int:
    return cli.main(["check", *extra, str(result.out_dir / "history.jsonl")])


@pytest.mark.parametrize(
    ("workload", "nemesis", "seed"),
    [
        ("register", "kill", 14),
        ("register", "pause", 3),
        ("register", "partition", 4),
        ("set", "kill", 9),
    ],
)
def test_a_short_run_under_faults_passes_every_check(
    tmp_path: Path, workload: str, nemesis: str, seed: int
) -> None:
    result = _run(tmp_path, workload, nemesis, seed)
    assert result.passed, summary(result)
    assert result.results["plan"], "the nemesis planned no fault"
    assert result.results["nemesis_errors"] == 0
    assert _check_cli(result) == cli.ExitCode.OK


@pytest.mark.parametrize(
    ("workload", "nemesis", "seed"),
    [
        ("set-scan", "kill", 9),
        ("set-scan", "partition", 4),
        ("set-query", "partition", 4),
    ],
)
def test_scans_and_index_queries_under_faults_miss_no_acknowledged_element(
    tmp_path: Path, workload: str, nemesis: str, seed: int
) -> None:
    """Every ok scan (query) holds every element acknowledged before it began; failed
    reads are recorded failed, and some reads must have run under the faults."""
    result = _run(tmp_path, workload, nemesis, seed)
    assert result.passed, summary(result)
    assert result.results["plan"], "the nemesis planned no fault"
    assert result.checks["set-full"].read_count >= MIN_SCAN_READS
    assert _check_cli(result, "--model", "set-full") == cli.ExitCode.OK


def test_scans_from_any_replica_are_caught_missing_acknowledged_elements(tmp_path: Path) -> None:
    """The scans' negative control: the same reads at ALLOW_REPLICA (a cut-off replica
    answers from its stale state) must be reported lost."""
    result = _run(tmp_path, "set-scan", "partition-leader", 3, unsafe_replica_reads=True)
    assert result.results["options"]["unsafe_replica_reads"] is True
    assert result.verdict is Verdict.INVALID, summary(result)
    assert result.checks["set-full"].lost_count > 0
    assert _check_cli(result, "--model", "set-full") == cli.ExitCode.INVALID


def test_a_short_run_with_security_on_passes_every_check(tmp_path: Path) -> None:
    """Access control on: workers log in as a user holding read-write@test only, every
    call is authorised (forwarded calls again at the leader), nodes are killed and
    restarted; tokens stay valid across the restarts and the history is linearizable."""
    result = _run(tmp_path, "register", "kill", 14, security=True)
    assert result.passed, summary(result)
    assert result.results["plan"], "the nemesis planned no fault"
    assert result.results["nemesis_errors"] == 0
    assert _check_cli(result) == cli.ExitCode.OK


@pytest.mark.parametrize(
    ("workload", "nemesis", "seed"),
    [
        # seed 3: replace-dead, kill-migration, add-drain, replace-dead
        ("register", "membership", 3),
        # seed 5: kill-leader, kill-migration, add-drain, kill-all
        ("set", "membership,kill", 5),
        # seed 2: add-drain, replace-dead, replace-dead
        ("bank", "membership", 2),
    ],
)
def test_nodes_joining_draining_and_dying_mid_migration_keep_every_check_valid(
    tmp_path: Path, workload: str, nemesis: str, seed: int
) -> None:
    result = _run(tmp_path, workload, nemesis, seed, time_s=30.0)
    assert result.passed, summary(result)
    assert any(f["kind"].startswith("membership-") for f in result.results["plan"])
    assert result.results["nemesis_errors"] == 0
    joins = [e for e in _nemesis_infos(result) if e["f"] == "join"]
    removals = [e for e in _nemesis_infos(result) if e["f"] in ("drain", "remove-dead")]
    assert joins and removals


def _nemesis_infos(result: RunResult) -> list[dict[str, Any]]:
    lines = (result.out_dir / "nemesis.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == "info"]


def test_a_whole_cluster_killed_during_writes_loses_no_acknowledged_element(
    tmp_path: Path,
) -> None:
    result = _run(tmp_path, "set", "kill-all", 1)
    assert result.passed, summary(result)
    kills = [e for e in _nemesis_infos(result) if e["f"] == "kill"]
    assert kills and all(len(e["value"]["targets"]) == 3 for e in kills)


def test_nodes_crashing_at_every_failpoint_lose_nothing(tmp_path: Path) -> None:
    """Seed 6 draws a crash at each of the four crash points, on different nodes."""
    result = _run(tmp_path, "register", "failpoint-crash", 6, time_s=30.0)
    assert result.passed, summary(result)
    assert {f["point"] for f in result.results["plan"]} == set(CRASH_POINTS)
    restarted = [e for e in _nemesis_infos(result) if e["f"] == "restart" and e["value"]["fault"]]
    assert len(restarted) == len(result.results["plan"]), "an armed failpoint never fired"


def test_increments_retried_after_injected_timeouts_are_applied_once(tmp_path: Path) -> None:
    result = _run(tmp_path, "counter", "failpoint-delay", 2)
    assert result.passed, summary(result)
    assert result.results["client_retries"] > 0, "no attempt timed out: nothing was retried"


def _negative_control_scenario(tmp_path: Path, unsafe: bool) -> RunResult:
    return _run(
        tmp_path,
        "register",
        NEGATIVE_NEMESIS,
        NEGATIVE_SEED,
        NEGATIVE_TIME_S,
        unsafe_local_reads=unsafe,
        **NEGATIVE_OPTIONS,
    )


def test_unsafe_local_reads_are_reported_not_linearizable(tmp_path: Path) -> None:
    result = _negative_control_scenario(tmp_path, unsafe=True)
    assert result.results["options"]["unsafe_local_reads"] is True
    assert result.verdict is Verdict.INVALID, summary(result)
    assert result.exit is RunExit.INVALID
    assert _check_cli(result) == cli.ExitCode.INVALID


def test_the_negative_control_scenario_without_the_flag_passes(tmp_path: Path) -> None:
    result = _negative_control_scenario(tmp_path, unsafe=False)
    assert result.passed, summary(result)
    assert _check_cli(result) == cli.ExitCode.OK
