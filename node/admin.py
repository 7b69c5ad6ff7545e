"""Roster changes, made on the leader of the metadata group: admit a node, drain one, or
declare one dead. Each is a compare-and-set of the cluster state (``meta.py``); the
rebalancer then moves replicas (``rebalance.py``).

Thread: the node's raft loop thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from raftstore_node import meta
from raftstore_node.cluster_state import ClusterState
from raftstore_node.config import Member

from raftstore.errors import GenerationError, ParameterError, PartitionUnavailable

log = logging.getLogger(__name__)

CAS_ATTEMPTS = 8


async def _stored(node: Any) -> tuple[ClusterState, int]:
    state, generation = await meta.read(node)
    if state is None:
        raise PartitionUnavailable("the cluster is still starting (no cluster state stored yet)")
    return state, generation


async def _retrying(change: Callable[[], Awaitable[ClusterState]]) -> ClusterState:
    """Run a read-modify-write of the cluster state again when the rebalancer (or another
    administrator) changed it in between."""
    for attempt in range(CAS_ATTEMPTS):
        try:
            return await change()
        except GenerationError:
            if attempt == CAS_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


async def _store(node: Any, state: ClusterState, generation: int) -> ClusterState:
    await meta.write(node, state, generation)
    node.membership.adopt(state, "a roster change")
    return state


async def change_state(node: Any, change: Callable[[ClusterState], ClusterState]) -> ClusterState:
    """Read the stored state, apply ``change`` (which may raise: nothing is written) and
    store the result by compare-and-set, again from a fresh read after a conflict."""

    async def attempt() -> ClusterState:
        state, generation = await _stored(node)
        changed = change(state)
        return state if changed is state else await _store(node, changed, generation)

    return await _retrying(attempt)


async def admit(node: Any, member: Member) -> ClusterState:
    """Add ``member`` to the roster; the same node asking again is admitted once."""
    return await _retrying(lambda: _admit(node, member))


async def _admit(node: Any, member: Member) -> ClusterState:
    state, generation = await _stored(node)
    known = state.member(member.id)
    if known is not None:
        if (known.client, known.peer) != (member.client, member.peer):
            raise ParameterError(
                f"node id {member.id} is already a member at {known.client} / {known.peer}"
            )
        if member.id in state.leaving | state.dead:
            raise ParameterError(f"node {member.id} is being removed; it cannot join again yet")
        return state
    used = {a for m in state.members for a in (m.client, m.peer)}
    if member.client in used or member.peer in used or member.client == member.peer:
        raise ParameterError(f"the addresses of {member.id} are already in use by a member")
    return await _store(node, state.evolve(members=(*state.members, member)), generation)


async def remove(node: Any, node_id: str, dead: bool) -> ClusterState:
    """Drain ``node_id`` (``dead``: rebuild its replicas from the survivors instead)."""
    return await _retrying(lambda: _remove(node, node_id, dead))


async def _remove(node: Any, node_id: str, dead: bool) -> ClusterState:
    state, generation = await _stored(node)
    if state.member(node_id) is None:
        raise ParameterError(f"node {node_id} is not a member")
    if dead:
        changed = state.evolve(leaving=state.leaving - {node_id}, dead=state.dead | {node_id})
    else:
        if node_id in state.leaving | state.dead:
            return state
        remaining = len(state.active) - 1
        needed = max((ns.replication_factor for ns in state.namespaces), default=1)
        if remaining < needed:
            raise ParameterError(
                f"draining {node_id} would leave {remaining} nodes for replication factor "
                f"{needed}; add a node first (or remove it with --dead if it is gone)"
            )
        changed = state.evolve(leaving=state.leaving | {node_id})
    return await _store(node, changed, generation)


async def revive(node: Any, dead: set[str]) -> tuple[list[str], list[str]]:
    """UNSAFE, Aerospike's revive: every group whose placed replicas on ``dead`` nodes are
    a majority continues with its survivors — their memberships are forced to the
    survivors, who then elect a leader. Writes only the dead replicas held are lost.
    Returns (revived groups, groups with no survivor at all, which stay unavailable).
    Run ``remove-node --dead`` for each dead node afterwards to restore the replication
    factor (the metadata group can be written again once revived)."""
    state = node.membership.state
    unknown = sorted(dead - {m.id for m in state.members})
    if unknown or not dead:
        raise ParameterError(f"not members of the cluster: {unknown}" if unknown else "no node")
    if node.config.node_id in dead:
        raise ParameterError(f"{node.config.node_id} answered this call: it is not dead")
    revived, lost = [], []
    for gid, replicas in sorted(state.placement.items()):
        survivors = [r for r in replicas if r not in dead]
        if len(survivors) * 2 > len(replicas):
            continue  # a majority is alive: the group needs nothing
        if not survivors:
            lost.append(gid)
            continue
        for replica in survivors:
            answer = await node.peer_rpc.call(
                replica, "revive", {"group": gid, "members": survivors}, 5.0
            )
            if not answer.get("ok"):
                raise PartitionUnavailable(f"group {gid}: {replica} refused the revive")
        log.warning("group %s revived with %s (dead: %s)", gid, survivors, sorted(dead))
        revived.append(gid)
    return revived, lost
