"""Secondary indexes on the client: requests, index status, and query plans. Shared by
``Client`` and ``AsyncClient``, which differ only in how they wait.

A query runs one stream per partition group, in parallel (threads for ``Client``, tasks
for ``AsyncClient``), each with its own scan cursor (``_scan.ScanPlan`` over the group's
partitions): after any error a group's stream resumes from its last record, so every
matching record is returned exactly once. Records of different groups interleave; within
a group they come in (partition, digest) order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from raftstore_client import _scan
from raftstore_client._routing import PartitionTable

from raftstore.errors import ParameterError
from raftstore.policy import ReadMode
from raftstore.v1 import index_pb2, kv_pb2
from raftstore.v1.exp_pb2 import Expression
from raftstore.wire import value_to_pb

STREAM_TIMEOUT = _scan.STREAM_TIMEOUT
TYPES = {"NUMERIC": index_pb2.INDEX_TYPE_NUMERIC, "STRING": index_pb2.INDEX_TYPE_STRING}
COLLECTIONS = {
    "DEFAULT": index_pb2.INDEX_COLLECTION_UNSPECIFIED,
    "LIST": index_pb2.INDEX_COLLECTION_LIST,
    "MAPKEYS": index_pb2.INDEX_COLLECTION_MAPKEYS,
    "MAPVALUES": index_pb2.INDEX_COLLECTION_MAPVALUES,
}
_TYPE_NAMES = {v: k for k, v in TYPES.items()}
_COLLECTION_NAMES = {v: k for k, v in COLLECTIONS.items()}


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """An index as ``list_indexes`` reports it across the namespace's groups.

    ``ready``: built in every group (queries are served); ``progress`` 0..1: share of
    the namespace's partitions the background build has covered."""

    namespace: str
    name: str
    set: str
    bin: str
    type: str  # NUMERIC | STRING
    collection: str  # DEFAULT | LIST | MAPKEYS | MAPVALUES
    ready: bool
    progress: float
    groups: int
    groups_ready: int
    groups_total: int
    records_examined: int


def _choice(value: Any, table: dict[str, int], what: str) -> int:
    name = getattr(value, "name", value)
    if not isinstance(name, str) or name.upper() not in table:
        raise ParameterError(f"{what} must be one of {', '.join(table)}, not {value!r}")
    return table[name.upper()]


def create_request(
    namespace: str, set_name: str | None, bin_name: str, index_type: Any, collection: Any, name: str
) -> index_pb2.CreateIndexRequest:
    return index_pb2.CreateIndexRequest(
        namespace=namespace,
        set=set_name or "",
        bin=bin_name,
        type=_choice(index_type, TYPES, "index type"),  # type: ignore[arg-type]
        collection=_choice(collection, COLLECTIONS, "collection"),  # type: ignore[arg-type]
        name=name,
    )


def info(status: index_pb2.IndexStatus) -> IndexInfo:
    return IndexInfo(
        status.namespace,
        status.name,
        status.set,
        status.bin,
        _TYPE_NAMES.get(status.type, str(status.type)),
        _COLLECTION_NAMES.get(status.collection, str(status.collection)),
        status.ready,
        status.progress,
        status.groups,
        status.groups_ready,
        status.groups_total,
        status.records_examined,
    )


@dataclass(frozen=True, slots=True)
class QueryPlans:
    """One scan plan per group run of partitions, and the query wrapped around each
    of their stream requests."""

    plans: list[_scan.ScanPlan]
    template: index_pb2.QueryRequest

    def request(self, scan: kv_pb2.ScanRequest) -> index_pb2.QueryRequest:
        out = index_pb2.QueryRequest()
        out.CopyFrom(self.template)
        out.scan.CopyFrom(scan)
        return out


def plan(
    table: PartitionTable,
    namespace: str,
    set_name: str | None,
    *,
    bin_name: str,
    equals: Any,
    between: tuple[Any, Any] | None,
    index: str,
    collection: Any,
    filter: Expression | None,
    bins: Sequence[str] | None,
    page_size: int,
    records_per_second: int,
    mode: ReadMode,
    timeout: float,
    max_retries: int | None,
) -> QueryPlans:
    """Check a query's arguments (ParameterError, NamespaceNotFound) and plan its streams."""
    if (equals is None) == (between is None):
        raise ParameterError("a query takes either equals=VALUE or between=(LO, HI)")
    lo, hi = (equals, equals) if between is None else tuple(between)
    if not bin_name and not index:
        raise ParameterError("a query names the indexed bin (or the index)")
    template = index_pb2.QueryRequest(index=index, bin=bin_name or "")
    template.collection = _choice(collection, COLLECTIONS, "collection")  # type: ignore[assignment]
    try:
        value_to_pb(lo, template.lo)
        value_to_pb(hi, template.hi)
    except (TypeError, ValueError) as e:
        raise ParameterError(f"query bounds: {e}") from None
    if filter is not None:
        template.filter.CopyFrom(filter)
    plans = []
    for first, last in table.group_runs(namespace):
        plans.append(
            _scan.plan(
                table,
                namespace,
                set_name,
                bins,
                metadata_only=False,
                partition_begin=first,
                partition_count=last - first,
                after_digest=None,
                records_per_second=records_per_second,
                page_size=page_size,
                mode=mode,
                timeout=timeout,
                max_retries=max_retries,
            )
        )
    return QueryPlans(plans, template)
