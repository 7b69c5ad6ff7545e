"""TLS on the client port and the peer port (``[tls]`` in the node configuration).

    [tls]
    cert_file = "node.pem"     # this node's certificate chain (PEM); names its client and
                               # peer addresses (or peer_server_name)
    key_file = "node.key"
    ca_file = "ca.pem"         # verifies other nodes' certificates (peer links, forwarding,
                               # Join) and clients' certificates when client_auth is on
    client_auth = false        # true: mutual TLS, on the client port and on the peer port
    peer_server_name = ""      # optional: check every peer's certificate against this name
                               # instead of the host of its peer address

With ``[tls]`` the client port speaks only TLS: clients, the CLI (``--tls-ca``...) and other
nodes (forwarding, Join) connect with TLS, presenting this node's certificate. The peer
(Raft) port speaks only TLS too (``peer_tls``): a dialing node checks the accepting node's
certificate against ``ca_file`` (the system's roots without one) and its name; with
``client_auth`` the accepting node checks the dialer's certificate as well. The peer mesh's
cluster-secret handshake then runs inside the TLS channel, so a peer needs both.
Forwarded client requests travel on the client port: over TLS, and with ``client_auth``
the leader authenticates the forwarding node by its certificate (with security on, the
caller's token is checked again at the leader in every case).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from raftstore.namespaces import ConfigError
from raftstore.replication.mesh import PeerTLS

_KEYS = {"cert_file", "key_file", "ca_file", "client_auth", "peer_server_name"}


@dataclass(frozen=True, slots=True)
class TLSSettings:
    cert: bytes
    key: bytes
    ca: bytes | None
    client_auth: bool = False
    peer_server_name: str | None = None

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

    def peer_tls(self) -> PeerTLS:
        """SSL contexts of the peer mesh: TLS 1.2 or later, this node's certificate on both
        sides, the peer's certificate verified against ``ca`` (the acceptor verifies the
        dialer's only with ``client_auth``)."""
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # checks hostname and certificate
        for ctx in (server, client):
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            _load_chain(ctx, self.cert, self.key)
        if self.ca is not None:
            client.load_verify_locations(cadata=self.ca.decode())
        else:
            client.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if self.client_auth:
            assert self.ca is not None  # from_toml requires it
            server.verify_mode = ssl.CERT_REQUIRED
            server.load_verify_locations(cadata=self.ca.decode())
        return PeerTLS(server, client, self.peer_server_name)


def _load_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """Load a certificate chain and key held in memory (ssl reads them only from files:
    they live in a private temporary directory for the time of the call)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        c, k = Path(d) / "c.pem", Path(d) / "k.pem"
        c.write_bytes(cert)
        k.touch(mode=0o600)
        k.write_bytes(key)
        ctx.load_cert_chain(c, k)


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
    name = raw.get("peer_server_name", "")
    if not isinstance(name, str):
        raise ConfigError("[tls] peer_server_name must be a host name")
    cert = _read(base, raw, "cert_file", True)
    key = _read(base, raw, "key_file", True)
    ca = _read(base, raw, "ca_file", client_auth)
    assert cert is not None and key is not None
    settings = TLSSettings(cert, key, ca, client_auth, name or None)
    try:
        settings.peer_tls()  # a clear message at start-up instead of failing handshakes
    except (ssl.SSLError, ValueError) as e:
        raise ConfigError(f"[tls] cert_file, key_file and ca_file do not load: {e}") from None
    return settings
