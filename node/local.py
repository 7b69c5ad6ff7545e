"""``raftstore local``: a cluster of real node processes on this machine, in the foreground.

    raftstore local --nodes 3 --data-dir DIR [--base-port 3000] [--replication-factor 3]
    raftstore local add-node --data-dir DIR [--rack R]   (while it runs: see local_add.py)

The first start writes DIR/cluster.secret and one DIR/n<i>/node.toml per node (node i
listens for clients on base + 10*(i-1), for peers on that port + 1, and serves Prometheus
``/metrics`` on that port + 2); a later start with the same DIR reuses them and brings back
the same cluster with its data. Every start rewrites DIR/cluster.json with each node's id,
pid, client, peer and metrics address. SIGINT or SIGTERM stops every node cleanly (SIGTERM,
then SIGKILL after a grace period).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READY_TIMEOUT = 60.0
STOP_GRACE = 15.0
ADMIN_PASSWORD_FILE = "admin.password"


@dataclass(frozen=True, slots=True)
class LocalNode:
    id: str
    client: str
    peer: str
    config: Path
    log: Path
    metrics: str = ""  # host:port of its Prometheus /metrics ("" for none)


def node_toml(
    node_id: str,
    nodes: list[dict[str, str]],
    *,
    cluster_id: str,
    data_dir: str,
    secret_file: str,
    namespaces: list[dict[str, Any]],
    raft: dict[str, Any] | None,
    metrics_port: int = 0,
    tls: dict[str, Any] | None = None,
    security: dict[str, Any] | None = None,
) -> str:
    """The TOML of one node's configuration."""
    lines = [
        f'node_id = "{node_id}"',
        f'data_dir = "{data_dir}"',
        f'cluster_id = "{cluster_id}"',
        f'secret_file = "{secret_file}"',
        *([f"metrics_port = {metrics_port}"] if metrics_port else []),
        "",
    ]
    for n in nodes:
        lines += [
            "[[member]]",
            f'id = "{n["id"]}"',
            f'client = "{n["client"]}"',
            f'peer = "{n["peer"]}"',
            *([f'rack = "{n["rack"]}"'] if n.get("rack") else []),
            "",
        ]
    for ns in namespaces:
        lines.append("[[namespace]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in ns.items()]
        lines.append("")
    for table, values in (("raft", raft), ("tls", tls), ("security", security)):
        if values:
            lines.append(f"[{table}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def write_cluster(
    directory: Path,
    n: int,
    *,
    base_port: int,
    host: str = "127.0.0.1",
    cluster_id: str = "local",
    namespaces: list[dict[str, Any]] | None = None,
    raft: dict[str, Any] | None = None,
    tls: dict[str, Any] | None = None,
    security: bool = False,
) -> list[LocalNode]:
    """Create the secret and every node's configuration under ``directory``. With
    ``security``, access control is on and the first user ``admin`` gets the password in
    ``DIR/admin.password`` ($RAFTSTORE_ADMIN_PASSWORD, else a random one)."""
    directory.mkdir(parents=True, exist_ok=True)
    secret = directory / "cluster.secret"
    if not secret.exists():
        secret.write_text(secrets.token_hex(32))
        secret.chmod(0o600)
    security_table = None
    if security:
        password_file = directory / ADMIN_PASSWORD_FILE
        if not password_file.exists():
            password = os.environ.get("RAFTSTORE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            password_file.touch(mode=0o600)
            password_file.write_text(password + "\n")
        security_table = {"enabled": True, "admin_password_file": f"../{ADMIN_PASSWORD_FILE}"}
    specs = [
        {
            "id": f"n{i + 1}",
            "client": f"{host}:{base_port + 10 * i}",
            "peer": f"{host}:{base_port + 10 * i + 1}",
            "metrics": f"{host}:{base_port + 10 * i + 2}",
        }
        for i in range(n)
    ]
    namespaces = namespaces or [
        {"name": "test", "replication_factor": min(3, n), "partition_groups": 8}
    ]
    out = []
    for spec in specs:
        ndir = directory / spec["id"]
        ndir.mkdir(exist_ok=True)
        cfg = ndir / "node.toml"
        cfg.write_text(
            node_toml(
                spec["id"],
                specs,
                cluster_id=cluster_id,
                data_dir="data",
                secret_file="../cluster.secret",
                namespaces=namespaces,
                raft=raft,
                metrics_port=int(spec["metrics"].rpartition(":")[2]),
                tls=tls,
                security=security_table,
            )
        )
        out.append(
            LocalNode(
                spec["id"], spec["client"], spec["peer"], cfg, ndir / "node.log", spec["metrics"]
            )
        )
    return out


def read_cluster(directory: Path) -> list[LocalNode]:
    """The nodes of an existing local cluster directory."""
    import tomllib

    out = []
    for cfg in sorted(directory.glob("n*/node.toml"), key=lambda p: int(p.parent.name[1:])):
        doc = tomllib.loads(cfg.read_text())
        me = next(m for m in doc["member"] if m["id"] == doc["node_id"])
        port = doc.get("metrics_port", 0)
        metrics = f"{me['client'].rpartition(':')[0]}:{port}" if port else ""
        out.append(
            LocalNode(me["id"], me["client"], me["peer"], cfg, cfg.parent / "node.log", metrics)
        )
    return out


def start_node(
    node: LocalNode, extra_args: list[str], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = open(node.log, "ab")  # noqa: SIM115 (the child inherits it; we close our copy)
    try:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "raftstore_client.cli",
                "node",
                "--config",
                str(node.config),
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    finally:
        log.close()


def admin_password(directory: Path) -> str | None:
    """The first user's password of a local cluster with security on (None: off)."""
    path = directory / ADMIN_PASSWORD_FILE
    return path.read_text().strip() if path.exists() else None


def _login_metadata(channel: Any, password: str | None) -> tuple[tuple[str, str], ...]:
    """``authorization`` metadata of a fresh ``admin`` login (security on), else none."""
    if password is None:
        return ()
    from raftstore.v1 import security_pb2, security_pb2_grpc

    answer = security_pb2_grpc.SecurityStub(channel).Login(
        security_pb2.LoginRequest(user="admin", password=password), timeout=2.0
    )
    return (("authorization", f"Bearer {answer.token}"),)


def wait_ready(
    hosts: list[str],
    timeout: float = READY_TIMEOUT,
    procs: list[subprocess.Popen[bytes]] | None = None,
    password: str | None = None,
) -> None:
    """Return once every node answers and every partition group has a leader
    (``password``: security is on, ask as ``admin``)."""
    import grpc

    from raftstore.v1 import cluster_pb2, cluster_pb2_grpc

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if procs and any(p.poll() is not None for p in procs):
            raise RuntimeError("a node exited during start-up (see its node.log)")
        try:
            for h in hosts:
                with grpc.insecure_channel(h) as ch:
                    pmap = cluster_pb2_grpc.ClusterStub(ch).GetPartitionMap(
                        cluster_pb2.GetPartitionMapRequest(),
                        timeout=1.0,
                        metadata=_login_metadata(ch, password),
                    )
                    missing = [g.group_id for g in pmap.groups if not g.leader_node_id]
                    if missing:
                        raise RuntimeError(f"{h}: no leader yet for {len(missing)} groups")
            return
        except (grpc.RpcError, RuntimeError) as e:
            last = str(e) if isinstance(e, RuntimeError) else f"{e.code().name}"  # type: ignore[attr-defined]
            time.sleep(0.2)
    raise TimeoutError(f"cluster not ready after {timeout:.0f}s: {last}")


def stop_processes(procs: list[subprocess.Popen[bytes]], grace: float = STOP_GRACE) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def write_cluster_json(
    directory: Path, nodes: list[LocalNode], procs: list[subprocess.Popen[bytes]]
) -> None:
    doc = {
        "hosts": ",".join(n.client for n in nodes),
        "nodes": [
            {
                "id": n.id,
                "pid": p.pid,
                "client": n.client,
                "peer": n.peer,
                "metrics": n.metrics,
                "config": str(n.config),
                "log": str(n.log),
            }
            for n, p in zip(nodes, procs, strict=True)
        ],
    }
    tmp = directory / "cluster.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, directory / "cluster.json")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="raftstore local", description=__doc__.splitlines()[0])
    p.add_argument(
        "--nodes", type=int, default=None, help="first start: 3 by default; later: as in DIR"
    )
    p.add_argument(
        "--replication-factor",
        type=int,
        default=None,
        help="replicas of every group, at most --nodes (default: min(3, nodes); first start only)",
    )
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--base-port", type=int, default=3000)
    p.add_argument(
        "--partition-groups", type=int, default=8, help="per namespace (first start only)"
    )
    p.add_argument(
        "--namespace",
        action="append",
        default=None,
        help="namespace name (repeatable; first start only; default: test)",
    )
    p.add_argument(
        "--security",
        action="store_true",
        help="access control on (first start only): user admin, password in DIR/admin.password "
        "($RAFTSTORE_ADMIN_PASSWORD, else random)",
    )
    p.add_argument(
        "--node-arg",
        action="append",
        default=[],
        help="extra argument for every node, e.g. --node-arg=--unsafe-no-fsync",
    )
    return p


def main(argv: list[str]) -> int:
    if argv and argv[0] == "add-node":
        from raftstore_node.local_add import main as add_node

        return add_node(argv[1:])
    args = build_parser().parse_args(argv)
    directory: Path = args.data_dir.resolve()
    existing = read_cluster(directory)
    if args.nodes is None:
        args.nodes = len(existing) or 3
    if not 1 <= args.nodes <= 9:
        print("raftstore local: --nodes must be 1..9", file=sys.stderr)
        return 2
    rf = args.replication_factor or min(3, args.nodes)
    if not 1 <= rf <= args.nodes:
        print("raftstore local: --replication-factor must be 1..--nodes", file=sys.stderr)
        return 2
    nodes = existing
    if nodes and len(nodes) != args.nodes:
        print(
            f"raftstore local: {directory} holds a {len(nodes)}-node cluster; "
            f"start it with --nodes {len(nodes)} or use another --data-dir",
            file=sys.stderr,
        )
        return 2
    if not nodes:
        names = args.namespace or ["test"]
        nodes = write_cluster(
            directory,
            args.nodes,
            base_port=args.base_port,
            namespaces=[
                {
                    "name": n,
                    "replication_factor": rf,
                    "partition_groups": args.partition_groups,
                }
                for n in names
            ],
            security=args.security,
        )
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    procs = [start_node(n, args.node_arg) for n in nodes]
    write_cluster_json(directory, nodes, procs)
    hosts = [n.client for n in nodes]
    try:
        password = admin_password(directory)
        wait_ready(hosts, procs=procs, password=password)
        print(
            f"raftstore local: {len(nodes)} nodes ready; hosts={','.join(hosts)} "
            f"(cluster.json in {directory}); Ctrl-C to stop",
            flush=True,
        )
        if password is not None:
            print(
                f"raftstore local: security on; log in as admin (password in "
                f"{directory / ADMIN_PASSWORD_FILE})",
                flush=True,
            )
    except (TimeoutError, RuntimeError) as e:
        print(f"raftstore local: {e}", file=sys.stderr, flush=True)
        stop_processes(procs)
        return 1
    return _supervise(nodes, procs, lambda: stopping)


def _supervise(nodes: list[LocalNode], procs: list[subprocess.Popen[bytes]], stopping: Any) -> int:
    reported: set[int] = set()
    while not stopping():
        for node, p in zip(nodes, procs, strict=True):
            if p.poll() is not None and p.pid not in reported:
                reported.add(p.pid)
                print(
                    f"raftstore local: node {node.id} (pid {p.pid}) exited with {p.returncode}; "
                    f"see {node.log}",
                    file=sys.stderr,
                    flush=True,
                )
        time.sleep(0.2)
    print("raftstore local: stopping", flush=True)
    stop_processes(procs + _added_processes(nodes))
    print("raftstore local: stopped", flush=True)
    return 0


class _Adopted:
    """A node process started by ``raftstore local add-node``, stopped with the cluster."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            self.returncode = 0
        return self.returncode

    def send_signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else 3600)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        return 0


def _added_processes(nodes: list[LocalNode]) -> list[Any]:
    """Processes of nodes added to this cluster while it ran (DIR/cluster.json)."""
    directory = nodes[0].config.parent.parent
    try:
        doc = json.loads((directory / "cluster.json").read_text())
    except (OSError, ValueError):
        return []
    known = {n.id for n in nodes}
    return [
        _Adopted(n["pid"]) for n in doc.get("nodes", []) if n.get("added") and n["id"] not in known
    ]
