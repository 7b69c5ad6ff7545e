"""A gRPC health probe: exit 0 when a node answers SERVING, 1 otherwise (the image's
HEALTHCHECK; Kubernetes uses its native gRPC probes instead, or this one as an exec probe
when TLS is on: native gRPC probes do not speak TLS).

    python -m raftstore_node.probe [--address 127.0.0.1:3000] [--service raftstore.ready]

``--service ""`` (the default) asks whether the process serves; ``raftstore.ready`` whether
it has joined the cluster and caught up (see ``readiness``).

TLS: with ``$RAFTSTORE_TLS`` (the node's ``[tls]`` table as JSON, as ``--from-env`` reads
it) the probe connects with TLS, trusting ``ca_file`` and presenting ``cert_file``; it
checks the node's certificate against ``--tls-name`` (default: ``peer_server_name``, else
the pod's own DNS name ``$POD_NAME.$RAFTSTORE_PEER_SERVICE.$POD_NAMESPACE.svc``, else the
address's host).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def _tls_channel(address: str, table: dict[str, Any], name: str) -> grpc.Channel:
    def read(key: str) -> bytes | None:
        path = table.get(key)
        return Path(path).read_bytes() if isinstance(path, str) and path else None

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read("ca_file"),
        private_key=read("key_file"),
        certificate_chain=read("cert_file"),
    )
    options = [("grpc.ssl_target_name_override", name)] if name else []
    return grpc.secure_channel(address, credentials, options=options)


def _pod_name(env: Mapping[str, str]) -> str:
    """This pod's DNS name under the headless Service (as ``envconfig`` names members)."""
    if not (env.get("POD_NAME") and env.get("RAFTSTORE_PEER_SERVICE")):
        return ""
    name = f"{env['POD_NAME']}.{env['RAFTSTORE_PEER_SERVICE']}"
    name += f".{env.get('POD_NAMESPACE', 'default')}.svc"
    return name + (
        f".{env['RAFTSTORE_CLUSTER_DOMAIN']}" if env.get("RAFTSTORE_CLUSTER_DOMAIN") else ""
    )


def check(
    address: str,
    service: str = "",
    timeout: float = 3.0,
    tls: dict[str, Any] | None = None,
    tls_name: str = "",
) -> str:
    """The health status name the node at ``address`` reports (or the gRPC error's code)."""
    channel = (
        _tls_channel(address, tls, tls_name) if tls is not None else grpc.insecure_channel(address)
    )
    with channel:
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
    p.add_argument("--tls-name", default=None, help="name the node's certificate must carry")
    args = p.parse_args(argv)
    tls = None
    if os.environ.get("RAFTSTORE_TLS"):
        try:
            tls = json.loads(os.environ["RAFTSTORE_TLS"])
            if not isinstance(tls, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            print(f"RAFTSTORE_TLS: {e}", file=sys.stderr)
            return 2
    name = args.tls_name
    if name is None:
        name = (tls or {}).get("peer_server_name") or _pod_name(os.environ)
    try:
        status = check(args.address, args.service, args.timeout, tls, name)
    except OSError as e:
        print(f"RAFTSTORE_TLS: {e}", file=sys.stderr)
        return 2
    print(f"{args.address} {args.service or '(server)'}: {status}")
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
