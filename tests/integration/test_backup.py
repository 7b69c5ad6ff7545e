"""Backup and restore on real 3-node clusters: 20 K records of two sets (every bin type,
stored and digest-only keys, TTLs) and an index restored into a fresh cluster record for
record; a backup killed mid-way resumes without duplicating; create-only, generation and
replace restores into a cluster that already holds some keys; bad input refused with a
clear error before anything is written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from raftstore_client import Client, NamespaceNotFound, WritePolicy
from raftstore_client import _backup_format as fmt
from raftstore_client.backup import backup, differences, fingerprint, restore

from raftstore.errors import BackupError
from tests.integration.backup_data import load, sample_bins
from tests.jepsen.cluster import Cluster

RECORDS = 20_000


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("source"), nodes=3) as c:
        with Client(c.hosts, timeout=30) as client:
            load(client, RECORDS, ("a", "b"))
            client.create_index("test", "a", "i", "NUMERIC", name="a_i")
            client.wait_for_index("test", "a_i", timeout=120)
        yield c


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("target"), nodes=3) as c:
        yield c


def cli(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raftstore_client.cli", *args, "--hosts", ",".join(cluster.hosts)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_20k_records_of_two_sets_and_an_index_restore_into_a_fresh_cluster_exactly(
    source: Cluster, target: Cluster, tmp_path: Path
) -> None:
    out = cli(source, "backup", "--namespace", "test", "--directory", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "64/64 ranges" in out.stderr  # the progress line
    manifest = fmt.load_manifest(tmp_path)
    assert manifest.complete and report["records"] == manifest.records >= RECORDS
    assert [i["name"] for i in manifest.indexes] == ["a_i"]
    out = cli(target, "restore", "--directory", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    restored = json.loads(out.stdout)
    assert restored["codes"] == {"OK": manifest.records} and restored["expired"] == 0
    assert restored["digest_only"] >= RECORDS // 2
    with Client(source.hosts, timeout=30) as s, Client(target.hosts, timeout=30) as t:
        for set_name in ("a", "b"):
            before, after = fingerprint(s, "test", set_name), fingerprint(t, "test", set_name)
            assert len(before) == RECORDS // 2
            assert differences(before, after) == []
        assert [i.name for i in t.list_indexes("test")] == ["a_i"]
        t.wait_for_index("test", "a_i", timeout=120)
        assert len(list(t.query("test", "a", bin="i", between=(0, 99)))) == 50
        # spot check: every type came back as it was, keys stored only where they were
        rec = t.get(("test", "a", 42))
        assert rec.bins == sample_bins(42) and 86_000 < rec.meta.ttl <= 86_400
        assert [r.key[2] for r in t.scan("test", "b") if r.bins["i"] in (1, 3)] == [None, None]


def test_a_backup_killed_mid_way_resumes_without_duplicating(
    source: Cluster, tmp_path: Path
) -> None:
    args = ["backup", "--namespace", "test", "--set", "a", "--directory", str(tmp_path)]
    cmd = [sys.executable, "-m", "raftstore_client.cli", *args, "--hosts", source.hosts[0]]
    proc = subprocess.Popen(
        [*cmd, "--parallel", "1", "--records-per-second", "3000", "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                done = sum(r.state == "done" for r in fmt.load_manifest(tmp_path).ranges)
            except BackupError:
                done = 0
            if done >= 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    manifest = fmt.load_manifest(tmp_path)
    done = sum(r.state == "done" for r in manifest.ranges)
    assert 3 <= done < 64 and not manifest.complete
    with Client(source.hosts, timeout=30) as client:
        report = backup(client, tmp_path, "test", "a")
        assert report.ranges_skipped >= done and report.records == RECORDS // 2
        digests = [
            fmt.decode_record(p).key[3]
            for r in fmt.load_manifest(tmp_path).ranges
            for p, _ in fmt.read_records(tmp_path / r.file)
        ]
        assert len(digests) == len(set(digests)) == RECORDS // 2
        assert set(digests) == set(fingerprint(client, "test", "a"))
        assert not list(tmp_path.glob("*.part"))
        # a range whose done mark is lost is written again, alone
        manifest = fmt.load_manifest(tmp_path)
        manifest.ranges[7].state = "pending"
        fmt.write_manifest(tmp_path, manifest)
        again = backup(client, tmp_path, "test", "a")
        assert (again.ranges_written, again.records) == (1, RECORDS // 2)


def test_restore_policies_into_a_cluster_that_already_holds_some_keys(
    source: Cluster, target: Cluster, tmp_path: Path
) -> None:
    with Client(source.hosts, timeout=30) as s, Client(target.hosts, timeout=30) as t:
        load(s, 1000, ("c",), start=0)
        for i in range(50):  # generation 2 in the backup
            s.put(("test", "c", i), sample_bins(i), WritePolicy(send_key=True))
        assert backup(s, tmp_path, "test", "c").records == 1000
        for i in range(100):  # generation 1 in the target
            t.put(("test", "c", i), {"mine": i})
        report = restore(t, tmp_path, policy="create-only")
        assert report.codes == {"KEY_EXISTS": 100, "OK": 900}
        assert [t.get(("test", "c", i)).bins for i in (0, 99)] == [{"mine": 0}, {"mine": 99}]
        assert t.get(("test", "c", 100)).bins == sample_bins(100)
        report = restore(t, tmp_path, policy="generation")
        assert report.codes == {"GENERATION_ERROR": 950, "OK": 50}
        assert t.get(("test", "c", 0)).bins == sample_bins(0)
        assert t.get(("test", "c", 60)).bins == {"mine": 60}
        report = restore(t, tmp_path, policy="replace")
        assert report.codes == {"OK": 1000}
        assert differences(fingerprint(s, "test", "c"), fingerprint(t, "test", "c")) == []


def test_bad_input_is_refused_with_a_clear_error_and_writes_nothing(
    source: Cluster, target: Cluster, tmp_path: Path
) -> None:
    out = cli(target, "restore", "--directory", str(tmp_path / "missing"))
    assert out.returncode == 1 and "no such directory" in out.stderr
    out = cli(source, "backup", "--namespace", "nope", "--directory", str(tmp_path / "n"))
    assert out.returncode == 1 and "NAMESPACE_NOT_FOUND" in out.stderr
    assert not (tmp_path / "n").exists()
    with Client(source.hosts, timeout=30) as s, Client(target.hosts, timeout=30) as t:
        load(s, 300, ("d",), start=0)
        good = tmp_path / "good"
        backup(s, good, "test", "d", ranges=4)
        with pytest.raises(NamespaceNotFound):
            restore(t, good, namespace="nope")
        with pytest.raises(BackupError, match="holds a backup of namespace test set d"):
            backup(s, good, "test", "a")
        data = good / "range-0001.rsb.gz"
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0x40
        data.write_bytes(bytes(raw))
        out = cli(target, "restore", "--directory", str(good))
        assert out.returncode == 1 and "does not match the manifest" in out.stderr
        assert list(t.scan("test", "d")) == []
