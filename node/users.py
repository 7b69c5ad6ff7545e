"""User management, made on the leader of the metadata group: each change is a
compare-and-set of the cluster state (``admin.change_state``), so users are replicated
through the metadata group's log, survive restarts, and reach every node with the state.

A user's credential generation is the epoch of the state that set its password: it
changes with every new password, and a user dropped and created again never gets an old
value back, so no earlier token becomes valid again.

Thread: the node's raft loop thread.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from raftstore_node.admin import change_state
from raftstore_node.cluster_state import ClusterState

from raftstore.errors import InvalidPrivilege, InvalidUser, UserAlreadyExists
from raftstore.security import MAX_PRIVILEGES, Privilege, User, check_user_name

MAX_USERS = 10_000


def _user(state: ClusterState, name: str) -> User:
    user = state.users.get(name)
    if user is None:
        raise InvalidUser(f"no user {name!r}")
    return user


def _with(state: ClusterState, user: User | None, name: str) -> ClusterState:
    users = dict(state.users)
    if user is None:
        users.pop(name, None)
    else:
        users[name] = user
    return state.evolve(users=users)


def _bounded(privileges: tuple[Privilege, ...]) -> tuple[Privilege, ...]:
    if len(privileges) > MAX_PRIVILEGES:
        raise InvalidPrivilege(f"a user holds at most {MAX_PRIVILEGES} privileges")
    return tuple(sorted(set(privileges)))


async def create(
    node: Any, name: str, password_hash: str, privileges: tuple[Privilege, ...]
) -> ClusterState:
    check_user_name(name)
    privileges = _bounded(privileges)

    def change(state: ClusterState) -> ClusterState:
        if name in state.users:
            raise UserAlreadyExists(f"user {name!r} already exists")
        if len(state.users) >= MAX_USERS:
            raise InvalidUser(f"the cluster holds {MAX_USERS} users already")
        return _with(state, User(name, password_hash, state.epoch + 1, privileges), name)

    return await change_state(node, change)


async def drop(node: Any, name: str) -> ClusterState:
    def change(state: ClusterState) -> ClusterState:
        _user(state, name)
        return _with(state, None, name)

    return await change_state(node, change)


async def set_password(node: Any, name: str, password_hash: str) -> ClusterState:
    def change(state: ClusterState) -> ClusterState:
        user = dataclasses.replace(
            _user(state, name), password_hash=password_hash, generation=state.epoch + 1
        )
        return _with(state, user, name)

    return await change_state(node, change)


async def grant(node: Any, name: str, privileges: tuple[Privilege, ...]) -> ClusterState:
    def change(state: ClusterState) -> ClusterState:
        user = _user(state, name)
        merged = _bounded(user.privileges + privileges)
        if merged == user.privileges:
            return state
        return _with(state, dataclasses.replace(user, privileges=merged), name)

    return await change_state(node, change)


async def revoke(node: Any, name: str, privileges: tuple[Privilege, ...]) -> ClusterState:
    def change(state: ClusterState) -> ClusterState:
        user = _user(state, name)
        kept = tuple(p for p in user.privileges if p not in set(privileges))
        if kept == user.privileges:
            return state
        return _with(state, dataclasses.replace(user, privileges=kept), name)

    return await change_state(node, change)
