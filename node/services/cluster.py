"""The Cluster service: the partition map clients route by, and this node's status."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
from raftstore_node import admin
from raftstore_node.cluster_state import SYSTEM_GROUP
from raftstore_node.config import Member, check_id, parse_address
from raftstore_node.dispatch import answer
from raftstore_node.join import join_fields

from raftstore import __version__
from raftstore.admin_auth import verify
from raftstore.errors import Forbidden, ParameterError, Timeout
from raftstore.keys import N_PARTITIONS
from raftstore.namespaces import group_of_partition
from raftstore.v1 import cluster_pb2, cluster_pb2_grpc

_ROLE = {
    "leader": cluster_pb2.RAFT_ROLE_LEADER,
    "follower": cluster_pb2.RAFT_ROLE_FOLLOWER,
    "candidate": cluster_pb2.RAFT_ROLE_CANDIDATE,
}


class ClusterService(cluster_pb2_grpc.ClusterServicer):
    def __init__(self, node: Any) -> None:
        self._node = node
        self._namespaces = [self._namespace_info(ns) for ns in self._config.namespaces]

    @property
    def _config(self) -> Any:
        return self._node.config  # the roster changes as nodes join and leave

    @staticmethod
    def _namespace_info(ns: Any) -> cluster_pb2.NamespaceInfo:
        info = cluster_pb2.NamespaceInfo(
            name=ns.name,
            replication_factor=ns.replication_factor,
            default_ttl=ns.default_ttl,
            max_record_size=ns.max_record_size,
            partition_groups=ns.partition_groups,
        )
        info.partition_group.extend(
            group_of_partition(p, ns.partition_groups) for p in range(N_PARTITIONS)
        )
        return info

    def _nodes(self, out: Any) -> None:
        for m in self._config.members:
            out.add(
                node_id=m.id,
                client_address=m.client,
                peer_address=m.peer,
                connected=m.id == self._config.node_id or self._node.mesh.is_connected(m.id),
                rack=m.rack,
            )

    async def GetPartitionMap(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        pmap = cluster_pb2.PartitionMap(
            cluster_id=self._config.cluster_id,
            partition_count=N_PARTITIONS,
            node_id=self._config.node_id,
        )
        self._nodes(pmap.nodes)
        pmap.namespaces.extend(self._namespaces)
        state = self._node.membership.state
        pmap.epoch = state.epoch
        pmap.leaving_node_ids.extend(sorted(state.leaving))
        pmap.dead_node_ids.extend(sorted(state.dead))
        pmap.moving_group_ids.extend(state.moving())
        pending, active, done = state.migrations()
        pmap.active_group_ids.extend(active)
        pmap.pending_group_ids.extend(pending)
        pmap.done_group_count = len(done)
        for gid, replicas in self._node.placement.items():
            group = self._node.groups.get(gid)
            leader = group.leader_id if group is not None else self._node.leaders.leader(gid)
            term = group.term if group is not None else self._node.leaders.term(gid)
            ns, _, idx = gid.rpartition("/")
            pmap.groups.add(
                group_id=gid,
                namespace=ns,
                index=int(idx),
                leader_node_id=leader or "",
                term=term,
                replica_node_ids=replicas,
            )
        return pmap

    async def GetNodeStatus(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        me = self._config.me
        status = cluster_pb2.NodeStatus(
            node_id=me.id,
            cluster_id=self._config.cluster_id,
            version=__version__,
            client_address=me.client,
            peer_address=me.peer,
            uptime_seconds=self._node.uptime(),
            unsafe_flags=self._config.unsafe_flags,
        )
        self._nodes(status.peers)
        for group in self._node.groups.values():
            st = group.status()
            status.groups.add(
                group_id=st["group_id"],
                role=_ROLE[st["role"]],
                term=st["term"],
                leader_node_id=st["leader"] or "",
                commit_index=st["commit_index"],
                applied_index=st["applied_index"],
                last_log_index=st["last_log_index"],
                first_log_index=st["first_log_index"],
                log_entries=st["log_entries"],
                snapshot_index=st["snapshot_index"],
                expired_records=self._node.nsup.group_expired[st["group_id"]],
            )
        self._namespace_status(status.namespaces)
        return status

    def _namespace_status(self, out: Any) -> None:
        """Per namespace this node holds: expiry counters and stop-writes state."""
        nsup, stop = self._node.nsup, self._node.stop_writes
        for ns in nsup.namespaces():
            stats = nsup.stats_of(ns)
            out.add(
                namespace=ns,
                expired_records=stats.expired,
                examined_records=stats.examined,
                sweeps=stats.sweeps,
                idle_sessions_deleted=stats.sessions,
                nsup_period_seconds=self._node.config.settings_of(ns).nsup_period,
                stored_bytes=stop.sizes.get(ns, 0),
                stop_writes_size=stop.cap(ns),
                stop_writes=stop.stopped(ns),
            )

    # --- administration -----------------------------------------------------------------

    async def _serve(self, context: grpc.aio.ServicerContext, handler: Any) -> Any:
        return await answer(context, handler, self._node.log_unexpected)

    async def TransferLeader(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._serve(context, lambda: self._transfer_leader(request, context))

    async def Join(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            fields = join_fields(
                request.node_id, request.client_address, request.peer_address, request.rack
            )
            self._authorise(request, fields)
            member = _member(request)

            async def local(deadline: float) -> Any:
                state = await admin.admit(self._node, member)
                return cluster_pb2.JoinResponse(
                    cluster_state_json=state.to_json(), epoch=state.epoch
                )

            return await self._at_metadata_leader(context, "Join", request, local)

        return await self._serve(context, handler)

    async def RemoveNode(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            fields = ["remove", request.node_id, "dead" if request.dead else "drain"]
            self._authorise(request, fields)

            async def local(deadline: float) -> Any:
                state = await admin.remove(self._node, request.node_id, request.dead)
                return cluster_pb2.RemoveNodeResponse(epoch=state.epoch)

            return await self._at_metadata_leader(context, "RemoveNode", request, local)

        return await self._serve(context, handler)

    async def Revive(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            dead = sorted(set(request.dead_node_ids))
            self._authorise(request, ["revive", *dead])
            revived, lost = await admin.revive(self._node, set(dead))
            return cluster_pb2.ReviveResponse(revived_group_ids=revived, lost_group_ids=lost)

        return await self._serve(context, handler)

    def _authorise(self, request: Any, fields: list[str]) -> None:
        if request.cluster_id != self._config.cluster_id:
            raise Forbidden(f"this is cluster {self._config.cluster_id!r}")
        if not verify(
            self._config.secret, request.cluster_id, fields, request.timestamp_ms, request.proof
        ):
            raise Forbidden("the request does not prove the cluster secret (or is too old)")

    async def _at_metadata_leader(
        self, context: grpc.aio.ServicerContext, method: str, request: Any, local: Any
    ) -> Any:
        group = self._node.router.group(SYSTEM_GROUP)
        return await self._node.dispatcher.run(
            context=context,
            group=group,
            method=f"/raftstore.v1.Cluster/{method}",
            request=request,
            response_type=_RESPONSES[method],
            local=local,
            write=True,
            no_forward=False,
        )

    async def _transfer_leader(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        group = self._node.router.group(request.group_id)
        if group is None:
            raise ParameterError(f"no partition group {request.group_id!r}")
        replicas = self._node.placement[request.group_id]
        target = request.node_id or replicas[0]
        if target not in replicas:
            raise ParameterError(
                f"{target!r} holds no replica of {request.group_id} (replicas: {list(replicas)})"
            )

        async def local(deadline: float) -> Any:
            return await _hand_over(group, target, deadline)

        return await self._node.dispatcher.run(
            context=context,
            group=group,
            method="/raftstore.v1.Cluster/TransferLeader",
            request=request,
            response_type=cluster_pb2.TransferLeaderResponse,
            local=local,
            write=False,
            no_forward=False,
        )


async def _hand_over(group: Any, target: str, deadline: float) -> Any:
    """On the leader: ask ``target`` to take over until it leads (a lagging target is asked
    again once it has caught up)."""
    while time.monotonic() < deadline:
        if group.leader_id == target:
            return cluster_pb2.TransferLeaderResponse(leader_node_id=target, term=group.term)
        if group.is_leader:
            group.transfer_leadership(target)
        await asyncio.sleep(0.05)
    raise Timeout(f"group {group.group_id}: {target} did not take over before the deadline")


_RESPONSES = {
    "Join": cluster_pb2.JoinResponse,
    "RemoveNode": cluster_pb2.RemoveNodeResponse,
}


def _member(request: Any) -> Member:
    """The joining node's roster entry; ParameterError for malformed fields."""
    from raftstore.namespaces import ConfigError

    try:
        node_id = check_id(request.node_id, "node_id")
        parse_address(request.client_address, "client_address")
        parse_address(request.peer_address, "peer_address")
        rack = check_id(request.rack, "rack") if request.rack else ""
    except ConfigError as e:
        raise ParameterError(str(e)) from None
    return Member(node_id, request.client_address, request.peer_address, rack)
