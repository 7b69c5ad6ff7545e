"""``raftstore local add-node``: grow a running local cluster by one node.

    raftstore local add-node --data-dir DIR [--rack R] [--node-arg=...]

Writes ``DIR/n<k>/node.toml`` for the next node id (its client port continues the
cluster's numbering: base + 10*(k-1), peers + 1, metrics + 2), starts it with
``--join`` through a running member, waits until the cluster lists it, and records it in
``DIR/cluster.json``. The rebalancer then moves replicas to it. The ``raftstore local``
process that runs the cluster stops added nodes too when it stops; a later
``raftstore local --data-dir DIR`` starts every node, added ones included.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from raftstore_node.local import LocalNode, node_toml, read_cluster, start_node

READY_TIMEOUT = 120.0


def write_joining_node(directory: Path, rack: str = "") -> LocalNode:
    """The configuration of the next node of the local cluster in ``directory``."""
    nodes = read_cluster(directory)
    if not nodes:
        raise ValueError(f"{directory} holds no local cluster")
    first = tomllib.loads(nodes[0].config.read_text())
    k = max(int(n.id[1:]) for n in nodes) + 1
    host, _, port = nodes[0].client.rpartition(":")
    base = int(port) + 10 * (k - 1)
    spec = {"id": f"n{k}", "client": f"{host}:{base}", "peer": f"{host}:{base + 1}"}
    if rack:
        spec["rack"] = rack
    ndir = directory / spec["id"]
    ndir.mkdir(exist_ok=True)
    cfg = ndir / "node.toml"
    metrics_port = base + 2 if first.get("metrics_port") else 0
    cfg.write_text(
        node_toml(
            spec["id"],
            [spec],
            cluster_id=first.get("cluster_id", "raftstore"),
            data_dir="data",
            secret_file="../cluster.secret",
            namespaces=[],
            raft=first.get("raft"),
            metrics_port=metrics_port,
            tls=first.get("tls"),
        )
    )
    metrics = f"{host}:{metrics_port}" if metrics_port else ""
    return LocalNode(spec["id"], spec["client"], spec["peer"], cfg, ndir / "node.log", metrics)


def wait_joined(
    node: LocalNode, member: str, timeout: float = READY_TIMEOUT, credentials: Any = None
) -> None:
    """Return once ``member``'s partition map lists ``node`` and ``node`` answers
    (``credentials``: gRPC channel credentials for a cluster with TLS)."""
    import grpc

    from raftstore.v1 import cluster_pb2, cluster_pb2_grpc

    def channel(address: str) -> Any:
        if credentials is not None:
            return grpc.secure_channel(address, credentials)
        return grpc.insecure_channel(address)

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with channel(member) as ch:
                pmap = cluster_pb2_grpc.ClusterStub(ch).GetPartitionMap(
                    cluster_pb2.GetPartitionMapRequest(), timeout=5.0
                )
            with channel(node.client) as ch:
                cluster_pb2_grpc.ClusterStub(ch).GetNodeStatus(
                    cluster_pb2.GetNodeStatusRequest(), timeout=5.0
                )
            if node.id in {n.node_id for n in pmap.nodes}:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{node.id} did not join within {timeout:.0f}s (see {node.log})")


def record(directory: Path, node: LocalNode, pid: int) -> None:
    """Add the node to DIR/cluster.json."""
    path = directory / "cluster.json"
    doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"nodes": []}
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] != node.id]
    doc["nodes"].append(
        {
            "id": node.id,
            "pid": pid,
            "client": node.client,
            "peer": node.peer,
            "metrics": node.metrics,
            "config": str(node.config),
            "log": str(node.log),
            "added": True,
        }
    )
    doc["hosts"] = ",".join(n["client"] for n in doc["nodes"])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="raftstore local add-node", description=__doc__.splitlines()[0]
    )
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--rack", default="", help="rack label of the new node")
    p.add_argument("--node-arg", action="append", default=[], help="extra node argument")
    args = p.parse_args(argv)
    directory = args.data_dir.resolve()
    try:
        members = read_cluster(directory)
        node = write_joining_node(directory, args.rack)
    except (OSError, ValueError) as e:
        print(f"raftstore local add-node: {e}", file=sys.stderr)
        return 2
    through = members[0].client
    proc = start_node(node, ["--join", through, *args.node_arg])
    try:
        wait_joined(node, through)
    except TimeoutError as e:
        proc.kill()
        print(f"raftstore local add-node: {e}", file=sys.stderr)
        return 1
    record(directory, node, proc.pid)
    print(
        f"raftstore local: {node.id} joined on {node.client} (pid {proc.pid}); replicas move to it"
    )
    return 0
