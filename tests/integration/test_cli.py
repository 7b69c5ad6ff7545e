"""The command line as an operator uses it: a local cluster, put/get/delete/info, bench."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.jepsen.cluster import free_base_port

RAFTSTORE = [sys.executable, "-m", "raftstore_client.cli"]


def run(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*RAFTSTORE, *args], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"raftstore {' '.join(args)} failed: {out.stderr}")
    return out


class LocalCluster:
    def __init__(self, directory: Path, base_port: int, nodes: int = 3, *extra: str) -> None:
        self.directory = directory
        self.proc = subprocess.Popen(
            [
                *RAFTSTORE,
                "local",
                "--nodes",
                str(nodes),
                "--data-dir",
                str(directory),
                "--base-port",
                str(base_port),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "nodes ready" in line, line + (self.proc.stderr.read() if self.proc.stderr else "")
        self.info = json.loads((directory / "cluster.json").read_text())
        self.hosts = self.info["hosts"]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(60) == 0
        for node in self.info["nodes"]:
            assert not _alive(node["pid"]), f"node {node['id']} still running"

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        for node in self.info["nodes"]:
            if _alive(node["pid"]):
                os.kill(node["pid"], signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


@pytest.fixture
def local_dir(tmp_path: Path) -> Path:
    return tmp_path / "local"


def test_local_cluster_serves_stops_cleanly_and_comes_back_with_its_data(local_dir: Path) -> None:
    base = free_base_port(3)
    cluster = LocalCluster(local_dir, base)
    try:
        nodes = cluster.info["nodes"]
        assert [n["id"] for n in nodes] == ["n1", "n2", "n3"]
        assert [n["client"] for n in nodes] == [f"127.0.0.1:{base + 10 * i}" for i in range(3)]
        assert [n["peer"] for n in nodes] == [f"127.0.0.1:{base + 10 * i + 1}" for i in range(3)]
        assert all(_alive(n["pid"]) for n in nodes)
        hosts = cluster.hosts.split(",")[1]
        out = run(
            "put", "test", "users", "alice", "name=Alice", "age=30", "tags=[1,2]", "--hosts", hosts
        )
        assert json.loads(out.stdout) == {"gen": 1, "ttl": -1}
        got = json.loads(run("get", "test", "users", "alice", "--hosts", hosts).stdout)
        assert got["bins"] == {"name": "Alice", "age": 30, "tags": [1, 2]}
        info = json.loads(run("info", "--json", "--hosts", hosts).stdout)
        assert [n["up"] for n in info["nodes"]] == [True, True, True]
        assert len([g for g in info["groups"] if g["group"].startswith("test/")]) == 8
        for g in info["groups"]:
            assert g["leader"] in {"n1", "n2", "n3"}
            assert set(g["replicas"]) == {"n1", "n2", "n3"}
            assert all(r["applied"] >= 1 and r["term"] >= 1 for r in g["replicas"].values())
        assert "leader=" in run("info", "--hosts", hosts).stdout
        cluster.stop()
        cluster = LocalCluster(local_dir, base)  # same DIR: same cluster, same data
        got = json.loads(run("get", "test", "users", "alice", "--hosts", cluster.hosts).stdout)
        assert got["bins"]["name"] == "Alice"
        run("delete", "test", "users", "alice", "--hosts", cluster.hosts)
        missing = run("get", "test", "users", "alice", "--hosts", cluster.hosts, check=False)
        assert missing.returncode == 1 and "KEY_NOT_FOUND (2)" in missing.stderr
        cluster.stop()
    finally:
        cluster.kill()


def test_bench_prints_throughput_and_latency_percentiles(local_dir: Path) -> None:
    cluster = LocalCluster(local_dir, free_base_port(3))
    try:
        out = run(
            "bench",
            "--hosts",
            cluster.hosts,
            "-w",
            "RU,50",
            "-k",
            "200",
            "-z",
            "4",
            "-t",
            "2",
            "--warmup",
            "0.5",
            "--json",
        )
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        assert summary["ops_s"] > 0 and summary["errors"] == {}
        assert summary["read"]["count"] > 0 and summary["write"]["count"] > 0
        assert 0 < summary["all"]["p50_ms"] <= summary["all"]["p99_ms"] <= summary["all"]["p999_ms"]
        text = run(
            "bench",
            "--hosts",
            cluster.hosts,
            "-w",
            "I",
            "-k",
            "100",
            "-z",
            "2",
            "-t",
            "1",
            "--warmup",
            "0",
        ).stdout
        assert "ops/s" in text and "p99.9" in text
    finally:
        cluster.kill()


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_an_operator_grows_and_shrinks_a_local_cluster_from_the_command_line(
    local_dir: Path,
) -> None:
    cluster = LocalCluster(local_dir, free_base_port(7), 5, "--replication-factor", "3")
    host = cluster.hosts.split(",")[0]

    def info() -> dict[str, Any]:
        return json.loads(run("info", "--json", "--hosts", host).stdout)

    try:
        groups = [g for g in info()["groups"] if g["group"].startswith("test/")]
        assert all(len(g["placement"]) == 3 for g in groups)
        run("put", "test", "ops", "k", "v=1", "--hosts", host)
        out = run("local", "add-node", "--data-dir", str(local_dir), timeout=180)
        assert "n6 joined" in out.stdout
        _wait(lambda: not info()["migrations"]["moving_groups"], 120, "n6's replicas")
        assert any("n6" in g["placement"] for g in info()["groups"])
        secret = str(local_dir / "cluster.secret")
        out = run("admin", "remove-node", "n6", "--secret-file", secret, "--hosts", host)
        assert "n6 draining" in out.stdout
        _wait(lambda: "n6" not in [n["id"] for n in info()["nodes"]], 120, "n6 to leave")
        assert json.loads(run("get", "test", "ops", "k", "--hosts", host).stdout)["bins"] == {
            "v": 1
        }
        out = run("admin", "remove-node", "n1", "--secret-file", "/dev/null", "--hosts", host,
                  check=False)  # fmt: skip
        assert out.returncode == 1 and "FORBIDDEN" in out.stderr
    finally:
        cluster.stop()


def test_a_single_node_local_cluster_serves(local_dir: Path) -> None:
    cluster = LocalCluster(local_dir, free_base_port(1), 1)
    try:
        run("put", "test", "one", "k", "v=1", "--hosts", cluster.hosts)
        got = json.loads(run("get", "test", "one", "k", "--hosts", cluster.hosts).stdout)
        assert got["bins"] == {"v": 1}
    finally:
        cluster.stop()


def test_a_second_local_cluster_with_a_different_size_is_refused(local_dir: Path) -> None:
    cluster = LocalCluster(local_dir, free_base_port(3))
    cluster.stop()
    out = run("local", "--nodes", "5", "--data-dir", str(local_dir), check=False)
    assert out.returncode == 2 and "3-node cluster" in out.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('node_id = "n1"\n', "member"),
        (
            'node_id = "n9"\ndata_dir = "d"\nsecret_file = "s"\n[[member]]\nid = "n1"\n'
            'client = "127.0.0.1:1"\npeer = "127.0.0.1:2"\n',
            "not one of the members",
        ),
        (
            'node_id = "n1"\ndata_dir = "d"\nsecret_file = "s"\n[[member]]\nid = "n1"\n'
            'client = "nohost"\npeer = "127.0.0.1:2"\n',
            "host:port",
        ),
        (
            'node_id = "n1"\ndata_dir = "d"\nsecret_file = "missing"\n[[member]]\nid = "n1"\n'
            'client = "127.0.0.1:1"\npeer = "127.0.0.1:2"\n',
            "secret_file",
        ),
        (
            'node_id = "n1"\ndata_dir = "d"\nsecret_file = "s"\n[[member]]\nid = "n1"\n'
            'client = "127.0.0.1:1"\npeer = "127.0.0.1:2"\n[[namespace]]\nname = "test"\n'
            'replication_factor = 1\nstop_writes_size = "lots"\n',
            "namespace test: stop_writes_size: expected bytes",
        ),
        ("bogus = 1\n", "unknown settings"),
        ("this is not toml", "invalid TOML"),
    ],
)
def test_node_configuration_errors_are_reported_clearly(
    tmp_path: Path, config: str, message: str
) -> None:
    path = tmp_path / "node.toml"
    path.write_text(config)
    out = run("node", "--config", str(path), check=False, timeout=30)
    assert out.returncode == 2
    assert "configuration error" in out.stderr and message in out.stderr, out.stderr


def test_client_commands_report_unreachable_clusters(tmp_path: Path) -> None:
    start = time.monotonic()
    out = run(
        "get",
        "test",
        "s",
        "k",
        "--hosts",
        f"127.0.0.1:{free_base_port(1)}",
        "--timeout",
        "1",
        check=False,
    )
    assert out.returncode == 1 and "SERVER_NOT_AVAILABLE" in out.stderr
    assert time.monotonic() - start < 20
