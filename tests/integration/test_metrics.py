"""Operating a cluster of real node processes: Prometheus metrics, readiness, ``raftstore
stats`` and JSON logs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from raftstore_client import Client

from raftstore.errors import RecordNotFound
from tests.integration.helpers import wait_until
from tests.jepsen.cluster import Cluster

GROUP_FAMILIES = {
    "raftstore_group_leader",
    "raftstore_group_role",
    "raftstore_group_term",
    "raftstore_group_commit_index",
    "raftstore_group_applied_index",
    "raftstore_group_snapshot_index",
    "raftstore_store_size_bytes",
    "raftstore_store_keys",
}
NODE_FAMILIES = {
    "raftstore_node_info",
    "raftstore_peer_connected",
    "raftstore_data_dir_available_bytes",
    "raftstore_requests",
    "raftstore_request_duration_seconds",
    "raftstore_proposals",
    "raftstore_journal_fsync_duration_seconds",
    "raftstore_apply_duration_seconds",
    "raftstore_snapshots",
    "raftstore_snapshot_bytes",
    "raftstore_replica_moves",
    "raftstore_peer_tls_failures",
    "raftstore_peer_rejections",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(
        tmp_path_factory.mktemp("ops"), nodes=3, partition_groups=2, node_args=["--log-format=json"]
    ) as cluster:
        yield cluster


def scrape(cluster: Cluster, node_id: str, path: str = "/metrics") -> str:
    url = f"http://{cluster.node(node_id).metrics}{path}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        return resp.read().decode()


def samples(cluster: Cluster) -> list[tuple[str, Sample]]:
    """Every sample of every node, parsed by prometheus-client's own parser."""
    out = []
    for node_id in cluster.ids:
        for family in text_string_to_metric_families(scrape(cluster, node_id)):
            out += [(node_id, s) for s in family.samples]
    return out


def total(all_samples: list[tuple[str, Sample]], name: str, **labels: str) -> float:
    return sum(
        s.value
        for _, s in all_samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_every_node_exposes_the_metric_families(cluster: Cluster) -> None:
    for node_id in cluster.ids:
        names = {f.name for f in text_string_to_metric_families(scrape(cluster, node_id))}
        missing = (GROUP_FAMILIES | NODE_FAMILIES) - names
        assert not missing, f"{node_id} lacks {sorted(missing)}"


def test_each_group_has_one_leader_and_consistent_indexes(cluster: Cluster) -> None:
    got = samples(cluster)
    groups = {s.labels["group"] for _, s in got if s.name == "raftstore_group_leader"}
    assert {"test/0", "test/1"} <= groups  # and any system groups
    for gid in groups:
        assert total(got, "raftstore_group_leader", group=gid) == 1
        for node_id, s in got:
            if s.name == "raftstore_group_applied_index" and s.labels["group"] == gid:
                commit = next(
                    c.value
                    for n, c in got
                    if n == node_id
                    and c.name == "raftstore_group_commit_index"
                    and c.labels["group"] == gid
                )
                assert 0 < s.value <= commit


def test_counters_move_after_puts(cluster: Cluster) -> None:
    before = samples(cluster)
    with Client(cluster.hosts, timeout=10) as client:
        for i in range(5):
            client.put(("test", "m", f"k{i}"), {"v": i})
        with pytest.raises(RecordNotFound):
            client.get(("test", "m", "missing"))
    after = samples(cluster)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("raftstore_requests_total", command="Put", result="OK") >= 5
    assert moved("raftstore_request_duration_seconds_count", command="Put", result="OK") >= 5
    assert moved("raftstore_requests_total", command="Get", result="KEY_NOT_FOUND") >= 1
    assert moved("raftstore_proposals_total", kind="write") >= 5
    assert moved("raftstore_journal_fsync_duration_seconds_count") >= 5
    assert moved("raftstore_group_applied_index") >= 5 * 3  # every replica applied them
    assert moved("raftstore_apply_duration_seconds_count") >= 5 * 3


def test_histograms_are_valid_exposition(cluster: Cluster) -> None:
    with Client(cluster.hosts, timeout=10) as client:
        client.put(("test", "m", "h"), {"v": 1})
    for node_id in cluster.ids:
        for family in text_string_to_metric_families(scrape(cluster, node_id)):
            if family.type != "histogram":
                continue
            series: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
            for s in family.samples:
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                series.setdefault(key, []).append(s)
            for key, group in series.items():
                buckets = [s for s in group if s.name.endswith("_bucket")]
                counts = [s.value for s in buckets]
                assert counts == sorted(counts), f"{family.name}{key}: not cumulative"
                assert buckets[-1].labels["le"] == "+Inf"
                count = next(s.value for s in group if s.name.endswith("_count"))
                assert buckets[-1].value == count


def test_metrics_endpoint_refuses_other_paths_and_junk(cluster: Cluster) -> None:
    node_id = cluster.ids[0]
    with pytest.raises(urllib.error.HTTPError) as err:
        scrape(cluster, node_id, "/admin")
    assert err.value.code == 404
    host, _, port = cluster.node(node_id).metrics.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"\x00\xff garbage\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.0 405")
    assert "raftstore_node_info" in scrape(cluster, node_id)


def test_ready_once_joined_and_caught_up(cluster: Cluster) -> None:
    for address in cluster.hosts:
        with grpc.insecure_channel(address) as ch:
            stub = health_pb2_grpc.HealthStub(ch)

            def serving(stub: health_pb2_grpc.HealthStub = stub) -> bool:
                req = health_pb2.HealthCheckRequest(service="raftstore.ready")
                return stub.Check(req, timeout=2).status == health_pb2.HealthCheckResponse.SERVING

            wait_until(serving, 10, f"{address} ready")


def test_stats_prints_status_and_metrics_like_asinfo(cluster: Cluster) -> None:
    with Client(cluster.hosts, timeout=10) as client:
        client.put(("test", "m", "s"), {"v": 1})
    node = cluster.nodes[0]
    port = node.metrics.rpartition(":")[2]
    cmd = ["stats", "--hosts", node.client, "--metrics-port", port]
    out = subprocess.run(
        [sys.executable, "-m", "raftstore_client.cli", *cmd],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    lines = dict(line.strip().split("=", 1) for line in out.splitlines()[1:])
    assert out.startswith(f"node {node.client}")
    assert lines["node_id"] == node.id
    assert lines["peers_connected"] == "2/2"
    assert int(lines["groups"]) >= 2
    assert "role=" in lines["group[test/0]"]
    assert float(lines["fsync_p99_ms"]) >= 0
    assert int(lines["store_keys"]) >= 0


def test_json_logs(cluster: Cluster) -> None:
    for node in cluster.nodes:
        docs = [json.loads(line) for line in _log_lines(node.log) if line.startswith("{")]
        serving = [d for d in docs if "serving clients" in d["msg"]]
        assert serving, f"{node.id}: no JSON start line"
        assert serving[0]["node"] == node.id
        assert serving[0]["level"] == "INFO" and serving[0]["logger"] == "raftstore.node"
        assert serving[0]["ts"].endswith("Z")


def _log_lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()
