"""The rebalancer: moves replicas until the placement map matches the placement function.

It runs on every node and acts only on the node that leads the metadata group. Each round
it reads the cluster state (linearizably), computes the target placement (``place`` over
the active members, moving as few replicas as possible) and advances every group that
differs by one step — at most ``MAX_MOVING`` groups at a time. A move is a sequence of
single-server Raft membership changes, each one committed before the next starts:

1. *add* (the group keeps its replication factor while a replica moves): the new node is
   first written into the group's placement, so it opens an empty, passive replica; then
   the group's leader appends ``add``; the replica catches up from the leader (entries, or
   a snapshot of just this group when the log was compacted);
2. once every remaining replica has caught up (its match index reaches the leader's
   commit index), *remove* the replica leaving: leadership is handed over first if it leads;
   the leader appends ``rem``; once that is committed the placement drops the node, which
   then deletes its copy.

A replica on a node declared dead is removed *before* its replacement is added: adding
first would make the new member part of every majority while it is still empty.

Every step reads the group's real membership from its leader first, so a step repeated
after a crash or a change of metadata leader does nothing twice. Writes and linearizable
reads continue throughout: each change keeps a majority that holds every committed entry.

Thread: the node's raft loop thread.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from raftstore_node import meta
from raftstore_node.cluster_state import SYSTEM_GROUP, ClusterState
from raftstore_node.metrics import REPLICA_MOVES

from raftstore.errors import RaftstoreError

log = logging.getLogger(__name__)

ROUND = 0.3
MAX_MOVING = 1  # groups changing membership at once, cluster-wide (4: 43 % of throughput
# kept during a move of 200 K records on 2 cores, 1: 57 %; scripts/rebalance_bench.py)
CALL_TIMEOUT = 3.0
AUDIT_ROUNDS = 10  # while nothing moves, compare every group's members with its placement


class Rebalancer:
    def __init__(self, node: Any) -> None:
        self._node = node
        self._generation = 0
        self._rounds = 0
        self.moving: set[str] = set()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(ROUND)
            group = self._node.groups.get(SYSTEM_GROUP)
            if group is None or not group.is_leader:
                self.moving.clear()
                continue
            try:
                log.debug("rebalance round")
                await self.round()
            except (RaftstoreError, TimeoutError, LookupError) as e:
                log.info("rebalance round interrupted: %s", e)
                if self.moving:
                    REPLICA_MOVES.labels("failed").inc()
            except Exception:
                log.exception("rebalance round failed")
                REPLICA_MOVES.labels("failed").inc()

    async def round(self) -> None:
        stored, self._generation = await meta.read(self._node)
        if stored is None:  # a new cluster: store the founding state
            await meta.write(self._node, self._node.membership.state, 0)
            return
        self._node.membership.adopt(stored, "the metadata group")
        state = stored
        drained = state.without_drained()
        if drained is not state:
            await self._store(drained)
            return
        planned = state.replanned()
        if planned is not state:
            await self._store(planned)
            return
        target = state.plan
        differing = [
            g for g in state.group_ids() if state.placement.get(g) != target[g] or g in state.adding
        ]
        self.moving = set(state.moving())
        self._rounds += 1
        if not differing and self._rounds % AUDIT_ROUNDS == 0:
            differing = await self._audit(state)
        for gid in differing[:MAX_MOVING]:
            state = await self._step(state, gid, target[gid])

    async def _audit(self, state: ClusterState) -> list[str]:
        """Groups whose Raft membership differs from their placement while nothing moves
        (a move cut short by a failure can leave one): the next steps repair them."""
        wrong = []
        for gid in state.group_ids():
            placed = state.placement.get(gid, ())
            try:
                _leader, status = await self._leader_status(gid, placed)
            except LookupError:
                continue
            if set(status["members"]) != set(placed):
                log.warning(
                    "group %s: Raft members %s differ from its placement %s; repairing",
                    gid,
                    sorted(status["members"]),
                    sorted(placed),
                )
                wrong.append(gid)
        return wrong

    async def _store(self, state: ClusterState) -> ClusterState:
        await meta.write(self._node, state, self._generation)
        self._generation += 1
        self._node.membership.adopt(state, "this rebalancer")
        return state

    # --- one step of one group ----------------------------------------------------------

    async def _step(self, state: ClusterState, gid: str, target: tuple[str, ...]) -> ClusterState:
        current = state.placement.get(gid, ())
        to_add = [n for n in target if n not in current]
        to_remove = [n for n in current if n not in target]
        leader, status = await self._leader_status(gid, current)
        members = set(status["members"])
        if not to_add and not to_remove and gid not in state.adding:
            extra = sorted(members - set(current))
            if extra:  # a member nobody placed (its node deletes its copy): remove it
                if leader in extra:
                    await self._call(leader, "transfer", {"group": gid, "to": current[0]})
                    return state
                answer = await self._call(leader, "change", {"group": gid, "remove": extra[0]})
                log.info("group %s: removing unplaced %s: %s", gid, extra[0], answer)
                return state
            if members >= set(current):
                return await self._store(state.with_replicas(gid, target))  # only the order
        new = state.adding.get(gid)
        if new is not None:  # a placed replica: make it a member, then let it catch up
            if new not in current:
                return await self._store(state.joined(gid))
            if new not in members:
                answer = await self._call(leader, "change", {"group": gid, "add": new})
                log.info("group %s: adding %s to the Raft group: %s", gid, new, answer)
                return state
            if not status["settled"] or not self._caught_up(status, [new], leader):
                return state
            log.info("group %s: %s has caught up", gid, new)
            stored = await self._store(state.joined(gid))
            REPLICA_MOVES.labels("completed").inc()
            return stored
        dead = [n for n in to_remove if n in state.dead]
        if dead:
            return await self._remove(state, gid, current, dead[0], leader, status, target)
        joining = [n for n in current if n in target and n not in members]
        if joining:
            # Placed but not a member: an empty replica just placed, or one whose removal
            # committed before a new plan kept it here (a move interrupted by a dead node).
            # Either way it becomes a member again and catches up from the leader.
            answer = await self._call(leader, "change", {"group": gid, "add": joining[0]})
            log.info("group %s: adding %s to the Raft group: %s", gid, joining[0], answer)
            return state
        if to_remove and len(current) > len(target):
            # Above its size (a move in flight): shed before growing, the least useful
            # replica first (not a Raft member, then the least caught up).
            old = min(to_remove, key=lambda n: (n in members, status["match"].get(n, 0)))
            return await self._remove(state, gid, current, old, leader, status, target)
        if to_add:
            log.info("group %s: placing a new replica on %s", gid, to_add[0])
            placed = state.with_replicas(gid, (*current, to_add[0]), adding=to_add[0])
            stored = await self._store(placed)
            REPLICA_MOVES.labels("started").inc()
            return stored
        return await self._remove(state, gid, current, to_remove[0], leader, status, target)

    async def _remove(
        self,
        state: ClusterState,
        gid: str,
        current: tuple[str, ...],
        old: str,
        leader: str,
        status: dict[str, Any],
        target: tuple[str, ...],
    ) -> ClusterState:
        members = set(status["members"])
        staying = [n for n in current if n != old and n not in state.dead]
        # Removing a replica that holds the log needs the others to hold it first (else the
        # group could be left without a live majority that has it); an empty one just goes.
        holds_log = old == leader or status["match"].get(old, 0) >= status["commit"]
        if old in members:
            if not status["settled"] or (
                old not in state.dead and holds_log and not self._caught_up(status, staying, leader)
            ):
                return state
            if leader == old:
                heirs = [n for n in target if n in members and n != old]
                if heirs:
                    await self._call(leader, "transfer", {"group": gid, "to": heirs[0]})
                return state
            answer = await self._call(leader, "change", {"group": gid, "remove": old})
            log.info("group %s: removing %s from the Raft group: %s", gid, old, answer)
            return state
        if not status["settled"]:
            return state
        log.info("group %s: replica on %s removed", gid, old)
        stored = await self._store(state.with_replicas(gid, tuple(n for n in current if n != old)))
        REPLICA_MOVES.labels("removed").inc()
        return stored

    # --- asking the group's leader --------------------------------------------------------

    async def _leader_status(
        self, gid: str, replicas: tuple[str, ...]
    ) -> tuple[str, dict[str, Any]]:
        """The group's leader and its view (members, match indexes); LookupError if none."""
        hint = self._node.router.group(gid)
        candidates = [hint.leader_id] if hint is not None and hint.leader_id else []
        candidates += [r for r in replicas if r not in candidates]
        for node_id in candidates:
            try:
                status = await self._call(node_id, "status", {"group": gid})
            except (RaftstoreError, TimeoutError):
                continue
            if status.get("leader"):
                return node_id, status
        raise LookupError(f"group {gid}: no leader answered")

    async def _call(self, node_id: str, method: str, args: dict[str, Any]) -> dict[str, Any]:
        return await self._node.peer_rpc.call(node_id, method, args, CALL_TIMEOUT)

    @staticmethod
    def _caught_up(status: dict[str, Any], nodes: list[str], leader: str) -> bool:
        """Every one of ``nodes`` (the leader aside) holds the leader's committed log."""
        commit = status["commit"]
        return all(n == leader or status["match"].get(n, 0) >= commit for n in nodes)
