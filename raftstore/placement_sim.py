"""Simulate placement over a sequence of joins and leaves: ``raftstore placement simulate``.

Nodes are ``n0``, ``n1``, ... each on its own host; with ``racks`` > 0 node ``n<i>`` is on
rack ``r<i % racks>``, otherwise unlabelled. Groups are ``g0`` ... A step is ``join:K``
(K new nodes, numbered on), ``leave:ID`` (that node), or ``leave:K`` (K nodes chosen by a
``random.Random(seed)``, the only randomness). Each step re-places with the previous
placement as ``current`` and reports balance and movement.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from raftstore.placement import (
    NodeSpec,
    Placement,
    leader_changes,
    moves,
    place,
    spread_ok,
)

DEFAULT_STEPS = "join:1,leave:1"


@dataclass(frozen=True, slots=True)
class StepReport:
    """Balance and movement after one step. ``moves`` (replica additions, each paired with
    a removal) and ``leader_changes`` count against the previous step; 0 for the initial."""

    step: str
    nodes: int
    replicas: tuple[int, int]  # per node (min, max)
    ideal: tuple[int, int]  # floor and ceil of rf * groups / nodes
    leaders: tuple[int, int]  # per node (min, max)
    spread_ok: bool
    moves: int
    leader_changes: int


def simulate(
    n_nodes: int, racks: int, groups: int, rf: int, steps: Sequence[str], seed: int = 0
) -> list[StepReport]:
    """Place ``groups`` groups on ``n_nodes`` nodes, then apply ``steps`` one by one.

    Returns one report for the initial placement and one per step. Raises PlacementError
    for an impossible placement and ValueError for a malformed step or unknown node.
    """
    rng = random.Random(seed)
    nodes = [_node(i, racks) for i in range(n_nodes)]
    group_ids = [f"g{i}" for i in range(groups)]
    placement = place(nodes, group_ids, rf)
    reports = [_report("initial", nodes, rf, {}, placement)]
    next_id = n_nodes
    for step in steps:
        nodes, next_id = _apply(step, nodes, next_id, racks, rng)
        after = place(nodes, group_ids, rf, current=placement)
        reports.append(_report(step, nodes, rf, placement, after))
        placement = after
    return reports


def parse_steps(text: str) -> list[str]:
    """``"join:2,leave:n7"`` → ``["join:2", "leave:n7"]``; raises ValueError if malformed."""
    steps = [s.strip() for s in text.split(",") if s.strip()]
    for step in steps:
        kind, _, arg = step.partition(":")
        if kind not in ("join", "leave") or not arg or (kind == "join" and not arg.isdigit()):
            raise ValueError(f"bad step {step!r}: use join:K, leave:ID or leave:K")
    return steps


def render(reports: Sequence[StepReport]) -> str:
    """A fixed-width table, one line per report."""
    head = ("step", "nodes", "replicas/node", "ideal", "leaders/node", "spread", "moves", "leaders")
    rows = [head] + [_row(r) for r in reports]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``raftstore placement simulate``."""
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--racks", type=int, default=0, help="0: no rack labels")
    p.add_argument("--groups", type=int, default=1024)
    p.add_argument("--rf", type=int, default=3)
    p.add_argument("--steps", default=DEFAULT_STEPS, help="e.g. join:2,leave:n7,leave:1")
    p.add_argument("--seed", type=int, default=0, help="chooses the nodes of leave:K")


def run(args: argparse.Namespace) -> int:
    """Run the simulation the arguments describe and print the table; 2 on bad input."""
    try:
        steps = parse_steps(args.steps)
        reports = simulate(args.nodes, args.racks, args.groups, args.rf, steps, args.seed)
    except ValueError as e:  # PlacementError included
        print(f"raftstore placement simulate: {e}", file=sys.stderr)
        return 2
    print(
        f"placement simulate: {args.nodes} nodes, {args.racks} racks, "
        f"{args.groups} groups, rf {args.rf}, seed {args.seed}"
    )
    print(render(reports))
    return 0


def _node(i: int, racks: int) -> NodeSpec:
    return NodeSpec(f"n{i}", rack=f"r{i % racks}" if racks > 0 else "")


def _apply(
    step: str, nodes: list[NodeSpec], next_id: int, racks: int, rng: random.Random
) -> tuple[list[NodeSpec], int]:
    kind, _, arg = step.partition(":")
    if kind == "join":
        added = [_node(i, racks) for i in range(next_id, next_id + int(arg))]
        return nodes + added, next_id + int(arg)
    ids = [n.id for n in nodes]
    gone = set(rng.sample(ids, int(arg))) if arg.isdigit() else {arg}
    if not gone <= set(ids):
        raise ValueError(f"{step}: no node {arg!r}")
    return [n for n in nodes if n.id not in gone], next_id


def _report(
    step: str, nodes: list[NodeSpec], rf: int, before: Placement, after: Placement
) -> StepReport:
    replicas = Counter(r for reps in after.values() for r in reps)
    leaders = Counter(reps[0] for reps in after.values())
    total = sum(replicas.values())
    return StepReport(
        step=step,
        nodes=len(nodes),
        replicas=_span(replicas, nodes),
        ideal=(total // len(nodes), -(-total // len(nodes))),
        leaders=_span(leaders, nodes),
        spread_ok=spread_ok(nodes, after, rf),
        moves=len(moves(before, after)) if before else 0,
        leader_changes=len(leader_changes(before, after)),
    )


def _span(counts: Counter[str], nodes: list[NodeSpec]) -> tuple[int, int]:
    per_node = [counts[n.id] for n in nodes]
    return min(per_node), max(per_node)


def _row(r: StepReport) -> tuple[str, ...]:
    return (
        r.step,
        str(r.nodes),
        f"{r.replicas[0]}..{r.replicas[1]}",
        f"{r.ideal[0]}..{r.ideal[1]}",
        f"{r.leaders[0]}..{r.leaders[1]}",
        "ok" if r.spread_ok else "VIOLATED",
        str(r.moves) if r.step != "initial" else "-",
        str(r.leader_changes) if r.step != "initial" else "-",
    )


__all__ = [
    "DEFAULT_STEPS",
    "StepReport",
    "add_arguments",
    "parse_steps",
    "render",
    "run",
    "simulate",
]
