"""One replica of one partition group: a thin adapter around pysyncobj's SyncObj.

The adapter decodes a log entry, hands it to the pure state machine and lets the store
commit the result together with the entry's index. Everything else here exists to close
pysyncobj's gaps (see DESIGN.md):

- journal: the node's WAL (``wal.GroupJournal``; ``DurableJournal`` when a replica runs on
  its own) replaces pysyncobj's mmap journal;
  the leader fsyncs before each tick computes the commit index (its own vote), and a
  follower fsyncs before any acknowledgement leaves (``GroupTransport.send``);
- transport: ``GroupTransport`` carries messages over the authenticated ``PeerMesh``
  instead of pickling them to anyone who connects, and checks their shape on receipt;
- apply: entries are protobuf envelopes applied by ``_apply_entry``; nothing replicated
  is pickled, and an entry at or below the store's applied index (a replay after a
  restart) is skipped, so no entry is applied twice;
- snapshots: the group's column family exported to an SST file (no fork), see
  ``snapshot.py``.

pysyncobj 0.3.17 internals touched (and only here and in ``journal.attach_journal``):
``_SyncObj__doApplyCommand`` is overridden; the journal is swapped in after construction.

Observability hooks (set by the node's metrics endpoint, None otherwise): ``on_apply``
gets the seconds each committed entry took to apply; ``on_snapshot`` gets
``(event, bytes)`` for ``taken`` (a snapshot file written), ``sent`` (one chunk of a
snapshot sent to a lagging follower; ``sent_last`` for the chunk that ends one) and
``installed`` (a received snapshot loaded into the store).

Thread: every method runs on the node's asyncio loop thread (the raft loop).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pysyncobj import SyncObj, SyncObjConf
from pysyncobj.config import FAIL_REASON
from pysyncobj.node import Node
from pysyncobj.syncobj import _COMMAND_TYPE, _RAFT_STATE
from pysyncobj.transport import Transport

from raftstore.codec import decode_entry, encode_entry
from raftstore.commands import Entry, Read, Request, Result
from raftstore.errors import PartitionUnavailable, RaftstoreError, ServerError, Timeout
from raftstore.replication.journal import DurableJournal, JournalError, attach_journal
from raftstore.replication.messages import check_message, trim_append_entries
from raftstore.replication.quiesce import follower_may_quiesce, leader_may_quiesce
from raftstore.replication.readindex import PROBE, PROBE_ACK, ReadBarrier, Waiter, probe_answer
from raftstore.replication.snapshot import (
    ROWS,
    Manifest,
    extract_rows,
    read_manifest,
    write_snapshot,
)
from raftstore.replication.wal import GroupJournal
from raftstore.state_machine import StateMachine
from raftstore.storage.engine import Engine
from raftstore.storage.rocks import GroupStore

log = logging.getLogger(__name__)

_REGULAR = bytes((_COMMAND_TYPE.REGULAR,))
_MEMBERSHIP = bytes((_COMMAND_TYPE.MEMBERSHIP,))
MAX_ENTRY_BYTES = 4 * 1024 * 1024
MAX_ENTRY_REQUESTS = 2048

on_apply: Callable[[float], None] | None = None
on_snapshot: Callable[[str, int], None] | None = None


def _snapshot_event(event: str, size: int) -> None:
    if on_snapshot is not None:
        on_snapshot(event, size)


class ApplyError(JournalError):
    """A committed entry could not be applied: the node must stop (fail-stop)."""


class NotLeader(PartitionUnavailable):
    """This replica is not the group's leader; the command was not proposed."""

    def __init__(self, group_id: str, leader_id: str | None) -> None:
        super().__init__(f"group {group_id}: not the leader (leader: {leader_id or 'unknown'})")
        self.leader_id = leader_id


@dataclass(frozen=True, slots=True)
class RaftTiming:
    """Raft timing (seconds). Check-quorum: a leader that has not heard from a majority
    for ``leader_lease`` steps down; keep it at most the minimum election timeout."""

    heartbeat: float = 0.1
    election_min: float = 1.0
    election_max: float = 2.0
    leader_lease: float = 1.0
    snapshot_entries: int = 20000
    snapshot_seconds: float = 600.0
    peer_batch: bool = True  # PeerMesh batching (see mesh.py); off only to compare
    quiesce: bool = False  # idle groups are not ticked (quiesce.py); opt-in, see DESIGN.md


