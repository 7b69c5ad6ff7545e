"""Any gRPC client built from proto/ alone can use raftstore; reflection lists the services."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.jepsen.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]

STOCK_CLIENT = textwrap.dedent("""
    import sys
    sys.modules["raftstore"] = None  # this process must not use any raftstore Python code
    sys.modules["raftstore_client"] = None
    sys.path.insert(0, sys.argv[1])
    import grpc
    from stockpb import kv_pb2, kv_pb2_grpc, values_pb2

    with grpc.insecure_channel(sys.argv[2]) as ch:
        kv = kv_pb2_grpc.KVStub(ch)
        key = values_pb2.Key(namespace="test", set="stock", string_key="from-proto")
        put = kv_pb2.PutRequest(key=key)
        put.bins["name"].string_value = "stock client"
        put.bins["n"].int_value = 42
        put.bins["tags"].list_value.items.add().string_value = "a"
        meta = kv.Put(put, timeout=10).metadata
        got = kv.Get(kv_pb2.GetRequest(key=key), timeout=10).record
        assert got.bins["name"].string_value == "stock client", got
        assert got.bins["n"].int_value == 42
        assert got.bins["tags"].list_value.items[0].string_value == "a"
        assert got.metadata.generation == meta.generation == 1
        try:
            kv.Get(kv_pb2.GetRequest(key=values_pb2.Key(namespace="test", set="stock",
                                                        string_key="absent")), timeout=10)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND
            assert dict(e.trailing_metadata())["raftstore-result-code"] == "2"
        else:
            raise AssertionError("expected NOT_FOUND")
        loaded = sys.modules.get("raftstore") is not None
        print("stock client ok", loaded)
""")


def _build_stubs(out: Path) -> Path:
    """protoc on a copy of proto/ placed under package path 'stockpb' (same wire names)."""
    src = out / "proto" / "stockpb"
    src.mkdir(parents=True)
    for proto in (ROOT / "proto" / "raftstore" / "v1").glob("*.proto"):
        text = re.sub(r'import "raftstore/v1/', 'import "stockpb/', proto.read_text())
        (src / proto.name).write_text(text)
    gen = out / "gen"
    gen.mkdir()
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(out / "proto")) for p in src.glob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{out / 'proto'}",
            f"-I{include}",
            f"--python_out={gen}",
            f"--grpc_python_out={gen}",
            *protos,
        ],
        check=True,
    )
    return gen


def test_a_stock_grpc_client_built_from_proto_can_put_and_get(
    shared_cluster: Cluster, tmp_path: Path
) -> None:
    gen = _build_stubs(tmp_path)
    script = tmp_path / "stock_client.py"
    script.write_text(STOCK_CLIENT)
    out = subprocess.run(
        [sys.executable, str(script), str(gen), shared_cluster.hosts[1]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "stock client ok False"
    shutil.rmtree(gen)


def test_reflection_lists_the_services(shared_cluster: Cluster) -> None:
    with grpc.insecure_channel(shared_cluster.hosts[0]) as ch:
        services = set(ProtoReflectionDescriptorDatabase(ch).get_services())
    assert {
        "raftstore.v1.KV",
        "raftstore.v1.Cluster",
        "raftstore.v1.FaultInjection",
        "raftstore.v1.Index",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= services


def test_reflection_describes_the_kv_methods(shared_cluster: Cluster) -> None:
    with grpc.insecure_channel(shared_cluster.hosts[0]) as ch:
        db = ProtoReflectionDescriptorDatabase(ch)
        from google.protobuf.descriptor_pool import DescriptorPool

        pool = DescriptorPool(db)
        kv = pool.FindServiceByName("raftstore.v1.KV")
    assert {m.name for m in kv.methods} == {
        "Put",
        "Get",
        "Exists",
        "Delete",
        "Touch",
        "Operate",
        "BatchGet",
        "Scan",
        "BatchOperate",
        "Truncate",
        "Stream",
    }


def test_health_checking_reports_serving(shared_cluster: Cluster) -> None:
    with grpc.insecure_channel(shared_cluster.hosts[2]) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        for service in ("", "raftstore.v1.KV"):
            resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
