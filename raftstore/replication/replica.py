"""The replica seam: what the node needs of one partition group's replica.

``raftstore_node`` sees consensus only through this protocol; ``GroupReplica`` (pysyncobj)
is the implementation nodes run. Contract, for every method: it runs on the node's raft
loop thread and never blocks.

- ``propose(request)``: queue a request for the group's log; the future resolves with the
  applied ``Result``, or fails with ``NotLeader`` (never proposed: safe to send elsewhere)
  or ``Timeout(in_doubt=True)`` (it may have been applied).
- ``read_linearizable(read, now_ms)``: answer a read as of a point after it arrived
  (ReadIndex); fails with ``NotLeader`` when leadership cannot be confirmed (nothing read).
- ``read_local(read, now_ms)``: this replica's applied state, possibly stale.
- ``read_index()``: resolves with a read index once leadership has been confirmed after
  the call and this replica has applied that far, so that its ``store`` now holds every
  write acknowledged before the call (a scan reads it in steps); ``NotLeader`` otherwise.
- ``store``: the replica's ``RecordStore`` (its applied state), read on the raft loop.
- ``applied_index``, ``term``, ``is_leader``, ``leader_id``, ``members``: the replica's view.
- ``change_members(add=|remove=)``: on the leader, append one single-server membership
  change; False when it cannot start now (not the leader, a change still uncommitted).
  ``membership_committed``: no change of ours awaits its commit. ``match_index(node)``:
  on the leader, how much of the log ``node`` is known to hold. ``commit_index``.
- ``destroy()``: close and delete the replica's files (it was removed from the group).
- ``transfer_leadership(node_id)``: ask a caught-up member to take over (best effort);
  False when this replica cannot start it (not the leader, target not caught up).
- ``peer_up(node_id)``, ``peer_down(node_id)``, ``deliver(node_id, message)``: the node's
  peer mesh reports connections and hands over the group's messages.
- ``status()``: a dict of figures for the Cluster service and ``raftstore info``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from raftstore.commands import Read, Request, Result
from raftstore.storage.base import RecordStore


class Replica(Protocol):
    group_id: str
    store: RecordStore

    def propose(self, request: Request) -> asyncio.Future[Result]: ...

    def read_linearizable(
        self, read: Read, now_ms: Callable[[], int]
    ) -> asyncio.Future[Result]: ...

    def read_local(self, read: Read, now_ms: int) -> Result: ...

    def read_index(self) -> asyncio.Future[int]: ...

    @property
    def applied_index(self) -> int: ...

    @property
    def term(self) -> int: ...

    @property
    def is_leader(self) -> bool: ...

    @property
    def leader_id(self) -> str | None: ...

    @property
    def members(self) -> tuple[str, ...]: ...

    @property
    def commit_index(self) -> int: ...

    def transfer_leadership(self, node_id: str) -> bool: ...

    def change_members(self, *, add: str | None = None, remove: str | None = None) -> bool: ...

    @property
    def membership_committed(self) -> bool: ...

    def match_index(self, node_id: str) -> int: ...

    def destroy(self) -> None: ...

    def peer_up(self, peer_id: str) -> None: ...

    def peer_down(self, peer_id: str) -> None: ...

    def deliver(self, peer_id: str, message: Any) -> None: ...

    def status(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