class GroupTransport(Transport):
    """pysyncobj Transport of one group over the node's PeerMesh."""

    def __init__(self, mesh: Any, group_id: str, self_node: Node, others: list[Node]) -> None:
        super().__init__(None, self_node, others)
        self._mesh = mesh
        self._group_id = group_id
        self._nodes = {n.id: n for n in others}
        self.journal: DurableJournal | GroupJournal | None = None
        self.held: list[tuple[Node, Any]] = []
        self.on_received: Callable[[], None] = lambda: None
        self.on_probe: Callable[[str, dict[str, Any]], None] = lambda peer, msg: None
        self.commit_index: Callable[[], int] = lambda: 0
        self.on_members_changed: Callable[[], None] = lambda: None

    def send(self, node: Node, message: Any) -> bool:
        """Send now, or hold the message until the entries it acknowledges are durable.

        A successful ``next_node_idx`` tells the leader that every entry below its index is
        in this replica's log — Raft counts that towards a commit — so it leaves only once
        the journal is durable up to there. Messages after a held one wait behind it.
        """
        chunk = message.get("serialized") if message.get("type") == "append_entries" else None
        if chunk is not None:  # (data, is_first, is_last): a snapshot going to a follower
            _snapshot_event("sent_last" if chunk[2] else "sent", len(chunk[0]))
        if self.held or not self._durable(message):
            self.held.append((node, message))
            self.on_received()
            return True
        return bool(self._mesh.send(node.id, self._group_id, message))

    def _durable(self, message: Any) -> bool:
        if message.get("type") != "next_node_idx" or not message.get("success"):
            return True
        return (
            self.journal is None or message["next_node_idx"] - 1 <= self.journal.durable_last_index
        )

    def release(self) -> None:
        """Send the held messages whose entries are durable now, in order."""
        while self.held and self._durable(self.held[0][1]):
            node, message = self.held.pop(0)
            self._mesh.send(node.id, self._group_id, message)

    def deliver(self, peer_id: str, message: Any) -> None:
        node = self._nodes.get(peer_id)
        if node is None:
            log.warning("group %s: message from non-member %s dropped", self._group_id, peer_id)
            return
        problem = check_message(message)
        if problem is not None:
            log.warning(
                "group %s: malformed message from %s dropped: %s", self._group_id, peer_id, problem
            )
            return
        if message["type"] in (PROBE, PROBE_ACK):
            self.on_probe(peer_id, message)
            return
        if message["type"] == "append_entries" and self.journal is not None:
            journal = self.journal
            message = trim_append_entries(
                message, journal.term_at, journal.last_index, self.commit_index()
            )
        try:
            self._onMessageReceived(node, message)
        except JournalError:
            raise
        except Exception:
            log.exception("group %s: message from %s could not be handled", self._group_id, peer_id)
        self.on_received()

    def send_direct(self, peer_id: str, message: dict[str, Any]) -> None:
        """Send a raftstore message (not pysyncobj's) to a peer at once."""
        self._mesh.send(peer_id, self._group_id, message)

    def peer_up(self, peer_id: str) -> None:
        if peer_id in self._nodes:
            self._onNodeConnected(self._nodes[peer_id])

    def peer_down(self, peer_id: str) -> None:
        if peer_id in self._nodes:
            self._onNodeDisconnected(self._nodes[peer_id])

    def addNode(self, node: Node) -> None:
        self._nodes[node.id] = node
        if self._mesh.is_connected(node.id):  # the mesh reported it before it was a member
            self._onNodeConnected(node)
        self.on_members_changed()

    def dropNode(self, node: Node) -> None:
        self._nodes.pop(node.id, None)
        self.on_members_changed()

    def node_ids(self) -> list[str]:
        """The group's other members, as this transport knows them."""
        return list(self._nodes)


