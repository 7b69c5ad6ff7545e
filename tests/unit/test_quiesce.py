"""Quiesce and wake decisions (quiesce.py): pure rules, the node-level Quiescer with
stand-in groups, and real pysyncobj replicas driven on one event loop."""

from __future__ import annotations

from typing import Any

import pytest

from raftstore.replication.quiesce import (
    MAX_QUIET_GROUPS,
    QUIET,
    QUIET_ACK,
    Quiescer,
    follower_may_quiesce,
    leader_may_quiesce,
    read_entries,
)

NOW = 100.0


def _leader(**over: Any) -> bool:
    args: dict[str, Any] = {
        "last_index": 7,
        "commit_index": 7,
        "applied_index": 7,
        "followers": ["n2", "n3"],
        "match": {"n2": 7, "n3": 7},
        "heard": {"n2": NOW - 0.05, "n3": NOW - 0.1},
        "connected": lambda p: True,
        "now": NOW,
        "recent": 0.25,
    }
    args.update(over)
    return leader_may_quiesce(**args)


def test_a_caught_up_leader_heard_from_every_follower_may_quiesce() -> None:
    assert _leader()
    assert _leader(followers=[], match={}, heard={})  # a group of one


@pytest.mark.parametrize(
    "over",
    [
        {"commit_index": 6},  # an entry not committed
        {"applied_index": 6},  # committed, not applied
        {"match": {"n2": 7, "n3": 6}},  # a follower lags
        {"match": {"n2": 7}},  # a follower never acknowledged
        {"heard": {"n2": NOW, "n3": NOW - 1.0}},  # a follower silent
        {"connected": lambda p: p != "n3"},  # link down
    ],
    ids=["uncommitted", "unapplied", "lagging", "unknown", "silent", "disconnected"],
)
def test_a_leader_with_work_or_doubt_stays_awake(over: dict[str, Any]) -> None:
    assert not _leader(**over)


def _follower(**over: Any) -> bool:
    args: dict[str, Any] = {
        "is_follower": True,
        "term": 3,
        "leader_id": "n1",
        "sender": "n1",
        "quiet_term": 3,
        "quiet_index": 7,
        "last_index": 7,
        "commit_index": 7,
        "applied_index": 7,
    }
    args.update(over)
    return follower_may_quiesce(**args)


@pytest.mark.parametrize(
    ("over", "ok"),
    [
        ({}, True),
        ({"is_follower": False}, False),  # a candidate (or a leader) never quiesces on it
        ({"term": 4}, False),  # it has moved to a later term
        ({"leader_id": "n2"}, False),  # it follows someone else
        ({"leader_id": None}, False),
        ({"last_index": 8}, False),  # an extra (uncommitted) entry
        ({"last_index": 6, "commit_index": 6, "applied_index": 6}, False),  # behind
        ({"commit_index": 6}, False),  # the last commit index has not reached it
        ({"applied_index": 6}, False),
    ],
)
def test_a_follower_quiesces_only_under_its_leader_fully_caught_up(
    over: dict[str, Any], ok: bool
) -> None:
    assert _follower(**over) is ok


@pytest.mark.parametrize(
    "message",
    [
        None,
        [],
        {"type": QUIET},
        {"type": QUIET, "groups": "x"},
        {"type": QUIET, "groups": [["g", 1]]},
        {"type": QUIET, "groups": [["g", -1, 2]]},
        {"type": QUIET, "groups": [["g", 1, True]]},
        {"type": QUIET, "groups": [[1, 1, 2]]},
        {"type": QUIET, "groups": [], "extra": 1},
        {"type": QUIET, "groups": [["g", 1, 2]] * (MAX_QUIET_GROUPS + 1)},
        {"type": QUIET_ACK, "groups": [["g", 1, 2]]},
    ],
)
def test_malformed_quiet_messages_are_refused(message: Any) -> None:
    assert read_entries(message, QUIET) is None


def test_well_formed_quiet_messages_are_read() -> None:
    assert read_entries({"type": QUIET, "groups": (("g", 1, 2),)}, QUIET) == [("g", 1, 2)]
    ack = {"type": QUIET_ACK, "groups": [["g", 1, False]]}
    assert read_entries(ack, QUIET_ACK) == [("g", 1, False)]


class FakeTransport:
    def __init__(self, followers: list[str]) -> None:
        self.followers = followers

    def node_ids(self) -> list[str]:
        return list(self.followers)


class FakeGroup:
    """What the Quiescer reads of a GroupReplica."""

    def __init__(self, gid: str, leader: bool, followers: list[str]) -> None:
        self.group_id = gid
        self.is_leader = leader
        self.term = 2
        self.last_log_index = 9
        self.quiet = False
        self.idle = True
        self.heard: dict[str, float] = {f: NOW for f in followers}
        self.transport = FakeTransport(followers)
        self.deadline = NOW + 1.5
        self.accept = True

    def idle_leader(self, connected: Any, now: float, recent: float) -> bool:
        return self.is_leader and self.idle

    def heard_times(self) -> dict[str, float]:
        return dict(self.heard)

    def heard_from(self, peer: str, now: float) -> None:
        self.heard[peer] = now

    def election_due(self, now: float) -> bool:
        return not self.is_leader and self.deadline < now

    def follow_quietly(self, sender: str, term: int, index: int, now: float) -> bool:
        if self.accept:
            self.quiet = True
            self.deadline = now + 1.5
        return self.accept


