"""Placement: which nodes hold each partition group's replicas, and which one leads.

``place(nodes, groups, rf, current)`` is a pure function: no I/O, no clock, no randomness.
The same nodes and groups, in any order, and the same ``current`` give the same result.
Ties are broken by xxh64 of the node id seeded by xxh64 of the group (never ``hash()``).

Constraints (hard; every result satisfies them):

- every group gets exactly ``rf`` replicas, on ``rf`` distinct hosts (a node's host is its
  ``host`` label, or its id when unlabelled; nodes of one host must share a rack);
- no rack holds more than ``max_per_rack(nodes, rf)`` replicas of one group: the smallest
  cap the racks' host counts allow. With at least ``rf`` racks the cap is 1 (a group's
  replicas are on distinct racks); with fewer, replicas spread as evenly as the racks allow.
  Unlabelled nodes (``rack=""``) form one rack of their own, so with no labels at all there
  is no rack constraint.

How (each step deterministic):

1. keep: ``current``'s replicas on live nodes, in order, while the constraints allow;
2. fill: each missing replica goes to the least-loaded eligible node;
3. balance replicas: while some node x can reach a node with at least two replicas fewer
   by a chain of legal moves, apply a shortest such chain, x as loaded as possible; chains
   that move only replicas step 2 placed (no data copy) are exhausted first;
4. balance leaders: element 0 is the preferred leader. ``current``'s leader stays while it
   is a replica; other groups pick their least-leading replica; then leaderships shift
   along chains the same way. A leader change only reorders a tuple and moves no data.

Guarantees:

- replicas per node differ by at most 1 when every host has one node and there are no rack
  labels (a node with two replicas more than another holds a group the other can take),
  and when racks have equal numbers of nodes, one per host (property-tested, not proved).
  Otherwise rack and host sizes may forbid it: with ``rf`` racks every rack holds one
  replica of every group, whatever its size; the result then has no chain of legal moves
  from any node to one with two replicas fewer.
- leaders per node differ by at most 1 whenever the replicas allow it: step 4 leaves no
  cost-reducing chain, which makes the choice optimal. Nodes without replicas lead nothing.
- stable: ``place(n, g, rf, current=place(n, g, rf)) == place(n, g, rf)``.
- movement: after nodes join a balanced placement without rack labels, the only moves are
  onto the new nodes, as many as their balanced share; with racks a few more can be needed.
  After a node leaves, its replicas move, plus rarely a few kept ones where balance needs
  them (e.g. a survivor that already holds most of the lost groups).
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import xxhash

Placement = dict[str, tuple[str, ...]]
Steps = Iterable[tuple[str, Iterable[int]]]  # (group, nodes that may take it over)
Path = list[tuple[str, int, int]]  # (group, from, to) steps

__all__ = [
    "Move",
    "NodeSpec",
    "Placement",
    "PlacementError",
    "leader_changes",
    "max_per_rack",
    "moves",
    "place",
    "spread_ok",
]


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A node that may hold replicas. ``rack=""``: unlabelled; ``host=""``: its own host."""

    id: str
    rack: str = ""
    host: str = ""

    @property
    def host_key(self) -> str:
        """The host this node runs on: its ``host`` label, or its id."""
        return self.host or self.id


class PlacementError(ValueError):
    """The inputs admit no placement: rf < 1, rf > distinct hosts, duplicate ids, or a host
    whose nodes carry different racks."""


@dataclass(frozen=True, slots=True)
class Move:
    """One replica change of ``group``: ``add`` a replica on a node and/or ``remove`` one."""

    group: str
    add: str | None
    remove: str | None


def place(
    nodes: Sequence[NodeSpec],
    groups: Sequence[str],
    rf: int,
    current: Mapping[str, Sequence[str]] | None = None,
) -> Placement:
    """Replica node ids for every group; element 0 of each tuple is the preferred leader.

    ``current`` is the previous placement (groups and nodes absent from the inputs are
    ignored). Raises PlacementError (see its docstring). Pure and deterministic.
    """
    topo = _Topology.of(nodes, rf)
    ordered = _checked_groups(groups)
    current = current or {}
    state = _State(topo)
    for g in ordered:
        state.keep(g, current.get(g, ()))
    for g in ordered:
        state.fill(g)
    for fresh_only in (True, False):
        while (path := state.replica_path(fresh_only)) is not None:
            for g, a, b in path:
                state.move(g, a, b)
    leaders = _Leaders(state, current)
    while (path := leaders.path()) is not None:
        for g, _, b in path:
            leaders.set(g, b)
    return {g: leaders.tuple(g) for g in ordered}