class GroupReplica(SyncObj):  # type: ignore[misc]
    """This node's replica of partition group ``group_id``."""

    def __init__(
        self,
        *,
        group_id: str,
        self_id: str,
        member_ids: list[str],
        directory: Path,
        state_machine: StateMachine,
        mesh: Any,
        timing: RaftTiming,
        loop: asyncio.AbstractEventLoop,
        fsync: bool = True,
        failpoints: Callable[[str], None] | None = None,
        passive: bool = False,
        store: GroupStore | None = None,
        journal: DurableJournal | GroupJournal | None = None,
    ) -> None:
        self.group_id = group_id
        # A replica added to a running group waits to hear from its leader before it may
        # campaign: a fresh, empty replica's vote requests would only depose the leader.
        self._passive = False
        self._revived = False
        self.quiet = False  # quiesced: not ticked (see quiesce.py)
        self._membership_pending = False
        self._election_max = timing.election_max
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # The node passes the store and journal it keeps for this group; by default the
        # replica has its own RocksDB and journal under ``directory``.
        if store is None:
            store = Engine.standalone(directory / "store", group_id)
        self.store = store
        self.journal: DurableJournal | GroupJournal = (
            journal
            if journal is not None
            else DurableJournal(directory / "journal", fsync=fsync, failpoints=failpoints)
        )
        self._state_machine = state_machine
        self._loop = loop
        self._failpoints = failpoints or (lambda name: None)
        self._pending: list[tuple[Request, asyncio.Future[Result]]] = []
        self._last_now_ms = 0
        self._snapshot_file = directory / "snapshot"
        self.snapshot_index = 0
        self._reconcile_with_snapshot()
        # ``passive`` applies to a replica that holds nothing yet (a restarted member keeps
        # campaigning as usual).
        self._passive = (
            passive and self.journal.last_index <= 1 and not self._snapshot_file.exists()
        )
        self_node = Node(self_id)
        others = [Node(m) for m in member_ids if m != self_id]
        self.transport = GroupTransport(mesh, group_id, self_node, others)
        super().__init__(
            self_node, others, conf=self._conf(timing), nodeClass=Node, transport=self.transport
        )
        attach_journal(self, self.journal)
        self.transport.journal = self.journal
        self.on_dirty: Callable[[GroupReplica], None] = lambda g: None
        self.transport.on_received = lambda: self.on_dirty(self)
        self.transport.on_probe = self._on_probe
        self.transport.commit_index = lambda: self.raftCommitIndex
        self._barrier = ReadBarrier(
            [n.id for n in others], self.transport.send_direct, retry_after=timing.heartbeat
        )
        # The transport's node set, not ``otherNodes``: pysyncobj drops nodes from the
        # transport before it reassigns ``otherNodes`` when it loads a snapshot's membership.
        self.transport.on_members_changed = lambda: self._barrier.set_peers(
            self.transport.node_ids()
        )

    def _conf(self, timing: RaftTiming) -> SyncObjConf:
        return SyncObjConf(
            autoTick=False,
            dynamicMembershipChange=True,
            appendEntriesUseBatch=False,  # send as soon as an entry is appended
            commandsWaitLeader=False,
            appendEntriesPeriod=timing.heartbeat,
            raftMinTimeout=timing.election_min,
            raftMaxTimeout=timing.election_max,
            leaderFallbackTimeout=timing.leader_lease,
            connectionTimeout=max(3.5, timing.election_max),
            appendEntriesBatchSizeBytes=4 * MAX_ENTRY_BYTES,
            logCompactionMinEntries=timing.snapshot_entries,
            logCompactionMinTime=timing.snapshot_seconds,
            logCompactionBatchSize=1024 * 1024,
            fullDumpFile=str(self._snapshot_file),
            serializer=self._serialize,
            deserializer=self._deserialize,
            useFork=False,
        )

    # --- proposing --------------------------------------------------------------------

    def propose(self, request: Request) -> asyncio.Future[Result]:
        """Queue a request for the next entry; the future resolves once it is applied.

        Raises (through the future) NotLeader when this replica cannot propose, Timeout
        (in doubt) when the outcome cannot be known.
        """
        fut: asyncio.Future[Result] = self._loop.create_future()
        self._pending.append((request, fut))
        self.on_dirty(self)
        return fut

    def _flush_pending(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        if not self._isLeader():
            err = NotLeader(self.group_id, self.leader_id)
            for _, fut in pending:
                if not fut.done():
                    fut.set_exception(err)
            return
        now_ms = max(time.time_ns() // 1_000_000, self._last_now_ms)
        self._last_now_ms = now_ms
        batch: list[tuple[Request, asyncio.Future[Result]]] = []
        for item in pending:
            if item[1].done():
                continue  # the caller gave up before it was proposed
            batch.append(item)
            if len(batch) >= MAX_ENTRY_REQUESTS:
                self._propose_entry(now_ms, batch)
                batch = []
        if batch:
            self._propose_entry(now_ms, batch)

    def _propose_entry(
        self, now_ms: int, batch: list[tuple[Request, asyncio.Future[Result]]]
    ) -> None:
        data = encode_entry(Entry(now_ms, tuple(r for r, _ in batch)))
        if len(data) > MAX_ENTRY_BYTES and len(batch) > 1:
            half = len(batch) // 2
            self._propose_entry(now_ms, batch[:half])
            self._propose_entry(now_ms, batch[half:])
            return
        futures = [f for _, f in batch]
        self._applyCommand(
            data, lambda res, err: self._on_applied(futures, res, err), _COMMAND_TYPE.REGULAR
        )

    def _on_applied(self, futures: list[asyncio.Future[Result]], results: Any, err: int) -> None:
        if err == FAIL_REASON.SUCCESS and isinstance(results, list):
            for fut, res in zip(futures, results, strict=True):
                if not fut.done():
                    fut.set_result(res)
            return
        exc = _failure(self.group_id, err, self.leader_id)
        for fut in futures:
            if not fut.done():
                fut.set_exception(exc)

    # --- applying (pysyncobj calls this for every committed entry, in order) --------

    def _SyncObj__doApplyCommand(self, command: bytes) -> Any:
        if command[:1] != _REGULAR:
            return SyncObj._SyncObj__doApplyCommand(self, command)
        index = self.raftLastApplied + 1
        if index <= self.store.applied_index():
            return None  # replayed after a restart: already in RocksDB
        try:
            start = time.perf_counter()
            entry = decode_entry(command[1:])
            self._failpoints("apply.before")
            results = self._state_machine.apply(entry, self.store, index)
            if on_apply is not None:
                on_apply(time.perf_counter() - start)
        except Exception as e:
            # A committed entry that cannot be applied (RocksDB refused the write, the
            # entry does not decode) must not be skipped or retried forever: this replica
            # would diverge or stall. The node stops; a restart replays it from the log.
            raise ApplyError(f"group {self.group_id}: entry {index} not applied: {e!r}") from e
        # A later leader never stamps an entry earlier than one it has applied.
        self._last_now_ms = max(self._last_now_ms, entry.now_ms)
        self._failpoints("apply.after")
        return results

    # --- ticking ------------------------------------------------------------------------

    def tick(self) -> None:
        """One step: release durable acknowledgements, propose queued requests, then run
        pysyncobj's tick.

        pysyncobj's tick counts the leader's whole log towards the commit index, so the
        driver ticks a group only when its journal is durable; the sync here is a safety
        net that costs nothing then.
        """
        if self.journal.needs_sync:
            self.journal.sync()
        self.transport.release()
        self._flush_pending()
        if self._passive:
            self._stay_passive()
        self._onTick(0.0)
        self._tick_reads()
        if self._revived and self.is_leader and self.raftLastApplied > self.journal.first_index:
            # The forced membership lives in memory only until a snapshot records it.
            self._revived = False
            self.forceLogCompaction()
            log.warning("group %s: revived membership %s recorded", self.group_id, self.members)

    def force_members(self, members: list[str]) -> bool:
        """UNSAFE (``raftstore admin revive``): make this replica's membership ``members``
        without a Raft change, so that survivors that are no majority can elect a leader
        again. Entries only the lost replicas held are lost, and two survivors told
        different memberships could both lead: the operator declares the others dead for
        good. The new membership is recorded by a snapshot once this replica leads and
        has applied an entry of its own. False if ``members`` leaves this replica out."""
        keep = set(members)
        if self.selfNode.id not in keep:
            return False
        others = self._SyncObj__otherNodes
        for node in [n for n in others if n.id not in keep]:
            others.discard(node)
            self._SyncObj__raftNextIndex.pop(node, None)
            self._SyncObj__raftMatchIndex.pop(node, None)
            self.transport.dropNode(node)
        self._passive = False
        self._revived = True
        log.warning("group %s: membership forced to %s (revive)", self.group_id, sorted(keep))
        self.on_dirty(self)
        return True

    def _stay_passive(self) -> None:
        if self._getLeader() is not None:
            self._passive = False  # a leader has reached us: an ordinary member from now on
            return
        deadline = time.monotonic() + self._election_max
        self._SyncObj__raftElectionDeadline = max(self._SyncObj__raftElectionDeadline, deadline)

    # --- quiescence (quiesce.py) ---------------------------------------------------------

    def _busy(self) -> bool:
        """Work pending that only ticks complete (or a state that must keep ticking)."""
        return bool(
            self._pending
            or self._barrier.pending
            or self.transport.held
            or self.journal.needs_sync
            or self._membership_pending
            or self._passive
            or self._revived
            or self._SyncObj__transferInProgress
        )

    def idle_leader(self, connected: Callable[[str], bool], now: float, recent: float) -> bool:
        """This replica leads, has nothing pending, and every follower is connected, heard
        from within ``recent`` and holds its whole (committed, applied) log."""
        last = self.journal.last_index
        if not self.is_leader or self.raftCommitIndex != last or self._busy():
            return False  # (the cheap tests first: this runs after every tick)
        return leader_may_quiesce(
            last_index=last,
            commit_index=self.raftCommitIndex,
            applied_index=self.raftLastApplied,
            followers=self.transport.node_ids(),
            match={n.id: i for n, i in self._SyncObj__raftMatchIndex.items()},
            heard=self.heard_times(),
            connected=connected,
            now=now,
            recent=recent,
        )

    def follow_quietly(self, sender: str, term: int, index: int, now: float) -> bool:
        """``sender`` leads this group quietly at (``term``, last ``index``): when this
        follower agrees and has nothing pending, it quiesces and its election deadline moves
        on as on a heartbeat. False (nothing changed) otherwise."""
        ok = not self._busy() and follower_may_quiesce(
            is_follower=self._SyncObj__raftState == _RAFT_STATE.FOLLOWER,
            term=self.term,
            leader_id=self.leader_id,
            sender=sender,
            quiet_term=term,
            quiet_index=index,
            last_index=self.journal.last_index,
            commit_index=self.raftCommitIndex,
            applied_index=self.raftLastApplied,
        )
        if ok:
            timeout = self._SyncObj__generateRaftTimeout()
            self._SyncObj__raftElectionDeadline = max(
                self._SyncObj__raftElectionDeadline, now + timeout
            )
            self.quiet = True
        return ok

    def heard_times(self) -> dict[str, float]:
        """On the leader: when each follower last answered (pysyncobj's check-quorum input)."""
        return {n.id: t for n, t in self._SyncObj__lastResponseTime.items()}

    def heard_from(self, peer_id: str, now: float) -> None:
        """On a quiesced leader: ``peer_id`` vouched for this term (a quiet_ack), which
        counts as a heartbeat response."""
        node = Node(peer_id)
        if node in self._SyncObj__lastResponseTime:
            self._SyncObj__lastResponseTime[node] = now

    def election_due(self, now: float) -> bool:
        """A follower (or candidate) whose election deadline has passed."""
        return not self.is_leader and self._SyncObj__raftElectionDeadline < now

    # --- membership ---------------------------------------------------------------------

    def change_members(self, *, add: str | None = None, remove: str | None = None) -> bool:
        """On the leader: append a single-server membership change (Raft §4.1), effective
        on every replica once appended. False when it cannot start now: not the leader, or
        the previous change (or this term's first entry) is not committed yet. Success shows
        in ``members`` and, once committed, in ``membership_committed``."""
        if not self.is_leader or (add is None) == (remove is None):
            return False
        kind, node = ("add", add) if add is not None else ("rem", remove)
        assert node is not None
        if (kind == "add") == (node in self.members):
            return True  # already done
        if self._membership_pending:
            return False  # pysyncobj does not enforce one change at a time: we do
        self._membership_pending = True

        def done(result: Any, err: int) -> None:
            self._membership_pending = False
            if err != FAIL_REASON.SUCCESS:
                log.info(
                    "group %s: membership change %s %s failed (%s)", self.group_id, kind, node, err
                )

        # pysyncobj prefixes the command type byte itself.
        self._applyCommand(f"{kind}\x00{node}".encode(), done, _COMMAND_TYPE.MEMBERSHIP)
        self.on_dirty(self)
        return True

    def _SyncObj__parseChangeClusterRequest(self, command: bytes) -> Any:
        """pysyncobj's membership entries are pickles; raftstore's are ``add|rem NUL id``."""
        if command[:1] != _MEMBERSHIP:
            return None
        kind, _, node = command[1:].decode("utf-8", "replace").partition("\x00")
        if kind not in ("add", "rem") or not node:
            return None
        return [kind, node, Node(node)]

    @property
    def membership_committed(self) -> bool:
        """No membership change proposed here is waiting for its commit."""
        return not self._membership_pending

    def match_index(self, node_id: str) -> int:
        """On the leader: the last log index known to be on ``node_id`` (0 if unknown)."""
        return int(self._SyncObj__raftMatchIndex.get(Node(node_id), 0))

    @property
    def last_log_index(self) -> int:
        return int(self.journal.last_index)

    def destroy(self) -> None:
        """Close the replica and delete its data (it was removed from the group)."""
        self.close()
        self.store.destroy()
        self.journal.destroy()
        shutil.rmtree(self.directory, ignore_errors=True)

    # --- linearizable reads without log entries (ReadIndex) --------------------------

    def read_linearizable(self, read: Read, now_ms: Callable[[], int]) -> asyncio.Future[Result]:
        """Answer ``read`` as of a point after it arrived, without a log entry.

        Through the future: the Result, or NotLeader when this replica cannot confirm its
        leadership (nothing was read; the caller may route the read elsewhere).
        """
        if not self.is_leader:
            fut: asyncio.Future[Result] = self._loop.create_future()
            fut.set_exception(NotLeader(self.group_id, self.leader_id))
            return fut
        commit = self.raftCommitIndex
        if self.journal.term_at(commit) != self.term:
            return self.propose(Request(read))  # no entry of this term committed yet
        fut = self._loop.create_future()

        def serve() -> None:
            if not fut.done():
                fut.set_result(self._state_machine.read(self.store, read, now_ms()))

        def fail(exc: Exception) -> None:
            if not fut.done():
                fut.set_exception(NotLeader(self.group_id, self.leader_id))

        self._barrier.add(self.term, Waiter(commit, serve, fail))
        self.on_dirty(self)  # wakes a quiesced leader: its tick re-probes a stalled round
        return fut

    def read_index(self) -> asyncio.Future[int]:
        """Resolves with a read index once leadership has been confirmed by a probe round
        started after this call and this replica has applied that far; NotLeader (through
        the future) when it cannot be confirmed. Before the leader has committed an entry
        of its term, the read index is its last log index (its election entry is there,
        after every entry an earlier leader may have committed)."""
        fut: asyncio.Future[int] = self._loop.create_future()
        if not self.is_leader:
            fut.set_exception(NotLeader(self.group_id, self.leader_id))
            return fut
        index = self.raftCommitIndex
        if self.journal.term_at(index) != self.term:
            index = self.journal.last_index

        def serve() -> None:
            if not fut.done():
                fut.set_result(index)

        def fail(exc: Exception) -> None:
            if not fut.done():
                fut.set_exception(NotLeader(self.group_id, self.leader_id))

        self._barrier.add(self.term, Waiter(index, serve, fail))
        self.on_dirty(self)
        return fut

    def _on_probe(self, peer_id: str, message: dict[str, Any]) -> None:
        if message["type"] == PROBE:
            self.transport.send_direct(
                peer_id, probe_answer(message, self.term, self.leader_id, peer_id)
            )
            return
        self._barrier.on_ack(peer_id, message["term"], message["seq"], message["ok"])
        self._tick_reads()

    def _tick_reads(self) -> None:
        if not self._barrier.pending:
            return
        if self.is_leader and self._barrier.term == self.term:
            self._barrier.tick(self.raftLastApplied)
        else:
            self._barrier.fail_all(NotLeader(self.group_id, self.leader_id))

    # --- status -------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return bool(self._isLeader())

    @property
    def leader_id(self) -> str | None:
        leader = self._getLeader()
        return leader.id if leader is not None else None

    @property
    def term(self) -> int:
        return int(self.raftCurrentTerm)

    @property
    def commit_index(self) -> int:
        return int(self.raftCommitIndex)

    @property
    def applied_index(self) -> int:
        return int(self.raftLastApplied)

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(sorted([self.selfNode.id, *(n.id for n in self.otherNodes)]))

    def peer_up(self, peer_id: str) -> None:
        self.transport.peer_up(peer_id)

    def peer_down(self, peer_id: str) -> None:
        self.transport.peer_down(peer_id)

    def deliver(self, peer_id: str, message: Any) -> None:
        """A message from ``peer_id`` for this group, off the authenticated mesh."""
        self.transport.deliver(peer_id, message)

    def read_local(self, read: Read, now_ms: int) -> Result:
        """This replica's applied state (ALLOW_REPLICA and SESSION reads; may be stale)."""
        return self._state_machine.read(self.store, read, now_ms)

    def transfer_leadership(self, node_id: str) -> bool:
        """Ask ``node_id`` to campaign now (Raft's TimeoutNow); False if it cannot start:
        this replica does not lead, or the target is not a caught-up member."""
        if not self.is_leader or node_id == self.selfNode.id:
            return False
        outcome: list[int] = []
        self.transferLeadership(Node(node_id), lambda res, err: outcome.append(err))
        self.on_dirty(self)
        return outcome == [FAIL_REASON.SUCCESS]

    def status(self) -> dict[str, Any]:
        st = self.getStatus()
        return {
            "group_id": self.group_id,
            "role": {0: "follower", 1: "candidate", 2: "leader"}[st["state"]],
            "term": st["raft_term"],
            "leader": self.leader_id,
            "commit_index": st["commit_idx"],
            "applied_index": st["last_applied"],
            "last_log_index": self.journal.last_index,
            "first_log_index": self.journal.first_index,
            "log_entries": st["log_len"],
            "store_applied_index": self.store.applied_index(),
            "snapshot_index": self.snapshot_index,
        }

    # --- snapshots ----------------------------------------------------------------------

    def _serialize(self, path: str, data: tuple[Any, Any, Any]) -> None:
        last, prev, cluster = data
        staging = self.directory / "snapshot.staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        self.store.make_durable()  # the journal is about to drop these entries
        try:
            rows = staging / ROWS
            has_rows = self.store.export(rows)
            manifest = Manifest(
                self.group_id,
                tuple(last),
                tuple(prev),
                tuple(sorted(n.id for n in cluster)),
                self.store.applied_index(),
            )
            write_snapshot(path, manifest, rows if has_rows else None)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.snapshot_index = last[1]
        _snapshot_event("taken", Path(path).stat().st_size)
        log.info("group %s: snapshot at index %d", self.group_id, last[1])

    def _deserialize(self, path: str) -> tuple[Any, Any, Any]:
        manifest = read_manifest(path)
        if manifest.applied_index > self.store.applied_index():
            self._failpoints("snapshot.install")
            staging = self.directory / "snapshot.incoming"
            try:
                self.store.install(extract_rows(path, staging, self.store.sst_options()))
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            _snapshot_event("installed", Path(path).stat().st_size)
            log.info(
                "group %s: installed snapshot at index %d", self.group_id, manifest.last_entry[1]
            )
        self.snapshot_index = manifest.last_entry[1]
        cluster = [Node(n) for n in manifest.cluster]
        return manifest.last_entry, manifest.prev_entry, cluster

    def _reconcile_with_snapshot(self) -> None:
        """Trim the journal to start at the snapshot, as pysyncobj expects after a restart.

        A crash between writing a snapshot and compacting the journal leaves a journal
        that starts earlier; pysyncobj would then discard the whole journal.
        """
        if not self._snapshot_file.exists() or len(self.journal) < 2:
            return
        manifest = read_manifest(self._snapshot_file)
        self.snapshot_index = manifest.last_entry[1]
        first = self.journal.first_index
        pos = manifest.prev_entry[1] - first
        if 0 < pos < len(self.journal) - 1 and self.journal[pos] == manifest.prev_entry:
            self.journal.deleteEntriesTo(pos)
            self.journal.sync()

    def close(self) -> None:
        try:
            self._doDestroy()
        finally:
            self.store.close()
            self.journal.close()


def _failure(group_id: str, err: int, leader_id: str | None) -> RaftstoreError:
    if err in (FAIL_REASON.MISSING_LEADER, FAIL_REASON.NOT_LEADER):
        return NotLeader(group_id, leader_id)
    if err in (FAIL_REASON.QUEUE_FULL, FAIL_REASON.DISCARDED):
        return PartitionUnavailable(f"group {group_id}: command not committed ({err})")
    if err == FAIL_REASON.REQUEST_DENIED:
        return ServerError(f"group {group_id}: request denied")
    return Timeout(f"group {group_id}: outcome unknown ({err})", in_doubt=True)
