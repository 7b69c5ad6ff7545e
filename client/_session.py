"""Exactly-once identity of a client's writes and the retry rules that rely on it.

Every write carries (client_id, seq); the state machine keeps the result of each seq it
applied, so a retry of the same (client_id, seq) returns the original result instead of
applying twice. That makes in-doubt writes safe to retry. ``acked_seq`` tells the server
which results it may forget: every seq below it has been answered.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field

from raftstore_client._errors import Translated

from raftstore.errors import RaftstoreError, ResultCode

# Errors that say the command reached no leader: refresh the route before retrying.
ROUTING_CODES = frozenset({ResultCode.PARTITION_UNAVAILABLE, ResultCode.SERVER_NOT_AVAILABLE})
MAX_BACKOFF = 0.1  # seconds between retries at most: an election takes 1-2 s
# The node refused the command before proposing it (KEY_BUSY, DEVICE_OVERLOAD): back off
# longer, so that shed load does not come straight back.
OVERLOAD_CODES = frozenset({ResultCode.KEY_BUSY, ResultCode.DEVICE_OVERLOAD})
MAX_OVERLOAD_BACKOFF = 0.5
RETRYABLE_CODES = (
    frozenset(
        {ResultCode.PARTITION_UNAVAILABLE, ResultCode.TIMEOUT, ResultCode.SERVER_NOT_AVAILABLE}
    )
    | OVERLOAD_CODES
)


class Session:
    """Allocates sequence numbers and tracks which are outstanding. Thread-safe."""

    def __init__(self, client_id: bytes | None = None) -> None:
        self.client_id = client_id or os.urandom(16)
        self._lock = threading.Lock()
        self._next = 1
        self._outstanding: set[int] = set()

    def begin(self) -> tuple[int, int]:
        """A new (seq, acked_seq) for a write."""
        with self._lock:
            seq = self._next
            self._next += 1
            self._outstanding.add(seq)
            return seq, min(self._outstanding)

    def end(self, seq: int) -> None:
        with self._lock:
            self._outstanding.discard(seq)


class SessionTokens:
    """The newest applied position this client has seen per group (SESSION reads).

    A SESSION read sends the token of its group; a replica answers it only once it has
    applied that far, so a client reads its own writes and never goes back in time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[int, bytes]] = {}

    def observe(self, token: bytes) -> None:
        gid, _, index = token.decode("ascii", "replace").rpartition("@")
        if not gid or not index.isdigit():
            return
        with self._lock:
            if int(index) > self._tokens.get(gid, (-1, b""))[0]:
                self._tokens[gid] = (int(index), token)

    def token(self, group: str) -> bytes:
        with self._lock:
            return self._tokens.get(group, (0, b""))[1]


@dataclass(slots=True)
class RetryState:
    """Decides, after each failed attempt, whether to retry and how long to wait first.

    Reads are retried on any transient failure. A write is retried when it surely did not
    run (no leader here, partition unavailable before proposing, the node shed it) and, when
    it carries an exactly-once identity, also when its outcome is in doubt. If any attempt
    was in doubt, the final error says so: that attempt may have applied the write.

    Waits double from 20 ms up to 100 ms (500 ms after an overload answer), each drawn
    between half and 1.5 times that (jitter: clients shed together do not return together).
    """

    write: bool
    exactly_once: bool
    deadline: float
    max_retries: int | None
    attempts: int = 0
    in_doubt: bool = False
    backoff: float = field(default=0.02)

    def next_delay(self, t: Translated) -> float | None:
        self.attempts += 1
        self.in_doubt = self.in_doubt or t.error.in_doubt
        if t.error.code not in RETRYABLE_CODES:
            return None
        if self.write and t.error.in_doubt and not self.exactly_once:
            return None
        if self.max_retries is not None and self.attempts > self.max_retries:
            return None
        delay = 0.0 if t.leader_hint else self.backoff * random.uniform(0.5, 1.5)
        cap = MAX_OVERLOAD_BACKOFF if t.error.code in OVERLOAD_CODES else MAX_BACKOFF
        self.backoff = min(self.backoff * 2, cap)
        if time.monotonic() + delay >= self.deadline:
            return None
        return delay

    def final(self, t: Translated) -> RaftstoreError:
        err = t.error
        if self.write and self.in_doubt and not err.in_doubt:
            err = type(err)(err.message, code=err.code, in_doubt=True)
        return err

    def remaining(self, cap: float | None = None) -> float:
        left = max(0.001, self.deadline - time.monotonic())
        return min(left, cap) if cap else left
