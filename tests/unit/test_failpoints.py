"""Failpoints: disabled by default, skip and count, the start-up spec."""

from __future__ import annotations

import pytest

from raftstore.failpoints import FailpointError, Failpoints


def _delays(fp: Failpoints, name: str, hits: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Which of ``hits`` hits of ``name`` stalled (time.sleep is recorded, not slept)."""
    slept: list[float] = []
    monkeypatch.setattr("raftstore.failpoints.time.sleep", slept.append)
    fired = []
    for i in range(hits):
        before = len(slept)
        fp.hit(name)
        if len(slept) > before:
            fired.append(i)
    return fired


def test_arming_is_refused_unless_failpoints_are_enabled() -> None:
    with pytest.raises(FailpointError, match="--enable-failpoints"):
        Failpoints(False).arm("apply.after", "crash")


@pytest.mark.parametrize(
    ("name", "action", "message"),
    [
        ("apply.nowhere", "crash", "unknown failpoint"),
        ("apply.after", "explode", "unknown action"),
        ("apply.after", "delay:soon", "unknown action"),
    ],
)
def test_unknown_points_and_actions_are_refused(name: str, action: str, message: str) -> None:
    with pytest.raises(FailpointError, match=message):
        Failpoints(True).arm(name, action)


@pytest.mark.parametrize(
    ("skip", "count", "fired"),
    [
        (0, 0, [0, 1, 2, 3, 4, 5]),
        (2, 0, [2, 3, 4, 5]),
        (0, 2, [0, 1]),
        (3, 1, [3]),
    ],
)
def test_skip_lets_hits_pass_and_count_disarms_after_firing(
    skip: int, count: int, fired: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fp = Failpoints(True)
    fp.arm("apply.after", "delay:5", skip=skip, count=count)
    assert _delays(fp, "apply.after", 6, monkeypatch) == fired


def test_off_disarms_and_other_points_are_unaffected(monkeypatch: pytest.MonkeyPatch) -> None:
    fp = Failpoints(True)
    fp.arm("apply.after", "delay:5")
    assert _delays(fp, "apply.before", 3, monkeypatch) == []
    fp.arm("apply.after", "off")
    assert _delays(fp, "apply.after", 3, monkeypatch) == []


def test_the_start_up_spec_reads_skip_and_count(monkeypatch: pytest.MonkeyPatch) -> None:
    fp = Failpoints(True)
    fp.arm_from_env("apply.after=delay:5@1*2, apply.before=delay:1")
    assert _delays(fp, "apply.after", 5, monkeypatch) == [1, 2]
    assert _delays(fp, "apply.before", 2, monkeypatch) == [0, 1]


@pytest.mark.parametrize("spec", ["apply.after=delay:5@x", "apply.after=delay:5*many"])
def test_a_malformed_start_up_spec_is_a_failpoint_error(spec: str) -> None:
    with pytest.raises(FailpointError, match="bad failpoint spec"):
        Failpoints(True).arm_from_env(spec)
