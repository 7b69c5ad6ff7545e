"""Server side of the protobuf boundary: requests -> commands, results -> responses.

Everything that can be checked without the record is checked here, before a command is
proposed: malformed keys and values, unknown enum values, operation shapes, and the size
of values: one request's values hold at most ``max_elements`` list items and map entries
(RECORD_TOO_BIG beyond; the node passes its ``[limits] max_elements``), charged container
by container before the items are decoded, so a huge list costs nothing to refuse and an
admitted one a bounded time to convert (and to validate again when applied, on every
replica's event loop: about 1 µs per element). A filter expression is parsed and type
checked here too (``raftstore.expressions``): a malformed one is PARAMETER_ERROR.
"""

from __future__ import annotations

from typing import Any

from raftstore.commands import Command, Delete, Op, Operate, OpType, Put, Read, Result, Touch
from raftstore.errors import ParameterError, RaftstoreError
from raftstore.expressions import Node, parse_filter
from raftstore.keys import N_PARTITIONS, Key, validate_namespace, validate_set
from raftstore.policy import GenPolicy, ReadMode, RecordExistsAction, WritePolicy
from raftstore.scan import DEFAULT_PAGE_SIZE, ScanSpec, Selected
from raftstore.v1 import kv_pb2, values_pb2
from raftstore.wire import (
    ElementBudget,
    bins_from_pb,
    bins_to_pb,
    key_from_pb,
    key_to_pb,
    value_from_pb,
    value_to_pb,
)

MAX_ELEMENTS = 20_000
MAX_BATCH_KEYS = 5000  # Aerospike's batch-max-requests default


def _enum(cls: type, value: int, default: int, what: str) -> object:
    if value == 0:
        return cls(default)
    try:
        return cls(value)
    except ValueError:
        raise ParameterError(f"unknown {what} {value}") from None


def write_policy(msg: kv_pb2.WritePolicy) -> WritePolicy:
    return WritePolicy(
        exists=_enum(
            RecordExistsAction, msg.exists, RecordExistsAction.UPDATE, "record-exists action"
        ),
        gen=_enum(GenPolicy, msg.generation_policy, GenPolicy.NONE, "generation policy"),
        generation=msg.generation,
        ttl=msg.ttl,
        send_key=msg.send_key,
        durable_delete=msg.durable_delete,
    ).validate()


def read_mode(msg: kv_pb2.ReadPolicy) -> ReadMode:
    return _enum(ReadMode, msg.read_mode, ReadMode.LINEARIZE, "read mode")  # type: ignore[return-value]


def filter_of(req: Any) -> Node | None:
    """The request's parsed filter expression (None when it has none)."""
    return parse_filter(req.filter) if req.HasField("filter") else None


def put_command(req: kv_pb2.PutRequest, max_elements: int = MAX_ELEMENTS) -> Put:
    if not req.bins:
        raise ParameterError("put needs at least one bin")
    budget = ElementBudget(max_elements)
    bins = bins_from_pb(req.bins, budget)
    return Put(key_from_pb(req.key), bins, write_policy(req.policy), filter_of(req))


def get_command(req: kv_pb2.GetRequest) -> Read:
    bins = tuple(req.bins) if req.bins else None
    return Read(key_from_pb(req.key), bins, req.header_only, filter_of(req))


def exists_command(req: kv_pb2.ExistsRequest) -> Read:
    return Read(key_from_pb(req.key), None, header_only=True, filter=filter_of(req))


def delete_command(req: kv_pb2.DeleteRequest) -> Delete:
    return Delete(key_from_pb(req.key), write_policy(req.policy), filter_of(req))


def touch_command(req: kv_pb2.TouchRequest) -> Touch:
    return Touch(key_from_pb(req.key), write_policy(req.policy), filter_of(req))


