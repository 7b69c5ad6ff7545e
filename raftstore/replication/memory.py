"""An in-memory twin of the replica seam, for fast tests of membership logic.

``InMemoryGroup`` is one Raft group's shared truth in one process: its log, its members,
its leader and which members are up. ``InMemoryReplica`` (one per member) implements
``replica.Replica`` over it: a proposal on the leader is appended, reaches every member
that is up (each applies it to its own ``MemoryStore`` through the pure state machine) and
commits when a majority of the members has it; a member that was down catches up the next
time the group makes progress. Membership changes take effect at once and commit like any
entry; a leader transfer succeeds only to a member holding the whole log. Nothing here
does I/O or keeps time; tests drive it like etcd's ``rafttest`` or hashicorp/raft's
``InmemTransport``.

Thread: the caller's (an asyncio loop must be running for the futures).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from raftstore.commands import Entry, Read, Request, Result
from raftstore.errors import PartitionUnavailable
from raftstore.state_machine import StateMachine
from raftstore.storage.memory import MemoryStore


class InMemoryGroup:
    def __init__(self, group_id: str, members: Iterable[str], state_machine: StateMachine) -> None:
        self.group_id = group_id
        self.members: list[str] = list(members)
        self.state_machine = state_machine
        self.log: list[Entry | tuple[str, str]] = []  # entries, or ("add"|"rem", node)
        self.term = 1
        self.leader: str | None = self.members[0] if self.members else None
        self.down: set[str] = set()
        self.replicas: dict[str, InMemoryReplica] = {}
        self.commit = 0
        self.now_ms = 0  # the leader's clock stamped on every entry (tests set it)

    def replica(self, node_id: str) -> InMemoryReplica:
        if node_id not in self.replicas:
            self.replicas[node_id] = InMemoryReplica(self, node_id)
        return self.replicas[node_id]

    def up_members(self) -> list[str]:
        return [m for m in self.members if m not in self.down]

    def has_majority(self) -> bool:
        return len(self.up_members()) * 2 > len(self.members)

    def append(self, item: Entry | tuple[str, str]) -> int:
        self.log.append(item)
        kind, node = item if isinstance(item, tuple) else ("", "")
        if kind == "add" and node not in self.members:
            self.members.append(node)
        elif kind == "rem" and node in self.members:
            self.members.remove(node)
        return self.replicate()

    def replicate(self) -> int:
        """Bring every up member's replica to the end of the log; commit if a majority is
        up (the leader's view). Returns the commit index."""
        for m in self.up_members():
            self.replica(m).catch_up()
        if self.has_majority():
            self.commit = len(self.log)
        return self.commit

    def elect(self, node_id: str) -> None:
        self.term += 1
        self.leader = node_id


class InMemoryReplica:
    """One member's view of an ``InMemoryGroup``."""

    def __init__(self, group: InMemoryGroup, node_id: str) -> None:
        self._group = group
        self.node_id = node_id
        self.group_id = group.group_id
        self.store = MemoryStore()
        self.applied = 0
        self.results: dict[int, list[Result]] = {}

    # --- the seam -----------------------------------------------------------------------

    def propose(self, request: Request) -> asyncio.Future[Result]:
        fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        if not self.is_leader or not self._group.has_majority():
            fut.set_exception(PartitionUnavailable(f"{self.group_id}: no majority here"))
            return fut
        index = self._group.append(Entry(self._group.now_ms, (request,)))
        fut.set_result(self.results[index][0])
        return fut

    def read_linearizable(self, read: Read, now_ms: Callable[[], int]) -> asyncio.Future[Result]:
        fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        if not self.is_leader or not self._group.has_majority():
            fut.set_exception(PartitionUnavailable(f"{self.group_id}: leadership unconfirmed"))
        else:
            fut.set_result(self.read_local(read, now_ms()))
        return fut

    def read_local(self, read: Read, now_ms: int) -> Result:
        return self._group.state_machine.read(self.store, read, now_ms)

    def read_index(self) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if not self.is_leader or not self._group.has_majority():
            fut.set_exception(PartitionUnavailable(f"{self.group_id}: leadership unconfirmed"))
        else:
            fut.set_result(self._group.commit)
        return fut

    @property
    def applied_index(self) -> int:
        return self.applied

    @property
    def commit_index(self) -> int:
        return self._group.commit

    @property
    def term(self) -> int:
        return self._group.term

    @property
    def is_leader(self) -> bool:
        return self._group.leader == self.node_id and self.node_id not in self._group.down

    @property
    def leader_id(self) -> str | None:
        return self._group.leader

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(sorted(self._group.members))

    def transfer_leadership(self, node_id: str) -> bool:
        group = self._group
        target = group.replicas.get(node_id)
        if not self.is_leader or target is None or node_id in group.down:
            return False
        if node_id not in group.members or target.applied < len(group.log):
            return False
        group.elect(node_id)
        return True

    def change_members(self, *, add: str | None = None, remove: str | None = None) -> bool:
        if not self.is_leader or (add is None) == (remove is None):
            return False
        group = self._group
        if add is not None and add not in group.members:
            group.append(("add", add))
        if remove is not None and remove in group.members:
            group.append(("rem", remove))
        return True

    @property
    def membership_committed(self) -> bool:
        return self._group.commit == len(self._group.log)

    def match_index(self, node_id: str) -> int:
        replica = self._group.replicas.get(node_id)
        return replica.applied if replica is not None else 0

    def peer_up(self, peer_id: str) -> None:
        pass

    def peer_down(self, peer_id: str) -> None:
        pass

    def deliver(self, peer_id: str, message: Any) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "role": "leader" if self.is_leader else "follower",
            "term": self.term,
            "leader": self.leader_id,
            "commit_index": self.commit_index,
            "applied_index": self.applied,
        }

    def close(self) -> None:
        pass

    def destroy(self) -> None:
        self._group.replicas.pop(self.node_id, None)

    # --- applying -------------------------------------------------------------------------

    def catch_up(self) -> None:
        """Apply every log entry this replica has not applied yet."""
        log = self._group.log
        while self.applied < len(log):
            self.applied += 1
            item = log[self.applied - 1]
            if isinstance(item, Entry):
                self.results[self.applied] = self._group.state_machine.apply(
                    item, self.store, self.applied
                )
