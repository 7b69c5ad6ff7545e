"""Client side of the protobuf boundary: Python arguments -> requests, responses -> results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from raftstore_client.types import KeyTuple, Meta, Record

from raftstore.commands import Op
from raftstore.errors import ParameterError
from raftstore.keys import Key
from raftstore.policy import ReadMode, WritePolicy
from raftstore.v1 import kv_pb2, values_pb2
from raftstore.wire import bins_from_pb, key_from_pb, key_to_pb, value_from_pb, value_to_pb


def key_of(key: Any) -> Key:
    """Accept (namespace, set, user_key), (namespace, set, None, digest) or a Key."""
    return Key.from_tuple(key)


def key_tuple(key: Key) -> KeyTuple:
    return (key.namespace, key.set_name, key.user_key, key.digest)


def write_policy_pb(policy: WritePolicy, out: kv_pb2.WritePolicy) -> None:
    policy.validate()
    out.exists = int(policy.exists)
    out.generation_policy = int(policy.gen)
    out.generation = policy.generation
    out.ttl = policy.ttl
    out.send_key = policy.send_key
    out.durable_delete = policy.durable_delete


def read_policy_pb(mode: ReadMode, out: kv_pb2.ReadPolicy) -> None:
    out.read_mode = int(mode)


def bins_pb(bins: Mapping[str, Any], out: Any) -> None:
    if not isinstance(bins, Mapping) or not bins:
        raise ParameterError("bins must be a non-empty dict of bin name -> value")
    for name, value in bins.items():
        if not isinstance(name, str):
            raise ParameterError(f"bin name {name!r} must be a string")
        value_to_pb(value, out[name])


def op_pb(op: Op, out: kv_pb2.Operation) -> None:
    out.type = int(op.type)
    out.bin = op.bin
    if op.value is not None:
        value_to_pb(op.value, out.value)
    out.index = op.index
    if op.count is not None:
        out.count = op.count
    if op.map_key is not None:
        value_to_pb(op.map_key, out.map_key)


def meta(md: values_pb2.RecordMetadata) -> Meta:
    return Meta(md.generation, md.ttl, md.last_update_ms)


def record(key: Key, rec: values_pb2.Record) -> Record:
    k = key_from_pb(rec.key) if rec.key.namespace else key
    return Record(key_tuple(k), meta(rec.metadata), bins_from_pb(rec.bins))


def op_results(resp: kv_pb2.OperateResponse) -> list[tuple[str, Any]]:
    return [(r.bin, value_from_pb(r.value)) for r in resp.results]


def keys_pb(keys: Iterable[Any], bins: list[str] | None, out: kv_pb2.BatchGetRequest) -> list[Key]:
    parsed = [key_of(k) for k in keys]
    for k in parsed:
        read = out.reads.add()
        key_to_pb(k, read.key)
        if bins:
            read.bins.extend(bins)
    return parsed
