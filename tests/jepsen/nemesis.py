"""The nemesis: a seeded schedule of faults and its execution against a `Cluster`.

`plan(seed, kinds, duration, node_ids, groups)` draws, from ``random.Random(seed)`` alone,
a list of `Fault` values: when each starts (seconds into the fault phase), its kind, how
long it holds, and the random choices it needs (nodes, a group, a shuffle). The same seed,
kinds, duration and cluster shape always give the same plan. Faults never overlap: each
one starts, holds, stops, and the cluster gets a quiet spell before the next.

Kinds, by family (``--nemesis kill,pause,partition`` selects families; a kind's own name
selects just that kind):

- kill: ``kill-one``, ``kill-minority``, ``kill-leader`` (of a random group), ``kill-all``
  — SIGKILL, then restart on the same data;
- pause: ``pause-leader``, ``pause-minority`` — SIGSTOP for longer than the election
  timeout (1-2 s), then SIGCONT;
- partition: ``partition-halves`` (the first floor(n/2) nodes | the rest),
  ``partition-leader`` (the leader of a random group | everyone else),
  ``partition-bridge`` (two halves that reach each other only through one bridge node:
  for 3 nodes A-B-C, A and C cut), ``partition-random-halves`` (shuffled halves) — then
  heal;
- membership: ``membership-add-drain`` adds a node (it joins; replicas migrate to it),
  holds, then drains it (replicas migrate back; it leaves the roster);
  ``membership-kill-migration`` adds a node and at once SIGKILLs another node while the
  replicas move, restarts it after the hold, then drains the added node;
  ``membership-replace-dead`` adds a node, holds, then SIGKILLs it, deletes its data
  directory and removes it with ``--dead`` (its replicas are rebuilt from the survivors).
  The nodes the workers are pinned to are never removed;
- restart: ``restart-rolling`` stops every node in turn cleanly (SIGTERM), starts it again
  on its data and waits until it serves before the next (an upgrade's rolling restart);
- failpoint (the nodes run with ``--enable-failpoints``): ``failpoint-crash`` arms a
  crash at one drawn failpoint (``journal.before_fsync``, ``journal.after_fsync``,
  ``apply.before``, ``apply.after``) of one node after a drawn number of hits, then
  restarts the node if it crashed (or disarms the point if it did not);
  ``failpoint-delay`` stalls the leader of a random group for `DELAY_MS` after each of
  the next `DELAY_COUNT` entries it applies (``apply.after``: applied, not yet answered),
  so clients' attempts time out in doubt and are retried with the same identity (the
  runner shortens the attempt timeout to `ATTEMPT_TIMEOUT` for this kind).

A "leader" target is resolved when the fault starts: the node that then leads the drawn
group, or the drawn fallback node when no leader is known. That resolution depends on the
cluster, so it is recorded in each event's value.

`Nemesis` executes a plan. Every action is recorded twice in the history: an ``invoke``
when it begins and an ``info`` when it is done (``process: "nemesis"``; ``f`` is ``kill``,
``restart``, ``pause``, ``resume``, ``partition``, ``heal``, ``arm`` or ``disarm``;
``value`` names the fault and its targets; ``error`` is set if the action raised). The
same events (same index and time) are written to ``nemesis.jsonl``. `Nemesis.heal_all`
ends every fault: resume paused nodes, restart dead ones, heal partitions, disarm
failpoints.

Thread: `Nemesis.run` runs on its own thread; `heal_all` after it has returned.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from tests.jepsen.cluster import Cluster
from tests.jepsen.history import HistoryWriter, Op, op_to_dict

__all__ = [
    "ATTEMPT_TIMEOUT",
    "CRASH_POINTS",
    "DELAY_MS",
    "FAMILIES",
    "KINDS",
    "Fault",
    "Nemesis",
    "parse_nemeses",
    "plan",
]

log = logging.getLogger(__name__)

FAMILIES: Final = {
    "kill": ("kill-one", "kill-minority", "kill-leader", "kill-all"),
    "pause": ("pause-leader", "pause-minority"),
    "partition": (
        "partition-halves",
        "partition-leader",
        "partition-bridge",
        "partition-random-halves",
    ),
    "failpoint": ("failpoint-crash", "failpoint-delay"),
    "membership": ("membership-add-drain", "membership-kill-migration", "membership-replace-dead"),
    "restart": ("restart-rolling",),
}
KINDS: Final = tuple(kind for kinds in FAMILIES.values() for kind in kinds)

# Seconds a fault holds, by family. Pauses and partitions outlast the election timeout
# (1-2 s) so that the other nodes elect a new leader while the fault holds.
HOLD: Final = {
    "kill": (2.0, 5.0),
    "pause": (3.0, 6.0),
    "partition": (3.0, 8.0),
    "failpoint": (3.0, 6.0),
    "membership": (4.0, 8.0),
    "restart": (1.0, 2.0),
}
CRASH_POINTS: Final = ("journal.before_fsync", "journal.after_fsync", "apply.before", "apply.after")
CRASH_AFTER_HITS: Final = (5, 40)  # a crash failpoint lets this many hits pass first
DELAY_MS: Final = 1500  # the stall of failpoint-delay, per applied entry...
DELAY_COUNT: Final = 3  # ...for this many entries (then the point disarms itself)
ATTEMPT_TIMEOUT: Final = 1.0  # client attempt timeout of runs with failpoint-delay
QUIET: Final = (2.0, 4.0)  # seconds between one fault's end and the next one's start
FIRST: Final = (0.5, 2.0)  # seconds before the first fault
PROCESS: Final = "nemesis"


def parse_nemeses(text: str | Iterable[str]) -> tuple[str, ...]:
    """Fault kinds named by a comma-separated list of families and kinds; ``none`` or an
    empty list means no faults. Raises ValueError for an unknown name."""
    names = text.split(",") if isinstance(text, str) else list(text)
    kinds: list[str] = []
    for name in (n.strip() for n in names):
        if name in ("", "none"):
            continue
        if name in FAMILIES:
            kinds += FAMILIES[name]
        elif name in KINDS:
            kinds.append(name)
        else:
            known = ", ".join([*FAMILIES, *KINDS])
            raise ValueError(f"unknown nemesis {name!r}; expected some of: {known}")
    return tuple(dict.fromkeys(kinds))


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned fault. ``nodes`` is a random ordering of the node ids (targets are
    taken from its front; it is the shuffle for halves and bridges); ``group`` is the
    group whose leader a leader fault targets; ``point`` and ``skip`` are the failpoint
    and the hits it lets pass (failpoint faults only)."""

    at: float
    kind: str
    hold: float
    nodes: tuple[str, ...]
    group: str
    point: str = ""
    skip: int = 0

    @property
    def family(self) -> str:
        return self.kind.split("-", 1)[0]


