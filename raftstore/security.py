"""Access control, as Aerospike's: users, privileges, password hashes and login tokens.

Pure and stdlib only (the client parses privileges with it too); no I/O, no clock of its
own — callers pass the time.

- A privilege is a role (``read``, ``read-write``, ``sys-admin``, ``user-admin``) with an
  optional scope: a namespace, or a namespace and a set. ``read-write`` implies ``read``;
  ``sys-admin`` and ``user-admin`` are global (a scope is refused). Written
  ``role[@namespace[.set]]``, e.g. ``read@test.s1``, ``read-write@test``, ``sys-admin``.
- A password is stored as ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (hashlib.scrypt, 16-byte
  random salt, 32-byte hash; n=2**14 r=8 p=1: ~16 MiB and tens of milliseconds per
  verification, which also slows down guessing). Passwords are never stored or logged.
- A token is ``v1.<payload>.<mac>`` (URL-safe base64): the payload is JSON
  ``{"u": user, "g": credential generation, "e": expiry ms}``, the mac HMAC-SHA256 of the
  payload with a key derived from the cluster secret, so any node verifies it without a
  lookup. The credential generation changes when the password does (and a user created
  again gets a new one): a token of an older generation, or of a dropped user, is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from raftstore.errors import InvalidPassword, InvalidPrivilege, InvalidUser, NotAuthenticated


class Role(StrEnum):
    READ = "read"
    READ_WRITE = "read-write"
    SYS_ADMIN = "sys-admin"
    USER_ADMIN = "user-admin"


GLOBAL_ROLES = frozenset({Role.SYS_ADMIN, Role.USER_ADMIN})
MAX_PASSWORD = 128  # bytes of UTF-8
MAX_PRIVILEGES = 64
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,62}$")
_SCOPE_RE = re.compile(r"^[A-Za-z0-9_-]{1,31}$")  # a namespace or set name in a privilege
_SET_RE = re.compile(r"^[^\x00]{1,63}$")
TOKEN_PREFIX = "v1"
MAX_TOKEN = 1024


@dataclass(frozen=True, slots=True, order=True)
class Privilege:
    """A role, global (namespace "") or scoped to a namespace, or to a namespace's set."""

    role: Role
    namespace: str = ""
    set: str = ""

    def __str__(self) -> str:
        if not self.namespace:
            return self.role.value
        scope = f"{self.namespace}.{self.set}" if self.set else self.namespace
        return f"{self.role.value}@{scope}"

    def covers(self, role: Role, namespace: str, set_name: str) -> bool:
        """True when this privilege allows ``role`` on records of ``namespace``/``set_name``
        (set "" is the namespace's records without a set, or a whole-namespace scan)."""
        if self.role is not role and not (self.role is Role.READ_WRITE and role is Role.READ):
            return False
        if not self.namespace:
            return True
        return self.namespace == namespace and (not self.set or self.set == set_name)


def parse_privilege(text: str) -> Privilege:
    """``role[@namespace[.set]]`` → Privilege; InvalidPrivilege names what is wrong."""
    role_text, at, scope = text.strip().partition("@")
    try:
        role = Role(role_text)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidPrivilege(f"unknown role {role_text!r} (known: {known})") from None
    if not at:
        return Privilege(role)
    namespace, dot, set_name = scope.partition(".")
    if not namespace or (dot and not set_name):
        raise InvalidPrivilege(f"empty namespace or set in privilege {text!r}")
    return checked_privilege(role, namespace, set_name, what=text)


