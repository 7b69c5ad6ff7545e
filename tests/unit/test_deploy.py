"""deploy/: the Helm chart renders to the committed manifests, which validate against the
Kubernetes schema; the Dockerfile and .dockerignore keep their promises."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.33.0"  # pinned; the oldest version the chart's kubeVersion admits is 1.27

_spec = importlib.util.spec_from_file_location("render_chart", ROOT / "scripts" / "render_chart.py")
assert _spec and _spec.loader
render_chart = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render_chart)


def docs(text: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in yaml.safe_load_all(text):
        if d:
            out.setdefault(d["kind"], []).append(d)
    return out


def committed() -> dict[str, list[dict[str, Any]]]:
    return docs((DEPLOY / "kubernetes" / "manifests" / "raftstore.yaml").read_text())


def test_committed_manifests_are_the_rendered_chart() -> None:
    text = (DEPLOY / "kubernetes" / "manifests" / "raftstore.yaml").read_text()
    assert text == render_chart.default_manifests(), "run: python scripts/render_chart.py"


def test_manifests_validate_against_the_kubernetes_schema() -> None:
    kinds = committed()
    assert set(kinds) == {
        "StatefulSet",
        "Service",
        "ConfigMap",
        "Secret",
        "PodDisruptionBudget",
    }
    for items in kinds.values():
        for d in items:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_broken_manifest() -> None:
    sts = committed()["StatefulSet"][0]
    sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["port"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, KUBERNETES_VERSION, strict=True)
    sts = committed()["StatefulSet"][0]
    sts["spec"]["volumeClaimTemplate"] = []  # a typo: strict validation refuses unknown fields
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, KUBERNETES_VERSION, strict=True)


def test_statefulset_forms_a_cluster_safely() -> None:
    kinds = committed()
    sts = kinds["StatefulSet"][0]
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["args"] == ["node", "--from-env"]
    assert container["readinessProbe"]["grpc"]["service"] == "raftstore.ready"
    assert "service" not in container["livenessProbe"]["grpc"]
    assert container["resources"]["requests"]["memory"]
    headless = next(s for s in kinds["Service"] if s["spec"].get("clusterIP") == "None")
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert spec["serviceName"] == headless["metadata"]["name"]
    assert kinds["PodDisruptionBudget"][0]["spec"]["maxUnavailable"] == 1
    env = {e["name"]: e for e in container["env"]}
    assert env["RAFTSTORE_REPLICAS"]["value"] == str(spec["replicas"])
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_chart_values_change_the_rendering() -> None:
    soft = docs(
        render_chart.render_chart({"clusterSecret": "x" * 32, "hardPodAntiAffinity": False})
    )
    anti = soft["StatefulSet"][0]["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert list(anti) == ["preferredDuringSchedulingIgnoredDuringExecution"]
    own = docs(
        render_chart.render_chart(
            {"existingSecret": "mine", "replicas": 5, "storage": {"className": "fast"}}
        )
    )
    assert "Secret" not in own
    sts = own["StatefulSet"][0]
    assert sts["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] == "mine"
    assert sts["spec"]["replicas"] == 5
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "fast"
    for items in own.values():
        for d in items:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)


def test_chart_tls_switch_passes_the_material_to_client_and_peer_ports() -> None:
    values = {"clusterSecret": "x" * 32, "tls": {"enabled": True, "secretName": "rs-tls"}}
    rendered = docs(render_chart.render_chart(values))
    pod = rendered["StatefulSet"][0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    table = json.loads(env["RAFTSTORE_TLS"])  # the [tls] table: client and peer ports
    assert table == {
        "cert_file": "/etc/raftstore/tls/tls.crt",
        "key_file": "/etc/raftstore/tls/tls.key",
        "ca_file": "/etc/raftstore/tls/ca.crt",
        "client_auth": True,
        "peer_server_name": "",
    }
    mount = next(m for m in container["volumeMounts"] if m["name"] == "tls")
    volume = next(v for v in pod["volumes"] if v["name"] == "tls")
    assert mount["mountPath"] == "/etc/raftstore/tls" and volume["secret"]["secretName"] == "rs-tls"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):  # gRPC probes lack TLS
        assert container[probe]["exec"]["command"][:3] == ["python", "-m", "raftstore_node.probe"]
    assert container["readinessProbe"]["exec"]["command"][-1] == "raftstore.ready"
    for items in rendered.values():
        for d in items:
            kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)
    plain = committed()["StatefulSet"][0]["spec"]["template"]["spec"]["containers"][0]
    assert "grpc" in plain["readinessProbe"] and "RAFTSTORE_TLS" not in str(plain["env"])
    with pytest.raises(render_chart.TemplateError, match=r"tls\.secretName is required"):
        render_chart.render_chart({"clusterSecret": "x" * 32, "tls": {"enabled": True}})


def test_chart_requires_a_cluster_secret() -> None:
    with pytest.raises(render_chart.TemplateError, match="clusterSecret is required"):
        render_chart.render_chart({})


def test_renderer_subset() -> None:
    ctx = {"Values": {"a": {"b": [1, 2]}, "on": True, "s": 'q"x'}}
    render = render_chart.render_text
    assert render("{{ .Values.a.b | toJson | quote }}", ctx) == '"[1,2]"'
    assert render("x:{{- if .Values.on }} y{{ else }} n{{ end }}", ctx) == "x: y"
    assert render("k:{{- toYaml .Values.a | nindent 2 }}", ctx) == "k:\n  b:\n  - 1\n  - 2"
    assert render('{{ .Values.a.b | join "," }} {{ .Values.s | quote }}', ctx) == '1,2 "q\\"x"'
    with pytest.raises(render_chart.TemplateError):
        render('{{ include "x" . }}', ctx)


def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")


def test_dockerfile_is_multi_stage_slim_non_root_with_a_healthcheck() -> None:
    text = dockerfile()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) >= 2 and all(f == "python:3.11-slim" for f in froms)
    assert "'.[server]'" in text and "[test]" not in text
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root"))
    assert re.search(r'^HEALTHCHECK .*CMD \["python", "-m", "raftstore_node.probe"\]', text, re.M)
    assert re.search(r'^ENTRYPOINT \["raftstore"\]', text, re.M)
    assert re.search(r'^CMD \["node", "--from-env"\]', text, re.M)


def test_dockerignore_keeps_the_context_to_the_packages() -> None:
    text = (ROOT / ".dockerignore").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!raftstore/", "!node/", "!client/"} <= set(lines)
    assert not any(line.startswith(("!tests", "!.venv", "!.git")) for line in lines)


# --- observability: alert rules and the Grafana dashboard ------------------------------

ALERTS = DEPLOY / "prometheus-alerts.yaml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"


def exported_series(tmp_path: Path) -> set[str]:
    """Every series name a node exposes (counters as _total, histograms as _bucket ...)."""
    from raftstore_node import metrics

    from tests.unit.test_node_metrics import FakeGroup, fake_node

    families = list(metrics.REGISTRY.collect())
    families += metrics.NodeCollector(fake_node(tmp_path, [FakeGroup("t/0")])).collect()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    return {f.name + s for f in families for s in suffixes[f.type]}


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dash["panels"] for t in p["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def test_alerts_and_dashboard_query_only_exported_series(tmp_path: Path) -> None:
    exported = exported_series(tmp_path)
    exprs = [r["expr"] for r in alert_rules()] + dashboard_exprs()
    used = {name for e in exprs for name in re.findall(r"\braftstore_[a-z_]+", e)}
    assert used and used <= exported, sorted(used - exported)
    names = {r["alert"] for r in alert_rules()}
    assert {
        "RaftstoreGroupWithoutLeader",
        "RaftstoreReplicaLagging",
        "RaftstoreDiskNearlyFull",
    } <= names


def test_dashboard_is_importable() -> None:
    dash = json.loads(DASHBOARD.read_text())
    variables = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "job"} <= variables
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and all(p["targets"] for p in dash["panels"])
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dash["panels"])


needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed"
)


@needs_promtool
def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    for cmd in (["check", "rules", ALERTS.name], ["test", "rules", "prometheus-alerts.test.yaml"]):
        out = subprocess.run(["promtool", *cmd], cwd=DEPLOY, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


@needs_promtool
def test_dashboard_queries_parse(tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:panel_{i}", "expr": e.replace("$job", ".*")}
        for i, e in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
