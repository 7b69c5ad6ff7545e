"""Test PKI: certificate authorities and leaf certificates in a temporary directory
(``cryptography``, EC P-256, valid for a day)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class CA:
    """A certificate authority whose certificate is ``<dir>/<name>.pem``."""

    directory: Path
    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, directory: Path, name: str = "ca") -> CA:
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"raftstore test {name}"))
            .issuer_name(_name(f"raftstore test {name}"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(directory, name, key, cert)

    @property
    def path(self) -> Path:
        return self.directory / f"{self.name}.pem"

    def issue(self, who: str, ips: tuple[str, ...] = ("127.0.0.1",), dns: tuple[str, ...] = ()):
        """A leaf certificate and key for ``who`` naming ``ips`` and ``dns``: paths
        (``<dir>/<who>.pem``, ``<dir>/<who>.key``)."""
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        names += [x509.DNSName(d) for d in dns]
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(who))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        pem, keyfile = self.directory / f"{who}.pem", self.directory / f"{who}.key"
        pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        keyfile.write_bytes(_pem_key(key))
        return pem, keyfile


def tls_table(ca: CA, who: str, *, client_auth: bool = True, **extra: object) -> dict[str, object]:
    """A node's ``[tls]`` table: a certificate for 127.0.0.1 issued by ``ca``."""
    cert, key = ca.issue(who)
    return {
        "cert_file": str(cert),
        "key_file": str(key),
        "ca_file": str(ca.path),
        "client_auth": client_auth,
        **extra,
    }