def checked_privilege(role: Role, namespace: str, set_name: str, what: str = "") -> Privilege:
    """A Privilege whose scope is well formed; InvalidPrivilege otherwise."""
    what = what or f"{role.value}@{namespace}.{set_name}"
    if role in GLOBAL_ROLES and (namespace or set_name):
        raise InvalidPrivilege(f"{role.value} is global: it takes no scope ({what!r})")
    if set_name and not namespace:
        raise InvalidPrivilege(f"a set scope needs a namespace ({what!r})")
    if namespace and not _SCOPE_RE.match(namespace):
        raise InvalidPrivilege(f"malformed namespace in privilege {what!r}")
    if set_name and not _SET_RE.match(set_name):
        raise InvalidPrivilege(f"malformed set in privilege {what!r}")
    return Privilege(role, namespace, set_name)


def parse_privileges(text: str) -> tuple[Privilege, ...]:
    """A comma-separated list, e.g. ``read@test.s1,read-write@test``."""
    items = [p for p in (x.strip() for x in text.split(",")) if p]
    return tuple(sorted(set(parse_privilege(p) for p in items)))


def allowed(privileges: tuple[Privilege, ...], role: Role, namespace: str, set_name: str) -> bool:
    return any(p.covers(role, namespace, set_name) for p in privileges)


def check_user_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidUser(
            "a user name is 1-63 characters: letters, digits, '_', '.', '@', '-' "
            "(not starting with '.', '@' or '-')"
        )
    return name


def check_password(password: object) -> str:
    if not isinstance(password, str) or not password:
        raise InvalidPassword("the password must not be empty")
    if len(password.encode()) > MAX_PASSWORD:
        raise InvalidPassword(f"the password is longer than {MAX_PASSWORD} bytes")
    return password


# --- passwords --------------------------------------------------------------------------

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The stored form of ``password`` (salted scrypt). Slow on purpose: keep it off the
    event loop."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(
        check_password(password).encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for any malformed input."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or len(password.encode()) > MAX_PASSWORD:
            return False
        expect = _unb64(digest)
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expect)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, expect)


# --- users ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class User:
    """A stored user: its password hash, credential generation and privileges."""

    name: str
    password_hash: str
    generation: int
    privileges: tuple[Privilege, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hash": self.password_hash,
            "generation": self.generation,
            "privileges": [str(p) for p in self.privileges],
        }

    @staticmethod
    def from_dict(name: str, doc: dict[str, Any]) -> User:
        """Raises ValueError for anything malformed."""
        try:
            privileges = tuple(parse_privilege(str(p)) for p in doc["privileges"])
            return User(check_user_name(name), str(doc["hash"]), int(doc["generation"]), privileges)
        except (KeyError, TypeError, InvalidPrivilege, InvalidUser) as e:
            raise ValueError(f"malformed user {name!r}: {e}") from None


# --- tokens -----------------------------------------------------------------------------


def token_key(secret: bytes) -> bytes:
    """The token-signing key every node derives from the cluster secret."""
    return hmac.new(secret, b"raftstore token key v1", hashlib.sha256).digest()


def sign_token(key: bytes, user: str, generation: int, expires_ms: int) -> str:
    payload = _b64(json.dumps({"u": user, "g": generation, "e": expires_ms}).encode())
    mac = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{TOKEN_PREFIX}.{payload}.{mac}"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user: str
    generation: int
    expires_ms: int


def verify_token(key: bytes, token: str, now_ms: int) -> TokenClaims:
    """The claims of a token signed with ``key`` and not expired; NotAuthenticated else."""
    if len(token) > MAX_TOKEN:
        raise NotAuthenticated("malformed token")
    prefix, _, rest = token.partition(".")
    payload, _, mac = rest.partition(".")
    if prefix != TOKEN_PREFIX or not payload or not mac:
        raise NotAuthenticated("malformed token")
    expect = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expect.encode(), mac.encode()):
        raise NotAuthenticated("the token's signature is not valid (tampered, or another cluster)")
    try:
        doc = json.loads(_unb64(payload))
        claims = TokenClaims(str(doc["u"]), int(doc["g"]), int(doc["e"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise NotAuthenticated("malformed token") from None
    if claims.expires_ms <= now_ms:
        raise NotAuthenticated("the token has expired: log in again")
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
