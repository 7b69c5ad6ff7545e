"""The Security service: login, and user management (security.proto).

Login is answered by the node that receives it (every node holds the users, with the
cluster state). User changes run on the leader of the metadata group (forwarded there
with the caller's token, which the leader checks again); a new password is hashed there,
on the ``login`` thread. With security off every call answers SECURITY_NOT_ENABLED (52).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from raftstore_node import meta, users
from raftstore_node.cluster_state import SYSTEM_GROUP, ClusterState
from raftstore_node.dispatch import answer

from raftstore.errors import InvalidPrivilege, SecurityNotEnabled
from raftstore.security import (
    Privilege,
    Role,
    check_password,
    check_user_name,
    checked_privilege,
)
from raftstore.v1 import security_pb2, security_pb2_grpc

SECURITY = "/raftstore.v1.Security/"
_ROLES = {
    security_pb2.ROLE_READ: Role.READ,
    security_pb2.ROLE_READ_WRITE: Role.READ_WRITE,
    security_pb2.ROLE_SYS_ADMIN: Role.SYS_ADMIN,
    security_pb2.ROLE_USER_ADMIN: Role.USER_ADMIN,
}
ROLE_TO_PB = {role: pb for pb, role in _ROLES.items()}


def privileges_from_pb(items: Any) -> tuple[Privilege, ...]:
    out = []
    for p in items:
        role = _ROLES.get(p.role)
        if role is None:
            raise InvalidPrivilege(f"unknown role {p.role}")
        out.append(checked_privilege(role, p.namespace, p.set))
    return tuple(out)


def privilege_to_pb(p: Privilege) -> security_pb2.Privilege:
    return security_pb2.Privilege(role=ROLE_TO_PB[p.role], namespace=p.namespace, set=p.set)


class SecurityService(security_pb2_grpc.SecurityServicer):
    def __init__(self, node: Any) -> None:
        self._node = node

    async def _serve(self, context: grpc.aio.ServicerContext, handler: Callable[[], Any]) -> Any:
        async def checked() -> Any:
            if self._node.guard is None:
                raise SecurityNotEnabled("security is off on this node ([security] enabled)")
            return await handler()

        return await answer(context, checked, self._node.log_unexpected)

    async def _at_leader(
        self,
        context: grpc.aio.ServicerContext,
        method: str,
        request: Any,
        change: Callable[[], Awaitable[ClusterState]],
    ) -> Any:
        async def local(deadline: float) -> Any:
            state = await change()
            return security_pb2.UserAdminResponse(epoch=state.epoch)

        return await self._dispatch(context, method, request, local, write=True)

    async def _dispatch(
        self,
        context: grpc.aio.ServicerContext,
        method: str,
        request: Any,
        local: Callable[[float], Awaitable[Any]],
        write: bool,
    ) -> Any:
        """Run ``local`` on the metadata group's leader (forwarded there if need be)."""
        return await self._node.dispatcher.run(
            context=context,
            group=self._node.router.group(SYSTEM_GROUP),
            method=SECURITY + method,
            request=request,
            response_type=_RESPONSES[method],
            local=local,
            write=write,
            no_forward=False,
        )

    async def Login(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            token, expires = await self._node.guard.login(
                request.user, request.password, context.peer()
            )
            return security_pb2.LoginResponse(token=token, expires_ms=expires)

        return await self._serve(context, handler)

    async def CreateUser(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            privileges = privileges_from_pb(request.privileges)
            check_user_name(request.user)
            check_password(request.password)

            async def change() -> ClusterState:
                digest = await self._node.guard.hash(request.password)
                return await users.create(self._node, request.user, digest, privileges)

            return await self._at_leader(context, "CreateUser", request, change)

        return await self._serve(context, handler)

    async def DropUser(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            change = lambda: users.drop(self._node, request.user)  # noqa: E731
            return await self._at_leader(context, "DropUser", request, change)

        return await self._serve(context, handler)

    async def SetPassword(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            check_password(request.password)

            async def change() -> ClusterState:
                digest = await self._node.guard.hash(request.password)
                return await users.set_password(self._node, request.user, digest)

            return await self._at_leader(context, "SetPassword", request, change)

        return await self._serve(context, handler)

    async def GrantPrivileges(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            privileges = privileges_from_pb(request.privileges)
            change = lambda: users.grant(self._node, request.user, privileges)  # noqa: E731
            return await self._at_leader(context, "GrantPrivileges", request, change)

        return await self._serve(context, handler)

    async def RevokePrivileges(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        async def handler() -> Any:
            privileges = privileges_from_pb(request.privileges)
            change = lambda: users.revoke(self._node, request.user, privileges)  # noqa: E731
            return await self._at_leader(context, "RevokePrivileges", request, change)

        return await self._serve(context, handler)

    async def ListUsers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        """Read at the metadata leader (linearizable): a change just made is listed."""

        async def local(deadline: float) -> Any:
            state, _ = await meta.read(self._node)
            out = security_pb2.ListUsersResponse()
            for name, user in sorted(state.users.items() if state is not None else ()):
                out.users.add(user=name, privileges=[privilege_to_pb(p) for p in user.privileges])
            return out

        async def handler() -> Any:
            return await self._dispatch(context, "ListUsers", request, local, write=False)

        return await self._serve(context, handler)


_RESPONSES = {
    "CreateUser": security_pb2.UserAdminResponse,
    "DropUser": security_pb2.UserAdminResponse,
    "SetPassword": security_pb2.UserAdminResponse,
    "GrantPrivileges": security_pb2.UserAdminResponse,
    "RevokePrivileges": security_pb2.UserAdminResponse,
    "ListUsers": security_pb2.ListUsersResponse,
}