def moves(before: Mapping[str, Sequence[str]], after: Mapping[str, Sequence[str]]) -> list[Move]:
    """The replica additions and removals that turn ``before`` into ``after``.

    Additions and removals of one group are paired (one Move each) in tuple order; a group
    only in ``before`` yields removals, one only in ``after`` additions. A changed leader
    with the same replicas is no move. Sorted by group.
    """
    out: list[Move] = []
    for g in sorted(set(before) | set(after)):
        old, new = tuple(before.get(g, ())), tuple(after.get(g, ()))
        adds = [n for n in new if n not in old]
        removes = [n for n in old if n not in new]
        out += [Move(g, a, r) for a, r in itertools.zip_longest(adds, removes)]
    return out


def leader_changes(
    before: Mapping[str, Sequence[str]], after: Mapping[str, Sequence[str]]
) -> list[str]:
    """Groups in both placements whose preferred leader (element 0) differs, sorted."""
    both = sorted(set(before) & set(after))
    return [g for g in both if tuple(before[g][:1]) != tuple(after[g][:1])]


def max_per_rack(nodes: Iterable[NodeSpec], rf: int) -> int:
    """The most replicas of one group a rack may hold: the smallest cap ``c`` with
    ``sum(min(c, hosts in rack))`` >= rf. 1 when there are >= rf racks. Raises
    PlacementError when rf exceeds the distinct hosts or is below 1."""
    hosts = Counter(rack for rack, _ in {(n.rack, n.host_key) for n in nodes})
    for cap in range(1, rf + 1):
        if sum(min(cap, h) for h in hosts.values()) >= rf:
            return cap
    raise PlacementError(f"rf {rf} needs rf >= 1 and at least rf distinct hosts")


def spread_ok(nodes: Sequence[NodeSpec], placement: Mapping[str, Sequence[str]], rf: int) -> bool:
    """Whether every group has rf replicas on distinct live hosts, within the rack cap."""
    by_id = {n.id: n for n in nodes}
    cap = max_per_rack(nodes, rf)
    for replicas in placement.values():
        specs = [by_id.get(r) for r in replicas]
        if len(specs) != rf or None in specs:
            return False
        if len({s.host_key for s in specs if s}) != rf:
            return False
        if max(Counter(s.rack for s in specs if s).values()) > cap:
            return False
    return True


def _checked_groups(groups: Sequence[str]) -> list[str]:
    ordered = sorted(groups)
    if len(set(ordered)) != len(ordered):
        raise PlacementError("duplicate group ids")
    return ordered


@dataclass(frozen=True, slots=True)
class _Topology:
    """Nodes sorted by id, as parallel tuples indexed by node number."""

    ids: tuple[str, ...]
    hosts: tuple[str, ...]
    racks: tuple[str, ...]
    index: Mapping[str, int]
    rf: int
    cap: int

    @classmethod
    def of(cls, nodes: Sequence[NodeSpec], rf: int) -> _Topology:
        specs = sorted(nodes, key=lambda n: n.id)
        ids = tuple(n.id for n in specs)
        if len(set(ids)) != len(ids) or "" in ids:
            raise PlacementError("node ids must be non-empty and unique")
        racks_of_host: dict[str, set[str]] = {}
        for n in specs:
            racks_of_host.setdefault(n.host_key, set()).add(n.rack)
        split = sorted(h for h, r in racks_of_host.items() if len(r) > 1)
        if split:
            raise PlacementError(f"nodes of host {split[0]!r} carry different racks")
        if rf < 1 or rf > len(racks_of_host):
            raise PlacementError(f"rf {rf} needs 1 <= rf <= {len(racks_of_host)} distinct hosts")
        hosts = tuple(n.host_key for n in specs)
        racks = tuple(n.rack for n in specs)
        index = {node_id: i for i, node_id in enumerate(ids)}
        return cls(ids, hosts, racks, index, rf, max_per_rack(specs, rf))


