"""Encoding of replicated log entries: ``commands.Entry`` <-> ``raftstore.v1.Entry`` bytes.

The envelope is protobuf with a format version; bin values, operation values and user
keys inside it are msgpack so that every replica decodes them in one C call (str and
bytes stay distinct, floats stay floats). Decoding validates the format version and the
shape of every command and raises ``CodecError`` on anything else. A command's filter
expression travels as the ``raftstore.v1.Expression`` the client sent (re-serialised from
the parsed tree) and is parsed again, by the same checks, on every replica.
"""

from __future__ import annotations

import msgpack
from google.protobuf.message import DecodeError

from raftstore.commands import (
    Batch,
    BuildIndex,
    Command,
    CreateIndex,
    Delete,
    DropIndex,
    Entry,
    Expire,
    ExpiredRecord,
    ExpiredSession,
    Op,
    Operate,
    OpType,
    Put,
    Read,
    Request,
    Touch,
    Truncate,
)
from raftstore.errors import ParameterError
from raftstore.expressions import Node, parse_filter, to_pb
from raftstore.keys import Key
from raftstore.policy import GenPolicy, RecordExistsAction, WritePolicy
from raftstore.sindex import Collection, IndexDef, IndexType
from raftstore.v1 import command_pb2 as pb

FORMAT_VERSION = 1


class CodecError(ValueError):
    """A log entry could not be decoded."""


def pack(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def unpack(data: bytes) -> object:
    return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)


# --- encoding -------------------------------------------------------------------------


def encode_entry(entry: Entry) -> bytes:
    msg = pb.Entry(format_version=FORMAT_VERSION, now_ms=entry.now_ms)
    for request in entry.requests:
        _encode_request(request, msg.requests.add())
    return msg.SerializeToString()


def _encode_request(request: Request, out: pb.Request) -> None:
    out.client_id = request.client_id
    out.seq = request.seq
    out.acked_seq = request.acked_seq
    _encode_command_with_filter(request.command, out)


def _encode_command_with_filter(cmd: Command, out: pb.Request) -> None:
    _encode_command(cmd, out)
    if cmd.filter is not None:
        to_pb(cmd.filter, getattr(out, out.WhichOneof("command")).filter)


def _encode_command(cmd: Command, out: pb.Request) -> None:
    if isinstance(cmd, Put):
        _encode_key(cmd.key, out.put.key)
        out.put.bins = pack(dict(cmd.bins))
        _encode_policy(cmd.policy, out.put.policy)
    elif isinstance(cmd, Read):
        _encode_key(cmd.key, out.read.key)
        out.read.all_bins = cmd.bins is None
        out.read.bins.extend(cmd.bins or ())
        out.read.header_only = cmd.header_only
    elif isinstance(cmd, Delete):
        _encode_key(cmd.key, out.delete.key)
        _encode_policy(cmd.policy, out.delete.policy)
    elif isinstance(cmd, Touch):
        _encode_key(cmd.key, out.touch.key)
        _encode_policy(cmd.policy, out.touch.policy)
    elif isinstance(cmd, Operate):
        _encode_key(cmd.key, out.operate.key)
        for op in cmd.ops:
            _encode_op(op, out.operate.ops.add())
        _encode_policy(cmd.policy, out.operate.policy)
    elif isinstance(cmd, Batch):
        out.batch.SetInParent()
        for item in cmd.commands:
            _encode_command_with_filter(item, out.batch.items.add())
    elif isinstance(cmd, Truncate):
        out.truncate.namespace = cmd.namespace
        out.truncate.set = cmd.set_name
        out.truncate.before_ms = cmd.before_ms
    elif isinstance(cmd, Expire):
        out.expire.namespace = cmd.namespace
        out.expire.now_ms = cmd.now_ms
        for r in cmd.records:
            out.expire.records.add(
                digest=r.digest, generation=r.generation, void_time_ms=r.void_time_ms
            )
        for s in cmd.sessions:
            out.expire.sessions.add(client_id=s.client_id, last_seen_ms=s.last_seen_ms)
    elif isinstance(cmd, (CreateIndex, DropIndex, BuildIndex)):
        _encode_index_command(cmd, out)
    else:
        raise TypeError(f"not a command: {cmd!r}")


def _encode_index_command(cmd: CreateIndex | DropIndex | BuildIndex, out: pb.Request) -> None:
    if isinstance(cmd, CreateIndex):
        d, msg = cmd.definition, out.create_index.definition
        msg.namespace, msg.name, msg.set, msg.bin = d.namespace, d.name, d.set_name, d.bin
        msg.type, msg.collection = int(d.type), int(d.collection)
    elif isinstance(cmd, DropIndex):
        out.drop_index.namespace, out.drop_index.name = cmd.namespace, cmd.name
    else:
        b = out.build_index
        b.namespace, b.name, b.cursor, b.limit = cmd.namespace, cmd.name, cmd.cursor, cmd.limit


def _encode_key(key: Key, out: pb.CommandKey) -> None:
    out.namespace = key.namespace
    out.set = key.set_name
    out.digest = key.digest
    if key.user_key is not None:
        out.user_key = pack(key.user_key)


