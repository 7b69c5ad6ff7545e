"""Access control on the client port: who is calling, and whether they may.

With ``[security] enabled = true`` the request parser (``parsing.py``) calls
``Guard.check`` for every call, after the request has been parsed and before any
handler runs — one place for every RPC:

1. ``RULES`` maps the method to what it needs: nothing (``Login``; ``Join``, which proves
   the cluster secret), only a valid token (partition map, node status), or privileges
   computed from the request (KV: READ / READ_WRITE on each key's namespace and set). A
   method missing from the table needs SYS_ADMIN (closed by default).
2. The token (``authorization: Bearer <token>``) is verified with the key derived from the
   cluster secret (``raftstore.security``); verified tokens are cached. Its user must still
   exist with the token's credential generation: a dropped user's or an old password's
   tokens are refused. Failures: NOT_AUTHENTICATED (80).
3. The user's privileges (from the cluster state this node has adopted) must cover every
   need: ROLE_VIOLATION (81) otherwise.

A request forwarded to a group leader carries the caller's ``authorization`` (the
forwarder copies ``caller_authorization``) and is checked again there.

Logins verify scrypt hashes on one ``login`` thread (never the event loop): at most one
at a time per node, at most ``MAX_PENDING_LOGINS`` waiting (DEVICE_OVERLOAD beyond), and a
refused login is answered only after ``FAILED_LOGIN_DELAY``, so guessing is slow.

Thread: the node's event loop thread (hashing on the ``login`` thread).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from raftstore_node.parsing import RateLimitedLog

from raftstore.commands import READ_ONLY_OPS
from raftstore.errors import DeviceOverload, NotAuthenticated, RoleViolation
from raftstore.security import (
    Role,
    TokenClaims,
    User,
    allowed,
    check_password,
    hash_password,
    parse_privileges,
    sign_token,
    token_key,
    verify_password,
    verify_token,
)
from raftstore.v1 import kv_pb2

log = logging.getLogger("raftstore.node.auth")

AUTHORIZATION = "authorization"
BEARER = "Bearer "
FAILED_LOGIN_DELAY = 0.5
MAX_PENDING_LOGINS = 16
TOKEN_CACHE = 10_000
ADMIN_USER = "admin"
ADMIN_PRIVILEGES = "sys-admin,user-admin,read-write"

caller_authorization: contextvars.ContextVar[str] = contextvars.ContextVar(
    "caller_authorization", default=""
)
"""The ``authorization`` value of the call being served (copied onto forwarded calls)."""

Need = tuple[Role, str, str]  # role, namespace, set
OPEN = None  # no token needed
ANY: tuple[Need, ...] = ()  # a valid token, no privilege

_DUMMY_HASH = hash_password("not a password", salt=b"\x00" * 16)


def _key_need(role: Role) -> Callable[[Any, str], tuple[Need, ...]]:
    return lambda req, _user: ((role, req.key.namespace, req.key.set),)


def _operate(req: Any, _user: str) -> tuple[Need, ...]:
    reads = all(op.type in READ_ONLY_OPS for op in req.operations)
    return ((Role.READ if reads else Role.READ_WRITE, req.key.namespace, req.key.set),)


def _batch(req: Any, _user: str) -> tuple[Need, ...]:
    return tuple({(Role.READ, r.key.namespace, r.key.set) for r in req.reads})


def _batch_operate(req: Any, _user: str) -> tuple[Need, ...]:
    """Each item needs read (a read, or an operate of reads only) or read-write on its
    namespace and set."""
    needs = set()
    for item in req.items:
        reads = item.type == kv_pb2.BATCH_ITEM_TYPE_READ or (
            item.type == kv_pb2.BATCH_ITEM_TYPE_OPERATE
            and all(op.type in READ_ONLY_OPS for op in item.operations)
        )
        needs.add((Role.READ if reads else Role.READ_WRITE, item.key.namespace, item.key.set))
    return tuple(needs)


def _set_password(req: Any, user: str) -> tuple[Need, ...]:
    return ANY if req.user == user else ((Role.USER_ADMIN, "", ""),)


def _fixed(needs: tuple[Need, ...]) -> Callable[[Any, str], tuple[Need, ...]]:
    return lambda _req, _user: needs


SYS_ADMIN = ((Role.SYS_ADMIN, "", ""),)
USER_ADMIN = ((Role.USER_ADMIN, "", ""),)
RULES: dict[str, Callable[[Any, str], tuple[Need, ...]] | None] = {
    "/raftstore.v1.KV/Put": _key_need(Role.READ_WRITE),
    "/raftstore.v1.KV/Delete": _key_need(Role.READ_WRITE),
    "/raftstore.v1.KV/Touch": _key_need(Role.READ_WRITE),
    "/raftstore.v1.KV/Get": _key_need(Role.READ),
    "/raftstore.v1.KV/Exists": _key_need(Role.READ),
    "/raftstore.v1.KV/Operate": _operate,
    "/raftstore.v1.KV/BatchGet": _batch,
    "/raftstore.v1.KV/Scan": lambda req, _u: ((Role.READ, req.namespace, req.set),),
    "/raftstore.v1.KV/BatchOperate": _batch_operate,
    # Every command of a stream is checked as its unary method (Put, Get, ...) with the
    # stream's token (stream.py); opening the stream grants nothing by itself.
    "/raftstore.v1.KV/Stream": _fixed(ANY),
    "/raftstore.v1.Index/Query": lambda req, _u: ((Role.READ, req.scan.namespace, req.scan.set),),
    "/raftstore.v1.Index/ListIndexes": lambda req, _u: ((Role.READ, req.namespace, ""),),
    "/raftstore.v1.Index/CreateIndex": _fixed(SYS_ADMIN),
    "/raftstore.v1.Index/DropIndex": _fixed(SYS_ADMIN),
    # Aerospike keeps truncate out of read-write (a data-admin privilege): sys-admin here.
    "/raftstore.v1.KV/Truncate": _fixed(SYS_ADMIN),
    "/raftstore.v1.Cluster/GetPartitionMap": _fixed(ANY),
    "/raftstore.v1.Cluster/GetNodeStatus": _fixed(ANY),
    "/raftstore.v1.Cluster/Join": OPEN,  # proves the cluster secret instead
    "/raftstore.v1.Cluster/TransferLeader": _fixed(SYS_ADMIN),
    "/raftstore.v1.Cluster/RemoveNode": _fixed(SYS_ADMIN),  # and proves the secret
    "/raftstore.v1.Cluster/Revive": _fixed(SYS_ADMIN),  # and proves the secret
    "/raftstore.v1.Security/Login": OPEN,
    "/raftstore.v1.Security/CreateUser": _fixed(USER_ADMIN),
    "/raftstore.v1.Security/DropUser": _fixed(USER_ADMIN),
    "/raftstore.v1.Security/GrantPrivileges": _fixed(USER_ADMIN),
    "/raftstore.v1.Security/RevokePrivileges": _fixed(USER_ADMIN),
    "/raftstore.v1.Security/ListUsers": _fixed(USER_ADMIN),
    "/raftstore.v1.Security/SetPassword": _set_password,
}


def founding_users(admin_password: str, secret: bytes) -> dict[str, User]:
    """The users of a cluster founded with security on: ``admin`` (sys-admin,
    user-admin, read-write) with the configured password. The salt is derived from the
    cluster secret so that every founder computes the same epoch-1 state."""
    salt = hmac.new(secret, b"raftstore admin salt v1", hashlib.sha256).digest()[:16]
    admin = User(
        ADMIN_USER, hash_password(admin_password, salt), 1, parse_privileges(ADMIN_PRIVILEGES)
    )
    return {ADMIN_USER: admin}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Guard:
    """Authentication and authorisation of client-port calls (security on)."""

    def __init__(self, secret: bytes, token_ttl: float, users: Callable[[], dict[str, User]]):
        self._key = token_key(secret)
        self._ttl_ms = int(token_ttl * 1000)
        self._users = users
        self._verified: dict[str, TokenClaims] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="login")
        self._pending = 0
        self.refused = RateLimitedLog(log, "calls refused NOT_AUTHENTICATED")
        self.failed_logins = RateLimitedLog(log, "failed logins")

    def check(self, method: str, request: Any, metadata: Iterable[tuple[str, Any]]) -> None:
        """Raise NotAuthenticated or RoleViolation unless the caller may make this call."""
        rule = RULES.get(method, _fixed(SYS_ADMIN))
        if rule is OPEN:
            return
        header = next((v for k, v in metadata if k == AUTHORIZATION), "")
        user = self.authenticate(header if isinstance(header, str) else "")
        caller_authorization.set(header)
        for role, namespace, set_name in rule(request, user.name):
            if not allowed(user.privileges, role, namespace, set_name):
                scope = f"{namespace}.{set_name}" if set_name else namespace or "the cluster"
                raise RoleViolation(f"user {user.name!r} lacks {role.value} on {scope}")

    def authenticate(self, header: str) -> User:
        """The user a ``Bearer`` token names, if still valid; NotAuthenticated otherwise."""
        if not header.startswith(BEARER):
            raise NotAuthenticated("no token: log in first (authorization: Bearer <token>)")
        token = header[len(BEARER) :]
        now = now_ms()
        claims = self._verified.get(token)
        if claims is None:
            claims = verify_token(self._key, token, now)
            if len(self._verified) >= TOKEN_CACHE:
                self._verified.clear()
            self._verified[token] = claims
        elif claims.expires_ms <= now:
            raise NotAuthenticated("the token has expired: log in again")
        user = self._users().get(claims.user)
        if user is None or user.generation != claims.generation:
            raise NotAuthenticated("the token was revoked (user dropped or password changed)")
        return user

    async def login(self, name: str, password: str, peer: str) -> tuple[str, int]:
        """A token for ``name`` if ``password`` is its password; NotAuthenticated otherwise
        (after ``FAILED_LOGIN_DELAY``; unknown users cost as much as wrong passwords)."""
        if self._pending >= MAX_PENDING_LOGINS:
            raise DeviceOverload("too many logins in progress on this node; retry")
        user = self._users().get(name)
        stored = user.password_hash if user is not None else _DUMMY_HASH
        self._pending += 1
        try:
            ok = await self._run(verify_password, password, stored)
        finally:
            self._pending -= 1
        current = self._users().get(name)
        if not ok or user is None or current is None or current.generation != user.generation:
            self.failed_logins.note(f"user {name[:64]!r} from {peer}")
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            raise NotAuthenticated("wrong user name or password")
        expires = now_ms() + self._ttl_ms
        return sign_token(self._key, name, current.generation, expires), expires

    async def hash(self, password: str) -> str:
        """The stored form of a new password, computed on the ``login`` thread."""
        check_password(password)
        return str(await self._run(hash_password, password))

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