def plan(
    seed: int,
    kinds: Sequence[str],
    duration: float,
    node_ids: Sequence[str],
    groups: Sequence[str],
) -> list[Fault]:
    """The faults of a run (see the module docstring); empty when ``kinds`` is."""
    rng = random.Random(seed)
    faults: list[Fault] = []
    at = rng.uniform(*FIRST)
    while kinds:
        kind = rng.choice(list(kinds))
        family = kind.split("-", 1)[0]
        hold = round(rng.uniform(*HOLD[family]), 3)
        nodes = tuple(rng.sample(list(node_ids), len(node_ids)))
        group = rng.choice(list(groups))
        point, skip = "", 0
        if kind == "failpoint-crash":  # drawn only here: other kinds' plans stay as they were
            point, skip = rng.choice(CRASH_POINTS), rng.randint(*CRASH_AFTER_HITS)
        elif kind == "failpoint-delay":
            point = "apply.after"
        if at + hold > duration:
            break
        faults.append(Fault(round(at, 3), kind, hold, nodes, group, point, skip))
        at += hold + rng.uniform(*QUIET)
    return faults


def minority(nodes: Sequence[str]) -> list[str]:
    """The first (n - 1) // 2 of ``nodes`` (at least one)."""
    return list(nodes[: max(1, (len(nodes) - 1) // 2)])


class Nemesis:
    """Executes a plan against ``cluster``, recording every action (module docstring)."""

    def __init__(self, cluster: Cluster, history: HistoryWriter, log_path: Path) -> None:
        self.cluster = cluster
        self.history = history
        self._log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115
        self._lock = threading.Lock()
        self.events = 0
        self.errors = 0
        self.last_event: Op | None = None
        self._armed: set[tuple[str, str]] = set()  # (node, failpoint) possibly armed

    def close(self) -> None:
        with self._lock:
            self._log.close()

    # --- the schedule ---------------------------------------------------------------

    def run(self, faults: Sequence[Fault], stop: threading.Event) -> None:
        """Execute ``faults`` from now; return early (after ending the current fault) when
        ``stop`` is set. Bounded: it ends by the last fault's end."""
        started = time.monotonic()
        for fault in faults:
            if stop.wait(max(0.0, started + fault.at - time.monotonic())):
                return
            undo = self.start(fault)
            stop.wait(fault.hold)
            undo()

    def start(self, fault: Fault) -> Callable[[], None]:
        """Start ``fault``; return the function that ends it."""
        family = fault.family
        if family == "kill":
            targets = self._targets(fault)
            self._act("kill", fault, targets, lambda: self._each(self.cluster.kill, targets))
            return lambda: self._act(
                "restart", fault, targets, lambda: self._each(self._restart, targets)
            )
        if family == "pause":
            targets = self._targets(fault)
            self._act("pause", fault, targets, lambda: self._each(self.cluster.pause, targets))
            return lambda: self._act(
                "resume", fault, targets, lambda: self._each(self.cluster.resume, targets)
            )
        if family == "failpoint":
            return self._start_failpoint(fault)
        if family == "restart":
            for node_id in fault.nodes:  # one at a time: a majority always serves
                self._act("stop", fault, [node_id], lambda n=node_id: self.cluster.stop(n))
                self._act("restart", fault, [node_id], lambda n=node_id: self._rejoin(n))
            return lambda: None
        if family == "membership":
            return self._start_membership(fault)
        components = self._components(fault)
        if isinstance(components, list):
            value: Any = [sorted(c) for c in components]
            self._act("partition", fault, value, lambda: self.cluster.partition(components))
        else:
            value = sorted(sorted(pair) for pair in components)
            self._act("partition", fault, value, lambda: self.cluster.partition_links(components))
        return lambda: self._act("heal", fault, None, self.cluster.heal)

    def _start_failpoint(self, fault: Fault) -> Callable[[], None]:
        crash = fault.kind == "failpoint-crash"
        target = fault.nodes[0] if crash else self._leader(fault)
        action, count = ("crash", 0) if crash else (f"delay:{DELAY_MS}", DELAY_COUNT)
        value = {"node": target, "point": fault.point, "action": action, "skip": fault.skip}
        self._armed.add((target, fault.point))
        self._act(
            "arm",
            fault,
            value,
            lambda: self.cluster.arm_failpoint(target, fault.point, action, fault.skip, count),
        )

        def undo() -> None:
            if self.cluster.is_running(target):
                self._act("disarm", fault, value, lambda: self._disarm(target, fault.point))
            else:
                self._act("restart", fault, [target], lambda: self._restart(target))
                self._armed.discard((target, fault.point))

        return undo

    def _start_membership(self, fault: Fault) -> Callable[[], None]:
        added: list[str] = []
        self._act("join", fault, None, lambda: added.append(self.cluster.add_node()))
        victim = fault.nodes[0]
        if fault.kind == "membership-kill-migration":
            self._act("kill", fault, [victim], lambda: self.cluster.kill(victim))

        def drain() -> None:
            if added:
                self._act("drain", fault, added, lambda: self.cluster.remove_node(added[0]))

        def replace_dead() -> None:
            if not added:
                return
            node = added[0]
            self._act("kill", fault, [node], lambda: self.cluster.kill(node))
            self._act("wipe", fault, [node], lambda: self.cluster.wipe(node))
            self._act(
                "remove-dead", fault, [node], lambda: self.cluster.remove_node(node, dead=True)
            )

        def undo() -> None:
            if fault.kind == "membership-kill-migration":
                self._act("restart", fault, [victim], lambda: self._restart(victim))
            (replace_dead if fault.kind == "membership-replace-dead" else drain)()

        return undo

    def _disarm(self, node_id: str, point: str) -> None:
        self.cluster.arm_failpoint(node_id, point, "off")
        self._armed.discard((node_id, point))

    def _targets(self, fault: Fault) -> list[str]:
        kind = fault.kind
        if kind.endswith("-all"):
            return list(self.cluster.ids)
        if kind.endswith("-minority"):
            return minority(fault.nodes)
        if kind.endswith("-leader"):
            return [self._leader(fault)]
        return [fault.nodes[0]]

    def _leader(self, fault: Fault) -> str:
        try:
            leader = self.cluster.leaders().get(fault.group)
        except Exception:
            leader = None
        return leader or fault.nodes[0]

    def _components(self, fault: Fault) -> list[set[str]] | set[frozenset[str]]:
        """Components to separate, or (for a bridge) the exact links to cut."""
        ids = list(self.cluster.ids)
        if fault.kind == "partition-leader":
            leader = self._leader(fault)
            return [{leader}, set(ids) - {leader}]
        if fault.kind == "partition-halves":
            half = len(ids) // 2
            return [set(ids[:half]), set(ids[half:])]
        half = len(fault.nodes) // 2
        if fault.kind == "partition-random-halves":
            return [set(fault.nodes[:half]), set(fault.nodes[half:])]
        left, right = fault.nodes[:half], fault.nodes[-half:]  # the middle node bridges
        return {frozenset((a, b)) for a in left for b in right if a != b}

    def _rejoin(self, node_id: str) -> None:
        self._restart(node_id)
        self.cluster.wait_ready(timeout=60.0, nodes=[node_id])

    def _restart(self, node_id: str) -> None:
        if not self.cluster.is_running(node_id):
            self.cluster.restart(node_id)

    @staticmethod
    def _each(action: Callable[[str], None], targets: Iterable[str]) -> None:
        for node_id in targets:
            action(node_id)

    # --- healing --------------------------------------------------------------------

    def heal_all(self, timeout: float = 30.0) -> bool:
        """End every fault: resume, restart, heal partitions (retried until ``timeout``,
        since a restarted node needs a moment before it accepts the heal). True if every
        action succeeded."""
        cluster = self.cluster
        paused = sorted(cluster.paused)
        dead = [n for n in cluster.ids if not cluster.is_running(n)]
        ok = True
        if paused:
            ok &= self._act("resume", None, paused, lambda: self._each(cluster.resume, paused))
        if dead:
            ok &= self._act("restart", None, dead, lambda: self._each(self._restart, dead))
        healed = self._act("heal", None, None, lambda: self._heal_until(timeout))
        for node_id, point in sorted(self._armed):
            if cluster.is_running(node_id):  # a restarted process starts disarmed
                ok &= self._act(
                    "disarm",
                    None,
                    {"node": node_id, "point": point},
                    lambda n=node_id, p=point: self._disarm(n, p),
                )
        self._armed.clear()
        return ok and healed

    def _heal_until(self, timeout: float) -> None:
        """``cluster.heal()``, retried every 0.5 s for up to ``timeout`` seconds (a node
        just restarted refuses connections for a moment); raises the last error."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.cluster.heal()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

    # --- recording ------------------------------------------------------------------

    def _act(self, f: str, fault: Fault | None, targets: Any, action: Callable[[], Any]) -> bool:
        """Record invoke, run ``action``, record info (with the error, if it raised)."""
        value = {"fault": asdict(fault) if fault else None, "targets": targets}
        self._record(self.history.event(PROCESS, "invoke", f, value=value))
        error = None
        try:
            action()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("nemesis %s failed: %s", f, error)
        self._record(self.history.event(PROCESS, "info", f, value=value, error=error))
        return error is None

    def _record(self, op: Op) -> None:
        with self._lock:
            self.events += 1
            self.errors += op.error is not None
            self.last_event = op
            if not self._log.closed:
                self._log.write(json.dumps(op_to_dict(op), separators=(", ", ": ")) + "\n")
                self._log.flush()