def _encode_policy(policy: WritePolicy, out: pb.CommandPolicy) -> None:
    out.exists = int(policy.exists)
    out.generation_policy = int(policy.gen)
    out.generation = policy.generation
    out.ttl = policy.ttl
    out.send_key = policy.send_key
    out.durable_delete = policy.durable_delete


def _encode_op(op: Op, out: pb.CommandOp) -> None:
    out.type = int(op.type)
    out.bin = op.bin
    out.value = pack(op.value)
    out.index = op.index
    if op.count is not None:
        out.has_count = True
        out.count = op.count
    out.map_key = pack(op.map_key)


# --- decoding -------------------------------------------------------------------------


def decode_entry(data: bytes) -> Entry:
    msg = pb.Entry()
    try:
        msg.ParseFromString(data)
    except DecodeError as e:
        raise CodecError(f"malformed entry: {e}") from None
    if msg.format_version != FORMAT_VERSION:
        raise CodecError(f"unsupported entry format version {msg.format_version}")
    try:
        requests = tuple(_decode_request(r) for r in msg.requests)
    except (ValueError, TypeError, msgpack.UnpackException, ParameterError) as e:
        raise CodecError(f"malformed command: {e}") from None
    return Entry(now_ms=msg.now_ms, requests=requests)


def _decode_request(msg: pb.Request) -> Request:
    return Request(
        command=_decode_command(msg),
        client_id=msg.client_id,
        seq=msg.seq,
        acked_seq=msg.acked_seq,
    )


def _decode_command(msg: pb.Request, nested: bool = False) -> Command:
    kind = msg.WhichOneof("command")
    if kind == "batch" and not nested:
        return Batch(tuple(_decode_command(item, nested=True) for item in msg.batch.items))
    if kind == "truncate" and not nested:
        t = msg.truncate
        return Truncate(t.namespace, t.set, t.before_ms)
    if kind == "expire" and not nested:
        return _decode_expire(msg.expire)
    if kind == "put":
        bins = unpack(msg.put.bins)
        if not isinstance(bins, dict):
            raise CodecError("put bins are not a map")
        p = msg.put
        return Put(_decode_key(p.key), bins, _decode_policy(p.policy), _decode_filter(p))
    if kind == "read":
        r = msg.read
        bins = None if r.all_bins else tuple(r.bins)
        return Read(_decode_key(r.key), bins, r.header_only, _decode_filter(r))
    if kind == "delete":
        d = msg.delete
        return Delete(_decode_key(d.key), _decode_policy(d.policy), _decode_filter(d))
    if kind == "touch":
        t = msg.touch
        return Touch(_decode_key(t.key), _decode_policy(t.policy), _decode_filter(t))
    if kind == "operate":
        o = msg.operate
        ops = tuple(_decode_op(op) for op in o.ops)
        return Operate(_decode_key(o.key), ops, _decode_policy(o.policy), _decode_filter(o))
    if kind == "create_index":
        d = msg.create_index.definition
        definition = IndexDef(
            d.namespace, d.name, d.set, d.bin, IndexType(d.type), Collection(d.collection)
        )
        return CreateIndex(d.namespace, definition)
    if kind == "drop_index":
        return DropIndex(msg.drop_index.namespace, msg.drop_index.name)
    if kind == "build_index":
        b = msg.build_index
        return BuildIndex(b.namespace, b.name, b.cursor, b.limit)
    raise CodecError(f"unknown command kind {kind!r}")


def _decode_expire(msg: pb.ExpireCommand) -> Expire:
    records = []
    for r in msg.records:
        if len(r.digest) != 16:
            raise CodecError("digest must be 16 bytes")
        records.append(ExpiredRecord(r.digest, r.generation, r.void_time_ms))
    sessions = tuple(ExpiredSession(s.client_id, s.last_seen_ms) for s in msg.sessions)
    return Expire(msg.namespace, msg.now_ms, tuple(records), sessions)


def _decode_filter(msg: pb.PutCommand | pb.ReadCommand) -> Node | None:
    return parse_filter(msg.filter) if msg.HasField("filter") else None


def _decode_key(msg: pb.CommandKey) -> Key:
    user_key = unpack(msg.user_key) if msg.user_key else None
    if user_key is not None and not isinstance(user_key, (int, str, bytes)):
        raise CodecError("user key has an unsupported type")
    if len(msg.digest) != 16:
        raise CodecError("digest must be 16 bytes")
    return Key(msg.namespace, msg.set, user_key, msg.digest)


def _decode_policy(msg: pb.CommandPolicy) -> WritePolicy:
    return WritePolicy(
        exists=RecordExistsAction(msg.exists),
        gen=GenPolicy(msg.generation_policy),
        generation=msg.generation,
        ttl=msg.ttl,
        send_key=msg.send_key,
        durable_delete=msg.durable_delete,
    )


def _decode_op(msg: pb.CommandOp) -> Op:
    return Op(
        type=OpType(msg.type),
        bin=msg.bin,
        value=unpack(msg.value) if msg.value else None,
        index=msg.index,
        count=msg.count if msg.has_count else None,
        map_key=unpack(msg.map_key) if msg.map_key else None,
    )
