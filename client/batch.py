"""Batch operations on many keys and truncation: what the client sends and what it returns.

    from raftstore_client.batch import BatchDelete, BatchRead, BatchWrite

    results = client.batch_write([
        BatchWrite(("test", "users", "alice"), {"visits": 1}),
        BatchWrite(("test", "users", "bob"), ops=[operations.increment("visits", 1)]),
        BatchDelete(("test", "users", "carol")),
        BatchRead(("test", "users", "dave"), bins=["name"]),
    ])
    for r in results:
        print(r.key[2], r.result_code.name, r.bins)

The client splits a batch by partition group (and in chunks of at most 5000 keys); each
part is one BatchOperate call to the group's leader with its own exactly-once sequence
number, applied as one Raft entry; parts run concurrently. Every item gets a
``BatchRecord`` with its result code: a failing item never fails the others (a part whose
group could not be reached gives its code to each of its items, ``in_doubt`` when its
writes may have applied).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from raftstore_client import _calls
from raftstore_client import _convert as cv
from raftstore_client._session import Session
from raftstore_client.types import KeyTuple, Meta

from raftstore.commands import Op
from raftstore.errors import ParameterError, RaftstoreError, ResultCode
from raftstore.keys import Key
from raftstore.policy import WritePolicy
from raftstore.v1 import exp_pb2, kv_pb2
from raftstore.wire import bins_from_pb, key_to_pb, value_from_pb

Expression = exp_pb2.Expression


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """Write ``bins`` (a put), or apply ``ops`` (an operate) — exactly one of them.
    ``policy``/``ttl``/``filter`` default to the batch's."""

    key: Any
    bins: Mapping[str, Any] | None = None
    ops: Sequence[Op] | None = None
    policy: WritePolicy | None = None
    ttl: int | None = None
    filter: Expression | None = None


@dataclass(frozen=True, slots=True)
class BatchDelete:
    key: Any
    policy: WritePolicy | None = None
    filter: Expression | None = None


@dataclass(frozen=True, slots=True)
class BatchRead:
    """Read ``bins`` (None: every bin) or only the metadata (``header_only``), through the
    log like every other item: it sees the writes before it in the same batch."""

    key: Any
    bins: Sequence[str] | None = None
    header_only: bool = False
    filter: Expression | None = None


BatchItem = BatchWrite | BatchDelete | BatchRead


class BatchRecord(NamedTuple):
    """One item's outcome. ``meta`` is set when the item succeeded (None for a delete);
    ``bins`` for a read or an operate (its last result per bin); ``ops`` lists an
    operate's results in order."""

    key: KeyTuple
    result_code: ResultCode
    meta: Meta | None = None
    bins: dict[str, Any] | None = None
    ops: list[tuple[str, Any]] | None = None
    in_doubt: bool = False
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.result_code == ResultCode.OK


def failed(key: Key, error: RaftstoreError) -> BatchRecord:
    return BatchRecord(cv.key_tuple(key), error.code, in_doubt=error.in_doubt, message=str(error))


def item_pb(item: BatchItem, out: kv_pb2.BatchItem) -> Key:
    """Fill ``out`` from ``item``; ParameterError for a malformed item."""
    key = cv.key_of(item.key)
    key_to_pb(key, out.key)
    if isinstance(item, BatchWrite):
        if (item.bins is None) == (item.ops is None):
            raise ParameterError("BatchWrite needs bins or ops (one of them)")
        if item.bins is not None:
            out.type = kv_pb2.BATCH_ITEM_TYPE_PUT
            cv.bins_pb(item.bins, out.bins)
        else:
            if not item.ops or not all(isinstance(op, Op) for op in item.ops):
                raise ParameterError("BatchWrite ops must be a non-empty list of operations")
            out.type = kv_pb2.BATCH_ITEM_TYPE_OPERATE
            for op in item.ops:
                cv.op_pb(op, out.operations.add())
        if item.policy is not None or item.ttl is not None:
            cv.write_policy_pb(_calls._policy(item.policy, item.ttl), out.policy)
    elif isinstance(item, BatchDelete):
        out.type = kv_pb2.BATCH_ITEM_TYPE_DELETE
        if item.policy is not None:
            cv.write_policy_pb(_calls._policy(item.policy, None), out.policy)
    elif isinstance(item, BatchRead):
        out.type = kv_pb2.BATCH_ITEM_TYPE_READ
        if item.bins is not None:
            if not item.bins or not all(isinstance(b, str) for b in item.bins):
                raise ParameterError("BatchRead bins must be a non-empty list of bin names")
            out.read_bins.extend(item.bins)
        out.header_only = item.header_only
    else:
        raise ParameterError(f"not a batch item: {item!r}")
    if item.filter is not None:
        _calls._filter(item.filter, out)
    return key


