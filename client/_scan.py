"""Scans on the client: which node streams which partitions, and the cursor that makes a
resumed scan return every record exactly once. Shared by ``Client.scan`` and
``AsyncClient.scan``, which differ only in how they wait.

A scan walks its partitions in order, one stream at a time. Each stream covers the run of
partitions, from the cursor on, whose groups have the same known leader (or one group when
its leader is unknown: the node asked answers with a hint). Every message of a stream
moves the cursor — every partition below ``partition`` done, and ``partition`` up to and
including ``digest`` — and its records are handed out only once the cursor is past them.
After any error (node killed, leader moved, stale map, overload, deadline) the client
learns what it can (hint, map refresh) and starts the next stream at the cursor: no
record is returned twice and none is skipped.

Give-up rule: the client stops retrying after ``timeout`` seconds *without progress* (the
clock restarts whenever a message arrives), or after ``max_retries`` retries in a row; a
long scan is bounded by its stalls, not its length. A stream lives at most
``stream_timeout`` seconds; one that ran out after making progress is simply resumed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from raftstore_client import _convert as cv
from raftstore_client._errors import Translated
from raftstore_client._routing import PartitionTable
from raftstore_client._session import RetryState
from raftstore_client.types import Record

from raftstore.errors import ParameterError, ResultCode, ServerError
from raftstore.keys import DIGEST_SIZE, N_PARTITIONS, partition_id
from raftstore.policy import ReadMode
from raftstore.v1 import kv_pb2, values_pb2
from raftstore.wire import bins_from_pb

STREAM_TIMEOUT = 60.0


@dataclass(slots=True)
class ScanPlan:
    """The partitions a scan still has to read and the request template for them."""

    namespace: str
    end: int
    partition: int
    digest: bytes
    template: kv_pb2.ScanRequest
    timeout: float
    max_retries: int | None
    retry: RetryState = field(init=False)
    progressed: bool = False

    def __post_init__(self) -> None:
        self._fresh_retry()

    def _fresh_retry(self) -> None:
        self.retry = RetryState(False, False, time.monotonic() + self.timeout, self.max_retries)

    @property
    def done(self) -> bool:
        return self.partition >= self.end

    def group(self, table: PartitionTable) -> str:
        """The group of the partition the next stream starts with."""
        return table.group_of_partition(self.namespace, self.partition)

    def next_stream(self, table: PartitionTable) -> tuple[str, kv_pb2.ScanRequest]:
        """(address, request) of the next stream: from the cursor to the end of the run of
        partitions led by the same node as the cursor's."""
        group = self.group(table)
        leader = table.leader_address(group)
        last = self.partition + 1
        while last < self.end:
            g = table.group_of_partition(self.namespace, last)
            if g != group and (leader is None or table.leader_address(g) != leader):
                break
            group = g
            last += 1
        request = kv_pb2.ScanRequest()
        request.CopyFrom(self.template)
        request.partition_filter.begin = self.partition
        request.partition_filter.count = last - self.partition
        request.partition_filter.after_digest = self.digest
        self.progressed = False
        return leader or table.address_for(self.group(table)), request

    def observe(self, response: kv_pb2.ScanResponse) -> list[Record]:
        """The records of one message; the cursor moves past them first."""
        if (response.resume_partition, response.resume_digest) < (self.partition, self.digest):
            raise ServerError(
                f"node moved the scan cursor back to partition {response.resume_partition}"
            )
        self.partition = response.resume_partition
        self.digest = response.resume_digest
        self.progressed = True
        self._fresh_retry()
        return [scanned_record(r) for r in response.records]

    def after_error(self, t: Translated) -> float | None:
        """Seconds to wait before the next stream, or None to give up (raise ``t``)."""
        if self.progressed and t.error.code == ResultCode.TIMEOUT and not t.from_server:
            return 0.0  # the stream's own deadline ran out: resume at once
        return self.retry.next_delay(t)

    @staticmethod
    def quiet(t: Translated) -> bool:
        """True when routing has nothing to learn from ``t`` (a stream deadline)."""
        return t.error.code == ResultCode.TIMEOUT and not t.from_server


def plan(
    table: PartitionTable,
    namespace: str,
    set_name: str | None,
    bins: Sequence[str] | None,
    *,
    metadata_only: bool,
    partition_begin: int,
    partition_count: int,
    after_digest: bytes | None,
    records_per_second: int,
    page_size: int,
    mode: ReadMode,
    timeout: float,
    max_retries: int | None,
    filter: Any = None,
) -> ScanPlan:
    """Check the arguments of a scan and build its plan (ParameterError,
    NamespaceNotFound)."""
    if not isinstance(partition_begin, int) or not isinstance(partition_count, int):
        raise ParameterError("partition_begin and partition_count must be integers")
    if not 0 <= partition_begin < N_PARTITIONS or not (
        1 <= partition_count <= N_PARTITIONS - partition_begin
    ):
        raise ParameterError(
            f"partitions begin={partition_begin} count={partition_count} are outside "
            f"0..{N_PARTITIONS - 1}"
        )
    digest = bytes(after_digest or b"")
    if digest and (len(digest) != DIGEST_SIZE or partition_id(digest) != partition_begin):
        raise ParameterError("after_digest must be a 16-byte digest of partition_begin")
    if bins is not None and (isinstance(bins, str) or not all(isinstance(b, str) for b in bins)):
        raise ParameterError("bins must be a list of bin names")
    if records_per_second < 0 or page_size < 0:
        raise ParameterError("records_per_second and page_size must not be negative")
    table.group_of_partition(namespace, partition_begin)  # NamespaceNotFound
    template = kv_pb2.ScanRequest(
        namespace=namespace,
        set=set_name or "",
        bins=list(bins or ()),
        metadata_only=metadata_only,
        records_per_second=records_per_second,
        page_size=page_size,
    )
    cv.read_policy_pb(mode, template.policy)
    if filter is not None:
        template.filter.CopyFrom(filter)
    return ScanPlan(
        namespace,
        partition_begin + partition_count,
        partition_begin,
        digest,
        template,
        timeout,
        max_retries,
    )


def scanned_record(rec: values_pb2.Record) -> Record:
    key = rec.key
    kind = key.WhichOneof("user_key")
    user_key: Any = getattr(key, kind) if kind else None
    return Record(
        (key.namespace, key.set, user_key, key.digest),
        cv.meta(rec.metadata),
        bins_from_pb(rec.bins),
    )
