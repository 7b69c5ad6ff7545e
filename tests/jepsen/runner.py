"""One Jepsen-style run: a real cluster, concurrent recording clients, faults, a verdict.

    python -m tests.jepsen run --workload register --nemesis kill,pause,partition \\
        --time 30 --seed 7 --out /tmp/run [--unsafe-local-reads] [--concurrency 9]
        [--unsafe-replica-reads]  # set-scan, set-query: the scans' negative control

Schedule of `run` (every phase is bounded in time and stops by itself):

1. start ``nodes`` node processes (`Cluster`, with ``--enable-fault-injection``) and wait
   until every group has a leader; the workload's ``setup``;
2. warm-up: the workers run for ``warmup_s`` without faults;
3. faults: the nemesis executes its seeded plan for ``time_s`` seconds while the workers
   keep running;
4. heal everything: resume paused nodes, restart dead ones, heal partitions;
5. recovery: wait (at most ``recovery_timeout``) until every node answers and every group
   has a leader; the workers keep running for ``post_heal_s`` more seconds, then stop;
6. final reads: the workload's reads through every node, retried until they succeed (at
   most ``final_timeout``); then the replicas are compared (`check_replicas`);
7. kill every node, copy the logs, check the history, write results.json.

Workers: ``concurrency`` threads (default 3 per node), worker ``w`` pinned to node
``w % nodes`` through its own `Client`, each waiting a random 0..2/``rate`` seconds
between operations (Jepsen's stagger).

Outputs in ``out_dir``: ``history.jsonl``, ``nemesis.jsonl``, ``logs/<node>.log`` and
``results.json``. The run passes (exit 0) only if every check is valid (``valid is
True``: unknown fails), the cluster recovered (ready again and every final read ok), no
worker crashed, and the run was meaningful: at least `MIN_OK_OPS` ok client operations,
at least `MIN_OK_PER_FUNCTION` ok operations of each of the workload's functions, and at
least `MIN_OK_AFTER_HEAL` ok operations invoked after the heal. Exit codes: see
`RunExit` (the first that applies wins, in the order listed there).

Reproduce a run with the same ``--workload --nemesis --time --seed`` (and concurrency,
nodes, rate): the fault plan and each worker's choices of operations come from the seed;
what the cluster does in between (timings, leaders) does not.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Final

from raftstore_client import Client, ReadMode

from tests.jepsen.checkers import Verdict, combine_verdicts, explain, to_jsonable
from tests.jepsen.cluster import Cluster
from tests.jepsen.history import HistoryWriter, Op, OpType, pair_operations, read_jsonl
from tests.jepsen.nemesis import ATTEMPT_TIMEOUT, Fault, Nemesis, parse_nemeses, plan
from tests.jepsen.recorder import ProcessIds, Recorder
from tests.jepsen.workloads import WORKLOADS, Workload, WorkloadConfig, make_workload
from tests.jepsen.workloads.replicas import ReplicasResult, check_replicas

__all__ = [
    "MIN_OK_AFTER_HEAL",
    "MIN_OK_OPS",
    "MIN_OK_PER_FUNCTION",
    "RunExit",
    "RunOptions",
    "RunResult",
    "add_run_parser",
    "run",
    "run_command",
]

log = logging.getLogger(__name__)

MIN_OK_OPS: Final = 100
MIN_OK_PER_FUNCTION: Final = 5
MIN_OK_AFTER_HEAL: Final = 10
PARTITION_GROUPS: Final = 8
REPLICA_READ_WORKLOADS: Final = ("set-scan", "set-query")  # reads with a read mode to weaken
WORKER_USER: Final = "jepsen"  # with --security
LOUD_LOG_LEVELS: Final = ("ERROR", "CRITICAL")  # counted in results.json, for people


class RunExit(IntEnum):
    """Exit codes of ``run``, in precedence order (the first that applies wins)."""

    OK = 0
    INVALID = 1  # a check found a violation
    NOT_RECOVERED = 4  # the cluster did not come back after healing
    ERROR = 3  # the harness failed (cluster did not start, a worker crashed)
    UNKNOWN = 2  # a check could not decide (time limit, nothing to check)
    TOO_FEW_OK = 5  # too few ok operations for the verdict to mean anything


_PRECEDENCE: Final = (
    RunExit.INVALID,
    RunExit.NOT_RECOVERED,
    RunExit.ERROR,
    RunExit.UNKNOWN,
    RunExit.TOO_FEW_OK,
)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Tunables of a run, with the defaults the CLI and the CI tier use."""

    nodes: int = 3
    concurrency: int | None = None  # default 3 per node
    node_args: tuple[str, ...] = ()
    unsafe_local_reads: bool = False
    unsafe_replica_reads: bool = False  # set-scan/set-query read ALLOW_REPLICA (must be caught)
    security: bool = False  # access control on: workers log in as a read-write@test user
    warmup_s: float = 3.0
    post_heal_s: float = 5.0
    rate: float = 20.0  # mean operations per second per worker
    client_timeout: float = 3.0
    max_retries: int = 30  # the timeout bounds a command too; retries are 20-100 ms apart
    recovery_timeout: float = 60.0
    final_timeout: float = 30.0
    check_time_limit: float = 60.0
    keep_data: bool = False
    # Soak runs (tests/soak): a fixed fault plan instead of the seeded one, and a
    # function run on its own thread from the start of the warm-up until the heal, with
    # the cluster and a stop event; what it returns goes into results.json "background".
    fault_plan: tuple[Fault, ...] | None = None
    raft: dict[str, Any] | None = None  # the nodes' [raft] table (default: theirs)
    background: Callable[[Cluster, threading.Event], Any] | None = None

    def workers(self) -> int:
        return self.concurrency or 3 * self.nodes


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run found; ``results`` is what results.json holds."""

    out_dir: Path
    exit: RunExit
    verdict: Verdict  # the checks combined
    recovered: bool
    problems: tuple[str, ...]
    checks: Mapping[str, Any]
    results: dict[str, Any] = field(repr=False)

    @property
    def passed(self) -> bool:
        return self.exit is RunExit.OK


# ----------------------------------------------------------------------------- workers


class Worker(threading.Thread):
    """One sequential client: generate, record, repeat until stopped (bounded)."""

    def __init__(
        self, recorder: Recorder, workload: Workload, rng: random.Random, rate: float
    ) -> None:
        super().__init__(name=f"jepsen-worker-{recorder.worker}", daemon=True)
        self.recorder = recorder
        self.workload = workload
        self.rng = rng
        self.pause = 2.0 / rate if rate > 0 else 0.0
        self.stop = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        try:
            ops = self.workload.worker_ops(self.recorder.worker, self.rng)
            invocation = next(ops)
            while not self.stop.is_set():
                done = self.recorder.run(invocation, self.workload.execute)
                invocation = ops.send(done)
                self.stop.wait(self.rng.uniform(0, self.pause))
        except Exception as exc:  # a harness bug: the run reports it as an error
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("worker %d crashed", self.recorder.worker)


def final_reads(recorder: Recorder, workload: Workload, timeout: float) -> bool:
    """Run the workload's final reads through ``recorder``'s node, retrying those that do
    not complete ok, until all did (True) or ``timeout`` passed (False)."""
    pending = workload.final_reads()
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        failed = []
        for invocation in pending:
            late = time.monotonic() >= deadline
            if late or recorder.run(invocation, workload.execute).type != OpType.OK:
                failed.append(invocation)
        pending = failed
        if pending:
            time.sleep(0.5)
    return not pending


# ----------------------------------------------------------------------------- the run


def run(
    workload: str,
    nemeses: str | Sequence[str],
    time_s: float,
    seed: int,
    out_dir: str | Path,
    nodes: int = 3,
    node_args: Sequence[str] = (),
    **options: Any,
) -> RunResult:
    """Run one test (see the module docstring) and return its result.

    ``nemeses``: families and/or kinds (`tests.jepsen.nemesis.parse_nemeses`); ``options``
    are `RunOptions` fields. Raises ValueError for bad arguments; other exceptions mean the
    harness could not run (e.g. the cluster did not start); every node is killed anyway.
    """
    opts = RunOptions(nodes=nodes, node_args=tuple(node_args), **options)
    kinds = parse_nemeses(nemeses)
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; expected one of {sorted(WORKLOADS)}")
    if opts.unsafe_replica_reads and workload not in REPLICA_READ_WORKLOADS:
        raise ValueError(f"--unsafe-replica-reads needs a workload of {REPLICA_READ_WORKLOADS}")
    if time_s < 0 or opts.workers() < 1:
        raise ValueError("time must be >= 0 and concurrency >= 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _Run(workload, kinds, time_s, seed, out, opts).execute()


class _Run:
    def __init__(
        self,
        workload: str,
        kinds: tuple[str, ...],
        time_s: float,
        seed: int,
        out: Path,
        opts: RunOptions,
    ) -> None:
        self.kinds, self.time_s, self.seed, self.out, self.opts = kinds, time_s, seed, out, opts
        self.config = WorkloadConfig(
            set_name=f"j{seed}-{secrets.token_hex(3)}", concurrency=opts.workers(), nodes=opts.nodes
        )
        self.workload = make_workload(workload, self.config)
        if opts.unsafe_replica_reads:
            self.workload.read_mode = ReadMode.ALLOW_REPLICA  # type: ignore[attr-defined]
        self.phases: dict[str, float] = {}
        self.problems: list[str] = []  # every reason the run did not pass, for people
        self.errors: list[str] = []  # harness failures (RunExit.ERROR)
        self.too_few: list[str] = []  # unmet thresholds (RunExit.TOO_FEW_OK)
        self.plan: list[Fault] = []
        self.heal_index = -1  # index of the last healing event
        self.replicas: ReplicasResult | None = None
        self.client_retries = 0  # attempts the workers' clients retried
        self._worker_auth: dict[str, str] = {}  # user/password of the workers (security on)
        self.log_levels: Counter[str] = Counter()  # "<node> <LEVEL>" -> lines in its log
        self.background_result: Any = None
        self.started = time.monotonic()

    def _phase(self, name: str) -> None:
        self.phases[name] = round(time.monotonic() - self.started, 3)
        log.info("phase %s at %.1f s", name, self.phases[name])

    def execute(self) -> RunResult:
        data = Path(tempfile.mkdtemp(prefix="raftstore-jepsen-"))
        cluster = Cluster(
            data,
            nodes=self.opts.nodes,
            partition_groups=PARTITION_GROUPS,
            node_args=self._node_args(),
            security=self.opts.security,
            raft=self.opts.raft,
        )
        try:
            with HistoryWriter(self.out / "history.jsonl") as history:
                nemesis = Nemesis(cluster, history, self.out / "nemesis.jsonl")
                try:
                    recovered = self._drive(cluster, history, nemesis)
                finally:
                    nemesis.close()
        finally:
            cluster.close()
            self._copy_logs(cluster)
            if not self.opts.keep_data:
                shutil.rmtree(data, ignore_errors=True)
        self._phase("checking")
        return self._conclude(recovered, nemesis)

    def _node_args(self) -> list[str]:
        args = ["--enable-fault-injection", *self.opts.node_args]
        if any(kind.startswith("failpoint-") for kind in self.kinds):
            args.append("--enable-failpoints")
        if self.opts.unsafe_local_reads and "--unsafe-local-reads" not in args:
            args.append("--unsafe-local-reads")
        return args

    def _drive(self, cluster: Cluster, history: HistoryWriter, nemesis: Nemesis) -> bool:
        self._phase("start")
        cluster.start()
        with Client(cluster.hosts, timeout=10, **cluster.client_auth) as admin:
            self.workload.setup(admin)
            self._worker_auth = self._worker_user(cluster, admin)
        group_ids = [f"test/{i}" for i in range(PARTITION_GROUPS)]
        self.plan = plan(self.seed, self.kinds, self.time_s, cluster.ids, group_ids)
        if self.opts.fault_plan is not None:
            self.plan = list(self.opts.fault_plan)
        workers = self._start_workers(cluster, history)
        background = self._start_background(cluster)
        try:
            self._phase("warm-up")
            time.sleep(self.opts.warmup_s)
            self._phase("faults")
            nemesis.run(self.plan, threading.Event())
            time.sleep(max(0.0, self.phases["faults"] + self.time_s - self._now()))
            self._stop_background(background)
            self._phase("heal")
            healed = nemesis.heal_all()
            self.heal_index = nemesis.last_event.index if nemesis.last_event else -1
            ready = self._recover(cluster)
            self._phase("post-heal")
            time.sleep(self.opts.post_heal_s)
        finally:
            self._stop_background(background)
            self._stop_workers(workers)
        self._phase("final-reads")
        finals = self._final_reads(workers)
        self._phase("replicas")
        self.replicas = self._compare_replicas(cluster, workers) if finals else None
        self.client_retries = sum(w.recorder.client.retries for w in workers)
        for w in workers:
            w.recorder.client.close()
        if not healed:
            self.problems.append("healing failed (see nemesis.jsonl)")
        return healed and ready and finals

    def _worker_user(self, cluster: Cluster, admin: Client) -> dict[str, str]:
        """Security on: a user that may read and write namespace ``test`` only, known to
        every node before the workers log in; the workers' ``user``/``password``."""
        if not self.opts.security:
            return {}
        password = secrets.token_urlsafe(12)
        epoch = admin.create_user(WORKER_USER, password, "read-write@test")
        deadline = time.monotonic() + 10
        while any(cluster.partition_map(n).epoch < epoch for n in cluster.ids):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers' user did not reach every node")
            time.sleep(0.05)
        return {"user": WORKER_USER, "password": password}

    def _now(self) -> float:
        return time.monotonic() - self.started

    def _start_workers(self, cluster: Cluster, history: HistoryWriter) -> list[Worker]:
        processes = ProcessIds(self.opts.workers())
        workers = []
        for w in range(self.opts.workers()):
            node = cluster.ids[w % len(cluster.ids)]
            client = Client(
                [cluster.address(node)],
                pinned=True,
                timeout=self.opts.client_timeout,
                attempt_timeout=self._attempt_timeout(),
                max_retries=self.opts.max_retries,
                **self._worker_auth,
            )
            recorder = Recorder(history, w, node, client, processes)
            rng = random.Random(self.seed * 1000 + w + 1)
            workers.append(Worker(recorder, self.workload, rng, self.opts.rate))
        for worker in workers:
            worker.start()
        return workers

    def _start_background(
        self, cluster: Cluster
    ) -> tuple[threading.Thread, threading.Event] | None:
        if self.opts.background is None:
            return None
        stop = threading.Event()
        function = self.opts.background

        def target() -> None:
            try:
                self.background_result = function(cluster, stop)
            except Exception as exc:
                self.errors.append(f"background crashed: {type(exc).__name__}: {exc}")
                log.exception("background crashed")

        thread = threading.Thread(target=target, name="jepsen-background", daemon=True)
        thread.start()
        return thread, stop

    def _stop_background(self, background: tuple[threading.Thread, threading.Event] | None) -> None:
        if background is None or background[1].is_set():
            return  # none, or already stopped
        thread, stop = background
        stop.set()
        thread.join(120)
        if thread.is_alive():
            self.errors.append("background did not stop")

    def _attempt_timeout(self) -> float | None:
        """Shorter than the stall of ``failpoint-delay``, so that attempts time out and
        are retried; otherwise the whole client timeout."""
        return ATTEMPT_TIMEOUT if "failpoint-delay" in self.kinds else None

    def _stop_workers(self, workers: list[Worker]) -> None:
        for worker in workers:
            worker.stop.set()
        limit = time.monotonic() + self.opts.client_timeout * 3 + 10
        for worker in workers:
            worker.join(max(0.1, limit - time.monotonic()))
            if worker.is_alive():
                self.errors.append(f"worker {worker.recorder.worker} did not stop")
            if worker.error:
                self.errors.append(f"worker {worker.recorder.worker} crashed: {worker.error}")

    def _recover(self, cluster: Cluster) -> bool:
        self._phase("recovery")
        try:
            cluster.wait_ready(timeout=self.opts.recovery_timeout)
        except (TimeoutError, RuntimeError) as exc:
            self.problems.append(f"cluster not ready after healing: {exc}")
            return False
        self._phase("recovered")
        return True

    def _final_reads(self, workers: list[Worker]) -> bool:
        """The final reads through every node, one worker per node, in parallel."""
        first = {}
        for worker in workers:
            first.setdefault(worker.recorder.node, worker.recorder)
        results: dict[str, bool] = {}

        def read_through(node: str, recorder: Recorder) -> None:
            results[node] = final_reads(recorder, self.workload, self.opts.final_timeout)

        threads = [
            threading.Thread(target=read_through, args=item, daemon=True) for item in first.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(self.opts.final_timeout + self.opts.client_timeout * 3 + 10)
        failed = sorted(node for node in first if not results.get(node))
        if failed:
            self.problems.append(f"final reads did not succeed through {failed}")
        return not failed

    def _compare_replicas(self, cluster: Cluster, workers: list[Worker]) -> ReplicasResult:
        clients: dict[str, Client] = {}
        for worker in workers:
            clients.setdefault(worker.recorder.node, worker.recorder.client)
        replica_keys = getattr(self.workload, "replica_keys", None)
        if replica_keys is not None:  # a workload of many records names the ones to compare
            keys = dict.fromkeys(replica_keys())
        else:
            keys = dict.fromkeys(self.config.key(inv.key) for inv in self.workload.final_reads())
        return check_replicas(cluster, clients, keys, timeout=self.opts.final_timeout)

    def _copy_logs(self, cluster: Cluster) -> None:
        """Copy each node's log to ``logs/``; count its ERROR and CRITICAL lines."""
        logs = self.out / "logs"
        logs.mkdir(exist_ok=True)
        for node_id in [n.id for n in cluster.nodes]:  # removed nodes' logs too
            source = cluster.node(node_id).log
            if source.exists():
                shutil.copyfile(source, logs / f"{node_id}.log")
                for line in source.read_text(errors="replace").splitlines():
                    for level in LOUD_LOG_LEVELS:
                        if f" {level} " in line:
                            self.log_levels[f"{node_id} {level}"] += 1

    # --- verdict --------------------------------------------------------------------

    def _conclude(self, recovered: bool, nemesis: Nemesis) -> RunResult:
        history = read_jsonl(self.out / "history.jsonl")
        started = time.monotonic()
        checks = dict(self.workload.check(history, self.opts.check_time_limit))
        if self.replicas is not None:
            checks["replicas-converge"] = self.replicas
        check_seconds = time.monotonic() - started
        verdict = combine_verdicts([c.verdict for c in checks.values()])
        counts = op_counts(history, self.heal_index)
        self._judge_counts(counts)
        exit_code = self._exit(verdict, recovered)
        results = {
            "workload": self.workload.name,
            "seed": self.seed,
            "nemeses": list(self.kinds),
            "time_s": self.time_s,
            "options": {
                **asdict(self.opts),
                "fault_plan": None,
                "background": getattr(self.opts.background, "__name__", None),
                "concurrency": self.opts.workers(),
            },
            "background": self.background_result,
            "set": self.config.set_name,
            "workload_params": self.workload.describe(),
            "plan": [asdict(f) for f in self.plan],
            "nemesis_events": nemesis.events,
            "nemesis_errors": nemesis.errors,
            "phases": self.phases,
            "counts": counts,
            "client_retries": self.client_retries,
            "thresholds": {
                "min_ok_ops": MIN_OK_OPS,
                "min_ok_per_function": MIN_OK_PER_FUNCTION,
                "min_ok_after_heal": MIN_OK_AFTER_HEAL,
            },
            "checks": {name: to_jsonable(result) for name, result in checks.items()},
            "check_seconds": round(check_seconds, 3),
            "recovered": recovered,
            "node_log_levels": dict(sorted(self.log_levels.items())),
            "verdict": verdict.value,
            "problems": self.problems,
            "exit": int(exit_code),
            "passed": exit_code is RunExit.OK,
        }
        (self.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        return RunResult(
            self.out, exit_code, verdict, recovered, tuple(self.problems), checks, results
        )

    def _judge_counts(self, counts: dict[str, Any]) -> None:
        if counts["ok"] < MIN_OK_OPS:
            self.too_few.append(f"only {counts['ok']} ok operations (< {MIN_OK_OPS})")
        for f in sorted(self.workload.functions):
            ok = counts["by_f"].get(f, {}).get("ok", 0)
            if ok < MIN_OK_PER_FUNCTION:
                self.too_few.append(f"only {ok} ok {f} operations (< {MIN_OK_PER_FUNCTION})")
        if counts["ok_after_heal"] < MIN_OK_AFTER_HEAL:
            self.too_few.append(
                f"only {counts['ok_after_heal']} ok operations after healing"
                f" (< {MIN_OK_AFTER_HEAL})"
            )

    def _exit(self, verdict: Verdict, recovered: bool) -> RunExit:
        """The exit code; also completes ``problems`` with every reason."""
        if verdict is Verdict.INVALID:
            self.problems.insert(0, "a check found a violation")
        elif verdict is Verdict.UNKNOWN:
            self.problems.insert(0, "a check could not decide (unknown counts as failure)")
        self.problems += self.errors + self.too_few
        applies = {
            RunExit.INVALID: verdict is Verdict.INVALID,
            RunExit.NOT_RECOVERED: not recovered,
            RunExit.ERROR: bool(self.errors),
            RunExit.UNKNOWN: verdict is Verdict.UNKNOWN,
            RunExit.TOO_FEW_OK: bool(self.too_few),
        }
        return next((code for code in _PRECEDENCE if applies[code]), RunExit.OK)


def op_counts(history: Sequence[Op], heal_index: int) -> dict[str, Any]:
    """Client operations by f and completion type, totals, and ok ones invoked after
    ``heal_index``."""
    operations = pair_operations(history)
    by_f: dict[str, Counter[str]] = {}
    for op in operations:
        by_f.setdefault(op.f, Counter())[op.type.value] += 1
    types = Counter(op.type.value for op in operations)
    after = sum(1 for op in operations if op.type is OpType.OK and op.invoke_index > heal_index)
    return {
        "total": len(operations),
        "ok": types["ok"],
        "fail": types["fail"],
        "info": types["info"],
        "by_f": {f: dict(c) for f, c in sorted(by_f.items())},
        "ok_after_heal": after,
        "processes": len({op.process for op in operations}),
    }


# ----------------------------------------------------------------------------- CLI


def add_run_parser(subparsers: Any) -> None:
    """Add the ``run`` subcommand (its handler returns a `RunExit`)."""
    parser = subparsers.add_parser(
        "run",
        help="run a Jepsen-style test against a local cluster",
        description="Start a cluster, run a workload under faults, check the history.",
    )
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument(
        "--nemesis",
        default="kill,pause,partition",
        help="families (kill, pause, partition, failpoint) and/or kinds, comma-separated; 'none'",
    )
    parser.add_argument("--time", type=float, default=30.0, help="seconds of faults")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="directory for the run's files")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--concurrency", type=int, help="workers (default 3 per node)")
    parser.add_argument("--rate", type=float, default=RunOptions().rate, help="ops/s per worker")
    parser.add_argument(
        "--unsafe-local-reads",
        action="store_true",
        help="start the nodes with the UNSAFE flag (negative control: must be caught)",
    )
    parser.add_argument(
        "--unsafe-replica-reads",
        action="store_true",
        help="set-scan/set-query read from any replica (negative control: must be caught)",
    )
    parser.add_argument(
        "--node-arg",
        action="append",
        default=[],
        help="extra node argument, e.g. --node-arg=--unsafe-no-fsync",
    )
    parser.add_argument(
        "--security",
        action="store_true",
        help="access control on; workers log in as a user with read-write@test",
    )
    parser.add_argument("--check-time-limit", type=float, default=RunOptions().check_time_limit)
    parser.add_argument("--keep-data", action="store_true", help="keep the nodes' data")
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    """The ``run`` subcommand: run, print a summary, return the exit code."""
    try:
        result = run(
            args.workload,
            args.nemesis,
            args.time,
            args.seed,
            args.out,
            nodes=args.nodes,
            node_args=args.node_arg,
            concurrency=args.concurrency,
            rate=args.rate,
            unsafe_local_reads=args.unsafe_local_reads,
            unsafe_replica_reads=args.unsafe_replica_reads,
            security=args.security,
            check_time_limit=args.check_time_limit,
            keep_data=args.keep_data,
        )
    except ValueError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return RunExit.ERROR
    except Exception as exc:
        print(f"run: the harness failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return RunExit.ERROR
    print(summary(result))
    return result.exit


def summary(result: RunResult) -> str:
    """A few lines: counts, each check's verdict, recovery, the outcome."""
    r = result.results
    c = r["counts"]
    lines = [
        f"{r['workload']} seed={r['seed']} nemesis={','.join(r['nemeses']) or 'none'}"
        f" time={r['time_s']:g}s faults={len(r['plan'])}",
        f"  ops {c['total']}: ok {c['ok']}, fail {c['fail']}, info {c['info']};"
        f" ok after heal {c['ok_after_heal']}; processes {c['processes']};"
        f" client retries {r.get('client_retries', 0)}",
        "  by f: " + "; ".join(f"{f} {dict(t)}" for f, t in c["by_f"].items()),
    ]
    for name, check in result.checks.items():
        lines.append(f"  {name}: {check.verdict.value}")
        if check.verdict is Verdict.INVALID:
            lines += ["    " + line for line in explain(check).splitlines()[:12]]
    lines.append(f"  recovered: {'yes' if result.recovered else 'NO'}")
    lines += [f"  problem: {p}" for p in result.problems]
    outcome = "PASS" if result.passed else f"FAIL ({result.exit.name})"
    lines.append(f"{outcome}  {result.out_dir}/results.json")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.jepsen.runner run ...`` (the same as ``python -m tests.jepsen run``)."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m tests.jepsen.runner")
    add_run_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
