"""The cluster state (roster + placement map) as a value: founding, planning, draining,
encoding."""

from __future__ import annotations

import collections

import pytest
from raftstore_node.cluster_state import (
    SYSTEM_GROUP,
    ClusterState,
    founding_state,
    load,
    save,
)
from raftstore_node.config import Member

from raftstore.namespaces import NamespaceConfig


def members(n: int, racks: int = 0) -> tuple[Member, ...]:
    return tuple(
        Member(
            f"n{i}",
            f"127.0.0.1:{3000 + 10 * i}",
            f"127.0.0.1:{3001 + 10 * i}",
            f"r{i % racks}" if racks else "",
        )
        for i in range(1, n + 1)
    )


NS = (NamespaceConfig("test", replication_factor=3, partition_groups=8),)


def per_node(state: ClusterState) -> collections.Counter[str]:
    return collections.Counter(
        n for g, r in state.placement.items() if g.startswith("test/") for n in r
    )


def test_founding_state_places_every_group_including_the_metadata_group() -> None:
    state = founding_state(members(5), NS)
    assert state.epoch == 1
    assert set(state.placement) == {SYSTEM_GROUP} | {f"test/{i}" for i in range(8)}
    assert all(len(set(r)) == 3 for r in state.placement.values())
    counts = per_node(state)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert state.plan == state.placement and state.moving() == []


def test_founding_is_the_same_on_every_node_whatever_the_member_order() -> None:
    a = founding_state(members(5), NS)
    b = founding_state(tuple(reversed(members(5))), NS)
    assert a.placement == b.placement


def test_a_single_node_cluster_has_replication_factor_one_groups() -> None:
    ns = (NamespaceConfig("test", replication_factor=1, partition_groups=4),)
    state = founding_state(members(1), ns)
    assert all(r == ("n1",) for r in state.placement.values())


def test_a_join_replans_and_moves_only_a_fair_share_to_the_new_node() -> None:
    state = founding_state(members(3), NS)
    grown = state.evolve(members=members(4)).replanned()
    assert grown.epoch == state.epoch + 2
    assert set(grown.moving()) == {
        g for g in grown.group_ids() if set(grown.plan[g]) != set(state.placement[g])
    }
    moved = sum(len(set(grown.plan[g]) - set(state.placement[g])) for g in grown.plan)
    assert moved == per_plan(grown)["n4"]
    assert 24 // 4 <= per_plan(grown)["n4"] <= -(-24 // 4) + 1  # test groups, + metadata


def per_plan(state: ClusterState) -> collections.Counter[str]:
    return collections.Counter(n for r in state.plan.values() for n in r)


def test_a_plan_is_stable_until_the_roster_changes() -> None:
    state = founding_state(members(3), NS).evolve(members=members(4)).replanned()
    assert state.replanned() is state
    moved = state.with_replicas("test/0", (*state.placement["test/0"], "n4"), adding="n4")
    assert moved.replanned() is moved  # a move in flight is never re-planned
    assert "test/0" in moved.moving()


def test_draining_plans_the_node_out_and_drops_it_once_it_holds_nothing() -> None:
    state = founding_state(members(4), NS)
    leaving = state.evolve(leaving=frozenset({"n2"})).replanned()
    assert all("n2" not in r for r in leaving.plan.values())
    assert leaving.without_drained() is leaving  # still holds replicas
    emptied = leaving.evolve(placement=dict(leaving.plan))
    done = emptied.without_drained()
    assert [m.id for m in done.members] == ["n1", "n3", "n4"]
    assert not done.leaving


def test_a_namespace_wider_than_the_active_nodes_keeps_its_surviving_replicas() -> None:
    state = founding_state(members(3), NS).evolve(dead=frozenset({"n3"}))
    target = state.target()
    assert all("n3" not in r for r in target.values())
    assert all(set(target[g]) == set(state.placement[g]) - {"n3"} for g in target)


def test_racks_spread_each_group_over_distinct_racks() -> None:
    state = founding_state(members(6, racks=3), NS)
    rack = {m.id: m.rack for m in state.members}
    assert all(len({rack[n] for n in r}) == 3 for r in state.placement.values())


def test_the_state_round_trips_through_json_and_the_data_directory(tmp_path) -> None:
    state = founding_state(members(4, racks=2), NS).evolve(
        leaving=frozenset({"n2"}), adding={"test/1": "n3"}
    )
    assert ClusterState.from_json(state.to_json()) == state
    save(tmp_path, state)
    assert load(tmp_path) == state
    assert load(tmp_path / "missing") is None


@pytest.mark.parametrize(
    "text", ["", "{}", '{"epoch": "x"}', "[1, 2]", '{"epoch": 1, "members": [{"id": 1}]}']
)
def test_malformed_states_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match="malformed cluster state"):
        ClusterState.from_json(text)


def test_the_migration_view_counts_pending_active_and_done_groups() -> None:
    state = founding_state(members(3), NS).evolve(members=members(4)).replanned()
    planned = set(state.planned)
    assert planned == set(state.moving()) and planned
    pending, active, done = state.migrations()
    assert (set(pending), active, done) == (planned, [], [])
    first, second = sorted(planned)[:2]
    new = next(n for n in state.plan[first] if n not in state.placement[first])
    old = next(n for n in state.placement[first] if n not in state.plan[first])
    # a replica placed and catching up: active
    moving = state.with_replicas(first, (*state.placement[first], new), adding=new)
    pending, active, done = moving.migrations()
    assert active == [first] and first not in pending and done == []
    # joined, the old one still placed: still active; then removed: done
    joined = moving.joined(first)
    assert first in joined.migrations()[1]
    moved = joined.with_replicas(first, tuple(n for n in joined.placement[first] if n != old))
    pending, active, done = moved.migrations()
    assert done == [first] and active == [] and second in pending
    assert ClusterState.from_json(moved.to_json()).migrations() == moved.migrations()
