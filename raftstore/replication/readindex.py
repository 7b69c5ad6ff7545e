"""Linearizable reads without log entries: Raft's ReadIndex (dissertation §6.4).

A LINEARIZE read that reaches the leader of term T:

1. records the leader's commit index as its *read index* — valid only once the leader has
   committed an entry of its own term (its election no-op), else the caller falls back to
   a read through the log;
2. waits for a *probe round started after it arrived* to be acknowledged by a majority:
   each follower answers a probe ``(T, seq)`` with ok only while its current term is T and
   it follows this leader — a follower that has voted in a later term says no. So a
   confirmed round proves that no other leader could have committed anything before the
   read arrived that this leader does not know of;
3. is answered from the local state once the applied index reaches its read index.

Reads that arrive while a round is in flight wait for the next round, which starts as soon
as the current one is confirmed: many reads share one round. Confirming round ``s`` also
confirms every earlier round (its probes left later). A round that is not confirmed within
``retry_after`` is superseded by a new one (probes may have been lost). When the leader
loses its term, every pending read fails with NotLeader: nothing was read, so the request
can safely go to the new leader.

The probe messages (``rs_probe``, ``rs_probe_ack``) travel on the authenticated peer mesh
next to pysyncobj's messages but never reach pysyncobj.

Thread: the node's raft loop thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PROBE = "rs_probe"
PROBE_ACK = "rs_probe_ack"


@dataclass(slots=True)
class Waiter:
    """One pending read: its read index and what to call once it may be served."""

    read_index: int
    serve: Callable[[], None]
    fail: Callable[[Exception], None]


@dataclass(slots=True)
class _Round:
    seq: int
    started: float
    waiters: list[Waiter]
    acks: set[str] = field(default_factory=set)


class ReadBarrier:
    """ReadIndex bookkeeping of one group on its leader (pure: no I/O, time injected).

    ``send(peer, message)`` delivers a probe; ``majority`` counts the leader itself.
    """

    def __init__(
        self,
        peers: list[str],
        send: Callable[[str, dict[str, Any]], None],
        *,
        retry_after: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._peers = list(peers)
        self._send = send
        self._retry_after = retry_after
        self._clock = clock
        self._majority = (len(peers) + 1) // 2 + 1
        self._term = -1
        self._seq = 0
        self._next: list[Waiter] = []
        self._rounds: list[_Round] = []
        self._confirmed: list[Waiter] = []

    @property
    def term(self) -> int:
        return self._term

    def set_peers(self, peers: list[str]) -> None:
        """The group's membership changed: later rounds probe ``peers`` and need a majority
        of the new configuration (a round in flight keeps counting only acks it gets)."""
        self._peers = list(peers)
        self._majority = (len(peers) + 1) // 2 + 1

    @property
    def pending(self) -> int:
        return len(self._next) + sum(len(r.waiters) for r in self._rounds) + len(self._confirmed)

    def add(self, term: int, waiter: Waiter) -> None:
        """Register a read that arrived now, on the leader of ``term``."""
        if term != self._term:
            self.fail_all(RuntimeError("term changed"))
            self._term = term
        self._next.append(waiter)
        if not self._rounds:
            self._start_round()

    def _start_round(self) -> None:
        self._seq += 1
        rnd = _Round(self._seq, self._clock(), self._next)
        self._next = []
        self._rounds.append(rnd)
        if self._majority <= 1:
            self._confirm(rnd.seq)
            return
        for peer in self._peers:
            self._send(peer, {"type": PROBE, "term": self._term, "seq": rnd.seq})

    def on_ack(self, peer: str, term: int, seq: int, ok: bool) -> None:
        if not ok or term != self._term:
            return
        for rnd in self._rounds:
            if rnd.seq == seq:
                rnd.acks.add(peer)
                if len(rnd.acks) + 1 >= self._majority:
                    self._confirm(seq)
                return

    def _confirm(self, seq: int) -> None:
        done = [r for r in self._rounds if r.seq <= seq]
        self._rounds = [r for r in self._rounds if r.seq > seq]
        for rnd in done:
            self._confirmed.extend(rnd.waiters)
        if self._next and not self._rounds:
            self._start_round()

    def tick(self, applied_index: int) -> None:
        """Serve confirmed reads up to ``applied_index``; re-probe a round that stalls."""
        if self._confirmed:
            ready = [w for w in self._confirmed if w.read_index <= applied_index]
            self._confirmed = [w for w in self._confirmed if w.read_index > applied_index]
            for w in ready:
                w.serve()
        stalled = self._rounds and self._clock() - self._rounds[-1].started > self._retry_after
        if stalled or (self._next and not self._rounds):
            self._start_round()

    def fail_all(self, exc: Exception) -> None:
        waiters = self._confirmed + [w for r in self._rounds for w in r.waiters] + self._next
        self._next, self._rounds, self._confirmed = [], [], []
        for w in waiters:
            w.fail(exc)


def probe_answer(
    message: dict[str, Any], current_term: int, leader_id: str | None, sender: str
) -> dict[str, Any]:
    """A follower's answer to a probe: ok while it is in the probe's term under that leader."""
    ok = message["term"] == current_term and leader_id == sender
    return {"type": PROBE_ACK, "term": message["term"], "seq": message["seq"], "ok": ok}
