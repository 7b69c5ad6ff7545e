"""Stop-writes: a namespace's cap on the bytes it stores on a node.

A namespace with ``stop_writes_size`` (``namespace_settings``) stops taking writes that
can grow its data — puts, operates that write, batches holding them — on a node whose
groups of the namespace store that many bytes or more; the node refuses them at once, as
leader of the record's group, with FORBIDDEN (22, Aerospike's answer to stop-writes) and a
message naming the namespace, the size and the cap. Reads, deletes, touches and truncates
go on, so an operator (or expiry, ``nsup``) can make room; writes resume at the next
refresh after the stored size falls below the cap.

The size is the sum, over this node's replicas of the namespace's groups, of RocksDB's
estimate for the group's column family (live data in SST files plus memtables,
``GroupStore.approximate_size``), refreshed every ``REFRESH`` seconds by ``run`` — never
per request. Deleted rows stop counting once compacted: the truncation sweeper and nsup
compact a group after deleting from it. It mirrors the node-wide disk check
(``admission.DiskSpace`` and OUT_OF_SPACE), which protects the file system as a whole.

Thread: the node's event loop thread; compactions (``compact``) on the ``compact`` thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from raftstore_node.namespace_settings import NamespaceSettings
from raftstore_node.parsing import RateLimitedLog

from raftstore.commands import READ_ONLY_OPS, Batch, Command, Operate, OpType, Put
from raftstore.errors import Forbidden
from raftstore.namespaces import parse_group_id
from raftstore.replication.replica import Replica

log = logging.getLogger("raftstore.node.stop_writes")
REFRESH = 1.0  # seconds between two measurements of the namespaces' sizes
_SHRINKING_OPS = READ_ONLY_OPS | {OpType.DELETE, OpType.TOUCH}


def grows(command: Command) -> bool:
    """True for a command that can add data: a put, an operate with a writing op, a batch
    holding one. Deletes, touches, reads and truncates cannot."""
    if isinstance(command, Put):
        return True
    if isinstance(command, Operate):
        return any(op.type not in _SHRINKING_OPS for op in command.ops)
    if isinstance(command, Batch):
        return any(grows(c) for c in command.commands)
    return False


class StopWrites:
    """Per namespace: this node's stored bytes against its ``stop_writes_size``."""

    def __init__(
        self, groups: dict[str, Replica], settings_of: Callable[[str], NamespaceSettings]
    ) -> None:
        self._groups = groups
        self._settings_of = settings_of
        self.sizes: dict[str, int] = {}
        self.refused = RateLimitedLog(log, "writes refused by stop-writes (FORBIDDEN)")

    def refresh(self) -> None:
        """Measure every namespace's stored bytes on this node (a few µs per group)."""
        sizes: dict[str, int] = {}
        for gid, replica in list(self._groups.items()):
            ns = parse_group_id(gid)[0]
            sizes[ns] = sizes.get(ns, 0) + _size(replica)
        self.sizes = sizes

    async def run(self) -> None:
        while True:
            self.refresh()
            await asyncio.sleep(REFRESH)

    def cap(self, namespace: str) -> int:
        return self._settings_of(namespace).stop_writes_size

    def stopped(self, namespace: str) -> bool:
        """True when ``namespace`` has a cap and its last measured size reached it."""
        cap = self.cap(namespace)
        return cap > 0 and self.sizes.get(namespace, 0) >= cap

    def check(self, namespace: str) -> None:
        """Raise Forbidden when ``namespace`` is at stop-writes on this node."""
        if self.stopped(namespace):
            size, cap = self.sizes.get(namespace, 0), self.cap(namespace)
            self.refused.note(f"namespace {namespace}: {size} bytes, cap {cap}")
            raise Forbidden(
                f"namespace {namespace!r} is at stop-writes: it stores {size} bytes on this "
                f"node, at or above its stop_writes_size {cap}; delete, truncate or let "
                "records expire to write again"
            )


def _size(replica: Replica) -> int:
    try:
        return int(replica.store.approximate_size())  # type: ignore[attr-defined]
    except Exception:  # a closed store or a test double: counts as empty
        return 0


_COMPACT_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compact")
_COMPACTING: set[Future[None]] = set()


async def compact(replica: Replica) -> None:
    """Compact the replica's column family on the ``compact`` thread, off the event loop
    (after the truncation sweeper or nsup deleted rows from it), so that the deleted rows
    stop counting in its size; nothing for a store that cannot (a test double)."""
    store = replica.store
    run = getattr(store, "compact", None)
    if run is None:
        return
    job = _COMPACT_POOL.submit(run)
    _COMPACTING.add(job)
    job.add_done_callback(_COMPACTING.discard)
    try:
        await asyncio.wrap_future(job)
    except Exception:  # a store closed or replaced under us: RocksDB compacts on its own
        log.debug("compaction of %s skipped", replica.group_id, exc_info=True)


async def compactions_done() -> None:
    """Wait for the compactions under way (the node stops only after them: a compaction
    must not outlive the engine)."""
    pending = list(_COMPACTING)
    if pending:
        await asyncio.to_thread(wait, pending)
