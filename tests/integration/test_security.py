"""Access control on real nodes (security on): logins, privileges scoped to namespaces
and sets, user management, forwarding, and users surviving a whole-cluster crash."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from raftstore_client import (
    AsyncClient,
    Client,
    InvalidPrivilege,
    InvalidUser,
    NotAuthenticated,
    RecordNotFound,
    ResultCode,
    RoleViolation,
    SecurityNotEnabled,
    UserAlreadyExists,
)

from raftstore.v1 import kv_pb2, kv_pb2_grpc, values_pb2
from tests.jepsen.cluster import Cluster

PASSWORD = "s3cret-Admin"


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import os

    os.environ["RAFTSTORE_ADMIN_PASSWORD"] = PASSWORD
    try:
        with Cluster(tmp_path_factory.mktemp("secure"), nodes=3, security=True) as cluster:
            yield cluster
    finally:
        del os.environ["RAFTSTORE_ADMIN_PASSWORD"]


_CLUSTER: list[Cluster] = []


@pytest.fixture(scope="module")
def admin(secure: Cluster) -> Iterator[Client]:
    _CLUSTER[:] = [secure]
    with Client(secure.hosts, timeout=10, user="admin", password=PASSWORD) as c:
        yield c


def _adopted(cluster: Cluster, epoch: int, timeout: float = 10.0) -> None:
    """Wait until every node has adopted the cluster state ``epoch`` (user changes reach
    the other nodes within a gossip round or two)."""
    deadline = time.monotonic() + timeout
    while any(cluster.partition_map(n).epoch < epoch for n in cluster.ids):
        assert time.monotonic() < deadline, f"epoch {epoch} not adopted everywhere"
        time.sleep(0.05)


def _user(admin: Client, name: str, roles: str, password: str = "pw-" + "x" * 8) -> str:
    _adopted(_CLUSTER[0], admin.create_user(name, password, roles))
    return password


def _client(cluster: Cluster, user: str, password: str, **kw: object) -> Client:
    return Client(cluster.hosts, timeout=10, user=user, password=password, **kw)  # type: ignore[arg-type]


def test_wrong_password_and_unknown_user_are_refused(secure: Cluster) -> None:
    for user, password in (("admin", "wrong"), ("nobody", PASSWORD)):
        started = time.monotonic()
        with pytest.raises(NotAuthenticated) as info:
            Client(secure.hosts, timeout=10, user=user, password=password)
        assert info.value.code == ResultCode.NOT_AUTHENTICATED == 80
        assert time.monotonic() - started >= 0.4  # a refused login is slowed down


def test_calls_without_or_with_a_bad_token_are_refused(secure: Cluster) -> None:
    key = values_pb2.Key(namespace="test", set="s", string_key="k")
    with grpc.insecure_channel(secure.hosts[0]) as ch:
        stub = kv_pb2_grpc.KVStub(ch)
        for metadata in ((), (("authorization", "Bearer v1.e30.AAAA"),), (("authorization", "x"),)):
            with pytest.raises(grpc.RpcError) as info:
                stub.Get(kv_pb2.GetRequest(key=key), metadata=metadata, timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            md = dict(info.value.trailing_metadata())
            assert md["raftstore-result-code"] == "80"
    with pytest.raises(NotAuthenticated):
        Client(secure.hosts, timeout=5)  # no user: the partition map is refused


def test_read_only_user_cannot_write(secure: Cluster, admin: Client) -> None:
    admin.put(("test", "ro", 1), {"v": 1})
    password = _user(admin, "reader", "read@test")
    with _client(secure, "reader", password) as c:
        assert c.get(("test", "ro", 1))[2] == {"v": 1}
        with pytest.raises(RoleViolation) as info:
            c.put(("test", "ro", 1), {"v": 2})
        assert info.value.code == ResultCode.ROLE_VIOLATION == 81
        with pytest.raises(RoleViolation):
            c.delete(("test", "ro", 1))
        with pytest.raises(RoleViolation):
            c.increment(("test", "ro", 1), "v", 1)  # an operate that writes
        with pytest.raises(RoleViolation):
            c.create_user("x", "pw", "read")  # not a user-admin
        with pytest.raises(RoleViolation):
            c.transfer_leader("test/0")  # not a sys-admin
    assert admin.get(("test", "ro", 1))[2] == {"v": 1}


def test_set_scoped_user_cannot_read_another_set(secure: Cluster, admin: Client) -> None:
    admin.put(("test", "a", 1), {"v": "a"})
    admin.put(("test", "b", 1), {"v": "b"})
    password = _user(admin, "seta", "read-write@test.a")
    with _client(secure, "seta", password) as c:
        c.put(("test", "a", 2), {"v": "a2"})
        assert c.get(("test", "a", 1))[2] == {"v": "a"}
        assert [r[2] for r in c.scan("test", "a")] != []
        for forbidden in (
            lambda: c.get(("test", "b", 1)),
            lambda: c.put(("test", "b", 2), {"v": 1}),
            lambda: c.get_many([("test", "a", 1), ("test", "b", 1)]),
            lambda: list(c.scan("test")),  # the whole namespace
            lambda: list(c.scan("test", "b")),
        ):
            with pytest.raises(RoleViolation):
                forbidden()
    with pytest.raises(RecordNotFound):
        admin.get(("test", "b", 2))  # the refused put wrote nothing


def test_user_admin_operations(secure: Cluster, admin: Client) -> None:
    password = _user(admin, "ops", "user-admin")
    with _client(secure, "ops", password) as ops:
        _adopted(secure, ops.create_user("app", "app-pw-1", "read@test.x"))
        with pytest.raises(UserAlreadyExists):
            ops.create_user("app", "other", "read")
        with pytest.raises(InvalidPrivilege):
            ops.create_user("bad", "pw", "read@")
        with pytest.raises(InvalidPrivilege):
            ops.create_user("bad", "pw", "sys-admin@test")  # global only
        with pytest.raises(InvalidUser):
            ops.create_user("bad name", "pw", "read")
        with pytest.raises(InvalidUser):
            ops.drop_user("ghost")
        _adopted(secure, ops.grant("app", "read-write@test.x"))
        assert ops.users()["app"] == ["read@test.x", "read-write@test.x"]
        with _client(secure, "app", "app-pw-1") as app:
            app.put(("test", "x", 1), {"v": 1})
            ops.revoke("app", "read-write@test.x")
            deadline = time.monotonic() + 5  # every node adopts the change within a moment
            while time.monotonic() < deadline:
                try:
                    app.put(("test", "x", 1), {"v": 2})
                except RoleViolation:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the revoked privilege still allowed a write")
            assert app.get(("test", "x", 1))[2]["v"] in (1, 2)
        _adopted(secure, ops.set_password("app", "app-pw-2"))
        with pytest.raises(NotAuthenticated):
            _client(secure, "app", "app-pw-1")
        with _client(secure, "app", "app-pw-2") as app:
            assert app.get(("test", "x", 1))
        ops.drop_user("app")
        assert "app" not in ops.users()
        assert all("hash" not in str(v) and "scrypt" not in str(v) for v in ops.users().values())


def test_a_dropped_users_token_is_refused_everywhere(secure: Cluster, admin: Client) -> None:
    password = _user(admin, "temp", "read")
    with _client(secure, "temp", password) as c:
        token = c._creds.token  # type: ignore[union-attr]
        _adopted(secure, admin.drop_user("temp"))
        key = values_pb2.Key(namespace="test", set="s", string_key="k")
        for host in secure.hosts:
            with grpc.insecure_channel(host) as ch:
                with pytest.raises(grpc.RpcError) as info:
                    kv_pb2_grpc.KVStub(ch).Get(
                        kv_pb2.GetRequest(key=key),
                        metadata=(("authorization", f"Bearer {token}"),),
                        timeout=5,
                    )
                assert dict(info.value.trailing_metadata())["raftstore-result-code"] == "80"


def test_forwarded_and_pinned_calls_carry_the_token(secure: Cluster, admin: Client) -> None:
    password = _user(admin, "pinned", "read-write@test")
    for host in secure.hosts:  # each node forwards what it does not lead
        with Client([host], timeout=10, pinned=True, user="pinned", password=password) as c:
            for i in range(16):
                c.put(("test", "p", f"{host}-{i}"), {"i": i})
                assert c.get(("test", "p", f"{host}-{i}"))[2] == {"i": i}


def test_async_client_logs_in(secure: Cluster, admin: Client) -> None:
    import asyncio

    password = _user(admin, "async", "read-write@test.aio")

    async def run() -> None:
        async with AsyncClient(secure.hosts, user="async", password=password) as c:
            await c.put(("test", "aio", 1), {"v": 1})
            assert (await c.get(("test", "aio", 1)))[2] == {"v": 1}
            with pytest.raises(RoleViolation):
                await c.put(("test", "other", 1), {"v": 1})
        with pytest.raises(NotAuthenticated):
            await AsyncClient.connect(secure.hosts, user="async", password="nope")

    asyncio.run(run())


def test_cli_user_commands(secure: Cluster, admin: Client, tmp_path: Path) -> None:
    base = [sys.executable, "-m", "raftstore_client.cli"]
    hosts = ["--hosts", ",".join(secure.hosts), "--user", "admin", "--password", PASSWORD]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)

    out = cli("admin", "user", "create", "cliuser", "--new-password", "pw1", "--roles",
              "read@test.c", *hosts)  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = cli("admin", "user", "list", *hosts)
    assert "cliuser" in out.stdout and "read@test.c" in out.stdout
    assert "scrypt" not in out.stdout
    out = cli("put", "test", "c", "k", "v=1", "--hosts", secure.hosts[0], "--user", "cliuser",
              "--password", "pw1")  # fmt: skip
    assert out.returncode == 1 and "ROLE_VIOLATION (81)" in out.stderr
    out = cli("get", "test", "c", "k", "--hosts", secure.hosts[0], "--user", "cliuser",
              "--password", "wrong")  # fmt: skip
    assert out.returncode == 1 and "NOT_AUTHENTICATED (80)" in out.stderr


def test_users_survive_a_whole_cluster_crash(secure: Cluster, admin: Client) -> None:
    password = _user(admin, "durable", "read-write@test.d")
    admin.put(("test", "d", 1), {"v": 1})
    secure.kill_all()
    secure.restart_all()
    with _client(secure, "durable", password) as c:
        assert c.get(("test", "d", 1))[2] == {"v": 1}
        with pytest.raises(RoleViolation):
            c.get(("test", "a", 1))
    with Client(secure.hosts, timeout=10, user="admin", password=PASSWORD) as again:
        assert "durable" in again.users()


def test_security_calls_with_security_off(shared_cluster: Cluster) -> None:
    with Client(shared_cluster.hosts, timeout=10) as c:
        with pytest.raises(SecurityNotEnabled) as info:
            c.create_user("u", "p", "read")
        assert info.value.code == 52