def call(
    session: Session | None,
    keys: list[Key],
    items: list[kv_pb2.BatchItem],
    policy: WritePolicy | None,
    ttl: int | None,
    flt: Expression | None,
) -> _calls.Call:
    """One BatchOperate call for items of one group (``keys`` route it)."""
    req = kv_pb2.BatchOperateRequest()
    req.items.extend(items)
    if policy is not None or ttl is not None:
        cv.write_policy_pb(_calls._policy(policy, ttl), req.policy)
    _calls._filter(flt, req)
    seq = _calls._header(req.header, session, True)

    def parse(r: kv_pb2.BatchOperateResponse) -> list[BatchRecord]:
        return [record(k, res) for k, res in zip(keys, r.results, strict=True)]

    return _calls.Call("BatchOperate", req, keys[0], True, parse, seq)


def record(key: Key, res: kv_pb2.BatchItemResult) -> BatchRecord:
    code = _code(res.result_code)
    if code != ResultCode.OK:
        return BatchRecord(cv.key_tuple(key), code, in_doubt=res.in_doubt, message=res.message)
    bins = bins_from_pb(res.record.bins) if res.record.bins else None
    ops = [(r.bin, value_from_pb(r.value)) for r in res.results] or None
    return BatchRecord(cv.key_tuple(key), code, cv.meta(res.record.metadata), bins, ops)


def _code(value: int) -> ResultCode:
    try:
        return ResultCode(value)
    except ValueError:
        return ResultCode.SERVER_ERROR


class Plan(NamedTuple):
    """A batch split into calls: ``parts`` (positions, keys, call); ``done`` the items
    refused before sending (malformed, or of a namespace the cluster does not have)."""

    parts: list[tuple[list[int], list[Key], _calls.Call]]
    done: dict[int, BatchRecord]
    size: int


def plan(
    session: Session | None,
    items: Sequence[BatchItem],
    group_of: Callable[[Key], str],
    policy: WritePolicy | None,
    ttl: int | None,
    flt: Expression | None,
) -> Plan:
    if flt is not None and not isinstance(flt, Expression):
        raise ParameterError("filter must be an expression built with raftstore_client.exp")
    done: dict[int, BatchRecord] = {}
    keys: dict[int, Key] = {}
    msgs: dict[int, kv_pb2.BatchItem] = {}
    for i, item in enumerate(items):
        msg = kv_pb2.BatchItem()
        try:
            key = item_pb(item, msg)
            group_of(key)
        except RaftstoreError as e:
            done[i] = BatchRecord(_key_tuple(item), e.code, message=str(e))
            continue
        keys[i], msgs[i] = key, msg
    order = sorted(keys)
    grouped = _calls.group_keys([keys[i] for i in order], group_of)
    parts = []
    for positions in grouped.values():
        idx = [order[p] for p in positions]
        part_keys = [keys[i] for i in idx]
        c = call(session, part_keys, [msgs[i] for i in idx], policy, ttl, flt)
        parts.append((idx, part_keys, c))
    return Plan(parts, done, len(items))


def assemble(p: Plan, outcomes: list[list[BatchRecord] | RaftstoreError]) -> list[BatchRecord]:
    """Results in item order from each part's records (or the error that failed it)."""
    out: list[BatchRecord | None] = [None] * p.size
    for i, rec in p.done.items():
        out[i] = rec
    for (idx, keys, _), outcome in zip(p.parts, outcomes, strict=True):
        if isinstance(outcome, RaftstoreError):
            for i, key in zip(idx, keys, strict=True):
                out[i] = failed(key, outcome)
        else:
            for i, rec in zip(idx, outcome, strict=True):
                out[i] = rec
    return [r for r in out if r is not None]


def _key_tuple(item: Any) -> KeyTuple:
    try:
        return cv.key_tuple(cv.key_of(item.key))
    except Exception:
        return ("", "", getattr(item, "key", None), b"")


def truncate_call(
    session: Session | None, namespace: str, set_name: str | None, before_ms: int | None
) -> _calls.Call:
    """A Truncate call, sent to the leader of the namespace's first group, which proposes
    it to every group (forwarding as needed)."""
    if before_ms is not None and (
        isinstance(before_ms, bool) or not isinstance(before_ms, int) or before_ms <= 0
    ):
        raise ParameterError("before_ms must be a positive unix time in ms (None: now)")
    req = kv_pb2.TruncateRequest(namespace=namespace, set=set_name or "", before_ms=before_ms or 0)
    seq = _calls._header(req.header, session, True)
    req.header.no_forward = False  # the node fans out to every group's leader
    route = Key.of(namespace, "", 0)

    def parse(r: kv_pb2.TruncateResponse) -> dict[str, int]:
        return {g.group_id: g.lut_ms for g in r.groups}

    return _calls.Call("Truncate", req, route, True, parse, seq)