class _State:
    """Replicas being placed: per group an ordered list of node numbers, per node a load."""

    def __init__(self, topo: _Topology) -> None:
        self.topo = topo
        self.reps: dict[str, list[int]] = {}
        self.load = [0] * len(topo.ids)
        self.holds: list[set[str]] = [set() for _ in topo.ids]
        self.kept: set[tuple[str, int]] = set()  # replicas adopted from ``current``
        self._seeds: dict[str, int] = {}
        self._ties: dict[tuple[str, int], int] = {}

    def tie(self, g: str, node: int) -> int:
        """A stable pseudo-random rank of node for g: xxh64 of the node id seeded by g."""
        key = (g, node)
        if (rank := self._ties.get(key)) is None:
            if (seed := self._seeds.get(g)) is None:
                seed = self._seeds[g] = xxhash.xxh64_intdigest(g.encode())
            rank = self._ties[key] = xxhash.xxh64_intdigest(self.topo.ids[node].encode(), seed)
        return rank

    def allows(self, g: str, leaving: int | None = None) -> Callable[[int], bool]:
        """A test of whether a node may hold a replica of g (once ``leaving`` gives its
        replica up): not on a host g uses, not on a rack at g's cap."""
        topo, others = self.topo, [r for r in self.reps[g] if r != leaving]
        hosts = {topo.hosts[r] for r in others}
        per_rack = Counter(topo.racks[r] for r in others)
        full = {rack for rack, n in per_rack.items() if n >= topo.cap}
        return lambda b: topo.hosts[b] not in hosts and topo.racks[b] not in full

    def add(self, g: str, b: int) -> None:
        self.reps[g].append(b)
        self.load[b] += 1
        self.holds[b].add(g)

    def move(self, g: str, a: int, b: int) -> None:
        """Replace g's replica on a by one on b, in the same tuple position."""
        reps = self.reps[g]
        reps[reps.index(a)] = b
        self.load[a] -= 1
        self.load[b] += 1
        self.holds[a].remove(g)
        self.holds[b].add(g)
        self.kept.discard((g, a))

    def keep(self, g: str, old: Sequence[str]) -> None:
        """Adopt g's previous replicas that are live and legal, in order, up to rf."""
        self.reps[g] = []
        for node_id in old:
            b = self.topo.index.get(node_id)
            if b is not None and len(self.reps[g]) < self.topo.rf and self.allows(g)(b):
                self.add(g, b)
                self.kept.add((g, b))

    def fill(self, g: str) -> None:
        """Add g's missing replicas, each on the least-loaded eligible node."""
        while len(self.reps[g]) < self.topo.rf:
            eligible = list(filter(self.allows(g), range(len(self.load))))
            low = min(self.load[b] for b in eligible)
            least = [b for b in eligible if self.load[b] == low]
            self.add(g, min(least, key=lambda b: self.tie(g, b)))

    def replica_path(self, fresh_only: bool) -> Path | None:
        """The shortest chain of legal moves from a node to one with at least two fewer
        replicas, starting as high as possible, as (group, from, to) steps; None when no
        such chain exists. ``fresh_only``: move only replicas this call placed (moving
        those again copies no data)."""
        steps = functools.partial(self._replica_steps, fresh_only=fresh_only)
        return _search(self.load, range(len(self.load)), steps)

    def _replica_steps(self, x: int, pool: list[int], fresh_only: bool) -> Steps:
        """Groups x may give away, each with the nodes of ``pool`` that could take it.
        Replicas placed by this call go first (moving them again copies nothing), then
        replicas x does not lead."""
        by_rack: dict[str, list[int]] = {}
        for b in pool:
            by_rack.setdefault(self.topo.racks[b], []).append(b)
        rank = {b: i for i, b in enumerate(pool)}
        for g in sorted(self.holds[x], key=lambda g: self._give_rank(g, x)):
            if fresh_only and (g, x) in self.kept:
                break
            yield g, self._takers(g, x, by_rack, rank)

    def _takers(
        self, g: str, x: int, by_rack: Mapping[str, list[int]], rank: Mapping[int, int]
    ) -> Iterable[int]:
        """The nodes of ``by_rack`` (a pool split by rack, ``rank``: pool order) that may
        take x's replica of g, in pool order; only racks below g's cap are looked at."""
        topo, others = self.topo, [r for r in self.reps[g] if r != x]
        hosts = [topo.hosts[r] for r in others]
        racks = [topo.racks[r] for r in others]
        lists = [nodes for rack, nodes in by_rack.items() if racks.count(rack) < topo.cap]
        if not lists:
            return ()
        merged = lists[0] if len(lists) == 1 else heapq.merge(*lists, key=rank.__getitem__)
        return (b for b in merged if topo.hosts[b] not in hosts)

    def _give_rank(self, g: str, x: int) -> tuple[bool, bool, int]:
        return ((g, x) in self.kept, self.reps[g][0] == x, self.tie(g, x))


