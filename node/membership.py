"""Keeping this node in step with the cluster state.

``Membership.adopt(state)`` takes a newer state (from the metadata group, a peer, or a
Join answer), saves it durably, updates the roster everywhere it is used (mesh peers,
routing, forwarding) and *reconciles* this node's replicas with the placement map:

- a group placed here that this node does not replicate is opened — *passive* while it
  holds no data and the cluster is past its founding epoch (it does not campaign until its
  leader reaches it: an empty replica's vote requests would only depose the leader);
- a replica of a group no longer placed here is closed and its files deleted. The
  rebalancer removes a node from a group's placement only after the group has committed
  the removal from its Raft membership, so nothing the group still needs is deleted.

It also answers the rebalancer's peer calls about replicas hosted here (``status``,
``change``, ``transfer``), and spreads the state: a node whose peer gossips an older
epoch sends it the whole state; a replica of the metadata group adopts what it applies.

Thread: the node's raft loop thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
from typing import Any

from raftstore_node import cluster_state, meta
from raftstore_node.cluster_state import SYSTEM_GROUP, ClusterState
from raftstore_node.config import parse_address

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.2


class Membership:
    def __init__(self, node: Any, state: ClusterState) -> None:
        self._node = node
        self.state = state

    # --- adopting -----------------------------------------------------------------------

    def adopt(self, state: ClusterState, source: str) -> bool:
        """Take ``state`` if it is newer than ours; True if it was taken."""
        if state.epoch <= self.state.epoch:
            return False
        cluster_state.save(self._node.config.data_dir, state)
        self.state = state
        log.info("cluster state epoch %d adopted (from %s)", state.epoch, source)
        self.apply()
        return True

    def apply(self) -> None:
        """Make the node match ``self.state``: roster, routing, replicas."""
        node, state = self._node, self.state
        me = node.config.node_id
        if state.member(me) is None or (
            me in state.leaving | state.dead and not state.hosted_by(me)
        ):
            log.warning("node %s has left the cluster (drained or removed); stopping", me)
            node.request_stop()
            return
        node.config = dataclasses.replace(node.config, members=state.members)
        node.mesh.set_peers({m.id: parse_address(m.peer, f"member {m.id}") for m in state.members})
        node.router.update(node.config, state.placement)
        node.forwarder.update(node.config)
        self.reconcile()

    def remove_stale_replicas(self) -> None:
        """At start-up: delete replica directories of groups no longer placed here (a crash
        between adopting a state that moved a replica away and deleting its files)."""
        groups_dir = self._node.config.data_dir / "groups"
        placed = {gid.replace("/", "-") for gid in self.state.hosted_by(self._node.config.node_id)}
        for path in sorted(groups_dir.glob("*")) if groups_dir.exists() else ():
            if path.is_dir() and path.name not in placed:
                log.info("replica directory %s is not placed here; deleting it", path.name)
                shutil.rmtree(path, ignore_errors=True)

    def reconcile(self) -> None:
        node, me = self._node, self._node.config.node_id
        for gid in self.state.hosted_by(me):
            if gid not in node.groups:
                # After founding, a replica without data joins a running group: passive.
                node.open_group(gid, passive=self.state.epoch > 1)
        for gid in [g for g in node.groups if me not in self.state.placement.get(g, ())]:
            log.info("group %s: replica removed from this node; deleting its files", gid)
            node.drop_group(gid)

    # --- spreading ----------------------------------------------------------------------

    def on_peer_epoch(self, peer: str, epoch: int) -> None:
        """A peer gossiped its epoch: send it our state if it is behind."""
        if epoch < self.state.epoch:
            self._node.send_node_message(peer, {"type": "state", "state": self.state.to_json()})

    def on_state_message(self, peer: str, message: dict[str, Any]) -> None:
        text = message.get("state")
        if not isinstance(text, str):
            return
        try:
            self.adopt(ClusterState.from_json(text), f"peer {peer}")
        except ValueError as e:
            log.warning("peer %s sent a cluster state that was dropped: %s", peer, e)

    async def poll_metadata(self) -> None:
        """A replica of the metadata group adopts every state it has applied (read and
        decoded only when the group has applied something new)."""
        seen: tuple[Any, int] = (None, -1)
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            group = self._node.groups.get(SYSTEM_GROUP)
            if group is None or seen == (group, group.applied_index):
                continue
            seen = (group, group.applied_index)
            try:
                stored = meta.read_local(group)
            except ValueError as e:
                log.error("the stored cluster state is unreadable: %s", e)
                continue
            if stored is not None:
                self.adopt(stored, "the metadata group")

    # --- peer calls about replicas hosted here ----------------------------------------------

    def register(self, rpc: Any) -> None:
        rpc.register("status", self._status)
        rpc.register("change", self._change)
        rpc.register("transfer", self._transfer)
        rpc.register("revive", self._revive)

    def _replica(self, args: dict[str, Any]) -> Any:
        group = self._node.groups.get(args.get("group"))
        if group is None:
            raise LookupError(f"no replica of {args.get('group')!r} here")
        return group

    async def _status(self, args: dict[str, Any]) -> dict[str, Any]:
        g = self._replica(args)
        members = list(g.members)
        return {
            "leader": g.is_leader,
            "members": members,
            "commit": g.commit_index,
            "match": {m: g.match_index(m) for m in members} if g.is_leader else {},
            "settled": g.membership_committed,
        }

    async def _change(self, args: dict[str, Any]) -> dict[str, Any]:
        g = self._replica(args)
        ok = g.change_members(add=args.get("add"), remove=args.get("remove"))
        return {"ok": ok}

    async def _transfer(self, args: dict[str, Any]) -> dict[str, Any]:
        g = self._replica(args)
        return {"ok": g.transfer_leadership(str(args.get("to")))}

    async def _revive(self, args: dict[str, Any]) -> dict[str, Any]:
        g = self._replica(args)
        members = args.get("members")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ValueError("revive: members must be a list of node ids")
        return {"ok": g.force_members(members)}
