"""What each client command sends and how its answer is read, shared by the sync and
asyncio clients (which differ only in how they wait)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raftstore_client import _convert as cv
from raftstore_client._session import Session
from raftstore_client.types import Meta, Record

from raftstore.commands import Op
from raftstore.errors import ParameterError, ResultCode, error_for
from raftstore.keys import Key
from raftstore.policy import DEFAULT_WRITE_POLICY, ReadMode, WritePolicy
from raftstore.v1 import exp_pb2, kv_pb2
from raftstore.wire import key_to_pb


@dataclass(frozen=True, slots=True)
class Call:
    method: str  # KV service method name
    request: Any
    key: Key  # routes the call
    write: bool
    parse: Callable[[Any], Any]
    seq: int = 0  # exactly-once sequence number of a write (0: none)
    mode: ReadMode | None = None  # read mode of a read

    @property
    def any_replica(self) -> bool:
        """Any replica may answer (SESSION and ALLOW_REPLICA reads)."""
        return self.mode in (ReadMode.SESSION, ReadMode.ALLOW_REPLICA)


def _header(header: kv_pb2.RequestHeader, session: Session | None, write: bool) -> int:
    header.no_forward = True  # learn the leader from the hint instead of being forwarded
    if not (write and session):
        return 0
    seq, acked = session.begin()
    header.client_id = session.client_id
    header.seq = seq
    header.acked_seq = acked
    return seq


def _filter(flt: exp_pb2.Expression | None, request: Any) -> None:
    """Attach a filter expression (raftstore_client.exp) to ``request``."""
    if flt is None:
        return
    if not isinstance(flt, exp_pb2.Expression):
        raise ParameterError("filter must be an expression built with raftstore_client.exp")
    request.filter.CopyFrom(flt)


def _policy(policy: WritePolicy | None, ttl: int | None) -> WritePolicy:
    p = policy or DEFAULT_WRITE_POLICY
    if ttl is not None:
        p = WritePolicy(p.exists, p.gen, p.generation, ttl, p.send_key, p.durable_delete)
    return p.validate()


def put(
    session: Session | None,
    key: Any,
    bins: Mapping[str, Any],
    policy: WritePolicy | None,
    ttl: int | None,
    flt: exp_pb2.Expression | None = None,
) -> Call:
    k = cv.key_of(key)
    req = kv_pb2.PutRequest()
    _filter(flt, req)
    key_to_pb(k, req.key)
    cv.bins_pb(bins, req.bins)
    cv.write_policy_pb(_policy(policy, ttl), req.policy)
    seq = _header(req.header, session, True)
    return Call("Put", req, k, True, lambda r: cv.meta(r.metadata), seq)


def get(
    key: Any, bins: Sequence[str] | None, mode: ReadMode, flt: exp_pb2.Expression | None = None
) -> Call:
    k = cv.key_of(key)
    req = kv_pb2.GetRequest()
    _filter(flt, req)
    key_to_pb(k, req.key)
    if bins is not None:
        if not bins or not all(isinstance(b, str) for b in bins):
            raise ParameterError("select needs a non-empty list of bin names")
        req.bins.extend(bins)
    cv.read_policy_pb(mode, req.policy)
    _header(req.header, None, False)
    return Call("Get", req, k, False, lambda r: cv.record(k, r.record), mode=mode)


def exists(key: Any, mode: ReadMode, flt: exp_pb2.Expression | None = None) -> Call:
    k = cv.key_of(key)
    req = kv_pb2.ExistsRequest()
    _filter(flt, req)
    key_to_pb(k, req.key)
    cv.read_policy_pb(mode, req.policy)
    _header(req.header, None, False)

    def parse(r: kv_pb2.ExistsResponse) -> tuple[Any, Meta | None]:
        return cv.key_tuple(k), (cv.meta(r.metadata) if r.exists else None)

    return Call("Exists", req, k, False, parse, mode=mode)


def delete(
    session: Session | None,
    key: Any,
    policy: WritePolicy | None,
    flt: exp_pb2.Expression | None = None,
) -> Call:
    k = cv.key_of(key)
    req = kv_pb2.DeleteRequest()
    _filter(flt, req)
    key_to_pb(k, req.key)
    cv.write_policy_pb(_policy(policy, None), req.policy)
    seq = _header(req.header, session, True)
    return Call("Delete", req, k, True, lambda r: None, seq)


def touch(
    session: Session | None,
    key: Any,
    ttl: int | None,
    policy: WritePolicy | None,
    flt: exp_pb2.Expression | None = None,
) -> Call:
    k = cv.key_of(key)
    req = kv_pb2.TouchRequest()
    _filter(flt, req)
    key_to_pb(k, req.key)
    cv.write_policy_pb(_policy(policy, ttl), req.policy)
    seq = _header(req.header, session, True)
    return Call("Touch", req, k, True, lambda r: cv.meta(r.metadata), seq)


def operate(
    session: Session | None,
    key: Any,
    ops: Sequence[Op],
    policy: WritePolicy | None,
    mode: ReadMode,
    ordered: bool,
    flt: exp_pb2.Expression | None = None,
) -> Call:
    k = cv.key_of(key)
    if not ops or not all(isinstance(op, Op) for op in ops):
        raise ParameterError(
            "operate needs a non-empty list of operations (raftstore_client.operations)"
        )
    req = kv_pb2.OperateRequest()
    _filter(flt, req)
    key_to_pb(k, req.key)
    for op in ops:
        cv.op_pb(op, req.operations.add())
    cv.write_policy_pb(_policy(policy, None), req.policy)
    cv.read_policy_pb(mode, req.read_policy)
    seq = _header(req.header, session, True)

    def parse(r: kv_pb2.OperateResponse) -> Any:
        if ordered:
            return cv.key_tuple(k), cv.meta(r.record.metadata), cv.op_results(r)
        return cv.record(k, r.record)

    return Call("Operate", req, k, True, parse, seq)


def batch_get(
    keys: Sequence[Key],
    bins: Sequence[str] | None,
    mode: ReadMode,
    flt: exp_pb2.Expression | None = None,
) -> Call:
    """Records of ``keys``; None for one that does not exist or that ``flt`` filters out."""
    req = kv_pb2.BatchGetRequest()
    _filter(flt, req)
    for k in keys:
        read = req.reads.add()
        key_to_pb(k, read.key)
        if bins:
            read.bins.extend(bins)
    cv.read_policy_pb(mode, req.policy)
    _header(req.header, None, False)

    def parse(r: kv_pb2.BatchGetResponse) -> list[Record | None]:
        out: list[Record | None] = []
        for k, rec in zip(keys, r.records, strict=True):
            if rec.result_code == ResultCode.OK:
                out.append(cv.record(k, rec.record))
            elif rec.result_code in (ResultCode.KEY_NOT_FOUND, ResultCode.FILTERED_OUT):
                out.append(None)
            else:
                raise error_for(rec.result_code, rec.message)
        return out

    return Call("BatchGet", req, keys[0], False, parse, mode=mode)


BATCH_KEYS = 5000  # keys per batch call at most: the server refuses larger batches


def group_keys(keys: Sequence[Any], group_of: Callable[[Key], str]) -> dict[str, list[int]]:
    """Positions of ``keys`` by partition group, at most BATCH_KEYS per entry (a group with
    more keys gets several entries, "<group>#<n>")."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(group_of(key), []).append(i)
    out: dict[str, list[int]] = {}
    for group, positions in groups.items():
        for n in range(0, len(positions), BATCH_KEYS):
            out[group if n == 0 else f"{group}#{n // BATCH_KEYS}"] = positions[n : n + BATCH_KEYS]
    return out
