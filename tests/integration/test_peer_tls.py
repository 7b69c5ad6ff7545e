"""TLS between nodes, on real node processes: a TLS cluster forms and serves over TLS peer
links; a node whose certificate another CA signed is refused, logged and counted; and,
sniffing the loopback bytes through a proxy on a client connection and on peer links, no
record value or bin name crosses the network in plain text with TLS on (while the same test
sees both with TLS off: the sniffer works)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from raftstore_client import TLS, Client

from tests.integration.helpers import wait_until
from tests.jepsen.cluster import Cluster
from tests.pki import CA, tls_table


def metric(cluster: Cluster, node_id: str, name: str, **labels: str) -> float:
    with urllib.request.urlopen(f"http://{cluster.node(node_id).metrics}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SniffProxy:
    """A TCP proxy on 127.0.0.1 that forwards ``listen -> target`` and keeps every byte
    that passes, both ways. Runs its own event loop on a thread until ``close``."""

    def __init__(self, routes: dict[int, int]) -> None:
        self.routes = routes
        self.captured: dict[int, bytearray] = {port: bytearray() for port in routes}
        self.connections = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("sniff proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        servers = []
        for listen, target in self.routes.items():
            handler = self._handler(listen, target)
            servers.append(
                self._loop.run_until_complete(asyncio.start_server(handler, "127.0.0.1", listen))
            )
        self._ready.set()
        self._loop.run_forever()
        for s in servers:
            s.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    def _handler(self, listen: int, target: int):  # type: ignore[no-untyped-def]
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
            except OSError:
                writer.close()
                return
            self.connections += 1
            await asyncio.gather(
                self._pump(listen, reader, up_writer), self._pump(listen, up_reader, writer)
            )

        return handle

    async def _pump(
        self, listen: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await reader.read(65536):
                with self._lock:
                    self.captured[listen] += data
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def bytes_of(self, listen: int) -> bytes:
        with self._lock:
            return bytes(self.captured[listen])

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CA:
    return CA.create(tmp_path_factory.mktemp("pki"))


def _client_tls(ca: CA) -> TLS:
    cert, key = ca.issue("client", ips=(), dns=("client.raftstore.test",))
    return TLS.from_files(ca.path, cert, key)


# --- a cluster with TLS on every link ---------------------------------------------------


def test_a_tls_cluster_forms_over_tls_peer_links_and_serves(
    ca: CA, tmp_path_factory: pytest.TempPathFactory
) -> None:
    client_tls = _client_tls(ca)
    directory = tmp_path_factory.mktemp("tls-cluster")
    with Cluster(directory, nodes=3, tls=tls_table(ca, "node"), client_tls=client_tls) as cluster:
        with Client(cluster.hosts, tls=client_tls, timeout=10) as c:
            c.put(("test", "ptls", "k"), {"v": 1})
            assert c.get(("test", "ptls", "k")).bins == {"v": 1}
        for node_id in cluster.ids:
            assert metric(cluster, node_id, "raftstore_peer_connected") == 2
            assert metric(cluster, node_id, "raftstore_peer_tls_failures_total") == 0
        # The peer port itself speaks TLS and presents the node's certificate (mutual: this
        # side presents one the CA signed too), and refuses a plain-text hello.
        host, port = cluster.node("n1").peer.rsplit(":", 1)
        ctx = ssl.create_default_context(cafile=str(ca.path))
        cert, key = ca.issue("probe")
        ctx.load_cert_chain(cert, key)
        with (
            socket.create_connection((host, int(port)), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=host) as tls,
        ):
            assert tls.getpeercert()["subject"] == ((("commonName", "node"),),)
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(b"\x00\x00\x00\x10RSPEER1\n" + b"\x00" * 8)
            raw.settimeout(5)
            assert raw.recv(100)[:1] in (b"\x15", b"")  # a TLS alert, or closed
        wait_until(
            lambda: metric(cluster, "n1", "raftstore_peer_tls_failures_total") >= 1,
            10,
            "the plain-text hello counted as a TLS failure",
        )
        # The image's health probe (the chart's exec probe with TLS on) speaks TLS too.
        probe = [sys.executable, "-m", "raftstore_node.probe", "--address", cluster.hosts[0]]
        env = {**os.environ, "RAFTSTORE_TLS": json.dumps(tls_table(ca, "probe"))}
        out = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "SERVING" in out.stdout, out.stdout + out.stderr
        plain = {k: v for k, v in os.environ.items() if k != "RAFTSTORE_TLS"}
        out = subprocess.run(probe, env=plain, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1, out.stdout + out.stderr


# --- a node with a certificate of another CA ----------------------------------------------


def test_a_node_with_a_certificate_of_another_ca_is_refused_and_logged(
    ca: CA, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("wrong-ca")
    other = CA.create(directory / "other", "other-ca")
    client_tls = _client_tls(ca)
    good = tls_table(ca, "node")
    cluster = Cluster(directory, nodes=3, tls=good, client_tls=client_tls)
    bad = tls_table(other, "intruder")
    n3 = cluster.node("n3").config
    for key in ("cert_file", "key_file"):  # n3: a certificate of another CA (it trusts ours)
        _rewrite(n3, f'{key} = "{good[key]}"', f'{key} = "{bad[key]}"')
    try:
        for node_id in cluster.ids:
            cluster._spawn(node_id)
        cluster.wait_ready(nodes=["n1", "n2"])
        with Client(cluster.hosts[:2], tls=client_tls, timeout=10) as c:
            c.put(("test", "ptls", "served"), {"v": 2})  # n1 and n2 are a majority
        for node_id in ("n1", "n2", "n3"):
            wait_until(
                lambda n=node_id: "TLS handshake failed" in cluster.log_text(n),
                15,
                f"{node_id} logs the refused TLS handshake",
            )
        for node_id in ("n1", "n2"):
            assert metric(cluster, node_id, "raftstore_peer_tls_failures_total") >= 1
            assert metric(cluster, node_id, "raftstore_peer_connected", peer="n3") == 0
            assert metric(cluster, node_id, "raftstore_peer_connected") == 1  # each other
        refused = [line for line in cluster.log_text("n1").splitlines() if "TLS" in line]
        assert any(re.search("certificate|CERTIFICATE", line) for line in refused), refused
        # Logged at most once per source and reason every 10 s, not at every retry.
        assert len(refused) <= 6, refused
    finally:
        cluster.close()


def test_a_node_with_a_certificate_but_the_wrong_secret_is_refused_and_logged(
    ca: CA, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """TLS passes (same CA) but the cluster-secret handshake inside it does not."""
    directory = tmp_path_factory.mktemp("wrong-secret")
    client_tls = _client_tls(ca)
    cluster = Cluster(directory, nodes=3, tls=tls_table(ca, "node"), client_tls=client_tls)
    (directory / "other.secret").write_text(secrets.token_hex(32))
    n3 = cluster.node("n3").config
    _rewrite(n3, 'secret_file = "../cluster.secret"', 'secret_file = "../other.secret"')
    try:
        for node_id in cluster.ids:
            cluster._spawn(node_id)
        cluster.wait_ready(nodes=["n1", "n2"])
        with Client(cluster.hosts[:2], tls=client_tls, timeout=10) as c:
            c.put(("test", "ptls", "secret"), {"v": 3})
        for node_id in ("n1", "n2"):
            wait_until(
                lambda n=node_id: metric(cluster, n, "raftstore_peer_rejections_total") >= 1,
                15,
                f"{node_id} refuses n3's handshake",
            )
            assert "closed by the peer before proving the cluster secret" in cluster.log_text(
                node_id
            )
            assert metric(cluster, node_id, "raftstore_peer_connected", peer="n3") == 0
            assert metric(cluster, node_id, "raftstore_peer_tls_failures_total") == 0
        assert "peer failed to prove the cluster secret" in cluster.log_text("n3")
    finally:
        cluster.close()


# --- sniffing the loopback ------------------------------------------------------------------


@pytest.mark.parametrize("tls_on", [True, False], ids=["tls-on", "tls-off-control"])
def test_nothing_crosses_the_network_in_plain_text_with_tls_on(
    tls_on: bool, ca: CA, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A proxy sits in front of n1's client port (the client's connection) and n1's peer
    port (every peer link of n1: the others' configuration names the proxy as n1's peer
    address; n1 binds the real port with ``peer_listen``). A record with a unique bin name
    and value is written and read through n1; every byte both ways is kept."""
    directory = tmp_path_factory.mktemp("sniff")
    client_tls = _client_tls(ca) if tls_on else None
    cluster = Cluster(
        directory,
        nodes=3,
        partition_groups=2,
        tls=tls_table(ca, "node") if tls_on else None,
        client_tls=client_tls,
    )
    n1 = cluster.node("n1")
    real_peer, real_client = (int(a.rsplit(":", 1)[1]) for a in (n1.peer, n1.client))
    peer_proxy, client_proxy = free_port(), free_port()
    for node in cluster.nodes:
        _rewrite(node.config, f'peer = "{n1.peer}"', f'peer = "127.0.0.1:{peer_proxy}"')
    _rewrite(n1.config, 'node_id = "n1"\n', f'node_id = "n1"\npeer_listen = "{n1.peer}"\n')
    proxy = SniffProxy({peer_proxy: real_peer, client_proxy: real_client})
    marker, bin_name = f"MARKER{secrets.token_hex(8)}", f"sniff{secrets.token_hex(4)}"
    try:
        cluster.start()
        wait_until(lambda: proxy.connections >= 2, 20, "n2 and n3 dial n1 through the proxy")
        with Client([f"127.0.0.1:{client_proxy}"], pinned=True, tls=client_tls, timeout=10) as c:
            c.put(("test", "sniff", "k"), {bin_name: marker})
            assert c.get(("test", "sniff", "k")).bins == {bin_name: marker}
        wait_until(  # every entry reached n1's replicas: n1's only peer links are proxied
            lambda: (
                metric(cluster, "n1", "raftstore_group_applied_index")
                == metric(cluster, "n2", "raftstore_group_applied_index")
            ),
            10,
            "n1 applied what n2 applied",
        )
    finally:
        cluster.close()
        proxy.close()
    peer_bytes, client_bytes = proxy.bytes_of(peer_proxy), proxy.bytes_of(client_proxy)
    assert len(peer_bytes) > 1000 and len(client_bytes) > 100  # traffic did pass
    secrets_seen = {
        name: [s for s in (marker.encode(), bin_name.encode(), b"RSPEER1") if s in data]
        for name, data in (("peer", peer_bytes), ("client", client_bytes))
    }
    if tls_on:
        assert secrets_seen == {"peer": [], "client": []}
        assert peer_bytes[:1] == client_bytes[:1] == b"\x16"  # TLS handshake records
    else:  # the control: the same sniffer sees them in plain text
        assert secrets_seen["peer"] == [marker.encode(), bin_name.encode(), b"RSPEER1"]
        assert secrets_seen["client"] == [marker.encode(), bin_name.encode()]
