"""Background builds of secondary indexes over existing records.

A CreateIndex leaves the index BUILDING in each group. The leader of every group this
node leads proposes ``BuildIndex`` slices (``raftstore.sindex.BUILD_SLICE`` records
each, from the index's build cursor) one after another until the group's index is ready;
every replica applies the same slices in log order, so the index rows are identical on
all replicas and in the group's snapshots. A slice proposed by a leader that lost
leadership, or twice, finds another cursor and changes nothing; the next leader goes on
from the cursor the log holds. A node has one slice in flight at a time (its groups take
turns) and pauses a few milliseconds between slices: applying a slice (every replica
applies every group's slices on its event loop) must not make the loop late, which would
delay heartbeats and make admission refuse clients with DEVICE_OVERLOAD.

Thread: the node's event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import time

from raftstore_node.services.kv import propose

from raftstore.commands import BuildIndex, Request
from raftstore.errors import RaftstoreError
from raftstore.replication.group import NotLeader
from raftstore.replication.replica import Replica
from raftstore.sindex import BUILD_SLICE, decode_state

log = logging.getLogger("raftstore.index")
IDLE_POLL = 0.25  # seconds between looks for indexes to build when none is building
SLICE_PAUSE = 0.005  # seconds the loop gets for other work between two slices
SLICE_TIMEOUT = 10.0


def building(replica: Replica) -> list[tuple[str, str, bytes]]:
    """(namespace, name, cursor) of each index the replica's group is still building."""
    out = []
    for name, data in replica.store.index_defs().items():
        state = decode_state(data)
        if not state.ready:
            out.append((state.definition.namespace, name, state.cursor))
    return out


class IndexBuilder:
    """Drives the builds of the groups this node leads."""

    def __init__(self, groups: dict[str, Replica], slice_records: int = BUILD_SLICE) -> None:
        self._groups = groups
        self._slice = slice_records

    async def run(self) -> None:
        while True:
            try:
                busy = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop every later build
                log.exception("index build step failed")
                busy = False
            await asyncio.sleep(0 if busy else IDLE_POLL)

    async def step(self) -> bool:
        """One slice for every building index of every led group, one after another;
        True if any was applied."""
        work = [
            (replica, ns, name, cursor)
            for replica in list(self._groups.values())
            if replica.is_leader
            for ns, name, cursor in building(replica)
        ]
        applied = False
        for item in work:
            applied = await self._slice_of(*item) or applied
            await asyncio.sleep(SLICE_PAUSE)
        return applied

    async def _slice_of(self, replica: Replica, ns: str, name: str, cursor: bytes) -> bool:
        request = Request(BuildIndex(ns, name, cursor, self._slice))
        try:
            await propose(replica, request, time.monotonic() + SLICE_TIMEOUT, True)
            return True
        except (NotLeader, RaftstoreError) as e:
            log.debug("build slice of %s in %s not applied: %s", name, replica.group_id, e)
            return False
