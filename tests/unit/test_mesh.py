"""The peer mesh authenticates peers, carries frames intact, and drops anything else."""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import struct
from pathlib import Path
from typing import Any

import msgpack
import pytest

from raftstore.replication.mesh import MAGIC, PeerMesh


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder:
    def __init__(self) -> None:
        self.up: list[str] = []
        self.down: list[str] = []
        self.messages: list[tuple[str, str, Any]] = []

    def on_peer_up(self, peer_id: str) -> None:
        self.up.append(peer_id)

    def on_peer_down(self, peer_id: str) -> None:
        self.down.append(peer_id)

    def on_message(self, peer_id: str, group_id: str, message: Any) -> None:
        self.messages.append((peer_id, group_id, message))


async def until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def two_meshes(
    secret_b: bytes = b"s" * 32, cluster_b: str = "c"
) -> tuple[PeerMesh, PeerMesh, Recorder, Recorder]:
    ports = {"a": free_port(), "b": free_port()}
    peers = {n: ("127.0.0.1", p) for n, p in ports.items()}
    ra, rb = Recorder(), Recorder()
    a = PeerMesh(
        node_id="a", listen=peers["a"], peers=peers, secret=b"s" * 32, cluster_id="c", handler=ra
    )
    b = PeerMesh(
        node_id="b",
        listen=peers["b"],
        peers=peers,
        secret=secret_b,
        cluster_id=cluster_b,
        handler=rb,
    )
    await a.start()
    await b.start()
    return a, b, ra, rb


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_peers_with_the_shared_secret_connect_and_exchange_messages() -> None:
    async def scenario() -> None:
        a, b, ra, rb = await two_meshes()
        await until(lambda: ra.up == ["b"] and rb.up == ["a"])
        msg = {"type": "append_entries", "term": 1, "entries": ((b"\x00cmd", 2, 1),), "ok": True}
        assert b.send("a", "test/0", msg)
        await until(lambda: ra.messages)
        assert ra.messages == [("b", "test/0", msg)]
        await a.stop()
        await until(lambda: rb.down == ["a"])
        await b.stop()

    run(scenario())


@pytest.mark.parametrize(
    ("secret", "cluster"),
    [(b"x" * 32, "c"), (b"s" * 32, "other")],
    ids=["wrong-secret", "wrong-cluster"],
)
def test_a_peer_without_the_secret_or_of_another_cluster_is_refused(
    secret: bytes, cluster: str
) -> None:
    async def scenario() -> None:
        a, b, ra, rb = await two_meshes(secret, cluster)
        await until(lambda: a.security_events + b.security_events >= 2)
        assert ra.up == [] and rb.up == []
        assert not b.send("a", "g", {"type": "x"})
        await a.stop()
        await b.stop()

    run(scenario())


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.settimeout(2)
        try:
            return s.recv(4096)
        except (TimeoutError, ConnectionError):
            return b""


class Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize(
    "kind", ["garbage", "pickle", "huge-length", "truncated", "hello-then-pickle"]
)
def test_hostile_bytes_on_the_peer_port_are_dropped_and_never_unpickled(
    kind: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Boom(str(marker)))
    frames = {
        "garbage": os.urandom(5000),
        "pickle": struct.pack(">I", len(payload)) + payload,
        "huge-length": struct.pack(">I", 2**31) + b"x" * 100,
        "truncated": struct.pack(">I", 500) + b"x" * 10,
        "hello-then-pickle": struct.pack(">I", 0) + b"",
    }

    async def scenario() -> None:
        a, b, ra, _rb = await two_meshes()
        await until(lambda: ra.up == ["b"])
        data = frames[kind]
        if kind == "hello-then-pickle":
            hello = MAGIC + msgpack.packb({"cluster": "c", "node": "b", "nonce": b"n" * 32})
            data = struct.pack(">I", len(hello)) + hello + struct.pack(">I", len(payload)) + payload
        await asyncio.to_thread(_raw, a.listen_addr[1], data)
        await asyncio.sleep(0.2)
        assert not marker.exists(), "a pickle payload was executed"
        assert b.send("a", "g", {"still": "working"})
        await until(lambda: ra.messages)
        await a.stop()
        await b.stop()

    run(scenario())


def test_a_blocked_peer_neither_sends_nor_receives() -> None:
    async def scenario() -> None:
        a, b, ra, rb = await two_meshes()
        await until(lambda: ra.up == ["b"])
        a.block({"b"})
        assert not a.send("b", "g", {"x": 1})
        b.send("a", "g", {"x": 2})
        await asyncio.sleep(0.2)
        assert ra.messages == [] and rb.messages == []
        a.block(set())
        b.send("a", "g", {"x": 3})
        await until(lambda: ra.messages == [("b", "g", {"x": 3})])
        await a.stop()
        await b.stop()

    run(scenario())


# --- TLS -------------------------------------------------------------------------------