def operate_command(req: kv_pb2.OperateRequest, max_elements: int = MAX_ELEMENTS) -> Operate:
    if not req.operations:
        raise ParameterError("operate needs at least one operation")
    budget = ElementBudget(max_elements)
    ops = tuple(_op(o, budget) for o in req.operations)
    return Operate(key_from_pb(req.key), ops, write_policy(req.policy), filter_of(req))


def _op(msg: kv_pb2.Operation, budget: ElementBudget) -> Op:
    try:
        kind = OpType(msg.type)
    except ValueError:
        raise ParameterError(f"unknown operation type {msg.type}") from None
    return Op(
        type=kind,
        bin=msg.bin,
        value=value_from_pb(msg.value, 0, budget) if msg.HasField("value") else None,
        index=msg.index,
        count=msg.count if msg.HasField("count") else None,
        map_key=value_from_pb(msg.map_key, 0, budget) if msg.HasField("map_key") else None,
    )


def batch_reads(req: kv_pb2.BatchGetRequest) -> list[Read]:
    if len(req.reads) > MAX_BATCH_KEYS:
        raise ParameterError(f"a batch holds at most {MAX_BATCH_KEYS} keys, not {len(req.reads)}")
    flt = filter_of(req)  # one tree shared by every key
    return [batch_read(r, flt) for r in req.reads]


def batch_read(msg: kv_pb2.BatchRead, flt: Node | None = None) -> Read:
    bins = tuple(msg.bins) if msg.bins else None
    return Read(key_from_pb(msg.key), bins, msg.header_only, flt)


def batch_items(
    req: kv_pb2.BatchOperateRequest, max_elements: int = MAX_ELEMENTS
) -> list[Command | RaftstoreError]:
    """One command per item, or the error that refuses that item alone (a malformed key,
    value, policy or filter of its own); raises ParameterError for the whole request when
    it is empty, holds more than MAX_BATCH_KEYS items, or its batch policy or filter is
    malformed."""
    if not req.items:
        raise ParameterError("a batch needs at least one item")
    if len(req.items) > MAX_BATCH_KEYS:
        raise ParameterError(f"a batch holds at most {MAX_BATCH_KEYS} keys, not {len(req.items)}")
    policy = write_policy(req.policy)
    flt = filter_of(req)
    out: list[Command | RaftstoreError] = []
    for item in req.items:
        try:
            out.append(batch_item(item, policy, flt, max_elements))
        except RaftstoreError as e:
            out.append(e)
    return out


def batch_item(
    msg: kv_pb2.BatchItem, policy: WritePolicy, flt: Node | None, max_elements: int
) -> Command:
    key = key_from_pb(msg.key)
    if msg.HasField("policy"):
        policy = write_policy(msg.policy)
    if msg.HasField("filter"):
        flt = parse_filter(msg.filter)
    kind = msg.type
    if kind == kv_pb2.BATCH_ITEM_TYPE_PUT:
        if not msg.bins:
            raise ParameterError("put needs at least one bin")
        return Put(key, bins_from_pb(msg.bins, ElementBudget(max_elements)), policy, flt)
    if kind == kv_pb2.BATCH_ITEM_TYPE_DELETE:
        return Delete(key, policy, flt)
    if kind == kv_pb2.BATCH_ITEM_TYPE_TOUCH:
        return Touch(key, policy, flt)
    if kind == kv_pb2.BATCH_ITEM_TYPE_OPERATE:
        if not msg.operations:
            raise ParameterError("operate needs at least one operation")
        budget = ElementBudget(max_elements)
        return Operate(key, tuple(_op(o, budget) for o in msg.operations), policy, flt)
    if kind == kv_pb2.BATCH_ITEM_TYPE_READ:
        bins = tuple(msg.read_bins) if msg.read_bins else None
        return Read(key, bins, msg.header_only, flt)
    raise ParameterError(f"unknown batch item type {kind}")


# --- responses ------------------------------------------------------------------------


