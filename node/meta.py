"""Reading and writing the cluster state in the metadata group ``_system/0``.

The state is one record (``_system`` namespace, key ``cluster``, bin ``state``: the JSON of
``ClusterState``). It changes only by compare-and-set on the record's generation, proposed
by the node that leads ``_system/0``: two writers (the rebalancer and a Join, say) can
never both win one generation, so no change is lost.

Thread: the node's raft loop thread.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from raftstore_node.cluster_state import STATE_BIN, STATE_KEY, SYSTEM_GROUP, ClusterState

from raftstore.commands import Put, Read, Request
from raftstore.errors import GenerationError, PartitionUnavailable, RecordExists, ResultCode
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig
from raftstore.policy import GenPolicy, RecordExistsAction, WritePolicy

SYSTEM_NAMESPACE_CONFIG = NamespaceConfig(
    "_system", replication_factor=3, partition_groups=1, max_record_size=32 * 1024 * 1024
)
_KEY = Key.of(*STATE_KEY)
TIMEOUT = 5.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def replica(node: Any) -> Any:
    """This node's replica of the metadata group if it leads it, else PartitionUnavailable."""
    group = node.groups.get(SYSTEM_GROUP)
    if group is None or not group.is_leader:
        raise PartitionUnavailable("this node does not lead the metadata group")
    return group


async def read(node: Any) -> tuple[ClusterState | None, int]:
    """The stored state and its generation (None, 0 before the first write); linearizable."""
    fut = replica(node).read_linearizable(Read(_KEY), _now_ms)
    result = await asyncio.wait_for(fut, TIMEOUT)
    if result.code == ResultCode.KEY_NOT_FOUND:
        return None, 0
    if not result.ok:
        raise PartitionUnavailable(f"metadata read failed: {result.message}")
    return ClusterState.from_json(result.bins[STATE_BIN]), result.generation


def read_local(group: Any) -> ClusterState | None:
    """The state as this replica of the metadata group has applied it (any replica)."""
    result = group.read_local(Read(_KEY), _now_ms())
    if not result.ok:
        return None
    return ClusterState.from_json(result.bins[STATE_BIN])


async def write(node: Any, state: ClusterState, generation: int) -> None:
    """Store ``state`` if the record is still at ``generation`` (0: does not exist yet).

    Raises GenerationError / RecordExists when someone else changed it first."""
    if generation == 0:
        policy = WritePolicy(exists=RecordExistsAction.CREATE_ONLY, ttl=-1)
    else:
        policy = WritePolicy(gen=GenPolicy.EXPECT_GEN_EQUAL, generation=generation, ttl=-1)
    fut = replica(node).propose(Request(Put(_KEY, {STATE_BIN: state.to_json()}, policy)))
    result = await asyncio.wait_for(asyncio.shield(fut), TIMEOUT)
    if result.code == ResultCode.GENERATION_ERROR:
        raise GenerationError("the cluster state changed meanwhile")
    if result.code == ResultCode.KEY_EXISTS:
        raise RecordExists("the cluster state was written meanwhile")
    if not result.ok:
        raise PartitionUnavailable(f"metadata write failed: {result.message}")
