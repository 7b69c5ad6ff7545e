"""Access control, pure parts: password hashes, tokens, privileges, and the node's guard
(which RPC needs what) with an in-memory user table."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from raftstore_node.auth import RULES, Guard, founding_users
from raftstore_node.cluster_state import ClusterState, founding_state
from raftstore_node.config import Member

from raftstore.errors import (
    InvalidPassword,
    InvalidPrivilege,
    InvalidUser,
    NotAuthenticated,
    RoleViolation,
)
from raftstore.namespaces import NamespaceConfig
from raftstore.security import (
    Privilege,
    Role,
    User,
    allowed,
    check_password,
    check_user_name,
    hash_password,
    parse_privilege,
    parse_privileges,
    sign_token,
    token_key,
    verify_password,
    verify_token,
)
from raftstore.v1 import cluster_pb2, index_pb2, kv_pb2, security_pb2, values_pb2

SECRET = b"0123456789abcdef-secret"
NOW = 1_700_000_000_000

# --- passwords ------------------------------------------------------------------------


def test_a_password_hash_is_salted_and_verifies() -> None:
    a, b = hash_password("hunter2"), hash_password("hunter2")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert "hunter2" not in a
    assert verify_password("hunter2", a) and verify_password("hunter2", b)
    assert not verify_password("hunter3", a)
    assert not verify_password("", a)


@pytest.mark.parametrize("stored", ["", "scrypt$x", "md5$1$1$1$AA$AA", "scrypt$16384$8$1$!!$AA"])
def test_a_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_passwords_and_names_are_bounded() -> None:
    with pytest.raises(InvalidPassword):
        check_password("")
    with pytest.raises(InvalidPassword):
        check_password("é" * 65)  # 130 bytes
    check_password("x" * 128)
    for bad in ("", "a b", "-x", "x" * 64, "a\x00", 7):
        with pytest.raises(InvalidUser):
            check_user_name(bad)
    assert check_user_name("svc.app-1@eu") == "svc.app-1@eu"


# --- tokens ---------------------------------------------------------------------------


def test_a_token_verifies_until_it_expires() -> None:
    key = token_key(SECRET)
    token = sign_token(key, "alice", 7, NOW + 1000)
    claims = verify_token(key, token, NOW)
    assert (claims.user, claims.generation, claims.expires_ms) == ("alice", 7, NOW + 1000)
    with pytest.raises(NotAuthenticated, match="expired"):
        verify_token(key, token, NOW + 1000)


def test_a_tampered_or_foreign_token_is_refused() -> None:
    key = token_key(SECRET)
    token = sign_token(key, "alice", 7, NOW + 1000)
    prefix, payload, mac = token.split(".")
    forged = sign_token(key, "admin", 7, NOW + 1000).split(".")[1]
    for bad in (
        f"{prefix}.{forged}.{mac}",  # another payload under alice's signature
        f"{prefix}.{payload}.{mac[:-2]}AA",
        sign_token(token_key(b"another cluster's secret"), "alice", 7, NOW + 1000),
        "v2." + token[3:],
        "",
        "v1..",
        "v1.!!!.AAAA",
        "v1." + "A" * 2000,
    ):
        with pytest.raises(NotAuthenticated):
            verify_token(key, bad, NOW)


# --- privileges -----------------------------------------------------------------------


def test_privileges_parse_and_print() -> None:
    assert parse_privilege("read@test.s1") == Privilege(Role.READ, "test", "s1")
    assert parse_privilege("read-write@test") == Privilege(Role.READ_WRITE, "test")
    assert parse_privilege("sys-admin") == Privilege(Role.SYS_ADMIN)
    assert [str(p) for p in parse_privileges("read@test.s1, read-write@test,read@test.s1")] == [
        "read@test.s1",
        "read-write@test",
    ]


@pytest.mark.parametrize(
    "bad",
    ["write", "read@", "read@test.", "read@.s1", "sys-admin@test", "user-admin@t.s", "read@a b"],
)
def test_malformed_privileges_are_refused(bad: str) -> None:
    with pytest.raises(InvalidPrivilege):
        parse_privilege(bad)


@pytest.mark.parametrize(
    ("held", "role", "ns", "set_name", "ok"),
    [
        ("read", Role.READ, "test", "s", True),
        ("read", Role.READ_WRITE, "test", "s", False),
        ("read-write", Role.READ, "any", "", True),  # read-write implies read
        ("read@test", Role.READ, "test", "s", True),
        ("read@test", Role.READ, "other", "s", False),
        ("read@test.a", Role.READ, "test", "a", True),
        ("read@test.a", Role.READ, "test", "b", False),  # another set
        ("read@test.a", Role.READ, "test", "", False),  # no set / the whole namespace
        ("read-write@test.a", Role.READ_WRITE, "test", "a", True),
        ("read-write@test.a", Role.SYS_ADMIN, "", "", False),
        ("sys-admin", Role.READ, "test", "", False),  # admin roles grant no data access
        ("sys-admin", Role.SYS_ADMIN, "", "", True),
        ("user-admin", Role.SYS_ADMIN, "", "", False),
    ],
)
def test_privilege_matching(held: str, role: Role, ns: str, set_name: str, ok: bool) -> None:
    assert allowed(parse_privileges(held), role, ns, set_name) is ok


# --- users in the cluster state ---------------------------------------------------------


def test_users_round_trip_through_the_cluster_state_without_passwords() -> None:
    users = founding_users("admin-pw", SECRET)
    state = founding_state((Member("n1", "h:1", "h:2"),), (NamespaceConfig("test"),), users)
    text = state.to_json()
    assert "admin-pw" not in text
    again = ClusterState.from_json(text)
    assert again.users == users
    assert [str(p) for p in again.users["admin"].privileges] == [
        "read-write",
        "sys-admin",
        "user-admin",
    ]
    # every founder computes the same epoch-1 state from the same configuration
    assert founding_users("admin-pw", SECRET) == users
    assert founding_users("admin-pw", b"another secret!!!") != users


def test_a_malformed_stored_user_is_refused() -> None:
    with pytest.raises(ValueError, match="malformed user"):
        User.from_dict("x", {"hash": "h", "generation": 1, "privileges": ["write"]})


# --- the guard ------------------------------------------------------------------------


def _guard(users: dict[str, User]) -> Guard:
    return Guard(SECRET, 3600, lambda: users)


def _user(name: str, privileges: str, generation: int = 3) -> User:
    return User(name, hash_password("pw"), generation, parse_privileges(privileges))


def _bearer(user: str, generation: int = 3, expires: int = 2**62) -> tuple[tuple[str, str]]:
    return (
        ("authorization", f"Bearer {sign_token(token_key(SECRET), user, generation, expires)}"),
    )


def _key(ns: str = "test", set_name: str = "a") -> values_pb2.Key:
    return values_pb2.Key(namespace=ns, set=set_name, string_key="k")


def test_the_guard_authorises_by_method_and_scope() -> None:
    users = {"r": _user("r", "read@test.a"), "rw": _user("rw", "read-write@test")}
    g = _guard(users)
    put = kv_pb2.PutRequest(key=_key())
    get_b = kv_pb2.GetRequest(key=_key(set_name="b"))
    g.check("/raftstore.v1.KV/Get", kv_pb2.GetRequest(key=_key()), _bearer("r"))
    with pytest.raises(RoleViolation):
        g.check("/raftstore.v1.KV/Put", put, _bearer("r"))
    with pytest.raises(RoleViolation):
        g.check("/raftstore.v1.KV/Get", get_b, _bearer("r"))
    g.check("/raftstore.v1.KV/Put", put, _bearer("rw"))
    reads = kv_pb2.OperateRequest(key=_key(), operations=[kv_pb2.Operation(type=1)])
    writes = kv_pb2.OperateRequest(
        key=_key(), operations=[kv_pb2.Operation(type=1), kv_pb2.Operation(type=2)]
    )
    g.check("/raftstore.v1.KV/Operate", reads, _bearer("r"))
    with pytest.raises(RoleViolation):
        g.check("/raftstore.v1.KV/Operate", writes, _bearer("r"))
    batch = kv_pb2.BatchGetRequest(
        reads=[kv_pb2.BatchRead(key=_key()), kv_pb2.BatchRead(key=_key(set_name="b"))]
    )
    with pytest.raises(RoleViolation):
        g.check("/raftstore.v1.KV/BatchGet", batch, _bearer("r"))
    with pytest.raises(RoleViolation):
        g.check("/raftstore.v1.KV/Scan", kv_pb2.ScanRequest(namespace="test"), _bearer("r"))
    g.check("/raftstore.v1.KV/Scan", kv_pb2.ScanRequest(namespace="test", set="a"), _bearer("r"))
    g.check(
        "/raftstore.v1.Cluster/GetPartitionMap", cluster_pb2.GetPartitionMapRequest(), _bearer("r")
    )
    for method in (
        "/raftstore.v1.Cluster/TransferLeader",
        "/raftstore.v1.Security/CreateUser",
        "/raftstore.v1.Unknown/Thing",
    ):
        with pytest.raises(RoleViolation):
            g.check(method, cluster_pb2.TransferLeaderRequest(), _bearer("rw"))
    own = security_pb2.SetPasswordRequest(user="r")
    g.check("/raftstore.v1.Security/SetPassword", own, _bearer("r"))
    with pytest.raises(RoleViolation):
        g.check(
            "/raftstore.v1.Security/SetPassword",
            security_pb2.SetPasswordRequest(user="rw"),
            _bearer("r"),
        )


def test_the_guard_refuses_missing_stale_and_revoked_tokens() -> None:
    users = {"r": _user("r", "read")}
    g = _guard(users)
    get = kv_pb2.GetRequest(key=_key())
    for metadata in (
        (),
        (("authorization", "Basic x"),),
        _bearer("ghost"),
        _bearer("r", expires=1),
    ):
        with pytest.raises(NotAuthenticated):
            g.check("/raftstore.v1.KV/Get", get, metadata)
    g.check("/raftstore.v1.KV/Get", get, _bearer("r"))
    users["r"] = dataclasses.replace(users["r"], generation=9)  # a new password
    with pytest.raises(NotAuthenticated, match="revoked"):
        g.check("/raftstore.v1.KV/Get", get, _bearer("r"))
    # open methods need no token
    g.check("/raftstore.v1.Security/Login", security_pb2.LoginRequest(), ())
    g.check("/raftstore.v1.Cluster/Join", cluster_pb2.JoinRequest(), ())


def test_every_rpc_of_the_client_port_has_a_rule() -> None:
    from raftstore.v1 import testing_pb2

    for pb in (kv_pb2, cluster_pb2, security_pb2, index_pb2):
        for service in pb.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                assert f"/{service.full_name}/{m.name}" in RULES
    assert all(
        f"/{s.full_name}/{m.name}" not in RULES
        for s in testing_pb2.DESCRIPTOR.services_by_name.values()
        for m in s.methods
    )  # fault injection: sys-admin by default


def test_login_gives_a_token_for_the_right_password_only() -> None:
    users = {"r": _user("r", "read")}

    async def run() -> None:
        g = _guard(users)
        token, expires = await g.login("r", "pw", "test")
        assert expires > NOW
        assert g.authenticate(f"Bearer {token}").name == "r"
        for name, password in (("r", "wrong"), ("ghost", "pw")):
            with pytest.raises(NotAuthenticated):
                await g.login(name, password, "test")
        g.close()

    asyncio.run(run())


def test_batch_operate_needs_each_items_privilege_and_truncate_sys_admin() -> None:
    users = {
        "r": _user("r", "read@test.a"),
        "rw": _user("rw", "read-write@test"),
        "admin": _user("admin", "sys-admin"),
    }
    g = _guard(users)
    read = kv_pb2.BatchItem(key=_key(), type=kv_pb2.BATCH_ITEM_TYPE_READ)
    read_op = kv_pb2.BatchItem(
        key=_key(), type=kv_pb2.BATCH_ITEM_TYPE_OPERATE, operations=[kv_pb2.Operation(type=1)]
    )
    put = kv_pb2.BatchItem(key=_key(), type=kv_pb2.BATCH_ITEM_TYPE_PUT)
    method = "/raftstore.v1.KV/BatchOperate"
    g.check(method, kv_pb2.BatchOperateRequest(items=[read, read_op]), _bearer("r"))
    with pytest.raises(RoleViolation):
        g.check(method, kv_pb2.BatchOperateRequest(items=[read, put]), _bearer("r"))
    g.check(method, kv_pb2.BatchOperateRequest(items=[read, put]), _bearer("rw"))
    query = index_pb2.QueryRequest(scan=kv_pb2.ScanRequest(namespace="test", set="a"))
    g.check("/raftstore.v1.Index/Query", query, _bearer("r"))
    other = index_pb2.QueryRequest(scan=kv_pb2.ScanRequest(namespace="test", set="b"))
    with pytest.raises(RoleViolation):
        g.check("/raftstore.v1.Index/Query", other, _bearer("r"))
    with pytest.raises(RoleViolation):
        g.check("/raftstore.v1.Index/CreateIndex", index_pb2.CreateIndexRequest(), _bearer("rw"))
    truncate = kv_pb2.TruncateRequest(namespace="test", set="a")
    with pytest.raises(RoleViolation):
        g.check("/raftstore.v1.KV/Truncate", truncate, _bearer("rw"))
    g.check("/raftstore.v1.KV/Truncate", truncate, _bearer("admin"))