class _Leaders:
    """Preferred leaders being chosen on a fixed replica placement."""

    def __init__(self, state: _State, current: Mapping[str, Sequence[str]]) -> None:
        self.state = state
        self.lead: dict[str, int] = {}
        self.count = [0] * len(state.load)
        self.leads: list[set[str]] = [set() for _ in state.load]
        pending = []
        for g, reps in sorted(state.reps.items()):
            old = tuple(current.get(g, ()))[:1]
            first = state.topo.index.get(old[0]) if old else None
            if first in reps:
                self.set(g, first)
            else:
                pending.append(g)
        for g in pending:
            reps = state.reps[g]
            self.set(g, min(reps, key=lambda b: (self.count[b], state.tie(g, b))))

    def set(self, g: str, b: int) -> None:
        old = self.lead.get(g)
        if old is not None:
            self.count[old] -= 1
            self.leads[old].remove(g)
        self.lead[g] = b
        self.count[b] += 1
        self.leads[b].add(g)

    def tuple(self, g: str) -> tuple[str, ...]:
        ids, first = self.state.topo.ids, self.lead[g]
        return (ids[first], *(ids[r] for r in self.state.reps[g] if r != first))

    def path(self) -> Path | None:
        """The shortest chain of leadership hand-overs from a node to one leading at least
        two fewer groups, starting as high as possible; None when no such chain exists.
        Nodes without replicas cannot lead and are left out."""
        holders = [b for b in range(len(self.count)) if self.state.load[b]]
        return _search(self.count, holders, self._steps)

    def _steps(self, x: int, pool: list[int]) -> Steps:
        """Groups x leads, each with the nodes of ``pool`` that hold a replica of it."""
        for g in sorted(self.leads[x], key=lambda g: self.state.tie(g, x)):
            reps = self.state.reps[g]
            yield g, (b for b in pool if b in reps)


def _search(
    value: Sequence[int], nodes: Iterable[int], steps: Callable[[int, list[int]], Steps]
) -> Path | None:
    """A cost-reducing path: a chain of (group, from, to) steps, following ``steps(x,
    pool)`` (the groups x may hand over, each with the nodes of ``pool`` that may take it),
    from a node x to a node y of ``nodes`` with ``value[y] <= value[x] - 2``.

    Sources are tried from the highest value down; each level is a breadth-first search,
    so the chain is a shortest one from that level. Nodes a higher level reached are
    skipped later: they reach no node low enough for it either. A chain never uses one
    group twice, so its steps are independent. None if no such chain exists, which for
    leaders makes the assignment optimal (Harvey et al., "Semi-matchings for bipartite
    graphs and load balancing", 2003)."""
    order = sorted(nodes, key=lambda b: (value[b], b))
    parent: dict[int, tuple[str, int] | None] = {}
    for level, same in itertools.groupby(reversed(order), key=lambda b: value[b]):
        targets = [b for b in order if value[b] <= level - 2]
        if not targets:
            return None
        sources = sorted(x for x in same if x not in parent)
        parent.update(dict.fromkeys(sources))
        path = _bfs(sources, parent, targets, order, steps)
        if path is not None:
            return path
    return None


def _bfs(
    layer: list[int],
    parent: dict[int, tuple[str, int] | None],
    targets: list[int],
    order: list[int],
    steps: Callable[[int, list[int]], Steps],
) -> Path | None:
    """Breadth-first, one layer at a time: first any step from the layer onto a target,
    only then every step onto a node not yet reached (the next layer)."""
    while layer:
        for x in layer:
            if (y := _first_step(x, parent, targets, steps)) is not None:
                return _unwind(parent, y)
        following: list[int] = []
        for x in layer:
            used = _path_groups(parent, x)
            for g, candidates in steps(x, [b for b in order if b not in parent]):
                for y in candidates if g not in used else ():
                    if y not in parent:
                        parent[y] = (g, x)
                        following.append(y)
        layer = following
    return None


def _first_step(
    x: int,
    parent: dict[int, tuple[str, int] | None],
    pool: list[int],
    steps: Callable[[int, list[int]], Steps],
) -> int | None:
    """The first node of ``pool`` not yet reached that x can hand a group to, through a
    group not already on x's path; records the step as its parent."""
    used = _path_groups(parent, x)
    for g, candidates in steps(x, pool):
        if g in used:
            continue
        for y in candidates:
            if y not in parent:
                parent[y] = (g, x)
                return y
    return None


def _path_groups(parent: Mapping[int, tuple[str, int] | None], x: int) -> set[str]:
    used: set[str] = set()
    while (link := parent[x]) is not None:
        used.add(link[0])
        x = link[1]
    return used


def _unwind(parent: Mapping[int, tuple[str, int] | None], y: int) -> Path:
    path = []
    while (link := parent[y]) is not None:
        g, x = link
        path.append((g, x, y))
        y = x
    return path