def ttl_seconds(void_time_ms: int, now_ms: int) -> int:
    if void_time_ms == 0:
        return -1
    return max(1, -(-(void_time_ms - now_ms) // 1000))


def metadata(result: Result, now_ms: int, out: values_pb2.RecordMetadata) -> None:
    out.generation = result.generation
    out.ttl = ttl_seconds(result.void_time_ms, now_ms)
    out.last_update_ms = result.last_update_ms


def write_response(key: Key, result: Result, now_ms: int) -> kv_pb2.WriteResponse:
    resp = kv_pb2.WriteResponse()
    key_to_pb(key, resp.key)
    metadata(result, now_ms, resp.metadata)
    return resp


def record(key: Key, result: Result, now_ms: int, out: values_pb2.Record) -> None:
    key_to_pb(key, out.key)
    metadata(result, now_ms, out.metadata)
    if result.bins:
        bins_to_pb(result.bins, out.bins)


def get_response(key: Key, result: Result, now_ms: int) -> kv_pb2.GetResponse:
    resp = kv_pb2.GetResponse()
    record(key, result, now_ms, resp.record)
    return resp


def exists_response(result: Result, now_ms: int) -> kv_pb2.ExistsResponse:
    resp = kv_pb2.ExistsResponse(exists=result.ok)
    if result.ok:
        metadata(result, now_ms, resp.metadata)
    return resp


def operate_response(key: Key, result: Result, now_ms: int) -> kv_pb2.OperateResponse:
    resp = kv_pb2.OperateResponse()
    key_to_pb(key, resp.record.key)
    metadata(result, now_ms, resp.record.metadata)
    for bin_name, value in result.op_results:
        value_to_pb(value, resp.results.add(bin=bin_name).value)
        value_to_pb(value, resp.record.bins[bin_name])
    return resp


def batch_item_result(key: Key, result: Result, now_ms: int, out: kv_pb2.BatchItemResult) -> None:
    """One item's result: its code and message; when OK, metadata, read bins and operate
    results (as ``operate_response`` lays them out)."""
    out.result_code = int(result.code)
    out.message = result.message
    key_to_pb(key, out.record.key)
    if not result.ok:
        return
    metadata(result, now_ms, out.record.metadata)
    if result.bins:
        bins_to_pb(result.bins, out.record.bins)
    for bin_name, value in result.op_results:
        value_to_pb(value, out.results.add(bin=bin_name).value)
        value_to_pb(value, out.record.bins[bin_name])


# --- scans ------------------------------------------------------------------------------


def scan_spec(req: kv_pb2.ScanRequest) -> ScanSpec:
    """The validated scan a request asks for (ParameterError otherwise). SESSION is served
    as LINEARIZE: a scan has no session position to wait for."""
    begin, end, after = 0, N_PARTITIONS, b""
    if req.HasField("partition_filter"):
        f = req.partition_filter
        begin, end, after = f.begin, f.begin + f.count, f.after_digest
    mode = read_mode(req.policy)
    if mode is ReadMode.SESSION:
        mode = ReadMode.LINEARIZE
    return ScanSpec(
        namespace=validate_namespace(req.namespace),
        set_name=validate_set(req.set),
        bins=tuple(req.bins) if req.bins else None,
        metadata_only=req.metadata_only,
        begin=begin,
        end=end,
        after_digest=after,
        records_per_second=req.records_per_second,
        page_size=req.page_size or DEFAULT_PAGE_SIZE,
        mode=mode,
        filter=parse_filter(req.filter) if req.HasField("filter") else None,
    ).validate()


def scanned_record(namespace: str, sel: Selected, now_ms: int, out: values_pb2.Record) -> None:
    rec = sel.record
    key_to_pb(Key(namespace, rec.set_name, rec.user_key, sel.digest), out.key)
    out.metadata.generation = rec.generation
    out.metadata.ttl = ttl_seconds(rec.void_time_ms, now_ms)
    out.metadata.last_update_ms = rec.last_update_ms
    if rec.bins:
        bins_to_pb(rec.bins, out.bins)
