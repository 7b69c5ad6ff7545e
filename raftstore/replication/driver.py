"""The raft loop: drives every partition group of a node on the asyncio event loop.

pysyncobj normally runs one thread, one poller and one port per group. raftstore runs
all groups on the node's single event loop instead (autoTick off): the mesh delivers
messages straight into a group, and the driver ticks a group as soon as it has work
(a proposal, a received message) and every ``tick_interval`` for timers (heartbeats,
elections, check-quorum). All Raft state is touched by the loop thread only.

Durability without blocking the loop. Every group's journal is a view of the node's one
write-ahead log (``wal.py``), and one fdatasync per round makes every group that wrote durable:

- a group whose journal has unsynced writes is not ticked; after a round of ticks, if any
  group wrote, one sync of the log starts (``begin_sync`` → the ``fsync`` thread →
  ``finish_sync``) unless one is in flight (then the next starts when it finishes); when it
  finishes, every group it covered releases its held acknowledgements and is ticked, so the
  commit index pysyncobj computes in a tick only ever counts durable entries;
- acknowledgements wait in ``GroupTransport.held`` until the entries they acknowledge are
  durable, then leave;
- the sync starts right after the round of ticks that appended proposals, overlapping
  with the followers' network round trip and fsync.

While a sync is in flight the loop keeps serving requests and messages; proposals that
arrive meanwhile join the group's next entry, and writes of every group join the next sync
(group commit across groups). A failed write or sync stops the process (``fail_stop``).

Idle groups are quiesced (``quiesce.py``, once ``enable_quiesce`` is called): a quiesced
group is not ticked every ``tick_interval``; anything that marks it dirty wakes it, and
every heartbeat interval the ``Quiescer`` sends the node-level quiet lists and wakes the
quiesced groups that must tick again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

from raftstore.replication.group import GroupReplica
from raftstore.replication.journal import JournalError
from raftstore.replication.quiesce import QUIET, QUIET_ACK, Quiescer
from raftstore.replication.wal import WalSyncToken, WriteAheadLog

log = logging.getLogger(__name__)


class RaftDriver:
    """Ticks every group of the node and syncs the node's WAL, on the event loop."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, wal: WriteAheadLog, tick_interval: float = 0.025
    ) -> None:
        self._loop = loop
        self._wal = wal
        self._tick_interval = tick_interval
        self._groups: dict[str, GroupReplica] = {}
        self._dirty: dict[str, GroupReplica] = {}
        self._scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fsync")
        self.quiescer: Quiescer | None = None
        self._sweep_interval = 0.1
        self._sweep_timer: asyncio.TimerHandle | None = None

    def enable_quiesce(
        self,
        *,
        send: Callable[[str, dict[str, Any]], Any],
        connected: Callable[[str], bool],
        heartbeat: float,
        leader_lease: float,
    ) -> None:
        """Quiesce idle groups (see quiesce.py); call before ``start``."""
        self.quiescer = Quiescer(
            self._groups,
            send=send,
            connected=connected,
            wake=self.mark_dirty,
            heartbeat=heartbeat,
            leader_lease=leader_lease,
        )
        self._sweep_interval = heartbeat

    def on_node_message(self, peer_id: str, message: dict[str, Any]) -> bool:
        """Handle a node-level ``quiet``/``quiet_ack`` message; False if it is another kind."""
        kind = message.get("type")
        if kind not in (QUIET, QUIET_ACK):
            return False
        if self.quiescer is not None:
            if kind == QUIET:
                self.quiescer.on_quiet(peer_id, message)
            else:
                self.quiescer.on_quiet_ack(peer_id, message)
        return True

    def wake_all(self) -> None:
        """Wake every quiesced group (a peer connected or disconnected)."""
        for group in list(self._groups.values()):
            if group.quiet:
                self.mark_dirty(group)

    @property
    def groups(self) -> dict[str, GroupReplica]:
        return self._groups

    def quiesced_count(self) -> int:
        """Groups of this node that are quiesced (not ticked)."""
        return sum(1 for g in self._groups.values() if g.quiet)

    def add(self, group: GroupReplica) -> None:
        self._groups[group.group_id] = group
        group.on_dirty = self.mark_dirty

    def remove(self, group: GroupReplica) -> None:
        """Stop driving ``group`` (its replica is being closed)."""
        self._groups.pop(group.group_id, None)
        self._dirty.pop(group.group_id, None)
        if self.quiescer is not None:
            self.quiescer.forget(group.group_id)
        group.on_dirty = lambda g: None

    def start(self) -> None:
        self._timer = self._loop.call_later(self._tick_interval, self._periodic)
        if self.quiescer is not None:
            self._sweep_timer = self._loop.call_later(self._sweep_interval, self._sweep)

    def stop(self) -> None:
        """Stop ticking and make the WAL durable."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
        self._pool.shutdown(wait=True)
        try:
            self._wal.sync()
        except JournalError:
            log.exception("the final WAL sync failed")

    def mark_dirty(self, group: GroupReplica) -> None:
        group.quiet = False  # any event wakes a quiesced group
        self._dirty[group.group_id] = group
        if not self._scheduled and not self._stopped:
            self._scheduled = True
            self._loop.call_soon(self._run)

    def _periodic(self) -> None:
        if self._stopped:
            return
        for gid, group in self._groups.items():
            if not group.quiet:
                self._dirty[gid] = group
        self._run()
        self._timer = self._loop.call_later(self._tick_interval, self._periodic)

    def _sweep(self) -> None:
        if self._stopped or self.quiescer is None:
            return
        try:
            self.quiescer.sweep()
        except Exception:
            log.exception("quiescence sweep failed")
        self._sweep_timer = self._loop.call_later(self._sweep_interval, self._sweep)

    def _run(self) -> None:
        self._scheduled = False
        if self._stopped:
            return
        dirty = list(self._dirty.values())
        self._dirty = {}
        for group in dirty:
            if group.journal.needs_sync:
                continue  # ticked when the sync that covers it finishes
            self._tick(group)
            if self.quiescer is not None and group.group_id in self._groups:
                self.quiescer.after_tick(group)
        self._start_sync()

    def _start_sync(self) -> None:
        """One sync of the WAL for every group that wrote, unless one is in flight."""
        if self._wal.sync_in_flight or not self._wal.needs_sync or self._stopped:
            return
        try:
            token = self._wal.begin_sync()
        except JournalError:
            fail_stop("the Raft WAL could not be written")
        if token is None:
            return
        future = self._pool.submit(token.run)
        future.add_done_callback(lambda _f: self._loop.call_soon_threadsafe(self._sync_done, token))

    def _sync_done(self, token: WalSyncToken) -> None:
        try:
            covered = self._wal.finish_sync(token)
        except JournalError:
            fail_stop("the Raft WAL could not be made durable")
        for gid in covered:
            group = self._groups.get(gid)
            if group is not None:
                group.transport.release()
                self.mark_dirty(group)
        self._start_sync()

    @staticmethod
    def _tick(group: GroupReplica) -> None:
        try:
            group.tick()
        except JournalError:  # the journal failed, or an entry could not be applied
            fail_stop(f"group {group.group_id}: journal or apply failure")
        except Exception:
            log.exception("group %s: tick failed", group.group_id)


def fail_stop(what: str) -> NoReturn:
    """Stop the process at once: continuing could acknowledge writes that are not durable."""
    log.critical("%s; stopping the node (fail-stop)", what, exc_info=True)
    logging.shutdown()
    os._exit(70)
