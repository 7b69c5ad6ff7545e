"""The Node.js and Go examples, built from proto/ alone, work against a real 3-node cluster.

Each example is started on a node that does *not* lead the key's partition group and must
follow the `raftstore-leader` hint there; its transcript (generations, digest, partition,
result codes and gRPC statuses) is checked against what the server and raftstore.keys
say. The toolchains come from scripts/install_toolchains.sh; without them these tests
skip, or fail when RAFTSTORE_REQUIRE_POLYGLOT=1 (scripts/check sets it once the install
succeeded, so CI cannot skip them silently).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from raftstore_client import Client, RecordNotFound

from raftstore.keys import compute_digest, partition_id
from tests.jepsen.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(
    os.environ.get("RAFTSTORE_EXAMPLES_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "raftstore-examples"
)
GOCODE = Path(os.environ.get("GOCODE", "/usr/share/gocode"))
RUN_TIMEOUT = 300  # a cold Go build cache compiles grpc-go (install_toolchains.sh warms it)
HINT = re.compile(r"^leader hint: (\w+) (\S+) -> (\S+) \((\w+)\)$")


def missing_toolchain(lang: str) -> str:
    """What is missing to run the example of ``lang`` ('' when nothing is)."""
    if lang == "node":
        if shutil.which("node") is None:
            return "node"
        if not (CACHE / "node" / "node_modules" / "@grpc" / "grpc-js").is_dir():
            return f"@grpc/grpc-js in {CACHE / 'node'}"
        return ""
    tools = [t for t in ("go", "protoc-gen-go", "protoc-gen-go-grpc") if shutil.which(t) is None]
    if not (GOCODE / "src" / "google.golang.org" / "grpc").is_dir():
        tools.append(f"grpc-go sources in {GOCODE}")
    return ", ".join(tools)


def require_toolchain(lang: str) -> None:
    missing = missing_toolchain(lang)
    if not missing:
        return
    message = f"{lang} example: {missing} missing; run scripts/install_toolchains.sh {lang}"
    if os.environ.get("RAFTSTORE_REQUIRE_POLYGLOT") == "1":
        pytest.fail(message + " (RAFTSTORE_REQUIRE_POLYGLOT=1)")
    pytest.skip(message)


def run_example(lang: str, host: str, user_key: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAFTSTORE_EXAMPLE_KEY": user_key, "PYTHON": sys.executable}
    return subprocess.run(
        [str(ROOT / "examples" / lang / "run.sh"), host],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=env,
        cwd=ROOT,
    )


def group_of(cluster: Cluster, user_key: str) -> str:
    partition = partition_id(compute_digest("examples", user_key))
    pmap = cluster.partition_map(cluster.ids[0])
    (ns,) = [n for n in pmap.namespaces if n.name == "test"]
    return f"test/{ns.partition_group[partition]}"


def settled_leader(cluster: Cluster, group: str, timeout: float = 30.0) -> str:
    """The group's leader once leader balancing has moved it to its preferred replica
    (after ``timeout`` seconds, whoever leads then)."""
    deadline = time.monotonic() + timeout
    leader = ""
    while time.monotonic() < deadline:
        pmap = cluster.partition_map(cluster.ids[0])
        (info,) = [g for g in pmap.groups if g.group_id == group]
        leader = cluster.leaders().get(group, "")
        if leader and leader == info.replica_node_ids[0]:
            return leader
        time.sleep(0.2)
    assert leader, f"group {group} has no leader after {timeout}s"
    return leader


def expected_transcript(user_key: str) -> list[str]:
    digest = compute_digest("examples", user_key)
    return [
        f"put: key={user_key} generation=1 digest={digest.hex()} partition={partition_id(digest)}",
        "get: generation=1 name=Ada visits=1",
        "cas: generation 1 -> 2",
        "stale cas: GENERATION_ERROR (3) FAILED_PRECONDITION",
        "get: generation=2 name=Ada visits=2",
        "get missing: KEY_NOT_FOUND (2) NOT_FOUND",
        "get unknown namespace: NAMESPACE_NOT_FOUND (20) NOT_FOUND",
        "get deleted: KEY_NOT_FOUND (2) NOT_FOUND",
        "done",
    ]


@pytest.mark.parametrize("lang", ["node", "go"])
def test_example_follows_the_leader_hint_and_reports_result_codes(
    lang: str, shared_cluster: Cluster
) -> None:
    require_toolchain(lang)
    user_key = f"{lang}-{uuid.uuid4().hex[:12]}"
    group = group_of(shared_cluster, user_key)
    leader_before = settled_leader(shared_cluster, group)
    start = next(h for h in shared_cluster.hosts if h != shared_cluster.address(leader_before))

    out = run_example(lang, start, user_key)

    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    hints = [HINT.match(line) for line in lines if line.startswith("leader hint:")]
    assert hints and all(hints), lines
    first = hints[0]
    assert first is not None
    # The very first call went to a follower, which named the leader; the client went there.
    assert (first[1], first[2]) == ("Put", start)
    leaders = {leader_before, shared_cluster.leaders().get(group)}  # (unless it moved meanwhile)
    assert first[4] in leaders
    assert first[3] == shared_cluster.address(first[4])
    transcript = [line for line in lines if not line.startswith("leader hint:")]
    assert transcript == expected_transcript(user_key)
    with Client(shared_cluster.hosts, timeout=10) as client, pytest.raises(RecordNotFound):
        client.get(("test", "examples", user_key))  # the example's delete was applied


def test_a_record_written_from_node_reads_back_in_python(shared_cluster: Cluster) -> None:
    """Values a Node.js client encodes from the proto are what the Python client reads."""
    require_toolchain("node")
    user_key = f"keep-{uuid.uuid4().hex[:12]}"
    script = (
        "const path=require('path');const grpc=require('@grpc/grpc-js');"
        "const pl=require('@grpc/proto-loader');"
        "const d=pl.loadSync(['raftstore/v1/kv.proto'],{includeDirs:[process.argv[1]],"
        "keepCase:true,longs:Number,oneofs:true});"
        "const v1=grpc.loadPackageDefinition(d).raftstore.v1;"
        "const kv=new v1.KV(process.argv[2],grpc.credentials.createInsecure());"
        "kv.Put({key:{namespace:'test',set:'examples',string_key:process.argv[3]},"
        "bins:{n:{int_value:7},s:{string_value:'from node'}}},"
        "(e,r)=>{if(e){console.error(e.message);process.exit(1)}"
        "console.log(r.metadata.generation);kv.close()});"
    )
    env = {**os.environ, "NODE_PATH": str(CACHE / "node" / "node_modules")}
    out = subprocess.run(
        ["node", "-e", script, str(ROOT / "proto"), shared_cluster.hosts[2], user_key],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
    with Client(shared_cluster.hosts, timeout=10) as client:
        _, meta, bins = client.get(("test", "examples", user_key))
        assert bins == {"n": 7, "s": "from node"}
        assert meta.gen == 1
        client.delete(("test", "examples", user_key))


@pytest.mark.parametrize("lang", ["node", "go"])
def test_run_script_names_the_installer_when_the_toolchain_is_missing(
    lang: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "RAFTSTORE_EXAMPLES_CACHE": str(tmp_path / "empty-cache"),
        "GOCODE": str(tmp_path / "no-gocode"),
        "PYTHON": sys.executable,
    }
    out = subprocess.run(
        [str(ROOT / "examples" / lang / "run.sh"), "127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert out.returncode == 3, out.stdout + out.stderr
    assert f"scripts/install_toolchains.sh {lang}" in out.stderr
