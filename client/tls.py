"""TLS for the client port: what a client (or a node calling another) presents and trusts.

    Client(hosts, tls=TLS.from_files(ca="ca.pem"))                       # server certificate
    Client(hosts, tls=TLS.from_files(ca="ca.pem", cert="me.pem", key="me.key"))  # mutual TLS

``ca`` verifies the nodes' certificates (default: the system's roots); ``cert`` and
``key`` are this side's certificate chain and key, needed when the nodes require client
certificates. Certificates must name the address the client dials (an IP SAN for
127.0.0.1, a DNS SAN for a host name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


@dataclass(frozen=True, slots=True)
class TLS:
    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None

    @classmethod
    def from_files(
        cls,
        ca: str | Path | None = None,
        cert: str | Path | None = None,
        key: str | Path | None = None,
    ) -> TLS:
        """Read PEM files; a certificate needs its key and the other way round."""
        if (cert is None) != (key is None):
            raise ValueError("a TLS client certificate needs its key (and the other way round)")
        return cls(*(Path(p).read_bytes() if p is not None else None for p in (ca, cert, key)))

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )
