"""TLS on the client port (``[tls]`` in the node configuration).

    [tls]
    cert_file = "node.pem"     # this node's certificate chain (PEM); names its client address
    key_file = "node.key"
    ca_file = "ca.pem"         # verifies other nodes' certificates when this node forwards or
                               # joins, and clients' certificates when client_auth is on
    client_auth = false        # true: mutual TLS, clients must present a certificate

With ``[tls]`` the client port speaks only TLS: clients, the CLI (``--tls-ca``...) and other
nodes (forwarding, Join) connect with TLS, presenting this node's certificate, so the
forwarding path is authenticated too. The peer (Raft) port is unchanged: it authenticates
every peer with the cluster secret but does not encrypt.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from raftstore.namespaces import ConfigError

_KEYS = {"cert_file", "key_file", "ca_file", "client_auth"}


@dataclass(frozen=True, slots=True)
class TLSSettings:
    cert: bytes
    key: bytes
    ca: bytes | None
    client_auth: bool = False

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)],
            root_certificates=self.ca if self.client_auth else None,
            require_client_auth=self.client_auth,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """What this node presents and trusts when it calls another node's client port."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )


def _read(base: Path, raw: dict[str, Any], name: str, required: bool) -> bytes | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise ConfigError(f"[tls] {name} is required")
        return None
    if not isinstance(value, str):
        raise ConfigError(f"[tls] {name}: expected a file path")
    path = base / value
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"[tls] {name} {path}: {e.strerror}") from None


def from_toml(raw: object, base: Path) -> TLSSettings | None:
    """The ``[tls]`` table, files read and checked now; None without one."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - _KEYS:
        raise ConfigError(f"[tls] allowed keys are {sorted(_KEYS)}")
    client_auth = raw.get("client_auth", False)
    if not isinstance(client_auth, bool):
        raise ConfigError("[tls] client_auth must be true or false")
    cert = _read(base, raw, "cert_file", True)
    key = _read(base, raw, "key_file", True)
    ca = _read(base, raw, "ca_file", client_auth)
    assert cert is not None and key is not None
    _check_pair(cert, key)
    return TLSSettings(cert, key, ca, client_auth)


def _check_pair(cert: bytes, key: bytes) -> None:
    """Refuse a certificate and key that do not load together (a clear message at start-up
    instead of a failing handshake later)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        c, k = Path(d) / "c.pem", Path(d) / "k.pem"
        c.write_bytes(cert)
        k.write_bytes(key)
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(c, k)
        except (ssl.SSLError, ValueError) as e:
            raise ConfigError(f"[tls] cert_file and key_file do not load together: {e}") from None
