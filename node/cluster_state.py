"""The cluster's roster and placement map: what the metadata group holds.

``ClusterState`` is one value: an epoch (+1 per change), the members (id, addresses,
rack), the members being drained (``leaving``: live, replicas move away; ``dead``: gone
for good, replicas are rebuilt from the survivors), the namespaces, and the placement map
(group → replica node ids, element 0 the preferred leader).

The authoritative copy is one record of the metadata group ``_system/0`` — a partition
group like any other, replicated through the log, placed and migrated like the others —
written only by compare-and-set on its generation. Every node keeps the latest state it has
seen in ``<data>/cluster_state.json`` (written atomically and fsynced) so that it reopens
its replicas after a restart before it can reach anyone, and hears of newer epochs from
its peers (``leaders.py`` gossip carries the epoch; a peer that is behind is sent the
state). A founding node computes epoch 1 from its configuration; a joining node receives
the state from the cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raftstore_node.config import Member

from raftstore.namespaces import NamespaceConfig, group_id
from raftstore.placement import NodeSpec, PlacementError, place
from raftstore.security import User

SYSTEM_NAMESPACE = "_system"
SYSTEM_GROUP = f"{SYSTEM_NAMESPACE}/0"
STATE_KEY = (SYSTEM_NAMESPACE, "", "cluster")
STATE_BIN = "state"
META_RF = 3  # replicas of the metadata group (fewer while the cluster has fewer nodes)
FILE = "cluster_state.json"


@dataclass(frozen=True, slots=True)
class ClusterState:
    epoch: int
    members: tuple[Member, ...]
    namespaces: tuple[NamespaceConfig, ...]
    placement: dict[str, tuple[str, ...]] = field(default_factory=dict)
    leaving: frozenset[str] = frozenset()
    dead: frozenset[str] = frozenset()
    # The placement the rebalancer moves towards, computed once per roster (``plan_key``)
    # so that a move in flight is never re-planned half-way.
    plan: dict[str, tuple[str, ...]] = field(default_factory=dict)
    plan_key: str = ""
    # Replicas placed but not yet caught-up members of their Raft group (group -> node).
    adding: dict[str, str] = field(default_factory=dict)
    # The groups the current plan moves (those whose replicas differed from it when it
    # was made): the migration view counts them as done once they match it.
    planned: tuple[str, ...] = ()
    # Access control (``raftstore.security``): user name -> password hash, credential
    # generation and privileges. Used only while the nodes run with security on.
    users: dict[str, User] = field(default_factory=dict)

    # --- views ------------------------------------------------------------------------

    def member(self, node_id: str) -> Member | None:
        return next((m for m in self.members if m.id == node_id), None)

    @property
    def active(self) -> tuple[Member, ...]:
        """Members that should hold replicas (not leaving, not dead)."""
        return tuple(m for m in self.members if m.id not in self.leaving | self.dead)

    def group_ids(self) -> list[str]:
        out = [SYSTEM_GROUP]
        for ns in self.namespaces:
            out += [group_id(ns.name, i) for i in range(ns.partition_groups)]
        return out

    def hosted_by(self, node_id: str) -> list[str]:
        return [g for g, replicas in self.placement.items() if node_id in replicas]

    # --- placement ----------------------------------------------------------------------

    def target(self) -> dict[str, tuple[str, ...]]:
        """Where every group's replicas should be, moving as few as possible from now.

        A namespace whose replication factor exceeds the active members keeps its current
        replicas on active nodes (it stays under-replicated until nodes join)."""
        nodes = [NodeSpec(m.id, rack=m.rack) for m in self.active]
        current = {
            g: tuple(r for r in replicas if r not in self.leaving | self.dead)
            for g, replicas in self.placement.items()
        }
        out: dict[str, tuple[str, ...]] = {}
        meta_rf = max(1, min(META_RF, len(nodes)))
        out.update(place(nodes, [SYSTEM_GROUP], meta_rf, current=current))
        for ns in self.namespaces:
            gids = [group_id(ns.name, i) for i in range(ns.partition_groups)]
            try:
                out.update(place(nodes, gids, ns.replication_factor, current=current))
            except PlacementError:
                out.update({g: current.get(g, ()) for g in gids})
        return out

    def roster_key(self) -> str:
        """What the plan depends on: the active members and their racks."""
        return ",".join(sorted(f"{m.id}@{m.rack}" for m in self.active))

    def replanned(self) -> ClusterState:
        """This state with a plan for its current roster (itself if the plan is current)."""
        key = self.roster_key()
        if key == self.plan_key and set(self.plan) == set(self.group_ids()):
            return self
        plan = self.target()
        planned = tuple(
            g for g in self.group_ids() if set(self.placement.get(g, ())) != set(plan.get(g, ()))
        )
        return self.evolve(plan=plan, plan_key=key, planned=planned)

    def moving(self) -> list[str]:
        """Groups whose replicas differ from the plan (as sets: order alone moves no data),
        or that still wait for a new replica to catch up."""
        if self.plan_key != self.roster_key():  # the roster changed: not planned yet
            return self.group_ids()
        return [
            g
            for g in self.group_ids()
            if g in self.adding or set(self.placement.get(g, ())) != set(self.plan.get(g, ()))
        ]

    def migrations(self) -> tuple[list[str], list[str], list[str]]:
        """(pending, active, done) groups of the current plan, like asadm's migration view:
        *active* groups have a replica set in flux (a replica being added, caught up or
        removed), *pending* ones wait their turn, *done* ones match the plan."""
        moving = self.moving()
        active = [
            g
            for g in moving
            if g in self.adding or len(self.placement.get(g, ())) != len(self.plan.get(g, ()))
        ]
        pending = [g for g in moving if g not in active]
        done = [g for g in self.planned if g not in moving]
        return pending, active, done

    # --- changes --------------------------------------------------------------------------

    def evolve(self, **changes: Any) -> ClusterState:
        return dataclasses.replace(self, epoch=self.epoch + 1, **changes)

    def with_replicas(
        self, gid: str, replicas: tuple[str, ...], adding: str | None = None
    ) -> ClusterState:
        """``gid`` placed on ``replicas``; ``adding``: the one among them still joining."""
        pending = dict(self.adding)
        if adding is not None:
            pending[gid] = adding
        elif pending.get(gid) not in replicas:
            pending.pop(gid, None)
        return self.evolve(placement={**self.placement, gid: replicas}, adding=pending)

    def joined(self, gid: str) -> ClusterState:
        """The replica joining ``gid`` has caught up."""
        return self.evolve(adding={g: n for g, n in self.adding.items() if g != gid})

    def without_drained(self) -> ClusterState:
        """Drop leaving/dead members that no longer hold any replica."""
        gone = {n for n in self.leaving | self.dead if not self.hosted_by(n)}
        if not gone:
            return self
        return self.evolve(
            members=tuple(m for m in self.members if m.id not in gone),
            leaving=self.leaving - gone,
            dead=self.dead - gone,
        )

    # --- encoding ---------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(
            {
                "epoch": self.epoch,
                "members": [dataclasses.asdict(m) for m in self.members],
                "namespaces": [dataclasses.asdict(n) for n in self.namespaces],
                "placement": {g: list(r) for g, r in sorted(self.placement.items())},
                "leaving": sorted(self.leaving),
                "dead": sorted(self.dead),
                "plan": {g: list(r) for g, r in sorted(self.plan.items())},
                "plan_key": self.plan_key,
                "adding": dict(sorted(self.adding.items())),
                "planned": list(self.planned),
                "users": {n: u.to_dict() for n, u in sorted(self.users.items())},
            },
            sort_keys=True,
        )

    @staticmethod
    def from_json(text: str | bytes) -> ClusterState:
        """Decode a state; raises ValueError (with the reason) for anything malformed."""
        try:
            doc = json.loads(text)
            return ClusterState(
                epoch=int(doc["epoch"]),
                members=tuple(Member(**m) for m in doc["members"]),
                namespaces=tuple(NamespaceConfig(**n).validate() for n in doc["namespaces"]),
                placement={g: tuple(str(x) for x in r) for g, r in doc["placement"].items()},
                leaving=frozenset(doc.get("leaving", ())),
                dead=frozenset(doc.get("dead", ())),
                plan={g: tuple(str(x) for x in r) for g, r in doc.get("plan", {}).items()},
                plan_key=str(doc.get("plan_key", "")),
                adding={str(g): str(n) for g, n in doc.get("adding", {}).items()},
                planned=tuple(str(g) for g in doc.get("planned", ())),
                users={str(n): User.from_dict(str(n), u) for n, u in doc.get("users", {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"malformed cluster state: {e}") from None


def founding_state(
    members: tuple[Member, ...],
    namespaces: tuple[NamespaceConfig, ...],
    users: dict[str, User] | None = None,
) -> ClusterState:
    """Epoch 1, computed alike by every founding node from the shared configuration."""
    seed = ClusterState(epoch=1, members=members, namespaces=namespaces, users=users or {})
    placement = seed.target()
    return dataclasses.replace(
        seed, placement=placement, plan=placement, plan_key=seed.roster_key()
    )


def load(data_dir: Path) -> ClusterState | None:
    path = data_dir / FILE
    if not path.exists():
        return None
    return ClusterState.from_json(path.read_text())


def save(data_dir: Path, state: ClusterState) -> None:
    """Atomically replace the local copy, durably (file and directory fsynced)."""
    path = data_dir / FILE
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(state.to_json())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
