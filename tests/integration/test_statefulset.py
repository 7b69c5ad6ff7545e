"""The image's entry point, run without Docker as the StatefulSet runs it.

Three processes get exactly the environment the committed StatefulSet gives pods
``raftstore-0..2`` (its ``env``, with the downward-API fields filled in, and its ConfigMap
through ``envFrom``) and run the Dockerfile's ENTRYPOINT + CMD. What differs from a real
cluster, and only that:

- paths under the pod's volume mounts (data volume, Secret) point into a temporary folder;
- ``RAFTSTORE_ADDRESS_OVERRIDES`` maps each pod's DNS names to 127.0.0.1 ports (all pods
  share one host here), ``RAFTSTORE_LISTEN_HOST=127.0.0.1``, and each process gets its own
  ``RAFTSTORE_METRICS_PORT``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from raftstore_client import Client

from tests.integration.helpers import wait_until
from tests.jepsen.cluster import free_base_port

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes" / "manifests" / "raftstore.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def manifests() -> dict[str, Any]:
    return {d["kind"]: d for d in yaml.safe_load_all(MANIFESTS.read_text()) if d}


def dockerfile_json(instruction: str) -> list[str]:
    """The exec-form argument list of a Dockerfile instruction (continuations joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    m = re.search(rf"^{instruction}\s+(?:--\S+\s+)*(?:CMD\s+)?(\[.*\])\s*$", text, re.M)
    assert m, f"no exec-form {instruction} in {DOCKERFILE}"
    return list(json.loads(m[1]))


def entry_point() -> list[str]:
    argv = dockerfile_json("ENTRYPOINT") + dockerfile_json("CMD")
    assert argv[0] == "raftstore"
    return [sys.executable, "-m", "raftstore_client.cli", *argv[1:]]


class PodEnv:
    """Builds a pod's environment from the StatefulSet, its ConfigMap and its Secret."""

    def __init__(self, root: Path, rendered: dict[str, Any] | None = None) -> None:
        docs = rendered or manifests()
        self.sts, self.config_map, self.secret = (
            docs["StatefulSet"],
            docs["ConfigMap"],
            docs["Secret"],
        )
        self.container = self.sts["spec"]["template"]["spec"]["containers"][0]
        self.root = root
        self.replicas = int(self.sts["spec"]["replicas"])
        self.name = self.sts["metadata"]["name"]
        self.base = free_base_port(self.replicas + 1)
        secret_dir = root / "secret"
        secret_dir.mkdir(parents=True)
        for key, value in self.secret["stringData"].items():
            (secret_dir / key).write_text(value)

    def ports(self, ordinal: int) -> tuple[int, int, int]:
        base = self.base + 10 * ordinal
        return base, base + 1, base + 2

    def _mounts(self, ordinal: int) -> dict[str, Path]:
        local = {"data": self.root / f"pod-{ordinal}" / "data", "secret": self.root / "secret"}
        local["tmp"] = self.root / f"pod-{ordinal}" / "tmp"
        local["tls"] = self.root / "tls"  # the chart's TLS Secret (tls.enabled)
        return {m["mountPath"]: local[m["name"]] for m in self.container["volumeMounts"]}

    def _field(self, path: str, ordinal: int) -> str:
        fields = {"metadata.name": f"{self.name}-{ordinal}", "metadata.namespace": "default"}
        return fields.get(path, "")  # an absent label reads as "" in Kubernetes too

    def env(self, ordinal: int, **extra: str) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in self.container.get("envFrom", []):
            assert source["configMapRef"]["name"] == self.config_map["metadata"]["name"]
            env.update(self.config_map["data"])
        for var in self.container["env"]:
            if "value" in var:
                env[var["name"]] = var["value"]
            else:
                env[var["name"]] = self._field(var["valueFrom"]["fieldRef"]["fieldPath"], ordinal)
        env = {k: self._local_path(v, ordinal) for k, v in env.items()}
        return {**env, **self._test_overrides(env, ordinal), **extra}

    def _local_path(self, value: str, ordinal: int) -> str:
        """A path under one of the pod's volume mounts, moved to its local folder (also the
        paths in a JSON object such as RAFTSTORE_TLS)."""
        if value.startswith("{"):
            table = json.loads(value)
            return json.dumps(
                {
                    k: self._local_path(v, ordinal) if isinstance(v, str) else v
                    for k, v in table.items()
                }
            )
        for mount, local in sorted(self._mounts(ordinal).items(), key=lambda m: -len(m[0])):
            if value == mount or value.startswith(mount + "/"):
                local.mkdir(parents=True, exist_ok=True)
                return str(local) + value[len(mount) :]
        return value

    def _test_overrides(self, env: dict[str, str], ordinal: int) -> dict[str, str]:
        service, ns = env["RAFTSTORE_PEER_SERVICE"], env["POD_NAMESPACE"]
        client_port, peer_port = env["RAFTSTORE_CLIENT_PORT"], env["RAFTSTORE_PEER_PORT"]
        overrides = {}
        for i in range(self.replicas + 1):
            host = f"{self.name}-{i}.{service}.{ns}.svc"
            client, peer, _ = self.ports(i)
            overrides[f"{host}:{client_port}"] = f"127.0.0.1:{client}"
            overrides[f"{host}:{peer_port}"] = f"127.0.0.1:{peer}"
        return {
            "RAFTSTORE_ADDRESS_OVERRIDES": json.dumps(overrides),
            "RAFTSTORE_LISTEN_HOST": "127.0.0.1",
            "RAFTSTORE_METRICS_PORT": str(self.ports(ordinal)[2]),
        }


def process_env(pod_env: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("RAFTSTORE_", "POD_"))}
    return {**keep, **pod_env}


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PodEnv, list[str]]]:
    pod_env = PodEnv(tmp_path_factory.mktemp("statefulset"))
    procs = []
    try:
        for i in range(pod_env.replicas):
            log = open(pod_env.root / f"pod-{i}.log", "wb")  # noqa: SIM115
            procs.append(
                subprocess.Popen(
                    entry_point(),
                    env=process_env(pod_env.env(i)),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()
        hosts = [f"127.0.0.1:{pod_env.ports(i)[0]}" for i in range(pod_env.replicas)]
        yield pod_env, hosts
    finally:
        for p in procs:
            p.kill()
            p.wait()


def probe(address: str, service: str = "") -> int:
    """The Dockerfile's HEALTHCHECK command, pointed at one pod."""
    argv = dockerfile_json("HEALTHCHECK")
    assert argv[:3] == ["python", "-m", "raftstore_node.probe"]
    cmd = [sys.executable, *argv[1:], "--address", address, "--service", service]
    return subprocess.run(cmd, capture_output=True, timeout=30).returncode


def test_pods_form_a_cluster_and_pass_their_probes(pods: tuple[PodEnv, list[str]]) -> None:
    pod_env, hosts = pods
    probe_spec = pod_env.container["readinessProbe"]["grpc"]
    assert probe_spec["port"] == int(pod_env.config_map["data"]["RAFTSTORE_CLIENT_PORT"])
    for address in hosts:
        wait_until(lambda a=address: probe(a, probe_spec["service"]) == 0, 60, f"{address} ready")
        assert probe(address) == 0  # liveness and the image's HEALTHCHECK


def test_the_cluster_serves_a_put_and_get(pods: tuple[PodEnv, list[str]]) -> None:
    _, hosts = pods
    with Client(hosts, timeout=10) as client:
        pmap = client.partition_map()
        assert sorted(n.node_id for n in pmap.nodes) == [
            "raftstore-0",
            "raftstore-1",
            "raftstore-2",
        ]
        assert {g.leader_node_id for g in pmap.groups} <= {n.node_id for n in pmap.nodes}
        assert len([g for g in pmap.groups if g.namespace == "test"]) == 8  # the ConfigMap's
        client.put(("test", "k8s", "alice"), {"pods": 3})
        assert client.get(("test", "k8s", "alice")).bins == {"pods": 3}


def test_scaling_up_adds_a_pod_that_joins_and_draining_it_scales_down(
    pods: tuple[PodEnv, list[str]],
) -> None:
    """`kubectl scale --replicas=4`: pod raftstore-3 gets the same template environment,
    joins through pod 0 and receives replicas; `raftstore admin remove-node raftstore-3`
    then drains it (it stops once empty) before the StatefulSet is scaled back down."""
    pod_env, hosts = pods
    for address in hosts:
        wait_until(lambda a=address: probe(a) == 0, 60, f"{address} serving")
    log = open(pod_env.root / "pod-3.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        entry_point(),
        env=process_env(pod_env.env(pod_env.replicas)),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    try:
        with Client(hosts, timeout=30) as client:

            def pod3_hosts_replicas() -> bool:
                pmap = client.partition_map()
                return not pmap.moving_group_ids and any(
                    "raftstore-3" in g.replica_node_ids for g in pmap.groups
                )

            wait_until(pod3_hosts_replicas, 240, "raftstore-3 to join and hold replicas")
            client.put(("test", "k8s", "scaled"), {"pods": 4})
            secret = (pod_env.root / "secret" / "cluster.secret").read_bytes().strip()
            client.remove_node("raftstore-3", secret)
            wait_until(lambda: proc.poll() is not None, 240, "raftstore-3 to drain and stop")
            wait_until(
                lambda: "raftstore-3" not in {n.node_id for n in client.partition_map().nodes},
                60,
                "the roster to drop raftstore-3",
            )
            assert not any(
                "raftstore-3" in g.replica_node_ids for g in client.partition_map().groups
            )
            assert client.get(("test", "k8s", "scaled")).bins == {"pods": 4}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_pods_with_the_charts_tls_switch_form_a_cluster_over_tls(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The chart rendered with ``tls.enabled``: the pods get the TLS Secret and
    ``RAFTSTORE_TLS``, form the cluster over TLS peer links, serve TLS clients only, and
    their exec probes (the image's probe, which speaks TLS) pass."""
    import importlib.util

    from raftstore_client import TLS, RaftstoreError

    from tests.pki import CA

    spec = importlib.util.spec_from_file_location("render_chart", ROOT / "scripts/render_chart.py")
    assert spec and spec.loader
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    values = yaml.safe_load((MANIFESTS.parent / "values.yaml").read_text())
    values["tls"] = {"enabled": True, "secretName": "raftstore-tls"}
    rendered = {d["kind"]: d for d in yaml.safe_load_all(render.render_chart(values)) if d}
    root = tmp_path_factory.mktemp("statefulset-tls")
    pod_env = PodEnv(root, rendered)
    ca = CA.create(root / "pki")  # what cert-manager would put in the Secret
    cert, key = ca.issue("pods", dns=("*.raftstore-peers.default.svc",))
    (root / "tls").mkdir()
    for name, source in (("tls.crt", cert), ("tls.key", key), ("ca.crt", ca.path)):
        (root / "tls" / name).write_bytes(source.read_bytes())
    procs = []
    try:
        for i in range(pod_env.replicas):
            log = open(root / f"pod-{i}.log", "wb")  # noqa: SIM115
            procs.append(
                subprocess.Popen(
                    entry_point(),
                    env=process_env(pod_env.env(i)),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()
        hosts = [f"127.0.0.1:{pod_env.ports(i)[0]}" for i in range(pod_env.replicas)]
        readiness = pod_env.container["readinessProbe"]["exec"]["command"]
        assert readiness[:3] == ["python", "-m", "raftstore_node.probe"]
        for i, address in enumerate(hosts):
            cmd = [sys.executable, *readiness[1:], "--address", address]
            env = process_env(pod_env.env(i))  # POD_NAME: the certificate's name is checked

            def ready(cmd: list[str] = cmd, env: dict[str, str] = env) -> bool:
                return subprocess.run(cmd, env=env, capture_output=True, timeout=30).returncode == 0

            wait_until(ready, 90, f"{address} ready over TLS")
        client_cert, client_key = ca.issue("client", ips=(), dns=("client.test",))
        tls = TLS.from_files(ca.path, client_cert, client_key)
        with Client(hosts, tls=tls, timeout=10) as client:
            client.put(("test", "k8s", "tls"), {"pods": 3})
            assert client.get(("test", "k8s", "tls")).bins == {"pods": 3}
        with pytest.raises(RaftstoreError, match="SERVER_NOT_AVAILABLE"):
            Client(hosts, timeout=2)  # plain text is refused
    finally:
        for p in procs:
            p.kill()
            p.wait()
