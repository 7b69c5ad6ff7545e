"""Quiescence of idle groups (TiKV's hibernate regions): a node with many groups does not
spend its CPU ticking the idle ones.

A leader's group is *idle* when nothing is pending (no proposal, read, held
acknowledgement, unsynced write, membership change; not passive or revived), its commit
and applied indexes are its last index, and every follower is connected, has answered
within ``recent`` and has acknowledged that last index. A leader idle for ``quiet_after``
quiesces: the driver stops ticking it, so pysyncobj sends no per-group heartbeats. Instead
the node sends each peer, every heartbeat interval, one node-level message listing the
groups it leads quietly with that peer as a member::

    {"type": "quiet", "groups": [[group_id, term, last_index], ...]}

A follower replica accepts an entry when it follows that sender in that term and holds,
has committed and has applied exactly that last index; it then quiesces too (not ticked)
and its election deadline moves on, as if a heartbeat had come. The answer lists every
entry, accepted or not::

    {"type": "quiet_ack", "groups": [[group_id, term, ok], ...]}

An ``ok`` counts on the leader as a heartbeat response from that follower (pysyncobj's
check-quorum reads these times when the group next ticks); a refusal wakes the leader's
group, whose next tick sends an ordinary heartbeat.

Waking. Anything that marks a group dirty wakes it: a proposal, a read (ReadIndex then
runs a real probe round), a Raft message, a membership change, a leadership transfer, a
sync covering it; so does a peer connecting or disconnecting (every group). At every
heartbeat interval the driver also wakes (``sweep``):

- a quiet follower whose election deadline has passed — its leader's node stopped sending
  ``quiet`` (node down, partition): the follower ticks and campaigns as usual;
- a quiet leader with a follower that is not connected or has not answered within
  ``stale_after`` — its tick then runs check-quorum on the real response times, so a
  leader cut off from its majority still steps down after ``leader_lease``.

A woken group ticks normally until it is idle for ``quiet_after`` again.

Thread: the node's raft loop thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from raftstore.replication.group import GroupReplica

QUIET = "quiet"
QUIET_ACK = "quiet_ack"
MAX_QUIET_GROUPS = 65536


def leader_may_quiesce(
    *,
    last_index: int,
    commit_index: int,
    applied_index: int,
    followers: Iterable[str],
    match: Mapping[str, int],
    heard: Mapping[str, float],
    connected: Callable[[str], bool],
    now: float,
    recent: float,
) -> bool:
    """Whether a leader with nothing pending is idle: everything committed and applied, and
    every follower connected, heard from within ``recent`` and holding the last index."""
    if not (commit_index == applied_index == last_index):
        return False
    for f in followers:
        if not connected(f) or match.get(f, -1) != last_index:
            return False
        if now - heard.get(f, float("-inf")) > recent:
            return False
    return True


def follower_may_quiesce(
    *,
    is_follower: bool,
    term: int,
    leader_id: str | None,
    sender: str,
    quiet_term: int,
    quiet_index: int,
    last_index: int,
    commit_index: int,
    applied_index: int,
) -> bool:
    """Whether a follower with nothing pending accepts ``sender``'s quiet entry: it follows
    the sender in that term and is exactly at the leader's last index, committed and
    applied."""
    return (
        is_follower
        and term == quiet_term
        and leader_id == sender
        and last_index == commit_index == applied_index == quiet_index
    )


def _int(v: object) -> bool:
    return type(v) is int and v >= 0


def read_entries(message: object, kind: str) -> list[tuple[str, int, Any]] | None:
    """The ``[group_id, term, x]`` entries of a checked ``quiet`` (x: last index, an int)
    or ``quiet_ack`` (x: ok, a bool) message, or None when it is malformed."""
    if not isinstance(message, dict) or message.get("type") != kind or len(message) != 2:
        return None
    groups = message.get("groups")
    if not isinstance(groups, (list, tuple)) or len(groups) > MAX_QUIET_GROUPS:
        return None
    out: list[tuple[str, int, Any]] = []
    for e in groups:
        if not (isinstance(e, (list, tuple)) and len(e) == 3 and isinstance(e[0], str)):
            return None
        if not _int(e[1]) or not (_int(e[2]) if kind == QUIET else type(e[2]) is bool):
            return None
        out.append((e[0], e[1], e[2]))
    return out


class Quiescer:
    """Quiescence of the groups of one node (owned by the ``RaftDriver``).

    ``send(peer, message)`` sends a node-level message; ``connected(peer)`` tells whether
    the mesh link to a peer is up (and not blocked); ``wake(group)`` makes the driver tick
    a group again.
    """

    def __init__(
        self,
        groups: Mapping[str, GroupReplica],
        *,
        send: Callable[[str, dict[str, Any]], Any],
        connected: Callable[[str], bool],
        wake: Callable[[GroupReplica], None],
        heartbeat: float,
        leader_lease: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._groups = groups
        self._send = send
        self._connected = connected
        self._wake = wake
        self._clock = clock
        self.recent = 3 * heartbeat + 0.05
        self.quiet_after = 5 * heartbeat
        self.stale_after = max(3 * heartbeat, leader_lease / 2)
        self._idle_since: dict[str, float] = {}

    def after_tick(self, group: GroupReplica) -> None:
        """Called after each tick of an awake group: quiesce a leader idle long enough."""
        now = self._clock()
        if not group.idle_leader(self._connected, now, self.recent):
            self._idle_since.pop(group.group_id, None)
            return
        since = self._idle_since.setdefault(group.group_id, now)
        if now - since >= self.quiet_after:
            self._idle_since.pop(group.group_id, None)
            group.quiet = True

    def forget(self, group_id: str) -> None:
        self._idle_since.pop(group_id, None)

    def sweep(self) -> None:
        """Every heartbeat interval: wake quiet groups that must tick, and send each peer
        the list of groups this node leads quietly."""
        now = self._clock()
        out: dict[str, list[list[Any]]] = {}
        for group in list(self._groups.values()):
            if not group.quiet:
                continue
            if not group.is_leader:
                if group.election_due(now):
                    self._wake(group)
                continue
            followers = group.transport.node_ids()
            heard = group.heard_times()
            if any(
                not self._connected(f) or now - heard.get(f, float("-inf")) > self.stale_after
                for f in followers
            ):
                self._wake(group)
                continue
            entry = [group.group_id, group.term, group.last_log_index]
            for f in followers:
                out.setdefault(f, []).append(entry)
        for peer, entries in out.items():
            for start in range(0, len(entries), MAX_QUIET_GROUPS):
                chunk = entries[start : start + MAX_QUIET_GROUPS]
                self._send(peer, {"type": QUIET, "groups": chunk})

    def on_quiet(self, peer: str, message: object) -> None:
        """A peer's ``quiet`` list: quiesce the followers that accept, wake those that do
        not (they tick, and the leader's next heartbeat brings them up to date)."""
        entries = read_entries(message, QUIET)
        if entries is None:
            return
        now = self._clock()
        answer: list[list[Any]] = []
        for gid, term, index in entries:
            group = self._groups.get(gid)
            if group is None:
                answer.append([gid, term, False])
                continue
            ok = group.follow_quietly(peer, term, index, now)
            if not ok and group.quiet:
                self._wake(group)
            answer.append([gid, term, ok])
        self._send(peer, {"type": QUIET_ACK, "groups": answer})

    def on_quiet_ack(self, peer: str, message: object) -> None:
        """Followers' answers: an ok is a heartbeat response; a refusal wakes the leader."""
        entries = read_entries(message, QUIET_ACK)
        if entries is None:
            return
        now = self._clock()
        for gid, term, ok in entries:
            group = self._groups.get(gid)
            if group is None or not group.is_leader or group.term != term:
                continue
            if ok:
                group.heard_from(peer, now)
            elif group.quiet:
                self._wake(group)