class Env:
    def __init__(self) -> None:
        self.now = NOW
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.woken: list[str] = []
        self.links = {"n2": True, "n3": True}
        self.groups: dict[str, Any] = {}
        self.q = Quiescer(
            self.groups,
            send=lambda p, m: self.sent.append((p, m)),
            connected=lambda p: self.links.get(p, False),
            wake=self.wake,
            heartbeat=0.1,
            leader_lease=1.0,
            clock=lambda: self.now,
        )

    def wake(self, group: Any) -> None:
        group.quiet = False
        self.woken.append(group.group_id)


def test_an_idle_leader_quiesces_after_quiet_after_and_is_listed_to_its_followers() -> None:
    env = Env()
    g = env.groups["t/0"] = FakeGroup("t/0", True, ["n2", "n3"])
    env.q.after_tick(g)
    assert not g.quiet
    env.now += env.q.quiet_after / 2
    env.q.after_tick(g)
    assert not g.quiet
    g.idle = False  # a proposal: the idle period starts again
    env.q.after_tick(g)
    g.idle = True
    env.q.after_tick(g)
    env.now += env.q.quiet_after * 0.9
    env.q.after_tick(g)
    assert not g.quiet
    env.now += env.q.quiet_after * 0.2
    env.q.after_tick(g)
    assert g.quiet
    g.heard = {"n2": env.now, "n3": env.now}
    env.q.sweep()
    assert sorted(p for p, _ in env.sent) == ["n2", "n3"]
    assert env.sent[0][1] == {"type": QUIET, "groups": [["t/0", 2, 9]]}
    assert env.woken == []


def test_a_quiet_leader_wakes_when_a_follower_goes_silent_or_disconnects() -> None:
    env = Env()
    g = env.groups["t/0"] = FakeGroup("t/0", True, ["n2", "n3"])
    g.quiet = True
    env.now += env.q.stale_after + 0.01  # no quiet_ack refreshed "heard" since
    env.q.sweep()
    assert env.woken == ["t/0"] and not g.quiet and env.sent == []
    g.quiet, g.heard = True, {"n2": env.now, "n3": env.now}
    env.links["n3"] = False
    env.q.sweep()
    assert env.woken == ["t/0", "t/0"]


def test_acks_keep_a_quiet_leader_heard_from_and_a_refusal_wakes_it() -> None:
    env = Env()
    g = env.groups["t/0"] = FakeGroup("t/0", True, ["n2", "n3"])
    g.quiet = True
    env.now += 5.0
    env.q.on_quiet_ack("n2", {"type": QUIET_ACK, "groups": [["t/0", 2, True]]})
    assert g.heard["n2"] == env.now
    env.q.on_quiet_ack("n3", {"type": QUIET_ACK, "groups": [["t/0", 1, True]]})  # old term
    assert g.heard["n3"] == NOW
    env.q.on_quiet_ack("n3", {"type": QUIET_ACK, "groups": [["t/0", 2, False]]})
    assert env.woken == ["t/0"]


def test_a_follower_accepts_or_refuses_each_entry_and_answers_all() -> None:
    env = Env()
    a = env.groups["t/0"] = FakeGroup("t/0", False, ["n1", "n3"])
    b = env.groups["t/1"] = FakeGroup("t/1", False, ["n1", "n3"])
    b.accept, b.quiet = False, True
    env.q.on_quiet("n1", {"type": QUIET, "groups": [["t/0", 2, 9], ["t/1", 2, 9], ["t/9", 2, 9]]})
    assert a.quiet and not b.quiet and env.woken == ["t/1"]
    assert env.sent == [
        (
            "n1",
            {"type": QUIET_ACK, "groups": [["t/0", 2, True], ["t/1", 2, False], ["t/9", 2, False]]},
        )
    ]
    env.q.on_quiet("n1", {"type": QUIET, "groups": "garbage"})  # malformed: ignored
    assert len(env.sent) == 1


def test_a_quiet_follower_wakes_when_its_election_deadline_passes() -> None:
    env = Env()
    f = env.groups["t/0"] = FakeGroup("t/0", False, ["n1", "n3"])
    env.q.on_quiet("n1", {"type": QUIET, "groups": [["t/0", 2, 9]]})
    assert f.quiet
    env.now += 1.0
    env.q.sweep()
    assert f.quiet  # deadline NOW + 1.5 not reached
    env.now += 0.6  # the leader's node stopped sending quiet lists
    env.q.sweep()
    assert not f.quiet and env.woken == ["t/0"]
