"""TLS on the client port: clients and the CLI connect with TLS, nodes forward to each
other over TLS, plain-text and unauthenticated clients are refused."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from raftstore_client import TLS, Client, RaftstoreError

from tests.jepsen.cluster import Cluster


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_pki(directory: Path) -> dict[str, Path]:
    """A CA, a certificate for 127.0.0.1 (the nodes) and one for a client."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("raftstore test CA"))
        .issuer_name(_name("raftstore test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    out = {"ca": directory / "ca.pem"}
    out["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for who, san in (
        ("node", x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])),
        ("client", x509.SubjectAlternativeName([x509.DNSName("client.raftstore.test")])),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(who))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(san, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        out[who] = directory / f"{who}.pem"
        out[who].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out[f"{who}_key"] = directory / f"{who}.key"
        _write_key(key, out[f"{who}_key"])
    return out


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def mtls_cluster(
    pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    tls = {
        "cert_file": str(pki["node"]),
        "key_file": str(pki["node_key"]),
        "ca_file": str(pki["ca"]),
        "client_auth": True,
    }
    client_tls = TLS.from_files(pki["ca"], pki["client"], pki["client_key"])
    with Cluster(
        tmp_path_factory.mktemp("tls"), nodes=3, tls=tls, client_tls=client_tls
    ) as cluster:
        yield cluster


def test_a_tls_client_writes_and_reads_through_every_node(
    mtls_cluster: Cluster, pki: dict[str, Path]
) -> None:
    tls = TLS.from_files(pki["ca"], pki["client"], pki["client_key"])
    with Client(mtls_cluster.hosts, tls=tls, timeout=10) as c:
        c.put(("test", "tls", "k"), {"v": 1})
    for node in mtls_cluster.ids:  # pinned: a node forwards to the leader, over TLS
        with Client([mtls_cluster.address(node)], pinned=True, tls=tls, timeout=10) as c:
            assert c.get(("test", "tls", "k")).bins == {"v": 1}
            c.put(("test", "tls", node), {"via": node})


def test_plain_text_and_certificate_less_clients_are_refused(
    mtls_cluster: Cluster, pki: dict[str, Path]
) -> None:
    with pytest.raises(RaftstoreError, match="SERVER_NOT_AVAILABLE"):
        Client(mtls_cluster.hosts, timeout=2)
    with pytest.raises(RaftstoreError, match="SERVER_NOT_AVAILABLE"):
        Client(mtls_cluster.hosts, tls=TLS.from_files(pki["ca"]), timeout=2)


def test_the_cli_takes_tls_options(mtls_cluster: Cluster, pki: dict[str, Path]) -> None:
    base = [sys.executable, "-m", "raftstore_client.cli"]
    tls = ["--tls-ca", str(pki["ca"]), "--tls-cert", str(pki["client"]),
           "--tls-key", str(pki["client_key"]), "--hosts", mtls_cluster.hosts[0]]  # fmt: skip
    out = subprocess.run([*base, "put", "test", "tls", "cli", "v=2", *tls],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = subprocess.run([*base, "get", "test", "tls", "cli", *tls],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0 and '"v": 2' in out.stdout, out.stdout + out.stderr


def test_a_node_joins_a_tls_cluster(mtls_cluster: Cluster) -> None:
    node = mtls_cluster.add_node()
    assert node in {n.node_id for n in mtls_cluster.partition_map("n1").nodes}
