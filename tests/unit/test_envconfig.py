"""``raftstore node --from-env``: a StatefulSet pod's environment → its node configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from raftstore_node.envconfig import config_doc, load_from_env

from raftstore.namespaces import ConfigError

SECRET = "s" * 32


@pytest.fixture(autouse=True)
def cluster_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The node reads RAFTSTORE_CLUSTER_SECRET from its process environment (config._secret)."""
    monkeypatch.setenv("RAFTSTORE_CLUSTER_SECRET", SECRET)


def pod_env(tmp_path: Path, ordinal: int = 1, **extra: str) -> dict[str, str]:
    return {
        "POD_NAME": f"raftstore-{ordinal}",
        "POD_NAMESPACE": "db",
        "RAFTSTORE_REPLICAS": "3",
        "RAFTSTORE_PEER_SERVICE": "raftstore-peers",
        "RAFTSTORE_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


def test_pod_ordinal_and_headless_service_give_the_members(tmp_path: Path) -> None:
    config = load_from_env(pod_env(tmp_path))
    assert config.node_id == "raftstore-1"
    assert [m.id for m in config.members] == ["raftstore-0", "raftstore-1", "raftstore-2"]
    assert config.me.client == "raftstore-1.raftstore-peers.db.svc:3000"
    assert config.me.peer == "raftstore-1.raftstore-peers.db.svc:3001"
    assert config.bind(config.me.client) == ("0.0.0.0", 3000)
    assert config.metrics_port == 9145
    assert config.secret == SECRET.encode()
    assert config.data_dir == tmp_path / "data"
    assert [(n.name, n.replication_factor) for n in config.namespaces] == [("test", 3)]


def test_every_pod_derives_the_same_member_list(tmp_path: Path) -> None:
    configs = [load_from_env(pod_env(tmp_path, i)) for i in range(3)]
    assert len({c.members for c in configs}) == 1
    assert [c.node_id for c in configs] == [m.id for m in configs[0].members]


def test_settings_from_the_config_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAFTSTORE_CLUSTER_SECRET")
    secret = tmp_path / "cluster.secret"
    secret.write_text(SECRET[::-1] + "x\n")
    env = pod_env(
        tmp_path,
        RAFTSTORE_CLUSTER_SECRET_FILE=str(secret),
        RAFTSTORE_CLUSTER_ID="prod-eu",
        RAFTSTORE_CLUSTER_DOMAIN="cluster.local",
        RAFTSTORE_CLIENT_PORT="4000",
        RAFTSTORE_PEER_PORT="4001",
        RAFTSTORE_METRICS_PORT="0",
        RAFTSTORE_NAMESPACES=json.dumps(
            [{"name": "users", "replication_factor": 3, "partition_groups": 4}]
        ),
        RAFTSTORE_RAFT=json.dumps({"heartbeat": 0.05}),
        RAFTSTORE_RACKS="eu-1a, eu-1b,eu-1c",
    )
    config = load_from_env(env)
    assert config.cluster_id == "prod-eu"
    assert config.me.client == "raftstore-1.raftstore-peers.db.svc.cluster.local:4000"
    assert config.metrics_port == 0
    assert [(n.name, n.partition_groups) for n in config.namespaces] == [("users", 4)]
    assert config.timing.heartbeat == 0.05
    assert [m.rack for m in config.members] == ["eu-1a", "eu-1b", "eu-1c"]
    assert config.secret == (SECRET[::-1] + "x").encode()


def test_replication_factor_fills_in_namespaces_without_one(tmp_path: Path) -> None:
    env = pod_env(
        tmp_path,
        RAFTSTORE_REPLICAS="5",
        RAFTSTORE_REPLICATION_FACTOR="3",
        RAFTSTORE_NAMESPACES=json.dumps([{"name": "a"}, {"name": "b", "replication_factor": 5}]),
    )
    config = load_from_env(env)
    assert [(n.name, n.replication_factor) for n in config.namespaces] == [("a", 3), ("b", 5)]


def test_address_overrides_map_dns_names_for_tests(tmp_path: Path) -> None:
    overrides = {
        f"raftstore-{i}.raftstore-peers.db.svc:{port}": f"127.0.0.1:{20000 + 10 * i + port % 2}"
        for i in range(3)
        for port in (3000, 3001)
    }
    env = pod_env(
        tmp_path,
        RAFTSTORE_ADDRESS_OVERRIDES=json.dumps(overrides),
        RAFTSTORE_LISTEN_HOST="127.0.0.1",
    )
    config = load_from_env(env)
    assert [m.client for m in config.members] == [
        "127.0.0.1:20000",
        "127.0.0.1:20010",
        "127.0.0.1:20020",
    ]
    assert config.bind(config.me.peer) == ("127.0.0.1", 20011)


def test_a_pod_added_by_scaling_up_joins_through_pod_0(tmp_path: Path) -> None:
    env = pod_env(tmp_path, 3, RAFTSTORE_REPLICAS="4", RAFTSTORE_FOUNDING_REPLICAS="3")
    config = load_from_env(env)
    assert [m.id for m in config.members] == ["raftstore-3"]  # the roster comes from the cluster
    assert config.me.client == "raftstore-3.raftstore-peers.db.svc:3000"
    assert config.join == "raftstore-0.raftstore-peers.db.svc:3000"
    assert load_from_env(env, join="elsewhere:3000").join == "elsewhere:3000"  # --join wins
    founder = load_from_env(pod_env(tmp_path / "f", 1, RAFTSTORE_REPLICAS="4"), join="")
    assert founder.join == ""  # RAFTSTORE_FOUNDING_REPLICAS defaults to the replicas...
    assert len(founder.members) == 4  # ...so a 4-pod install founds with 4


def test_a_pod_added_by_kubectl_scale_joins_with_the_templates_environment(
    tmp_path: Path,
) -> None:
    config = load_from_env(pod_env(tmp_path, 3, RAFTSTORE_FOUNDING_REPLICAS="3"))
    assert config.join == "raftstore-0.raftstore-peers.db.svc:3000"


def test_the_replica_count_may_change_but_not_the_founding_count(tmp_path: Path) -> None:
    load_from_env(pod_env(tmp_path))  # first start records the founding count
    assert json.loads((tmp_path / "data" / "statefulset.json").read_text()) == {"founding": 3}
    load_from_env(pod_env(tmp_path, RAFTSTORE_REPLICAS="5", RAFTSTORE_FOUNDING_REPLICAS="3"))
    with pytest.raises(ConfigError, match=r"founded by 3 pods but RAFTSTORE_FOUNDING_REPLICAS"):
        load_from_env(pod_env(tmp_path, RAFTSTORE_REPLICAS="5"))  # founding 5: refused
    (tmp_path / "data" / "statefulset.json").write_text('{"replicas": 3}\n')  # from 0.1
    load_from_env(pod_env(tmp_path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"POD_NAME": ""}, "POD_NAME is required"),
        ({"POD_NAME": "raftstore"}, "expected <statefulset>-<ordinal>"),
        ({"RAFTSTORE_REPLICAS": "three"}, "RAFTSTORE_REPLICAS: expected an integer"),
        ({"RAFTSTORE_PEER_SERVICE": ""}, "RAFTSTORE_PEER_SERVICE is required"),
        ({"RAFTSTORE_CLIENT_PORT": "70000"}, "RAFTSTORE_CLIENT_PORT: expected an integer"),
        ({"RAFTSTORE_NAMESPACES": "[{"}, "RAFTSTORE_NAMESPACES: invalid JSON"),
        ({"RAFTSTORE_RAFT": "[]"}, "RAFTSTORE_RAFT: expected a JSON object"),
        ({"RAFTSTORE_CLUSTER_SECRET_FILE": "/nonexistent/secret"}, "secret_file"),
        ({"RAFTSTORE_CLUSTER_ID": "has.dots"}, "cluster_id"),
    ],
)
def test_bad_environment_gets_a_clear_error(
    tmp_path: Path, change: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAFTSTORE_CLUSTER_SECRET")
    with pytest.raises(ConfigError, match=message):
        load_from_env({**pod_env(tmp_path), **change})


def test_zone_mismatch_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    doc, replicas = config_doc(pod_env(tmp_path, RAFTSTORE_RACKS="a,b,c", RAFTSTORE_ZONE="c"))
    assert replicas == 3 and doc["member"][1]["rack"] == "b"
    assert "runs in zone c but RAFTSTORE_RACKS gives it rack b" in caplog.text


def test_security_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load_from_env(pod_env(tmp_path)).security.enabled
    monkeypatch.setenv("RAFTSTORE_ADMIN_PASSWORD", "first-pw")
    env = {**pod_env(tmp_path), "RAFTSTORE_SECURITY": '{"enabled": true, "token_ttl": 600}'}
    security = load_from_env(env).security
    assert (security.enabled, security.admin_password, security.token_ttl) == (
        True,
        "first-pw",
        600.0,
    )
    assert "first-pw" not in repr(security)
    with pytest.raises(ConfigError, match="security"):
        load_from_env({**pod_env(tmp_path), "RAFTSTORE_SECURITY": '{"enabled": "yes"}'})


def test_tls_from_the_environment(tmp_path: Path) -> None:
    """RAFTSTORE_TLS is the [tls] table: TLS on the client and peer ports of the pod."""
    import json

    from tests.pki import CA, tls_table

    ca = CA.create(tmp_path / "pki")
    table = tls_table(ca, "pod", peer_server_name="raftstore.test")
    config = load_from_env({**pod_env(tmp_path), "RAFTSTORE_TLS": json.dumps(table)})
    assert config.tls is not None and config.tls.client_auth
    assert config.tls.peer_tls().server_name == "raftstore.test"
    assert load_from_env(pod_env(tmp_path)).tls is None
    with pytest.raises(ConfigError, match="tls"):
        load_from_env({**pod_env(tmp_path), "RAFTSTORE_TLS": '{"cert_file": "/nonexistent"}'})
