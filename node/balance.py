"""Leader balance: each group's leadership goes back to its preferred leader.

The placement puts a group's preferred leader first in its replica list and spreads
preferred leaders evenly over the nodes (max - min <= 1), so leading every group from its
preferred replica spreads the write load evenly. Elections pick leaders by chance; a
node that leads a group whose preferred replica is another, connected, node asks that
replica to take over with Raft's TimeoutNow (``Replica.transfer_leadership``), which
succeeds only when the target's log is complete, so no acknowledged write is at risk.

To avoid churn a transfer waits until this node has led the group for ``SETTLE`` seconds
and the target has been connected for as long; at most one transfer starts per round.

Thread: the node's raft loop thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

ROUND = 0.5
SETTLE = 1.0


class LeaderBalancer:
    def __init__(
        self, self_id: str, placement: Callable[[], Mapping[str, tuple[str, ...]]]
    ) -> None:
        self._self_id = self_id
        self._placement = placement
        self._leading_since: dict[str, float] = {}
        self._connected_since: dict[str, float] = {}

    def peers(self, reachable: set[str], now: float) -> None:
        """The peers this node reaches now (connected, not partitioned away)."""
        for gone in set(self._connected_since) - reachable:
            del self._connected_since[gone]
        for peer in reachable:
            self._connected_since.setdefault(peer, now)

    def choose(self, replicas: Iterable[Any], now: float) -> tuple[Any, str] | None:
        """The one transfer to start now, as (replica, target node id), or None."""
        choice = None
        for r in replicas:
            if not r.is_leader:
                self._leading_since.pop(r.group_id, None)
                continue
            since = self._leading_since.setdefault(r.group_id, now)
            replicas = self._placement().get(r.group_id)
            if not replicas:
                continue
            preferred = replicas[0]
            if preferred == self._self_id or choice is not None:
                continue
            up = self._connected_since.get(preferred)
            if up is not None and now - up >= SETTLE and now - since >= SETTLE:
                choice = (r, preferred)
        return choice
