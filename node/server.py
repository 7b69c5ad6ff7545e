"""The node process: partition group replicas, the peer mesh and the gRPC server.

Threads: one asyncio event loop thread runs everything that touches Raft or stored
state — gRPC handlers (grpc.aio), the peer mesh, the raft driver ticking every group,
the WAL's writes and RocksDB applies; the WAL's fdatasyncs run on the driver's ``fsync``
thread. The ``convert`` thread (one) turns large requests into commands (pure: it touches
no Raft or stored state). The ``compact`` thread (one) compacts a group's column family
after the truncation sweeper or nsup deleted rows from it (``stop_writes.compact``; RocksDB
is thread-safe there and rocksdict releases the GIL). gRPC's C core and RocksDB keep
internal threads of their own; no Python code of raftstore runs on them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from raftstore_node import balance, cluster_state, leaders, readiness
from raftstore_node.admission import Admission, DiskSpace
from raftstore_node.auth import Guard, founding_users
from raftstore_node.batch import Sweeper
from raftstore_node.cluster_state import ClusterState, founding_state
from raftstore_node.config import NodeConfig, check_data_dir, parse_address
from raftstore_node.dispatch import Dispatcher
from raftstore_node.forwarder import MAX_MESSAGE, Forwarder
from raftstore_node.index_build import IndexBuilder
from raftstore_node.join import request_join
from raftstore_node.leaders import LeaderTable
from raftstore_node.membership import Membership
from raftstore_node.meta import SYSTEM_NAMESPACE_CONFIG
from raftstore_node.metrics import MetricsInterceptor, MetricsServer
from raftstore_node.nsup import Nsup
from raftstore_node.parsing import RequestParser, receive_limit, request_limit
from raftstore_node.peer_rpc import PeerRPC
from raftstore_node.rebalance import Rebalancer
from raftstore_node.routing import Router
from raftstore_node.services.cluster import ClusterService
from raftstore_node.services.faults import FaultInjectionService
from raftstore_node.services.index import IndexService
from raftstore_node.services.kv import KVService, now_ms, propose
from raftstore_node.services.security import SecurityService
from raftstore_node.stop_writes import StopWrites, compactions_done

from raftstore.commands import Read, Request, Result
from raftstore.errors import Timeout
from raftstore.failpoints import Failpoints
from raftstore.namespaces import ConfigError, parse_group_id
from raftstore.replication.driver import RaftDriver, fail_stop
from raftstore.replication.group import GroupReplica, NotLeader
from raftstore.replication.journal import JournalError
from raftstore.replication.mesh import PeerMesh
from raftstore.replication.replica import Replica
from raftstore.replication.wal import GroupJournal, WriteAheadLog
from raftstore.state_machine import StateMachine
from raftstore.storage.engine import Engine
from raftstore.storage.rocks import GroupStore
from raftstore.v1 import cluster_pb2, index_pb2, kv_pb2, security_pb2, testing_pb2

log = logging.getLogger("raftstore.node")
SESSION_WAIT = 0.5  # a SESSION read waits this long for a lagging replica, then goes to the leader
HANDOFF_TIMEOUT = 5.0  # a clean stop hands its leaderships over for at most this long
STOP_GRACE = 2.0  # then calls still in flight get this long before they are cancelled

SERVICE_NAMES = (
    kv_pb2.DESCRIPTOR.services_by_name["KV"].full_name,
    cluster_pb2.DESCRIPTOR.services_by_name["Cluster"].full_name,
    testing_pb2.DESCRIPTOR.services_by_name["FaultInjection"].full_name,
    security_pb2.DESCRIPTOR.services_by_name["Security"].full_name,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection.SERVICE_NAME,
    index_pb2.DESCRIPTOR.services_by_name["Index"].full_name,
)


class RaftstoreNode:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.leaders = LeaderTable()
        self.balancer = balance.LeaderBalancer(config.node_id, lambda: self.placement)
        self.peer_rpc = PeerRPC(config.node_id, self.send_node_message)
        self.rebalancer = Rebalancer(self)
        self.groups: dict[str, Replica] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.failpoints = Failpoints(config.enable_failpoints)
        self.admission = Admission(config.limits, DiskSpace(config.data_dir))
        self._started = time.monotonic()
        self._stopping = False  # stop() began: gossip says so, leaderships are handed off
        self._stopping_peers: set[str] = set()  # peers whose gossip says they are stopping
        self._stopped = asyncio.Event()
        self.server: grpc.aio.Server | None = None
        self.metrics = MetricsServer(self)
        self.guard: Guard | None = None
        if config.security.enabled:  # access control on the client port (auth.py)
            self.guard = Guard(
                config.secret, config.security.token_ttl, lambda: self.membership.state.users
            )
        self.sweeper = Sweeper(self.groups)
        self.nsup = Nsup(self.groups, lambda ns: self.config.settings_of(ns))
        self.stop_writes = StopWrites(self.groups, lambda ns: self.config.settings_of(ns))

    # --- lifecycle ------------------------------------------------------------------

    @property
    def placement(self) -> dict[str, tuple[str, ...]]:
        """Every group's replicas (element 0: preferred leader), per the cluster state."""
        return self.membership.state.placement

    async def _initial_state(self) -> ClusterState:
        """The saved cluster state; else the cluster's (joining) or epoch 1 (founding)."""
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        state = cluster_state.load(self.config.data_dir)
        if state is None:
            if self.config.join:
                state = await request_join(self.config)
            else:
                state = founding_state(
                    self.config.members, self.config.namespaces, self._founding_users()
                )
            cluster_state.save(self.config.data_dir, state)
        self.config = dataclasses.replace(
            self.config, members=state.members, namespaces=state.namespaces
        )
        self.state_machine = _state_machine(self.config)
        return state

    def _founding_users(self) -> dict[str, Any]:
        """With security on, the first user: ``admin`` with the configured password."""
        security = self.config.security
        if not security.enabled:
            return {}
        if not security.admin_password:
            raise ConfigError(
                "security is on and this node founds the cluster: give the first user's "
                "password in security.admin_password_file or RAFTSTORE_ADMIN_PASSWORD"
            )
        return founding_users(security.admin_password, self.config.secret)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        state = await self._initial_state()
        check_data_dir(self.config)
        self.membership = Membership(self, state)
        self.membership.register(self.peer_rpc)
        self.mesh = PeerMesh(
            node_id=self.config.node_id,
            listen=self.config.peer_bind(),
            peers={m.id: parse_address(m.peer, f"member {m.id}") for m in self.config.members},
            secret=self.config.secret,
            cluster_id=self.config.cluster_id,
            handler=self,
            loop=loop,
            tls=self.config.tls.peer_tls() if self.config.tls is not None else None,
            batch=self.config.timing.peer_batch,
        )
        self.wal = WriteAheadLog(
            self.config.data_dir / "wal", fsync=self.config.fsync, failpoints=self.failpoints.hit
        )
        self.driver = RaftDriver(loop, self.wal)
        if self.config.timing.quiesce:
            self.driver.enable_quiesce(
                send=self.send_node_message,
                connected=lambda p: self.mesh.is_connected(p) and not self.mesh.is_blocked(p),
                heartbeat=self.config.timing.heartbeat,
                leader_lease=self.config.timing.leader_lease,
            )
        self._loop = loop
        self.router = Router(self.config, self.groups, self.placement, self.leaders)
        self.forwarder = Forwarder(self.config, self.mesh.is_blocked)
        self.dispatcher = Dispatcher(self.router, self.forwarder)
        self.engine = Engine(
            self.config.data_dir / "store",
            failpoints=self.failpoints.hit,
            settings=self.config.storage,
        )
        self._verify_store()
        self.membership.remove_stale_replicas()
        self.engine.retain(self.membership.state.hosted_by(self.config.node_id))
        self.wal.retain(set(state.hosted_by(self.config.node_id)))
        self.membership.reconcile()  # opens the replicas placed on this node
        await self.mesh.start()
        self.driver.start()
        self.admission.monitor.start(loop)
        await self._start_grpc()
        self._tasks.append(loop.create_task(self._gossip_leaders()))
        self._tasks.append(loop.create_task(self.membership.poll_metadata()))
        self._tasks.append(loop.create_task(self.rebalancer.run()))
        if self.config.balance_leaders:
            self._tasks.append(loop.create_task(self._balance_leaders()))
        self._tasks.append(loop.create_task(readiness.watch(self)))
        self._tasks.append(loop.create_task(self.sweeper.run()))
        self._tasks.append(loop.create_task(self.nsup.run()))
        self._tasks.append(loop.create_task(self.stop_writes.run()))
        self._tasks.append(loop.create_task(IndexBuilder(self.groups).run()))
        if self.config.metrics_port:
            host = self.config.bind(self.config.me.client)[0]
            await self.metrics.start(host, self.config.metrics_port)
        log.info(
            "node %s serving clients on %s (peers on %s), %d partition groups%s",
            self.config.node_id,
            self.config.me.client,
            self.config.me.peer,
            len(self.groups),
            f"; UNSAFE: {', '.join(self.config.unsafe_flags)}" if self.config.unsafe_flags else "",
        )

    def open_group(self, gid: str, passive: bool = False) -> None:
        """Open (or create) this node's replica of ``gid``, as the placement lists it."""
        timing = self.config.timing
        if self.config.unsafe_local_reads:  # stock pysyncobj: a cut-off leader lingers for 30 s
            timing = dataclasses.replace(timing, leader_lease=30.0)
        ns, index = parse_group_id(gid)
        directory = self.config.data_dir / "groups" / f"{ns}-{index}"
        group = GroupReplica(
            group_id=gid,
            self_id=self.config.node_id,
            member_ids=list(self.placement[gid]),
            directory=directory,
            state_machine=self.state_machine,
            mesh=self.mesh,
            timing=timing,
            loop=self._loop,
            fsync=self.config.fsync,
            failpoints=self.failpoints.hit,
            passive=passive,
            store=self._open_store(gid, directory),
            journal=self._open_journal(gid, directory),
        )
        self.groups[gid] = group
        self.driver.add(group)
        for peer in self.mesh.connected_peers():
            group.peer_up(peer)

    def _verify_store(self) -> None:
        """Read the whole store once before serving, so a corrupt RocksDB file stops the
        start (StoreCorruption, reported by main) instead of being served as missing
        rows later. About 1 M rows/s."""
        started = time.monotonic()
        rows, size = self.engine.verify()
        log.info(
            "store verified: %d rows, %.1f MiB, checksums good (%.2f s)",
            rows,
            size / 1048576,
            time.monotonic() - started,
        )

    def _open_store(self, gid: str, directory: Path) -> GroupStore:
        """The record store of this node's replica of ``gid``: its column family in the
        node's engine. A RocksDB of the previous layout (``<replica dir>/db``) is imported
        first, then deleted."""
        legacy = directory / "db"
        if legacy.exists():
            self.engine.import_legacy(gid, legacy)
        return self.engine.store(gid)

    def _open_journal(self, gid: str, directory: Path) -> GroupJournal:
        """The Raft journal of this node's replica of ``gid``: its view of the node's WAL
        (a journal directory of the per-group layout is imported, then deleted)."""
        return self.wal.open_group(gid, legacy=directory / "journal")

    def drop_group(self, gid: str) -> None:
        """Close this node's replica of ``gid`` and delete its files (it left the group)."""
        group = self.groups.pop(gid)
        self.driver.remove(group)
        try:
            group.destroy()
        except JournalError:  # the WAL failed: nothing may be acknowledged any more
            fail_stop(f"group {gid}: journal failure while dropping the replica")

    async def _start_grpc(self) -> None:
        self.server = grpc.aio.server(
            interceptors=[MetricsInterceptor()],
            options=[
                ("grpc.max_receive_message_length", receive_limit(self.config.namespaces)),
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.max_concurrent_streams", self.config.limits.max_streams_per_connection),
                ("grpc.so_reuseport", 0),
            ],
        )
        # see parsing.py; the guard checks every call (auth.py)
        parser = RequestParser(request_limit(self.config.namespaces), self.guard)
        for servicer, pb, name in (
            (KVService(self), kv_pb2, "KV"),
            (ClusterService(self), cluster_pb2, "Cluster"),
            (FaultInjectionService(self), testing_pb2, "FaultInjection"),
            (SecurityService(self), security_pb2, "Security"),
            (IndexService(self), index_pb2, "Index"),
        ):
            parser.add_service(self.server, servicer, pb.DESCRIPTOR.services_by_name[name])
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(SERVICE_NAMES, self.server)
        address = "{}:{}".format(*self.config.bind(self.config.me.client))
        if self.config.tls is not None:
            self.server.add_secure_port(address, self.config.tls.server_credentials())
        else:
            self.server.add_insecure_port(address)
        await self.server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        for name in SERVICE_NAMES[:2]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def request_stop(self) -> None:
        """Stop serving soon (this node left the cluster)."""
        self._stopped.set()

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopped.set)
        await self._stopped.wait()
        await self.stop()

    async def stop(self) -> None:
        log.info("node %s stopping", self.config.node_id)
        self._stopping = True
        if self.server is not None:
            await self.health.enter_graceful_shutdown()
            await self._hand_off_leaderships(HANDOFF_TIMEOUT)
            await self.server.stop(grace=STOP_GRACE)
        for task in self._tasks:
            task.cancel()
        await self.metrics.stop()
        self.admission.monitor.stop()
        self.driver.stop()  # syncs the WAL
        await self.mesh.stop()
        await self.forwarder.close()
        if self.guard is not None:
            self.guard.close()
        await compactions_done()  # a compaction must not outlive the engine
        for group in self.groups.values():
            group.close()
        self.engine.close()  # after the groups: they hold its column families
        self.wal.close()
        log.info("node %s stopped", self.config.node_id)

    def uptime(self) -> float:
        return time.monotonic() - self._started

    # --- reads ------------------------------------------------------------------------

    async def caught_up(self, group: Replica, index: int, deadline: float) -> bool:
        """Wait (briefly) until this replica has applied ``index``; False if it has not."""
        give_up = min(deadline, time.monotonic() + SESSION_WAIT)
        while group.applied_index < index:
            if time.monotonic() >= give_up:
                return False
            await asyncio.sleep(0.002)
        return True

    def local_read(self, group: Replica, read: Read) -> Result:
        """This replica's applied state (ALLOW_REPLICA; may be stale)."""
        return group.read_local(read, now_ms())

    async def linearizable_read(self, group: Replica, read: Read, deadline: float) -> Result:
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
            group.peer_up(peer_id)
        self.driver.wake_all()

    def on_peer_down(self, peer_id: str) -> None:
        self._stopping_peers.discard(peer_id)  # a restarted peer is a new process
        for group in self.groups.values():
            group.peer_down(peer_id)
        self.driver.wake_all()

    def _handoff_targets(self) -> set[str]:
        """Peers that may take a leadership now: connected, not cut off, not stopping."""
        return set(self.mesh.connected_peers()) - self.mesh.blocked - self._stopping_peers

    async def _hand_off_leaderships(self, timeout: float) -> None:
        """A clean stop first moves every leadership of this node to a caught-up replica
        (Raft's TimeoutNow, as ``admin transfer-leader``), so clients' calls in flight end
        on the new leaders instead of being cancelled with the server, and a rolling
        restart costs no election timeout. Peers are told this node is stopping so their
        leader balancing does not hand leaderships back. Bounded by ``timeout``."""
        self._send_claims()
        deadline = time.monotonic() + timeout
        handed: dict[str, float] = {}
        while time.monotonic() < deadline:
            led = [g for g in self.groups.values() if g.is_leader and len(g.members) > 1]
            if not led:
                break
            targets = self._handoff_targets()
            for group in led:
                if time.monotonic() - handed.get(group.group_id, 0.0) < 0.5:
                    continue  # give the last request time to take effect
                for target in (m for m in group.members if m in targets):
                    if group.transfer_leadership(target):
                        handed[group.group_id] = time.monotonic()
                        break
            await asyncio.sleep(0.05)
        still = sorted(g.group_id for g in self.groups.values() if g.is_leader)
        if still:
            log.info("stopping while leading %s (no caught-up replica took over)", still)
        elif handed:
            log.info("handed %d leaderships over before stopping", len(handed))

    def _send_claims(self) -> None:
        message = leaders.claims_message(
            self.groups.values(), self.membership.state.epoch, stopping=self._stopping
        )
        for peer in self.mesh.connected_peers():
            self.mesh.send(peer, leaders.CHANNEL, message)

    async def _balance_leaders(self) -> None:
        """Hand leaderships back to their preferred replicas, one per round (balance.py)."""
        while True:
            await asyncio.sleep(balance.ROUND)
            self.balancer.peers(self._handoff_targets(), time.monotonic())
            choice = self.balancer.choose(self.groups.values(), time.monotonic())
            if choice is not None:
                replica, target = choice
                if replica.transfer_leadership(target):
                    log.info("group %s: leadership handed to %s", replica.group_id, target)

    async def _gossip_leaders(self) -> None:
        """Tell every peer, a few times a second, who leads the groups replicated here."""
        while True:
            await asyncio.sleep(leaders.GOSSIP_INTERVAL)
            self._send_claims()

    def _on_node_message(self, peer_id: str, message: Any) -> None:
        epoch = message.get("epoch")
        if isinstance(epoch, int):
            self.membership.on_peer_epoch(peer_id, epoch)
        if message.get("stopping") is True:
            self._stopping_peers.add(peer_id)
        else:
            self._stopping_peers.discard(peer_id)
        for gid, leader, term in leaders.read_claims(message):
            replicas = self.placement.get(gid)
            if replicas is None or peer_id not in replicas or gid in self.groups:
                continue  # only a group's replicas speak for it; ours we know first-hand
            if leader and leader not in replicas:
                continue
            self.leaders.observe(gid, leader, term)

    def send_node_message(self, peer_id: str, message: dict[str, Any]) -> bool:
        return bool(self.mesh.send(peer_id, leaders.CHANNEL, message))

    def on_message(self, peer_id: str, gid: str, message: Any) -> None:
        if gid == leaders.CHANNEL:
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "leaders":
                self._on_node_message(peer_id, message)
            elif kind == "state":
                self.membership.on_state_message(peer_id, message)
            elif kind in ("rpc", "rpc_reply"):
                self.peer_rpc.on_message(peer_id, message)
            elif kind is not None:
                self.driver.on_node_message(peer_id, message)
            return
        group = self.groups.get(gid)
        if group is None:
            log.warning("message from %s for unknown group %r dropped", peer_id, gid)
            return
        try:
            group.deliver(peer_id, message)
        except JournalError:  # appending the leader's entries failed: as in a tick, stop
            fail_stop(f"group {gid}: journal failure")

    def log_unexpected(self, exc: BaseException) -> None:
        log.error("unexpected error while serving a request", exc_info=exc)


def _state_machine(config: NodeConfig) -> StateMachine:
    namespaces = {ns.name: ns for ns in config.namespaces}
    namespaces[SYSTEM_NAMESPACE_CONFIG.name] = SYSTEM_NAMESPACE_CONFIG
    return StateMachine(namespaces)


async def serve(config: NodeConfig) -> None:
    node = RaftstoreNode(config)
    await node.start()
    await node.run_until_stopped()
