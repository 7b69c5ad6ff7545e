"""Roster changes, made on the leader of the metadata group: admit a node, drain one, or
declare one dead. Each is a compare-and-set of the cluster state (``meta.py``); the
rebalancer then moves replicas (``rebalance.py``).

Thread: the node's raft loop thread.
"""

from __future__ import annotations

from typing import Any

from raftstore_node import meta
from raftstore_node.cluster_state import ClusterState
from raftstore_node.config import Member

from raftstore.errors import ParameterError, PartitionUnavailable


async def _stored(node: Any) -> tuple[ClusterState, int]:
    state, generation = await meta.read(node)
    if state is None:
        raise PartitionUnavailable("the cluster is still starting (no cluster state stored yet)")
    return state, generation


async def _store(node: Any, state: ClusterState, generation: int) -> ClusterState:
    await meta.write(node, state, generation)
    node.membership.adopt(state, "a roster change")
    return state


async def admit(node: Any, member: Member) -> ClusterState:
    """Add ``member`` to the roster; the same node asking again is admitted once."""
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
