"""A gRPC health probe: exit 0 when a node answers SERVING, 1 otherwise (the image's
HEALTHCHECK; Kubernetes uses its native gRPC probes instead).

    python -m raftstore_node.probe [--address 127.0.0.1:3000] [--service raftstore.ready]

``--service ""`` (the default) asks whether the process serves; ``raftstore.ready`` whether
it has joined the cluster and caught up (see ``readiness``).
"""

from __future__ import annotations

import argparse
import os
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(address: str, service: str = "", timeout: float = 3.0) -> str:
    """The health status name the node at ``address`` reports (or the gRPC error's code)."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as e:
            return e.code().name  # type: ignore[attr-defined, no-any-return]
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m raftstore_node.probe", description=__doc__)
    port = os.environ.get("RAFTSTORE_CLIENT_PORT", "3000")
    p.add_argument("--address", default=f"127.0.0.1:{port}")
    p.add_argument("--service", default="")
    p.add_argument("--timeout", type=float, default=3.0)
    args = p.parse_args(argv)
    status = check(args.address, args.service, args.timeout)
    print(f"{args.address} {args.service or '(server)'}: {status}")
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
