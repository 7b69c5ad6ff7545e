"""The node process: partition group replicas, the peer mesh and the gRPC server.

Threads: one asyncio event loop thread runs everything that touches Raft or stored
state — gRPC handlers (grpc.aio), the peer mesh, the raft driver ticking every group,
journal fsyncs and RocksDB applies. gRPC's C core and RocksDB keep internal threads of
their own; no Python code of raftstore runs on them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import time
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from raftstore_node.config import NodeConfig, check_data_dir, parse_address
from raftstore_node.dispatch import Dispatcher
from raftstore_node.forwarder import MAX_MESSAGE, Forwarder
from raftstore_node.routing import Router
from raftstore_node.services.cluster import ClusterService
from raftstore_node.services.faults import FaultInjectionService
from raftstore_node.services.kv import KVService, now_ms, propose

from raftstore.commands import Read, Request, Result
from raftstore.errors import Timeout
from raftstore.failpoints import Failpoints
from raftstore.namespaces import group_id
from raftstore.replication.driver import RaftDriver
from raftstore.replication.group import GroupReplica, NotLeader
from raftstore.replication.mesh import PeerMesh
from raftstore.state_machine import StateMachine
from raftstore.v1 import (
    cluster_pb2,
    cluster_pb2_grpc,
    kv_pb2,
    kv_pb2_grpc,
    testing_pb2,
    testing_pb2_grpc,
)

log = logging.getLogger("raftstore.node")
SESSION_WAIT = 0.5  # a SESSION read waits this long for a lagging replica, then goes to the leader

SERVICE_NAMES = (
    kv_pb2.DESCRIPTOR.services_by_name["KV"].full_name,
    cluster_pb2.DESCRIPTOR.services_by_name["Cluster"].full_name,
    testing_pb2.DESCRIPTOR.services_by_name["FaultInjection"].full_name,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection.SERVICE_NAME,
)


class RaftstoreNode:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.groups: dict[str, GroupReplica] = {}
        self.failpoints = Failpoints(config.enable_failpoints)
        self.state_machine = StateMachine({ns.name: ns for ns in config.namespaces})
        self._started = time.monotonic()
        self._stopped = asyncio.Event()
        self.server: grpc.aio.Server | None = None

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        check_data_dir(self.config)
        self.mesh = PeerMesh(
            node_id=self.config.node_id,
            listen=parse_address(self.config.me.peer, "peer"),
            peers={m.id: parse_address(m.peer, f"member {m.id}") for m in self.config.members},
            secret=self.config.secret,
            cluster_id=self.config.cluster_id,
            handler=self,
            loop=loop,
        )
        self.driver = RaftDriver(loop)
        self._open_groups(loop)
        self.router = Router(self.config, self.groups)
        self.forwarder = Forwarder(self.config, self.mesh.is_blocked)
        self.dispatcher = Dispatcher(self.router, self.forwarder)
        await self.mesh.start()
        self.driver.start()
        await self._start_grpc()
        log.info(
            "node %s serving clients on %s (peers on %s), %d partition groups%s",
            self.config.node_id,
            self.config.me.client,
            self.config.me.peer,
            len(self.groups),
            f"; UNSAFE: {', '.join(self.config.unsafe_flags)}" if self.config.unsafe_flags else "",
        )

    def _open_groups(self, loop: asyncio.AbstractEventLoop) -> None:
        members = [m.id for m in self.config.members]
        timing = self.config.timing
        if self.config.unsafe_local_reads:  # stock pysyncobj: a cut-off leader lingers for 30 s
            timing = dataclasses.replace(timing, leader_lease=30.0)
        for ns in self.config.namespaces:
            for index in range(ns.partition_groups):
                gid = group_id(ns.name, index)
                group = GroupReplica(
                    group_id=gid,
                    self_id=self.config.node_id,
                    member_ids=members,
                    directory=self.config.data_dir / "groups" / f"{ns.name}-{index}",
                    state_machine=self.state_machine,
                    mesh=self.mesh,
                    timing=timing,
                    loop=loop,
                    fsync=self.config.fsync,
                    failpoints=self.failpoints.hit,
                )
                self.groups[gid] = group
                self.driver.add(group)

    async def _start_grpc(self) -> None:
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.so_reuseport", 0),
            ]
        )
        kv_pb2_grpc.add_KVServicer_to_server(KVService(self), self.server)
        cluster_pb2_grpc.add_ClusterServicer_to_server(ClusterService(self), self.server)
        testing_pb2_grpc.add_FaultInjectionServicer_to_server(
            FaultInjectionService(self), self.server
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(SERVICE_NAMES, self.server)
        self.server.add_insecure_port(self.config.me.client)
        await self.server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        for name in SERVICE_NAMES[:2]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopped.set)
        await self._stopped.wait()
        await self.stop()

    async def stop(self) -> None:
        log.info("node %s stopping", self.config.node_id)
        if self.server is not None:
            await self.health.enter_graceful_shutdown()
            await self.server.stop(grace=1.0)
        self.driver.stop()  # fsyncs every journal
        await self.mesh.stop()
        await self.forwarder.close()
        for group in self.groups.values():
            group.close()
        log.info("node %s stopped", self.config.node_id)

    def uptime(self) -> float:
        return time.monotonic() - self._started

    # --- reads ------------------------------------------------------------------------

    async def caught_up(self, group: GroupReplica, index: int, deadline: float) -> bool:
        """Wait (briefly) until this replica has applied ``index``; False if it has not."""
        give_up = min(deadline, time.monotonic() + SESSION_WAIT)
        while group.raftLastApplied < index:
            if time.monotonic() >= give_up:
                return False
            await asyncio.sleep(0.002)
        return True

    def local_read(self, group: GroupReplica, read: Read) -> Result:
        """This replica's applied state (ALLOW_REPLICA; may be stale)."""
        return self.state_machine.read(group.store, read, now_ms())

    async def linearizable_read(self, group: GroupReplica, read: Read, deadline: float) -> Result:
        """A read that observes every write acknowledged before it began.

        ReadIndex by default (a quorum round shared by concurrent reads, no log entry);
        ``--read-path log`` sends each read through the log instead; ``--unsafe-local-reads``
        answers from the local state of a node that believes it leads (UNSAFE, tests only).
        Raises NotLeader (nothing read) when leadership cannot be confirmed.
        """
        if self.config.unsafe_local_reads:
            if not group.is_leader:
                raise NotLeader(group.group_id, group.leader_id)
            return self.local_read(group, read)
        if self.config.read_path == "log":
            return await propose(group, Request(read), deadline, write=False)
        fut = group.read_linearizable(read, now_ms)
        try:
            return await asyncio.wait_for(fut, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise Timeout(f"group {group.group_id}: leadership not confirmed in time") from None

    # --- MeshHandler ------------------------------------------------------------------

    def on_peer_up(self, peer_id: str) -> None:
        for group in self.groups.values():
            group.transport.peer_up(peer_id)

    def on_peer_down(self, peer_id: str) -> None:
        for group in self.groups.values():
            group.transport.peer_down(peer_id)

    def on_message(self, peer_id: str, gid: str, message: Any) -> None:
        group = self.groups.get(gid)
        if group is None:
            log.warning("message from %s for unknown group %r dropped", peer_id, gid)
            return
        group.transport.deliver(peer_id, message)

    def log_unexpected(self, exc: BaseException) -> None:
        log.error("unexpected error while serving a request", exc_info=exc)


async def serve(config: NodeConfig) -> None:
    node = RaftstoreNode(config)
    await node.start()
    await node.run_until_stopped()
