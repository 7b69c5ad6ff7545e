"""The ``[tls]`` table and ``peer_listen`` are validated at start-up with clear messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from raftstore_node.config import build_config

from raftstore.namespaces import ConfigError
from tests.pki import CA, tls_table


def doc(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    (tmp_path / "secret").write_text("s" * 32)
    member = {"id": "n1", "client": "127.0.0.1:3000", "peer": "127.0.0.1:3001"}
    return {
        "node_id": "n1",
        "data_dir": "data",
        "secret_file": "secret",
        "member": [member],
        **extra,
    }


def test_a_tls_table_gives_the_peer_mesh_its_contexts(tmp_path: Path) -> None:
    ca = CA.create(tmp_path / "pki")
    config = build_config(doc(tmp_path, tls=tls_table(ca, "n1")), base=tmp_path)
    assert config.tls is not None
    peer = config.tls.peer_tls()
    assert peer.server.verify_mode.name == "CERT_REQUIRED"  # client_auth: mutual
    assert peer.client.check_hostname and peer.server_name is None
    one_way = build_config(doc(tmp_path, tls=tls_table(ca, "n1", client_auth=False)), base=tmp_path)
    assert one_way.tls is not None and one_way.tls.peer_tls().server.verify_mode.name == "CERT_NONE"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"peer_server_name": 7}, "peer_server_name"),
        ({"ca_file": None}, "ca_file is required"),
        ({"bogus": 1}, "allowed keys"),
        ({"key_file": "ca"}, "do not load"),
    ],
)
def test_bad_tls_settings_are_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    ca = CA.create(tmp_path / "pki")
    table = {**tls_table(ca, "n1"), **change}
    if table.get("key_file") == "ca":
        table["key_file"] = str(ca.path)  # a certificate where the key should be
    table = {k: v for k, v in table.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        build_config(doc(tmp_path, tls=table), base=tmp_path)


def test_peer_listen_binds_the_peer_port_elsewhere(tmp_path: Path) -> None:
    config = build_config(doc(tmp_path, peer_listen="127.0.0.1:4001"), base=tmp_path)
    assert config.peer_bind() == ("127.0.0.1", 4001)
    assert build_config(doc(tmp_path), base=tmp_path).peer_bind() == ("127.0.0.1", 3001)
    for bad in ("nohost", "127.0.0.1:0", 5):
        with pytest.raises(ConfigError, match="peer_listen"):
            build_config(doc(tmp_path, peer_listen=bad), base=tmp_path)
