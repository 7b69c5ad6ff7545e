"""Proofs of the cluster secret for administrative calls on the client port.

A node joining the cluster and an operator draining a node must prove that they hold the
cluster secret (the one the peer mesh authenticates with). The proof is keyed BLAKE2b over
the cluster id, the call's fields and a timestamp; a node accepts it within ``MAX_SKEW``
of its own clock. Stdlib only: the client uses it too.
"""

from __future__ import annotations

import hashlib
import hmac
import time

MAX_SKEW_MS = 5 * 60 * 1000


def proof(secret: bytes, cluster_id: str, fields: list[str], timestamp_ms: int) -> bytes:
    data = "\x00".join([cluster_id, *fields, str(timestamp_ms)]).encode()
    return hashlib.blake2b(data, key=hashlib.sha256(secret).digest(), digest_size=32).digest()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def verify(
    secret: bytes, cluster_id: str, fields: list[str], timestamp_ms: int, given: bytes
) -> bool:
    """True when ``given`` proves the secret for these fields, made recently."""
    if abs(now_ms() - timestamp_ms) > MAX_SKEW_MS:
        return False
    return hmac.compare_digest(proof(secret, cluster_id, fields, timestamp_ms), given)
