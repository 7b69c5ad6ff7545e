"""nsup: this node's background removal of expired records (Aerospike's namespace supervisor).

For every namespace whose ``nsup_period`` (``namespace_settings``) is not 0, once per
period, the node sweeps each partition group of the namespace that it leads: it reads the
group's records in slices of ``slice_rows`` (``raftstore.expiry.expired_rows``, about a
millisecond of the event loop each, with a yield between slices) and proposes the expired
ones it found, ``EXPIRE_BATCH`` at a time, as ``commands.Expire`` entries through the
group's Raft log. Every replica applies them identically: a record is deleted (with its
secondary-index rows, in the entry's write batch) only if it is still unchanged and
expired at the sweep's clock — a record rewritten or touched since the sweep survives.
Proposals are throttled to ``nsup_deletes_per_second`` records per node (a token bucket
shared by every namespace), so a mass expiry cannot crowd out client writes. A sweep stops
as soon as the node no longer leads the group (the next leader sweeps at its next
period); a proposal lost to a leader change is harmless.

After a sweep that deleted records, the group's column family is compacted off the event
loop (RocksDB releases the GIL), so the freed space shows in the store's size estimates —
which ``stop_writes`` reads — soon rather than at RocksDB's next compaction.

After its records, a group's sweep reads its exactly-once sessions the same way and
deletes those of clients idle for more than ``SESSION_IDLE_RESET_MS`` (one hour), also
through the log (``Expire.sessions``): such a session already counts as absent, so only
the disk changes — without it every client that ever wrote would keep a row forever.

Counts (``NamespaceExpiry``, per group ``group_expired``) are shown by ``raftstore info``
(cluster.proto NodeStatus.namespaces) and /metrics.

Thread: the node's event loop thread (compactions on the default executor's threads).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from raftstore_node.cluster_state import SYSTEM_NAMESPACE
from raftstore_node.namespace_settings import NamespaceSettings
from raftstore_node.services.kv import now_ms, propose
from raftstore_node.stop_writes import compact

from raftstore.commands import Expire, ExpiredRecord, Request
from raftstore.errors import RaftstoreError
from raftstore.expiry import expired_rows, idle_sessions
from raftstore.namespaces import parse_group_id
from raftstore.replication.group import NotLeader
from raftstore.replication.replica import Replica
from raftstore.state_machine import SESSION_IDLE_RESET_MS

log = logging.getLogger("raftstore.nsup")
TICK = 0.2  # seconds between looks for a namespace whose sweep is due
SLICE_ROWS = 200  # rows read per slice (about 1 ms of the loop)
EXPIRE_BATCH = 50  # records per Expire entry (about 1 ms to apply on every replica)
PROPOSE_TIMEOUT = 10.0


@dataclass(slots=True)
class NamespaceExpiry:
    """Counters of one namespace's sweeps on this node since it started."""

    expired: int = 0  # records deleted by this node's Expire entries
    examined: int = 0  # records read by its sweeps
    sweeps: int = 0  # group sweeps completed
    last_sweep_seconds: float = 0.0  # duration of the namespace's last sweep
    last_rate: float = 0.0  # records examined per second of that sweep
    sessions: int = 0  # idle client sessions deleted


