"""A descriptor-driven gRPC fuzzer: random requests for every method of the client port.

Requests are built from the services' descriptors (`random_message` walks each field:
scalars from pools of edge values, nested messages, repeated and map fields, oneofs),
serialized, and a share of them mutated at the byte level (`mutate`: flipped bytes, cut
short, garbage inserted, a huge length prefix). `Fuzzer.run` sends them to one node —
unary, server-streaming and bidirectional methods alike — and counts the outcomes by
(gRPC status, raftstore result code).

The node must answer every one with OK or a status carrying ``raftstore-result-code``, and
never UNKNOWN or INTERNAL (an unhandled exception); callers also check that no group's term
moved and that no traceback was logged. Only for clusters of their own: random Truncate,
CreateIndex or user calls may change what the cluster stores.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from raftstore.v1 import cluster_pb2, index_pb2, kv_pb2, security_pb2

SERVICES = (
    kv_pb2.DESCRIPTOR.services_by_name["KV"],
    index_pb2.DESCRIPTOR.services_by_name["Index"],
    cluster_pb2.DESCRIPTOR.services_by_name["Cluster"],
    security_pb2.DESCRIPTOR.services_by_name["Security"],
)
INTS = (0, 1, -1, 2, 7, 255, 4095, 4096, 2**31 - 1, -(2**31), 2**32, 2**63 - 1, -(2**63))
STRINGS = ("", "test", "test", "a", "s", "x" * 16, "x" * 300, "é\u0000ü", "../..", "_system")
TYPE = FieldDescriptor


def _scalar(field: FieldDescriptor, rng: random.Random) -> object:
    t = field.type
    if t == TYPE.TYPE_BOOL:
        return rng.random() < 0.5
    if t in (TYPE.TYPE_FLOAT, TYPE.TYPE_DOUBLE):
        return rng.choice((0.0, -1.5, 1e300, float("inf"), float("nan"), rng.random()))
    if t == TYPE.TYPE_STRING:
        return rng.choice(STRINGS) if rng.random() < 0.7 else rng.randbytes(8).hex()
    if t == TYPE.TYPE_BYTES:
        return rng.randbytes(rng.choice((0, 1, 15, 16, 16, 17, 64)))
    if t == TYPE.TYPE_ENUM:
        values = [v.number for v in field.enum_type.values]
        return (
            rng.choice([*values, 999]) if field.enum_type.is_closed is False else rng.choice(values)
        )
    value = rng.choice(INTS) if rng.random() < 0.7 else rng.randint(-1000, 100_000)
    unsigned = t in (TYPE.TYPE_UINT32, TYPE.TYPE_UINT64, TYPE.TYPE_FIXED32, TYPE.TYPE_FIXED64)
    bits = 32 if t in (TYPE.TYPE_INT32, TYPE.TYPE_SINT32, TYPE.TYPE_SFIXED32) else 64
    if t in (TYPE.TYPE_UINT32, TYPE.TYPE_FIXED32):
        bits = 32
    if unsigned:
        return abs(value) % (2**bits)
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return min(high, max(low, value))


def random_message(descriptor: Descriptor, rng: random.Random, depth: int = 0) -> Message:
    """A message of ``descriptor`` with random fields (each set with probability 1/2)."""
    msg = message_factory.GetMessageClass(descriptor)()
    for field in descriptor.fields:
        if rng.random() < 0.5 or (field.message_type is not None and depth >= 4):
            continue
        oneof = field.containing_oneof
        if oneof is not None and msg.WhichOneof(oneof.name) is not None:
            continue
        repeated = field.is_repeated
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            container = getattr(msg, field.name)
            key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
            for _ in range(rng.randint(1, 3)):
                key = _scalar(key_field, rng)
                if value_field.message_type is not None:
                    sub = random_message(value_field.message_type, rng, depth + 1)
                    container[key].CopyFrom(sub)
                else:
                    container[key] = _scalar(value_field, rng)
            continue
        count = rng.randint(1, 3) if repeated else 1
        for _ in range(count):
            if entry is not None:
                sub = random_message(entry, rng, depth + 1)
                if repeated:
                    getattr(msg, field.name).add().CopyFrom(sub)
                else:
                    getattr(msg, field.name).CopyFrom(sub)
            else:
                value = _scalar(field, rng)
                try:
                    if repeated:
                        getattr(msg, field.name).append(value)
                    else:
                        setattr(msg, field.name, value)
                except (ValueError, TypeError):
                    pass  # a value this field's type cannot hold (e.g. closed enums)
    return msg


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Byte-level damage: flipped bytes, cut short, garbage inserted, a huge length."""
    b = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0 and b:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1 and b:
        b = b[: rng.randrange(len(b))]
    elif kind == 2:
        at = rng.randrange(len(b) + 1)
        b[at:at] = rng.randbytes(rng.randint(1, 16))
    else:
        b += bytes([0x0A, 0xFF, 0xFF, 0xFF, 0x7F]) + rng.randbytes(8)
    return bytes(b)


class Fuzzer:
    def __init__(self, address: str, seed: int, mutate_share: float = 0.3) -> None:
        self.address = address
        self.rng = random.Random(seed)
        self.mutate_share = mutate_share
        self.methods: list[MethodDescriptor] = [m for s in SERVICES for m in s.methods]
        self.outcomes: Counter[tuple[str, int | None]] = Counter()
        self.by_method: Counter[str] = Counter()

    def request(self, method: MethodDescriptor) -> bytes:
        data = random_message(method.input_type, self.rng).SerializeToString()
        if self.rng.random() < self.mutate_share:
            data = mutate(data, self.rng)
        return data

    def run(self, count: int, timeout: float = 10.0) -> Counter[tuple[str, int | None]]:
        with grpc.insecure_channel(self.address) as channel:
            for _ in range(count):
                method = self.rng.choice(self.methods)
                path = f"/{method.containing_service.full_name}/{method.name}"
                self.by_method[path] += 1
                self.outcomes[self._call(channel, method, path, timeout)] += 1
        return self.outcomes

    def _call(
        self, channel: grpc.Channel, method: MethodDescriptor, path: str, timeout: float
    ) -> tuple[str, int | None]:
        data = self.request(method)
        try:
            if method.client_streaming:
                frames: Iterator[bytes] = iter([data, self.request(method)])
                for _ in channel.stream_stream(path)(frames, timeout=timeout):
                    pass
            elif method.server_streaming:
                for _ in channel.unary_stream(path)(data, timeout=timeout):
                    pass
            else:
                channel.unary_unary(path)(data, timeout=timeout)
        except grpc.RpcError as e:
            md = dict(e.trailing_metadata() or ())  # type: ignore[attr-defined]
            rc = md.get("raftstore-result-code")
            return e.code().name, int(rc) if rc is not None else None  # type: ignore[attr-defined]
        return "OK", 0
