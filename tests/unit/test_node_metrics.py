"""Metrics, readiness, JSON logs and ``raftstore stats`` parsing, without a cluster."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from raftstore_client.stats import histogram_quantile, metrics_stats, parse_exposition
from raftstore_node import metrics
from raftstore_node.logs import JsonFormatter
from raftstore_node.readiness import READY_LAG, not_ready_reason

from raftstore.replication import journal
from raftstore.storage.base import Changes
from raftstore.storage.engine import Engine


class FakeGroup:
    def __init__(self, gid: str, role: str = "follower", commit: int = 10, applied: int = 10):
        self.st = {
            "group_id": gid,
            "role": role,
            "term": 3,
            "leader": "n1" if role != "candidate" else None,
            "commit_index": commit,
            "applied_index": applied,
            "last_log_index": commit,
            "first_log_index": 1,
            "log_entries": commit,
            "snapshot_index": 0,
        }

    def status(self) -> dict[str, Any]:
        return self.st


def fake_node(tmp_path: Path, groups: list[FakeGroup]) -> Any:
    member = SimpleNamespace(id="n1")
    config = SimpleNamespace(
        node_id="n1", cluster_id="c", members=[member, SimpleNamespace(id="n2")], data_dir=tmp_path
    )
    mesh = SimpleNamespace(
        is_connected=lambda peer: peer == "n2", tls_failures=3, security_events=2
    )
    return SimpleNamespace(
        config=config, mesh=mesh, uptime=lambda: 5.0, groups={g.st["group_id"]: g for g in groups}
    )


def test_collector_reads_group_status_at_scrape_time(tmp_path: Path) -> None:
    groups = [FakeGroup("test/0", "leader", 12, 11), FakeGroup("test/1")]
    collector = metrics.NodeCollector(fake_node(tmp_path, groups))
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in collector.collect()
        for s in family.samples
    }
    assert values[("raftstore_group_leader", (("group", "test/0"),))] == 1
    assert values[("raftstore_group_role", (("group", "test/1"), ("role", "follower")))] == 1
    assert values[("raftstore_group_commit_index", (("group", "test/0"),))] == 12
    assert values[("raftstore_group_applied_index", (("group", "test/0"),))] == 11
    assert values[("raftstore_store_keys", (("group", "test/0"),))] == 0  # no store: 0
    assert values[("raftstore_peer_connected", (("peer", "n2"),))] == 1
    assert values[("raftstore_peer_tls_failures_total", ())] == 3
    assert values[("raftstore_peer_rejections_total", ())] == 2
    assert values[("raftstore_data_dir_capacity_bytes", ())] > 0
    groups[0].st["commit_index"] = 20  # read again on the next scrape
    again = [s for f in collector.collect() for s in f.samples if s.labels.get("group") == "test/0"]
    assert any(s.name == "raftstore_group_commit_index" and s.value == 20 for s in again)


def test_store_figures_are_per_group_column_family_and_per_node_engine(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "store")
    try:
        groups = [FakeGroup("test/0"), FakeGroup("test/1")]
        for i, group in enumerate(groups):
            group.store = engine.store(group.st["group_id"])  # type: ignore[attr-defined]
            rows = {("test", bytes([i, j]) * 8): b"x" * 100 for j in range(3 + 4 * i)}
            group.store.commit(Changes(rows, {}), 1)
        node = fake_node(tmp_path, groups)
        node.engine = engine
        values = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in metrics.NodeCollector(node).collect()
            for s in family.samples
        }
    finally:
        engine.close()
    assert values[("raftstore_store_keys", (("group", "test/0"),))] == 4  # records + applied
    assert values[("raftstore_store_keys", (("group", "test/1"),))] == 8
    assert values[("raftstore_store_size_bytes", (("group", "test/0"),))] > 0
    assert values[("raftstore_engine_memtable_bytes", ())] > 0
    assert ("raftstore_engine_block_cache_bytes", ()) in values


class FakeContext:
    def __init__(self, metadata: tuple[tuple[str, str], ...] = (), code: Any = None) -> None:
        self._md, self._code = metadata, code

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._md

    def code(self) -> Any:
        return self._code


def _count(command: str, result: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "raftstore_requests_total", {"command": command, "result": result}
    )
    return value or 0.0


def test_interceptor_labels_results_by_result_code_name() -> None:
    async def ok(request: Any, context: Any) -> str:
        return "fine"

    async def not_found(request: Any, context: Any) -> str:
        raise RuntimeError("aborted")

    async def run() -> None:
        before_ok = _count("UnitOk", "OK")
        assert await metrics.timed_command("UnitOk", ok)(None, FakeContext()) == "fine"
        assert _count("UnitOk", "OK") == before_ok + 1
        context = FakeContext((("raftstore-result-code", "2"),))
        with pytest.raises(RuntimeError):
            await metrics.timed_command("UnitErr", not_found)(None, context)
        assert _count("UnitErr", "KEY_NOT_FOUND") == 1
        with pytest.raises(RuntimeError):
            await metrics.timed_command("UnitErr", not_found)(
                None, FakeContext((), grpc.StatusCode.INTERNAL)
            )
        assert _count("UnitErr", "INTERNAL") == 1

    asyncio.run(run())


def test_interceptor_wraps_only_unary_kv_methods() -> None:
    async def behavior(request: Any, context: Any) -> None:
        return None

    handler = grpc.unary_unary_rpc_method_handler(behavior)

    async def continuation(details: Any) -> Any:
        return handler

    async def run() -> None:
        interceptor = metrics.MetricsInterceptor()
        kv = SimpleNamespace(method="/raftstore.v1.KV/Put")
        health = SimpleNamespace(method="/grpc.health.v1.Health/Check")
        wrapped = await interceptor.intercept_service(continuation, kv)
        assert wrapped is not handler and wrapped.unary_unary is not behavior
        assert await interceptor.intercept_service(continuation, kv) is wrapped  # cached
        assert await interceptor.intercept_service(continuation, health) is handler

    asyncio.run(run())


def test_proposals_count_failures() -> None:
    async def run() -> None:
        loop = asyncio.get_running_loop()
        before = (
            metrics.REGISTRY.get_sample_value("raftstore_proposals_failed_total", {"kind": "write"})
            or 0
        )
        ok, bad = loop.create_future(), loop.create_future()
        metrics.count_proposal(ok, write=True)
        metrics.count_proposal(bad, write=True)
        ok.set_result(1)
        bad.set_exception(RuntimeError("not leader"))
        await asyncio.sleep(0)
        after = metrics.REGISTRY.get_sample_value(
            "raftstore_proposals_failed_total", {"kind": "write"}
        )
        assert after == before + 1

    asyncio.run(run())


def test_fsync_hook_observes_journal_syncs(tmp_path: Path) -> None:
    seen: list[float] = []
    journal.on_fdatasync = seen.append
    try:
        j = journal.DurableJournal(tmp_path / "j")
        j.add(b"x", 2, 1)
        j.sync()
        j.close()
    finally:
        journal.on_fdatasync = None
    assert seen and all(s >= 0 for s in seen)


def test_exposition_parses_and_stats_summarise_it() -> None:
    metrics.REQUEST_SECONDS.labels("UnitStats", "OK").observe(0.003)
    metrics.REQUESTS.labels("UnitStats", "OK").inc()
    text = generate_latest(metrics.REGISTRY).decode()
    assert {f.name for f in text_string_to_metric_families(text)} >= {"raftstore_requests"}
    stats = metrics_stats(parse_exposition(text))
    assert stats["requests[UnitStats,OK]"] >= 1
    assert 2.0 <= float(stats["latency_p50_ms[UnitStats]"]) <= 5.0


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = [(0.1, 50.0), (0.2, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.15)
    assert math.isnan(histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]))


def test_ready_only_with_leaders_and_caught_up() -> None:
    assert not_ready_reason([FakeGroup("a"), FakeGroup("b", "leader")]) is None
    assert "no known leader" in (not_ready_reason([FakeGroup("a", "candidate")]) or "")
    lagging = FakeGroup("a", commit=READY_LAG + 50, applied=10)
    assert "trails its commit index" in (not_ready_reason([lagging]) or "")


def test_json_log_lines() -> None:
    record = logging.LogRecord(
        "raftstore.node", logging.INFO, __file__, 1, "node %s up", ("n1",), None
    )
    record.group = "test/0"
    doc = json.loads(JsonFormatter().format(record))
    assert doc["msg"] == "node n1 up" and doc["level"] == "INFO" and doc["group"] == "test/0"
    assert doc["logger"] == "raftstore.node" and doc["ts"].endswith("Z")
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert "ValueError: boom" in json.loads(JsonFormatter().format(record))["exc"]
