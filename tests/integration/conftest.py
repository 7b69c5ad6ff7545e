"""Fixtures for tests on real node processes (marked ``cluster``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from raftstore_client import Client

from tests.jepsen.cluster import Cluster


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A 3-node cluster shared by the tests of one module (they must not break it)."""
    with Cluster(
        tmp_path_factory.mktemp("cluster"), nodes=3, node_args=["--enable-fault-injection"]
    ) as cluster:
        yield cluster


@pytest.fixture
def fresh_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A 3-node cluster of its own, for tests that kill, pause or partition nodes."""
    with Cluster(
        tmp_path / "cluster", nodes=3, node_args=["--enable-fault-injection", "--enable-failpoints"]
    ) as cluster:
        yield cluster


@pytest.fixture
def client(shared_cluster: Cluster) -> Iterator[Client]:
    with Client(shared_cluster.hosts, timeout=10) as c:
        yield c


@pytest.fixture
def compacting_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Two groups that compact their log every 100 entries, failpoints enabled."""
    with Cluster(
        tmp_path / "compacting",
        nodes=3,
        partition_groups=2,
        raft={"snapshot_entries": 100, "snapshot_seconds": 3600},
        node_args=["--enable-fault-injection", "--enable-failpoints"],
    ) as cluster:
        yield cluster