def _peer_tls(ca: Any, who: str, trust: Any, *, mutual: bool = True, name: str = "") -> Any:
    from raftstore_node.tls import from_toml

    from tests.pki import tls_table

    table = tls_table(ca, who, client_auth=mutual, peer_server_name=name)
    table["ca_file"] = str(trust.path)
    settings = from_toml(table, Path("/"))
    assert settings is not None
    return settings.peer_tls()


async def tls_meshes(tls_a: Any, tls_b: Any) -> tuple[PeerMesh, PeerMesh, Recorder, Recorder]:
    ports = {"a": free_port(), "b": free_port()}
    peers = {n: ("127.0.0.1", p) for n, p in ports.items()}
    ra, rb = Recorder(), Recorder()
    meshes = [
        PeerMesh(
            node_id=n,
            listen=peers[n],
            peers=peers,
            secret=b"s" * 32,
            cluster_id="c",
            handler=r,
            tls=t,
        )
        for n, r, t in (("a", ra, tls_a), ("b", rb, tls_b))
    ]
    for m in meshes:
        await m.start()
    return meshes[0], meshes[1], ra, rb


def test_peers_connect_over_mutual_tls(tmp_path: Path) -> None:
    from tests.pki import CA

    ca = CA.create(tmp_path)

    async def scenario() -> None:
        a, b, ra, rb = await tls_meshes(_peer_tls(ca, "a", ca), _peer_tls(ca, "b", ca))
        await until(lambda: ra.up == ["b"] and rb.up == ["a"])
        assert b.send("a", "test/0", {"type": "x", "v": "over tls"})
        await until(lambda: ra.messages == [("b", "test/0", {"type": "x", "v": "over tls"})])
        assert a.tls_failures == b.tls_failures == 0
        await a.stop()
        await b.stop()

    run(scenario())


@pytest.mark.parametrize("who", ["dialer", "acceptor"])
def test_a_peer_with_a_certificate_of_another_ca_is_refused_and_logged(
    tmp_path: Path, who: str, caplog: pytest.LogCaptureFixture
) -> None:
    """b (the greater id) dials a. The odd one has a certificate of another CA (and trusts
    only that CA): the other side's TLS handshake refuses it, logs and counts it."""
    from tests.pki import CA

    good, bad = CA.create(tmp_path / "good"), CA.create(tmp_path / "bad")
    odd = _peer_tls(bad, "odd", bad)
    tls_a, tls_b = (_peer_tls(good, "a", good), odd) if who == "dialer" else (odd, None)
    if tls_b is None:
        tls_b = _peer_tls(good, "b", good)

    async def scenario() -> None:
        a, b, ra, rb = await tls_meshes(tls_a, tls_b)
        await until(lambda: a.tls_failures >= 1 and b.tls_failures >= 1)
        await asyncio.sleep(0.3)
        assert ra.up == [] and rb.up == [] and a.security_events == b.security_events == 0
        await a.stop()
        await b.stop()

    with caplog.at_level("WARNING", logger="raftstore.replication.mesh"):
        run(scenario())
    refusals = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert refusals, caplog.text
    assert any("CERTIFICATE_VERIFY_FAILED" in r.getMessage() or "certificate" in
               r.getMessage().lower() for r in refusals)  # fmt: skip


def test_a_plain_tcp_peer_is_refused_by_a_tls_mesh(tmp_path: Path) -> None:
    from tests.pki import CA

    ca = CA.create(tmp_path)

    async def scenario() -> None:
        a, b, ra, rb = await tls_meshes(_peer_tls(ca, "a", ca), None)  # b speaks plain TCP
        await until(lambda: a.tls_failures >= 1)
        assert ra.up == [] and rb.up == []
        await a.stop()
        await b.stop()

    run(scenario())


def test_the_peer_certificate_must_name_the_configured_server_name(tmp_path: Path) -> None:
    """With peer_server_name the dialer checks that name, not the address's host."""
    from tests.pki import CA

    ca = CA.create(tmp_path)

    async def scenario(name: str) -> tuple[int, list[str]]:
        a, b, _, rb = await tls_meshes(_peer_tls(ca, "a", ca), _peer_tls(ca, "b", ca, name=name))
        await until(lambda: b.tls_failures >= 1 or rb.up == ["a"])
        out = b.tls_failures, list(rb.up)
        await a.stop()
        await b.stop()
        return out

    assert run(scenario("other.example")) == (1, [])  # a's certificate names 127.0.0.1 only
    assert run(scenario("127.0.0.1")) == (0, ["a"])


def test_repeated_tls_failures_are_logged_once_per_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.pki import CA

    good, bad = CA.create(tmp_path / "good"), CA.create(tmp_path / "bad")

    async def scenario() -> int:
        a, b, _, _ = await tls_meshes(_peer_tls(good, "a", good), _peer_tls(bad, "b", bad))
        await until(lambda: a.tls_failures >= 3, timeout=10)
        failures = a.tls_failures
        await a.stop()
        await b.stop()
        return failures

    with caplog.at_level("WARNING", logger="raftstore.replication.mesh"):
        failures = run(scenario())
    on_a = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()
            and "unknown@" in r.getMessage()]  # fmt: skip
    assert failures >= 3 and len(on_a) == 1, caplog.text
