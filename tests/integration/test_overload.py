"""Overload is answered quickly with a retryable code: admitted requests keep a bounded
latency, shed ones are refused within milliseconds, no leadership moves, and full
throughput returns when the load stops. A hot key does not stall its group."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from raftstore.v1 import kv_pb2
from raftstore.wire import value_to_pb
from tests.integration.helpers import group_of, moved_terms, pb_key, settled_terms
from tests.jepsen.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
LIMITS = """
[limits]
max_in_flight = 64
max_in_flight_per_group = 32
max_in_flight_per_key = 8
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("overload"), nodes=3, partition_groups=4)
    for node in c.nodes:
        node.config.write_text(node.config.read_text() + LIMITS)
    with c:
        yield c


def put_payload(user_key: str, n: int) -> str:
    req = kv_pb2.PutRequest(key=pb_key("test", "s", user_key))
    value_to_pb(n, req.bins["v"])
    req.header.no_forward = True
    return base64.b64encode(req.SerializeToString()).decode()


def keys_by_leader(cluster: Cluster, per_node: int) -> dict[str, list[str]]:
    """Client address -> payloads of keys whose group that node leads."""
    leaders = cluster.leaders()
    out: dict[str, list[str]] = {cluster.address(n): [] for n in cluster.ids}
    i = 0
    while min(len(v) for v in out.values()) < per_node:
        key = f"k{i}"
        address = cluster.address(leaders[group_of(("test", "s", key), 4)])
        if len(out[address]) < per_node:
            out[address].append(put_payload(key, i))
        i += 1
    return out


def files(tmp: Path, i: int) -> list[str]:
    return [str(tmp / f"plan{i}.json"), str(tmp / f"result{i}.json")]


def drive(tmp: Path, plans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run one load_driver process per plan at once; merge their results by lane label."""
    procs = []
    for i, plan in enumerate(plans):
        (tmp / f"plan{i}.json").write_text(json.dumps(plan))
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.integration.load_driver", *files(tmp, i)],
                cwd=ROOT,
            )
        )
    merged: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(procs):
        assert p.wait(timeout=120) == 0
        for label, r in json.loads((tmp / f"result{i}.json").read_text()).items():
            m = merged.setdefault(label, {"ok": [], "shed": [], "other": {}, "details": {}})
            m["details"].update(r["details"])
            m["ok"] += r["ok"]
            m["shed"] += r["shed"]
            for code, n in r["other"].items():
                m["other"][code] = m["other"].get(code, 0) + n
    return merged


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def lanes(payloads: dict[str, list[str]], workers: int, label: str) -> list[dict[str, Any]]:
    return [
        {"label": label, "address": a, "workers": workers, "payloads": p}
        for a, p in payloads.items()
    ]


def test_ten_times_capacity_is_shed_quickly_without_elections(
    cluster: Cluster, tmp_path: Path
) -> None:
    before = settled_terms(cluster)
    payloads = keys_by_leader(cluster, 200)
    # capacity: enough in flight to saturate the nodes, within the limits
    base = drive(tmp_path, [{"duration": 3, "lanes": lanes(payloads, 16, "w")}])["w"]
    capacity = len(base["ok"]) / 3
    # overload: ten times the workers and more, from four processes
    n_procs, workers = 4, 40  # 480 writers: ten times the 48 that reach capacity
    duration = 8
    over = drive(
        tmp_path,
        [{"duration": duration, "lanes": lanes(payloads, workers, "w")}] * n_procs,
    )["w"]
    attempts = len(over["ok"]) + len(over["shed"]) + sum(over["other"].values())
    after = drive(tmp_path, [{"duration": 3, "lanes": lanes(payloads, 16, "w")}])["w"]
    recovered = len(after["ok"]) / 3
    figures = {
        "capacity_ops": round(capacity),
        "capacity_p99_ms": pct(base["ok"], 0.99),
        "offered_workers": n_procs * workers * 3,
        "offered_attempts_per_s": round(attempts / duration),
        "admitted_ops": round(len(over["ok"]) / duration),
        "admitted_p50_ms": pct(over["ok"], 0.5),
        "admitted_p99_ms": pct(over["ok"], 0.99),
        "shed": len(over["shed"]),
        "shed_p50_ms": pct(over["shed"], 0.5),
        "shed_p99_ms": pct(over["shed"], 0.99),
        "other_codes": over["other"],
        "details": over["details"],
        "recovered_ops": round(recovered),
    }
    print(f"\noverload figures: {figures}")
    assert not moved_terms(before, cluster)  # no election under overload
    # the offered load was beyond capacity, and the excess was refused, not queued: a
    # substantial share of the attempts was shed (30-60 % on this 2-core machine)
    assert len(over["shed"]) > 0.1 * attempts, figures
    assert not over["other"], over["other"]  # only admitted or shed: no timeout, no doubt
    assert len(over["ok"]) / duration > 0.5 * capacity  # no collapse under overload
    # Both are mostly the wait in gRPC's accept queue (see node/DESIGN.md), on a machine
    # whose two cores also run the load generators.
    assert pct(over["ok"], 0.99) < 3000
    assert pct(over["shed"], 0.5) < pct(over["ok"], 0.5)
    assert recovered > 0.6 * capacity


def test_a_hot_key_does_not_stall_its_group_or_move_leadership(
    cluster: Cluster, tmp_path: Path
) -> None:
    before = settled_terms(cluster)
    leaders = cluster.leaders()
    hot_group = group_of(("test", "s", "hot"), 4)
    address = cluster.address(leaders[hot_group])
    others = [
        put_payload(f"k{i}", i)
        for i in range(2000)
        if group_of(("test", "s", f"k{i}"), 4) == hot_group
    ][:100]
    other_lane = {"label": "other", "address": address, "workers": 8, "payloads": others}
    alone = drive(tmp_path, [{"duration": 2, "lanes": [other_lane]}])["other"]
    hot_lane = {
        "label": "hot",
        "address": address,
        "workers": 32,
        "payloads": [put_payload("hot", i) for i in range(10)],
    }
    # 64 writers on the hot record (two processes of 32), 8 on other keys of its group
    both = drive(
        tmp_path,
        [
            {"duration": 5, "lanes": [hot_lane, other_lane]},
            {"duration": 5, "lanes": [hot_lane]},
        ],
    )
    hot, other = both["hot"], both["other"]
    figures = {
        "other_alone_ops": round(len(alone["ok"]) / 2),
        "other_alone_p99_ms": pct(alone["ok"], 0.99),
        "other_with_hot_ops": round(len(other["ok"]) / 5),
        "other_with_hot_p99_ms": pct(other["ok"], 0.99),
        "hot_ok": len(hot["ok"]),
        "hot_busy": len(hot["shed"]),
        "hot_p99_ms": pct(hot["ok"], 0.99),
        "hot_busy_p99_ms": pct(hot["shed"], 0.99),
    }
    print(f"\nhot key figures: {figures}")
    assert not moved_terms(before, cluster)
    assert not other["other"] and not other["shed"], other  # other keys never refused
    # the hot record holds at most max_in_flight_per_key = 8 of the group's places, so the
    # other keys keep a share of the node (8 writers against 8 admitted hot ones): they are
    # not stalled. (Their share is a figure, printed above, not a pass mark: on 2 shared
    # cores it ranged from 14 % to 30 % of their throughput alone.)
    assert len(other["ok"]) / 5 > 0.05 * len(alone["ok"]) / 2
    assert pct(other["ok"], 0.99) < 1000
    assert hot["shed"] and hot["ok"]  # 64 writers on one record: some wait, some are busy