class Nsup:
    """Sweeps the groups this node leads for expired records (see the module docstring)."""

    def __init__(
        self,
        groups: dict[str, Replica],
        settings_of: Callable[[str], NamespaceSettings],
        slice_rows: int = SLICE_ROWS,
    ) -> None:
        self._groups = groups
        self._settings_of = settings_of
        self.slice_rows = slice_rows
        self.stats: dict[str, NamespaceExpiry] = {}
        self.group_expired: Counter[str] = Counter()
        self._due: dict[str, float] = {}
        self._bucket_free_at = 0.0  # monotonic time the throttle's next delete is allowed

    def namespaces(self) -> list[str]:
        """The user namespaces this node holds groups of (not the cluster's metadata)."""
        names = {parse_group_id(gid)[0] for gid in list(self._groups)}
        return sorted(names - {SYSTEM_NAMESPACE})

    def stats_of(self, namespace: str) -> NamespaceExpiry:
        return self.stats.setdefault(namespace, NamespaceExpiry())

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            for ns in self.namespaces():
                period = self._settings_of(ns).nsup_period
                now = time.monotonic()
                if period <= 0 or now < self._due.setdefault(ns, now + period):
                    continue
                try:
                    await self.sweep_namespace(ns)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a bug must not stop every later sweep
                    log.exception("nsup sweep of namespace %s failed", ns)
                self._due[ns] = time.monotonic() + period

    async def sweep_namespace(self, namespace: str) -> int:
        """Sweep every group of ``namespace`` this node leads; the records deleted."""
        start = time.monotonic()
        stats = self.stats_of(namespace)
        examined_before, deleted = stats.examined, 0
        for gid, replica in sorted(self._groups.items()):
            if parse_group_id(gid)[0] == namespace and replica.is_leader:
                deleted += await self.sweep_group(gid, replica)
        elapsed = time.monotonic() - start
        stats.last_sweep_seconds = elapsed
        stats.last_rate = (stats.examined - examined_before) / elapsed if elapsed > 0 else 0.0
        return deleted

    async def sweep_group(self, gid: str, replica: Replica) -> int:
        """One sweep of group ``gid`` while this node leads it; the records deleted."""
        namespace = parse_group_id(gid)[0]
        stats = self.stats_of(namespace)
        store = replica.store
        after: bytes | None = None
        deleted = 0
        while self._groups.get(gid) is replica and replica.is_leader:
            clock = now_ms()
            part = expired_rows(store, namespace, after, self.slice_rows, clock)
            stats.examined += part.examined
            for i in range(0, len(part.expired), EXPIRE_BATCH):
                chunk = part.expired[i : i + EXPIRE_BATCH]
                gone = await self._expire(replica, namespace, clock, chunk)
                if gone is None:
                    return self._swept(gid, replica, deleted)
                deleted += gone
            after = part.cursor
            if after is None:
                stats.sweeps += 1
                break
            await asyncio.sleep(0)
        else:
            return self._swept(gid, replica, deleted)
        await self.sweep_sessions(gid, replica)
        return self._swept(gid, replica, deleted)

    async def sweep_sessions(self, gid: str, replica: Replica) -> int:
        """Delete, through the log, the group's deduplication sessions idle for longer
        than SESSION_IDLE_RESET_MS (clients that went away); the number deleted."""
        namespace = parse_group_id(gid)[0]
        stats = self.stats_of(namespace)
        after: bytes | None = None
        deleted = 0
        while self._groups.get(gid) is replica and replica.is_leader:
            clock = now_ms()
            part = idle_sessions(
                replica.store, after, self.slice_rows, clock, SESSION_IDLE_RESET_MS
            )
            for i in range(0, len(part.idle), EXPIRE_BATCH):
                chunk = part.idle[i : i + EXPIRE_BATCH]
                await self._throttle(
                    len(chunk), self._settings_of(namespace).nsup_deletes_per_second
                )
                request = Request(Expire(namespace, clock, (), chunk))
                try:
                    result = await propose(
                        replica, request, time.monotonic() + PROPOSE_TIMEOUT, True
                    )
                except (NotLeader, RaftstoreError) as e:
                    log.debug("session expiry in %s not applied: %s", gid, e)
                    return deleted
                gone = int(result.bins.get("sessions", 0)) if result.ok and result.bins else 0
                deleted += gone
                stats.sessions += gone
            after = part.cursor
            if after is None:
                break
            await asyncio.sleep(0)
        if deleted:
            log.info("group %s: nsup deleted %d idle client sessions", gid, deleted)
        return deleted

    def _swept(self, gid: str, replica: Replica, deleted: int) -> int:
        if deleted:
            log.info("group %s: nsup deleted %d expired records", gid, deleted)
            self.stats_of(parse_group_id(gid)[0]).expired += deleted
            self.group_expired[gid] += deleted
            asyncio.get_running_loop().create_task(compact(replica))
        return deleted

    async def _expire(
        self, replica: Replica, namespace: str, clock: int, chunk: tuple[ExpiredRecord, ...]
    ) -> int | None:
        """Propose one Expire (throttled); the records it deleted, None if not applied."""
        await self._throttle(len(chunk), self._settings_of(namespace).nsup_deletes_per_second)
        request = Request(Expire(namespace, clock, chunk))
        try:
            result = await propose(replica, request, time.monotonic() + PROPOSE_TIMEOUT, True)
        except (NotLeader, RaftstoreError) as e:
            log.debug("expire in %s not applied: %s", replica.group_id, e)
            return None
        return result.generation if result.ok else 0

    async def _throttle(self, deletes: int, per_second: int) -> None:
        """Wait until ``deletes`` more fit in the node's rate (a token bucket)."""
        now = time.monotonic()
        start = max(now, self._bucket_free_at)
        self._bucket_free_at = start + deletes / per_second
        if start > now:
            await asyncio.sleep(start - now)
