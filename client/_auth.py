"""Logging in once and carrying the token on every call (security on; security.proto).

``Credentials`` holds a user's name, password and current token. The interceptors add
``authorization: Bearer <token>`` to every call of a channel; a unary call answered
NOT_AUTHENTICATED (80: the token expired, or was revoked by a new password) logs in again
once and is sent again with the new token. A login that fails leaves the first answer
as it was, so the caller sees NOT_AUTHENTICATED.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

AUTHORIZATION = "authorization"
LOGIN_METHOD = "/raftstore.v1.Security/Login"


class Credentials:
    """A user's login, shared by every channel of one client. Thread-safe."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self._password = password
        self.token = ""
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r})"  # never the password

    def set_password(self, password: str) -> None:
        self._password = password

    def login_request(self) -> Any:
        from raftstore.v1 import security_pb2

        return security_pb2.LoginRequest(user=self.user, password=self._password)

    def pair(self, token: str) -> tuple[str, str]:
        return (AUTHORIZATION, f"Bearer {token}")


def _not_authenticated(code: Any) -> bool:
    return code == grpc.StatusCode.UNAUTHENTICATED


def _is_login(method: str | bytes) -> bool:
    return method in (LOGIN_METHOD, LOGIN_METHOD.encode())


class _Details(
    collections.namedtuple(
        "_Details",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class AuthInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Sync channels: the token on every call; one re-login after NOT_AUTHENTICATED.

    ``relogin(seen_token)`` logs in again unless another thread already replaced
    ``seen_token``; it returns whether a (new) token is there to retry with."""

    def __init__(self, creds: Credentials, relogin: Callable[[str], bool]) -> None:
        self._creds = creds
        self._relogin = relogin

    def _details(self, details: Any, token: str) -> Any:
        metadata = [*(details.metadata or ()), self._creds.pair(token)]
        return _Details(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        token = self._creds.token
        outcome = continuation(self._details(details, token), request)
        if (
            not _is_login(details.method)
            and _not_authenticated(outcome.code())
            and self._relogin(token)
        ):
            outcome = continuation(self._details(details, self._creds.token), request)
        return outcome

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details, self._creds.token), request)


class AsyncAuthInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor
):
    """grpc.aio channels: as ``AuthInterceptor``, with an async ``relogin``."""

    def __init__(self, creds: Credentials, relogin: Callable[[str], Awaitable[bool]]) -> None:
        self._creds = creds
        self._relogin = relogin

    def _details(self, details: Any, token: str) -> Any:
        metadata = grpc.aio.Metadata(*(details.metadata or ()), self._creds.pair(token))
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        token = self._creds.token
        call = await continuation(self._details(details, token), request)
        if (
            not _is_login(details.method)
            and _not_authenticated(await call.code())
            and await self._relogin(token)
        ):
            call = await continuation(self._details(details, self._creds.token), request)
        return call

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details, self._creds.token), request)
