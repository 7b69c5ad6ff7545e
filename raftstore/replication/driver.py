"""The raft loop: drives every partition group of a node on the asyncio event loop.

pysyncobj normally runs one thread, one poller and one port per group. raftstore runs
all groups on the node's single event loop instead (autoTick off): the mesh delivers
messages straight into a group, and the driver ticks a group as soon as it has work
(a proposal, a received message) and every ``tick_interval`` for timers (heartbeats,
elections, check-quorum). All Raft state is touched by the loop thread only.

Durability without blocking the loop. fdatasync runs on a small thread pool:

- a group whose journal has unsynced writes is not ticked; its journal's sync starts
  (``begin_sync``) and the group is ticked when the sync finishes, so the commit index
  pysyncobj computes in a tick only ever counts durable entries;
- acknowledgements wait in ``GroupTransport.held`` until the entries they acknowledge are
  durable, then leave;
- right after a tick appended proposals, the leader's sync starts, overlapping with its
  followers' network round trip and fsync.

While a sync is in flight the loop keeps serving requests and messages; proposals that
arrive meanwhile join the group's next entry (group commit).
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor

from raftstore.replication.group import GroupReplica
from raftstore.replication.journal import JournalError, SyncToken

log = logging.getLogger(__name__)


class RaftDriver:
    def __init__(self, loop: asyncio.AbstractEventLoop, tick_interval: float = 0.025) -> None:
        self._loop = loop
        self._tick_interval = tick_interval
        self._groups: dict[str, GroupReplica] = {}
        self._dirty: dict[str, GroupReplica] = {}
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fsync")

    @property
    def groups(self) -> dict[str, GroupReplica]:
        return self._groups

    def add(self, group: GroupReplica) -> None:
        self._groups[group.group_id] = group
        group.on_dirty = self.mark_dirty

    def remove(self, group: GroupReplica) -> None:
        """Stop driving ``group`` (its replica is being closed); its journal is synced."""
        self._groups.pop(group.group_id, None)
        self._dirty.pop(group.group_id, None)
        group.on_dirty = lambda g: None

    def start(self) -> None:
        self._timer = self._loop.call_later(self._tick_interval, self._periodic)

    def stop(self) -> None:
        """Stop ticking and make every journal durable."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        self._pool.shutdown(wait=True)
        for group in self._groups.values():
            try:
                group.journal.sync()
            except JournalError:
                log.exception("group %s: final journal sync failed", group.group_id)

    def mark_dirty(self, group: GroupReplica) -> None:
        self._dirty[group.group_id] = group
        if not self._scheduled and not self._stopped:
            self._scheduled = True
            self._loop.call_soon(self._run)

    def _periodic(self) -> None:
        if self._stopped:
            return
        self._dirty.update(self._groups)
        self._run()
        self._timer = self._loop.call_later(self._tick_interval, self._periodic)

    def _run(self) -> None:
        self._scheduled = False
        if self._stopped:
            return
        dirty = list(self._dirty.values())
        self._dirty = {}
        for group in dirty:
            if group.journal.sync_in_flight:
                continue  # ticked when its sync finishes
            if group.journal.needs_sync:
                self._start_sync(group)
                continue
            self._tick(group)
            if group.journal.needs_sync:
                self._start_sync(group)

    def _start_sync(self, group: GroupReplica) -> None:
        token = group.journal.begin_sync()
        if token is None:
            return
        future = self._pool.submit(token.run)
        future.add_done_callback(
            lambda _f: self._loop.call_soon_threadsafe(self._sync_done, group, token)
        )

    def _sync_done(self, group: GroupReplica, token: SyncToken) -> None:
        try:
            group.journal.finish_sync(token)
        except JournalError:
            fail_stop(f"group {group.group_id}: the Raft journal could not be made durable")
        group.transport.release()
        self.mark_dirty(group)

    @staticmethod
    def _tick(group: GroupReplica) -> None:
        try:
            group.tick()
        except JournalError:
            fail_stop(f"group {group.group_id}: journal failure")
        except Exception:
            log.exception("group %s: tick failed", group.group_id)


def fail_stop(what: str) -> None:
    """Stop the process at once: continuing could acknowledge writes that are not durable."""
    log.critical("%s; stopping the node (fail-stop)", what, exc_info=True)
    logging.shutdown()
    os._exit(70)
