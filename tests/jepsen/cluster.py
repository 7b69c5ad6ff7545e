"""Cluster manager: real ``raftstore node`` processes on 127.0.0.1 for tests and the suite.

    with Cluster(tmp_path, nodes=3) as cluster:
        client = Client(cluster.hosts)
        cluster.kill("n1"); cluster.restart("n1")

Each cluster has its own cluster id (a session id, so a stray node of another run can
never join it), its own free ports and data directories, and captures every node's log
in ``<dir>/<node>/node.log``. Processes are only ever signalled by the pid this manager
started, and ``close`` (also on garbage collection and at interpreter exit) kills every
one of them: nothing is left behind.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import weakref
from pathlib import Path
from typing import Any

import grpc
from raftstore_client._auth import AuthInterceptor, Credentials
from raftstore_node.local import LocalNode, admin_password, start_node, write_cluster

from raftstore.v1 import (
    cluster_pb2,
    cluster_pb2_grpc,
    security_pb2_grpc,
    testing_pb2,
    testing_pb2_grpc,
)

ADMIN = "admin"

_LIVE: weakref.WeakSet[Cluster] = weakref.WeakSet()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(nodes: int) -> int:
    """A base port such that base + 10*i + 0, 1, 2 (client, peer, metrics) are free."""
    for _ in range(200):
        base = 20000 + secrets.randbelow(4000) * 10
        if all(_port_free(base + 10 * i + j) for i in range(nodes) for j in (0, 1, 2)):
            return base
    raise RuntimeError("no free port range found")


class Cluster:
    def __init__(
        self,
        directory: Path,
        *,
        nodes: int = 3,
        partition_groups: int = 8,
        node_args: list[str] | None = None,
        raft: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        namespaces: list[dict[str, Any]] | None = None,
        replication_factor: int | None = None,
        tls: dict[str, Any] | None = None,
        client_tls: Any = None,
        security: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.cluster_id = "t" + secrets.token_hex(6)
        self.node_args = list(node_args or [])
        self.env = {**os.environ, **(env or {})}
        base = free_base_port(max(nodes, 7))  # room for nodes added later
        namespaces = namespaces or [
            {
                "name": "test",
                "replication_factor": replication_factor or nodes,
                "partition_groups": partition_groups,
            }
        ]
        self.nodes: list[LocalNode] = write_cluster(
            self.directory,
            nodes,
            base_port=base,
            cluster_id=self.cluster_id,
            namespaces=namespaces,
            raft=raft,
            tls=tls,
            security=security,
        )
        self.client_tls = client_tls  # raftstore_client.TLS for this harness's own calls
        # Security on: this harness's own calls log in as ``admin`` (admin_password()).
        password = admin_password(self.directory)
        self.credentials = Credentials(ADMIN, password) if password is not None else None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.paused: set[str] = set()
        self.retired: set[str] = set()  # removed from the roster (drained, or dead)
        _LIVE.add(self)

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    @property
    def hosts(self) -> list[str]:
        return [n.client for n in self.nodes if n.id not in self.retired]

    @property
    def ids(self) -> list[str]:
        """The nodes of the cluster: every node started here, less those removed from it."""
        return [n.id for n in self.nodes if n.id not in self.retired]

    @property
    def client_auth(self) -> dict[str, str]:
        """``user``/``password`` for a Client of this cluster as ``admin`` (security on)."""
        if self.credentials is None:
            return {}
        return {"user": ADMIN, "password": admin_password(self.directory) or ""}

    def _raw_channel(self, node_id: str) -> grpc.Channel:
        if self.client_tls is not None:
            return grpc.secure_channel(self.address(node_id), self.client_tls.credentials())
        return grpc.insecure_channel(self.address(node_id))

    def _channel(self, node_id: str) -> grpc.Channel:
        ch = self._raw_channel(node_id)
        if self.credentials is None:
            return ch
        return grpc.intercept_channel(ch, AuthInterceptor(self.credentials, self._relogin))

    def _relogin(self, seen: str) -> bool:
        """Log ``admin`` in again at any running node (security on)."""
        assert self.credentials is not None
        with self.credentials.lock:
            if self.credentials.token != seen:
                return True
            for node_id in self.ids:
                if not self.is_running(node_id) or node_id in self.paused:
                    continue
                try:
                    with self._raw_channel(node_id) as ch:
                        answer = security_pb2_grpc.SecurityStub(ch).Login(
                            self.credentials.login_request(), timeout=2.0
                        )
                except grpc.RpcError:
                    continue
                self.credentials.token = answer.token
                return True
            return False

    def node(self, node_id: str) -> LocalNode:
        return next(n for n in self.nodes if n.id == node_id)

    def address(self, node_id: str) -> str:
        return self.node(node_id).client

    def pid(self, node_id: str) -> int | None:
        p = self.procs.get(node_id)
        return p.pid if p is not None and p.poll() is None else None

    def is_running(self, node_id: str) -> bool:
        return self.pid(node_id) is not None

    def start(self, timeout: float = 60.0) -> None:
        for n in self.nodes:
            self._spawn(n.id)
        self.wait_ready(timeout=timeout)

    def _spawn(self, node_id: str, extra_env: dict[str, str] | None = None, join: str = "") -> None:
        env = {**self.env, **(extra_env or {})}
        args = [*self.node_args, *(["--join", join] if join else [])]
        self.procs[node_id] = start_node(self.node(node_id), args, env=env)

    def close(self) -> None:
        """Kill (SIGKILL) every process this manager started; idempotent."""
        for node_id, p in list(getattr(self, "procs", {}).items()):
            if p.poll() is None:
                if node_id in self.paused:
                    p.send_signal(signal.SIGCONT)
                p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if hasattr(self, "procs"):
            self.procs.clear()

    # --- faults on processes ---------------------------------------------------------

    def kill(self, node_id: str) -> None:
        """SIGKILL: the process dies at once, nothing is flushed."""
        p = self.procs[node_id]
        if p.poll() is None:
            p.kill()
        p.wait(10)
        self.paused.discard(node_id)

    def stop(self, node_id: str, grace: float = 15.0) -> None:
        """SIGTERM and wait for a clean exit (SIGKILL after ``grace``)."""
        p = self.procs[node_id]
        if p.poll() is None:
            if node_id in self.paused:
                self.resume(node_id)
            p.terminate()
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)

    def restart(self, node_id: str, extra_env: dict[str, str] | None = None) -> None:
        """Start a stopped or killed node again on its data directory."""
        if self.is_running(node_id):
            raise RuntimeError(f"{node_id} is running")
        self._spawn(node_id, extra_env)

    def pause(self, node_id: str) -> None:
        """SIGSTOP: the process freezes; its sockets stay open."""
        self.procs[node_id].send_signal(signal.SIGSTOP)
        self.paused.add(node_id)

    def resume(self, node_id: str) -> None:
        self.procs[node_id].send_signal(signal.SIGCONT)
        self.paused.discard(node_id)

    def kill_all(self) -> None:
        for node_id in self.ids:
            if self.is_running(node_id):
                self.kill(node_id)

    def restart_all(self, timeout: float = 60.0) -> None:
        for node_id in self.ids:
            if not self.is_running(node_id):
                self._spawn(node_id)
        self.wait_ready(timeout=timeout)

    # --- membership ---------------------------------------------------------------------

    def add_node(self, rack: str = "", timeout: float = 120.0) -> str:
        """Start a new node that joins through a running member; its id."""
        from raftstore_node.local_add import wait_joined, write_joining_node

        node = write_joining_node(self.directory, rack)
        self.nodes.append(node)
        through = next(n for n in self.ids if self.is_running(n) and n not in self.paused)
        self._spawn(node.id, join=self.address(through))
        credentials = self.client_tls.credentials() if self.client_tls is not None else None
        wait_joined(node, self.address(through), timeout, credentials)
        return node.id

    def remove_node(self, node_id: str, dead: bool = False, timeout: float = 30.0) -> int:
        """Drain ``node_id`` (or declare it dead) through any running member; the epoch."""
        from raftstore_client import Client

        secret = (self.directory / "cluster.secret").read_bytes().strip()
        hosts = [self.address(n) for n in self.ids if self.is_running(n) and n != node_id]
        with Client(hosts, timeout=timeout, tls=self.client_tls, **self.client_auth) as c:
            epoch = c.remove_node(node_id, secret, dead=dead)
        self.retired.add(node_id)  # a drained node stops by itself once empty
        return epoch

    def wipe(self, node_id: str) -> None:
        """Delete a stopped node's data directory (a lost disk)."""
        if self.is_running(node_id):
            raise RuntimeError(f"{node_id} is running")
        shutil.rmtree(self.node(node_id).config.parent / "data", ignore_errors=True)

    def placement_settled(self, via: str | None = None, min_epoch: int = 0) -> bool:
        """No group is moving, nobody is leaving, and every group has a leader (as seen by
        a node that knows cluster state ``min_epoch`` or later)."""
        via = via or next(n for n in self.ids if self.is_running(n) and n not in self.paused)
        pmap = self.partition_map(via)
        return (
            pmap.epoch >= min_epoch
            and not pmap.moving_group_ids
            and not pmap.leaving_node_ids
            and not pmap.dead_node_ids
            and all(g.leader_node_id for g in pmap.groups)
        )

    def wait_settled(self, timeout: float = 120.0, min_epoch: int = 0) -> cluster_pb2.PartitionMap:
        """Wait until every migration has finished; the final partition map."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.placement_settled(min_epoch=min_epoch):
                    return self.partition_map(
                        next(n for n in self.ids if self.is_running(n) and n not in self.paused)
                    )
            except grpc.RpcError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"placement not settled after {timeout}s")

    # --- network partitions (needs --enable-fault-injection) --------------------------

    def set_blocked(self, node_id: str, blocked: set[str], timeout: float = 5.0) -> None:
        with self._channel(node_id) as ch:
            testing_pb2_grpc.FaultInjectionStub(ch).SetPartition(
                testing_pb2.SetPartitionRequest(blocked_node_ids=sorted(blocked)), timeout=timeout
            )

    def partition(self, components: list[set[str]]) -> None:
        """Cut all Raft and forwarding traffic between nodes of different components."""
        for comp in components:
            for node_id in comp:
                others = {n for c in components if c is not comp for n in c}
                self.set_blocked(node_id, others)

    def partition_links(self, cut: set[frozenset[str]]) -> None:
        """Cut exactly the given node pairs (for bridges and other shapes)."""
        for node_id in self.ids:
            blocked = {b for pair in cut if node_id in pair for b in pair if b != node_id}
            self.set_blocked(node_id, blocked)

    def heal(self) -> None:
        for node_id in self.ids:
            if self.is_running(node_id) and node_id not in self.paused:
                self.set_blocked(node_id, set())

    def arm_failpoint(
        self, node_id: str, name: str, action: str, skip: int = 0, count: int = 0
    ) -> None:
        """Arm failpoint ``name`` of a node (see `raftstore.failpoints`)."""
        request = testing_pb2.ArmFailpointRequest(name=name, action=action, skip=skip, count=count)
        with self._channel(node_id) as ch:
            testing_pb2_grpc.FaultInjectionStub(ch).ArmFailpoint(request, timeout=5)

    # --- observation ----------------------------------------------------------------

    def partition_map(self, node_id: str, timeout: float = 2.0) -> cluster_pb2.PartitionMap:
        with self._channel(node_id) as ch:
            return cluster_pb2_grpc.ClusterStub(ch).GetPartitionMap(
                cluster_pb2.GetPartitionMapRequest(), timeout=timeout
            )

    def status(self, node_id: str, timeout: float = 2.0) -> cluster_pb2.NodeStatus:
        with self._channel(node_id) as ch:
            return cluster_pb2_grpc.ClusterStub(ch).GetNodeStatus(
                cluster_pb2.GetNodeStatusRequest(), timeout=timeout
            )

    def leaders(self) -> dict[str, str]:
        """group id -> leader id, as the running nodes that lead report it."""
        out: dict[str, str] = {}
        for node_id in self.ids:
            if not self.is_running(node_id) or node_id in self.paused:
                continue
            try:
                st = self.status(node_id)
            except grpc.RpcError:
                continue
            for g in st.groups:
                if g.role == cluster_pb2.RAFT_ROLE_LEADER:
                    out[g.group_id] = node_id
        return out

    def wait_ready(self, timeout: float = 60.0, nodes: list[str] | None = None) -> None:
        """Every listed running node answers, and every group has a leader among them."""
        deadline = time.monotonic() + timeout
        want = nodes or [n for n in self.ids if self.is_running(n) and n not in self.paused]
        last = ""
        while time.monotonic() < deadline:
            for node_id in self.ids:
                p = self.procs.get(node_id)
                if node_id in want and (p is None or p.poll() is not None):
                    raise RuntimeError(f"{node_id} exited: see {self.node(node_id).log}")
            try:
                groups: set[str] = set()
                for node_id in want:  # with RF < nodes, each node replicates a subset
                    st = self.status(node_id, timeout=1.0)
                    groups |= {g.group_id for g in st.groups}
                leaders = self.leaders()
                if groups and groups <= set(leaders):
                    return
                last = f"groups without a leader: {sorted(groups - set(leaders))}"
            except grpc.RpcError as e:
                last = f"{e.code().name}"  # type: ignore[attr-defined]
            time.sleep(0.1)
        raise TimeoutError(f"cluster not ready after {timeout}s: {last}")

    def log_text(self, node_id: str) -> str:
        return self.node(node_id).log.read_text(errors="replace")


@atexit.register
def _kill_leftovers() -> None:
    for cluster in list(_LIVE):
        cluster.close()
