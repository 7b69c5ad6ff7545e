"""ReadIndex bookkeeping (Raft dissertation §6.4): a read is served only after a probe round
that started after it arrived is acknowledged by a majority, and once its index is applied."""

from __future__ import annotations

from typing import Any

from raftstore.replication.readindex import (
    PROBE,
    PROBE_ACK,
    ReadBarrier,
    Waiter,
    probe_answer,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, peers: tuple[str, ...] = ("b", "c")) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.clock = Clock()
        self.barrier = ReadBarrier(
            list(peers), lambda p, m: self.sent.append((p, m)), retry_after=0.1, clock=self.clock
        )
        self.served: list[str] = []
        self.failed: list[str] = []

    def read(self, name: str, index: int, term: int = 5) -> None:
        self.barrier.add(
            term,
            Waiter(index, lambda: self.served.append(name), lambda e: self.failed.append(name)),
        )

    def seqs(self) -> list[int]:
        return [m["seq"] for _, m in self.sent]


def test_a_read_waits_for_a_majority_then_for_its_index_to_apply() -> None:
    h = Harness()
    h.read("r1", index=10)
    assert h.sent == [
        ("b", {"type": PROBE, "term": 5, "seq": 1}),
        ("c", {"type": PROBE, "term": 5, "seq": 1}),
    ]
    h.barrier.tick(applied_index=10)
    assert h.served == []  # not confirmed yet
    h.barrier.on_ack("b", term=5, seq=1, ok=True)
    h.barrier.tick(applied_index=9)
    assert h.served == []  # confirmed, but index 10 is not applied
    h.barrier.tick(applied_index=10)
    assert h.served == ["r1"]


def test_refusals_and_acks_of_another_term_do_not_confirm() -> None:
    h = Harness()
    h.read("r1", index=1)
    h.barrier.on_ack("b", term=5, seq=1, ok=False)
    h.barrier.on_ack("c", term=4, seq=1, ok=True)
    h.barrier.tick(applied_index=100)
    assert h.served == []


def test_reads_that_arrive_during_a_round_need_the_next_round() -> None:
    h = Harness()
    h.read("early", index=1)
    h.read("late", index=2)  # round 1 is in flight: no new probes yet
    assert h.seqs() == [1, 1]
    h.barrier.on_ack("b", term=5, seq=1, ok=True)
    h.barrier.tick(applied_index=5)
    assert h.served == ["early"]
    assert h.seqs() == [1, 1, 2, 2]  # the next round started for "late"
    h.barrier.on_ack("c", term=5, seq=2, ok=True)
    h.barrier.tick(applied_index=5)
    assert h.served == ["early", "late"]


def test_many_reads_share_one_round() -> None:
    h = Harness()
    h.read("first", index=1)
    for i in range(50):
        h.read(f"r{i}", index=1)
    h.barrier.on_ack("b", term=5, seq=1, ok=True)
    h.barrier.on_ack("c", term=5, seq=2, ok=True)
    h.barrier.tick(applied_index=1)
    assert len(h.served) == 51
    assert max(h.seqs()) == 2


def test_a_later_round_confirms_earlier_ones() -> None:
    h = Harness()
    h.read("r1", index=1)
    h.clock.now = 0.5
    h.barrier.tick(applied_index=0)  # round 1 stalled: round 2 supersedes it
    assert max(h.seqs()) == 2
    h.barrier.on_ack("c", term=5, seq=2, ok=True)
    h.barrier.tick(applied_index=1)
    assert h.served == ["r1"]


def test_losing_the_term_fails_every_pending_read() -> None:
    h = Harness()
    h.read("r1", index=1)
    h.read("r2", index=1)
    h.read("r3", index=1, term=6)  # a new term: reads of term 5 can never be confirmed
    assert h.failed == ["r1", "r2"]
    h.barrier.fail_all(RuntimeError("deposed"))
    assert h.failed == ["r1", "r2", "r3"] and h.barrier.pending == 0


def test_a_single_node_group_confirms_at_once() -> None:
    h = Harness(peers=())
    h.read("solo", index=3)
    h.barrier.tick(applied_index=3)
    assert h.served == ["solo"] and h.sent == []


def test_five_nodes_need_two_acks() -> None:
    h = Harness(peers=("b", "c", "d", "e"))
    h.read("r", index=1)
    h.barrier.on_ack("b", term=5, seq=1, ok=True)
    h.barrier.tick(applied_index=1)
    assert h.served == []
    h.barrier.on_ack("b", term=5, seq=1, ok=True)  # a duplicate counts once
    h.barrier.tick(applied_index=1)
    assert h.served == []
    h.barrier.on_ack("d", term=5, seq=1, ok=True)
    h.barrier.tick(applied_index=1)
    assert h.served == ["r"]


def test_a_follower_vouches_only_for_its_current_leader_and_term() -> None:
    probe = {"type": PROBE, "term": 7, "seq": 3}
    assert probe_answer(probe, 7, "a", "a") == {"type": PROBE_ACK, "term": 7, "seq": 3, "ok": True}
    assert probe_answer(probe, 8, "a", "a")["ok"] is False  # it moved on to a later term
    assert probe_answer(probe, 7, "b", "a")["ok"] is False  # it follows someone else
    assert probe_answer(probe, 7, None, "a")["ok"] is False
