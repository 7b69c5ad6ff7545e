"""The Cluster service: the partition map clients route by, and this node's status."""

from __future__ import annotations

from typing import Any

import grpc

from raftstore import __version__
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
        self._config = node.config
        self._namespaces = [self._namespace_info(ns) for ns in self._config.namespaces]

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
            )

    async def GetPartitionMap(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        pmap = cluster_pb2.PartitionMap(
            cluster_id=self._config.cluster_id,
            partition_count=N_PARTITIONS,
            node_id=self._config.node_id,
        )
        self._nodes(pmap.nodes)
        pmap.namespaces.extend(self._namespaces)
        replicas = [m.id for m in self._config.members]
        for gid, group in self._node.groups.items():
            ns, _, idx = gid.rpartition("/")
            pmap.groups.add(
                group_id=gid,
                namespace=ns,
                index=int(idx),
                leader_node_id=group.leader_id or "",
                term=group.term,
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
            )
        return status
