"""Bad input gets a clear error with a result code, and nothing is stored."""

from __future__ import annotations

import os
import socket

import grpc
import pytest
from raftstore_client import (
    BinNameTooLong,
    Client,
    NamespaceNotFound,
    ParameterError,
    RecordNotFound,
    RecordTooBig,
    ResultCode,
)

from raftstore.v1 import kv_pb2, values_pb2
from raftstore.wire import value_to_pb
from tests.integration.helpers import pb_key, result_code, stub
from tests.jepsen.cluster import Cluster


def _assert_absent(client: Client, key: tuple[str, str, str]) -> None:
    with pytest.raises(RecordNotFound):
        client.get(key)


def _raw_put(cluster: Cluster, request: kv_pb2.PutRequest) -> grpc.RpcError:
    ch, kv = stub(cluster, "n1")
    with ch, pytest.raises(grpc.RpcError) as info:
        kv.Put(request, timeout=10)
    return info.value


def test_an_oversized_record_is_rejected_and_not_stored(client: Client) -> None:
    key = ("test", "bad", "big")
    with pytest.raises(RecordTooBig) as info:
        client.put(key, {"blob": b"x" * (1024 * 1024 + 1)})
    assert info.value.code == ResultCode.RECORD_TOO_BIG == 13
    _assert_absent(client, key)


def test_an_oversized_update_leaves_the_record_unchanged(client: Client) -> None:
    key = ("test", "bad", "grow")
    client.put(key, {"a": "small"})
    with pytest.raises(RecordTooBig):
        client.put(key, {"b": "y" * (1024 * 1024)})
    rec = client.get(key)
    assert rec.bins == {"a": "small"} and rec.meta.gen == 1


def test_a_bin_name_over_15_bytes_is_rejected(client: Client, shared_cluster: Cluster) -> None:
    key = ("test", "bad", "binname")
    with pytest.raises(BinNameTooLong) as info:
        client.put(key, {"x" * 16: 1})
    assert info.value.code == 21
    req = kv_pb2.PutRequest(key=pb_key(*key))
    value_to_pb(1, req.bins["é" * 8])  # 16 bytes of UTF-8
    assert result_code(_raw_put(shared_cluster, req)) == 21
    _assert_absent(client, key)


def test_an_unknown_namespace_is_rejected_by_client_and_server(
    client: Client, shared_cluster: Cluster
) -> None:
    with pytest.raises(NamespaceNotFound) as info:
        client.put(("nosuch", "s", "k"), {"a": 1})
    assert info.value.code == 20
    req = kv_pb2.PutRequest(key=pb_key("nosuch", "s", "k"))
    value_to_pb(1, req.bins["a"])
    err = _raw_put(shared_cluster, req)
    assert result_code(err) == 20
    assert err.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert "nosuch" in err.details()  # type: ignore[attr-defined]


def test_an_unsupported_value_type_is_rejected(client: Client, shared_cluster: Cluster) -> None:
    key = ("test", "bad", "type")
    with pytest.raises(ParameterError):
        client.put(key, {"a": {1, 2}})
    with pytest.raises(ParameterError):
        client.put(key, {"a": {(1, 2): "tuple keys are not allowed"}})
    req = kv_pb2.PutRequest(key=pb_key(*key))
    req.bins["a"].CopyFrom(values_pb2.Value())  # a value with no kind
    err = _raw_put(shared_cluster, req)
    assert result_code(err) == 4
    _assert_absent(client, key)


@pytest.mark.parametrize(
    "key",
    [
        values_pb2.Key(namespace="test", set="s"),  # neither user key nor digest
        values_pb2.Key(namespace="test", set="s", digest=b"short"),
        values_pb2.Key(namespace="", set="s", string_key="k"),
        values_pb2.Key(namespace="test", set="s" * 64, string_key="k"),
        values_pb2.Key(namespace="test", set="s", string_key="k" * 2000),
        values_pb2.Key(namespace="test", set="s", string_key="k", digest=b"\0" * 16),
    ],
    ids=["no-user-key", "short-digest", "empty-namespace", "long-set", "long-key", "wrong-digest"],
)
def test_a_malformed_key_is_rejected(shared_cluster: Cluster, key: values_pb2.Key) -> None:
    req = kv_pb2.PutRequest(key=key)
    value_to_pb(1, req.bins["a"])
    assert result_code(_raw_put(shared_cluster, req)) == 4


def test_a_malformed_key_is_rejected_by_the_client(client: Client) -> None:
    for key in [("test", "s"), ("test", "s", 1.5), ("test", "s", True), ("test", "s", 2**64)]:
        with pytest.raises(ParameterError):
            client.put(key, {"a": 1})


def test_unknown_enum_values_are_rejected(shared_cluster: Cluster) -> None:
    req = kv_pb2.PutRequest(key=pb_key("test", "bad", "enum"))
    value_to_pb(1, req.bins["a"])
    req.policy.exists = 99  # type: ignore[assignment]
    assert result_code(_raw_put(shared_cluster, req)) == 4


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(4096),
        os.urandom(65536),
        b"\x00" * 100,
    ],
    ids=["http1", "h2-preface-then-garbage", "random", "zeros"],
)
def test_garbage_on_the_client_port_leaves_the_node_serving(
    client: Client, shared_cluster: Cluster, payload: bytes
) -> None:
    host, port = shared_cluster.address("n1").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(payload)
        s.settimeout(2)
        try:
            s.recv(1024)
        except (TimeoutError, ConnectionError):
            pass
    assert shared_cluster.is_running("n1")
    key = ("test", "bad", f"after-garbage-{len(payload)}")
    client.put(key, {"ok": True})
    assert client.get(key).bins == {"ok": True}
