"""Peer mesh: one authenticated TCP connection per pair of nodes, carrying every group.

pysyncobj pickles its messages and trusts whoever reaches its port. raftstore's nodes
never hand unauthenticated bytes to pickle or to pysyncobj: peers speak this protocol.

Handshake (the node with the greater id dials)::

    dialer   -> HELLO     {cluster, node, nonce_d}
    acceptor -> CHALLENGE {node, nonce_a, mac_a}   mac_a = K(secret, "acceptor" | transcript)
    dialer   -> PROOF     {mac_d}                  mac_d = K(secret, "dialer" | transcript)

``K`` is keyed BLAKE2b and the transcript binds both nonces, the cluster id and both node
ids, so each side proves knowledge of the shared cluster secret without revealing it and
a recorded handshake cannot be replayed. Each direction then derives its own session key.

Frames after the handshake: ``[u32 length][payload][16-byte tag]`` where the tag is keyed
BLAKE2b over a per-direction frame counter and the payload, so frames cannot be forged,
replayed, reordered or moved to another connection. Only frames with a valid tag are
decoded, and msgpack decodes plain data only.

Multi-raft batching: ``send`` does not write a frame; it queues ``[group_id, message]``
(``group_id`` "" for node-level messages such as pings) for the peer, and the queue is
flushed once per event-loop iteration (``call_soon``; a round of the raft driver is one
callback) as ONE frame: a msgpack array of ``[group_id, message]`` pairs, every group's
traffic to that peer together, in the order sent. A batch holds at most
``MAX_BATCH_MESSAGES`` messages and ``MAX_BATCH_BYTES`` bytes (a larger message travels
alone). The receiver checks the batch's shape before it delivers any of it, in order; a
malformed frame is dropped whole and logged. Both sides announce ``batch`` in the
handshake; to a peer that does not (an older version in a rolling upgrade) each message
is its own frame with the payload ``[group_id, message]``, which is still accepted.

Anything else (bad magic, wrong cluster, unknown node, bad MAC, oversized or truncated
frames, garbage) closes the connection and is logged; the node keeps running.

TLS (``PeerTLS``, on when the node has a ``[tls]`` table): every connection is a TLS
connection first — the acceptor presents its certificate, the dialer checks it against the
CA and the peer's host name (or one configured name), and with mutual TLS the acceptor
checks the dialer's certificate too — and the handshake above then runs inside it, so a
peer needs both a certificate the CA signed and the cluster secret. Nothing of the
handshake or the frames crosses the network in plain text. A failed TLS handshake closes
the connection, counts in ``tls_failures`` and is logged (once per peer address and reason
every ``LOG_INTERVAL`` seconds, with the number of failures suppressed meanwhile).

Fault injection (tests only, enabled by the node flag --enable-fault-injection):
``block(peers)`` silently drops every frame to and from those peers, like a network
partition; connections then time out as they would on a real network.

Thread: everything runs on the node's asyncio event loop thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import random
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import msgpack

log = logging.getLogger(__name__)

MAGIC = b"RSPEER1\n"
MAX_HANDSHAKE_FRAME = 1024
MAX_FRAME = 64 * 1024 * 1024
MAX_WRITE_BUFFER = 512 * 1024 * 1024
MAX_BATCH_MESSAGES = 4096
MAX_BATCH_BYTES = 4 * 1024 * 1024
TAG_SIZE = 16
HANDSHAKE_TIMEOUT = 5.0
PING_INTERVAL = 0.5
IDLE_TIMEOUT = 3.0
LOG_INTERVAL = 10.0
_LEN = struct.Struct(">I")
_SEQ = struct.Struct(">Q")


class MeshHandler(Protocol):
    def on_peer_up(self, peer_id: str) -> None: ...
    def on_peer_down(self, peer_id: str) -> None: ...
    def on_message(self, peer_id: str, group_id: str, message: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class PeerAddress:
    node_id: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class PeerTLS:
    """TLS of the peer links: what an acceptor presents (and, mutual, verifies), what a
    dialer presents and verifies, and the name a dialer checks every peer's certificate
    against (None: the host of the peer's configured address)."""

    server: ssl.SSLContext
    client: ssl.SSLContext
    server_name: str | None = None


class _RateLimitedLog:
    """One warning per key every ``interval`` seconds; the rest are counted and reported
    with the next one."""

    def __init__(self, interval: float = LOG_INTERVAL) -> None:
        self._interval = interval
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def warning(self, now: float, key: tuple[str, str], message: str, *args: object) -> None:
        last, suppressed = self._last.get(key, (-1e18, 0))
        if now - last < self._interval:
            self._last[key] = (last, suppressed + 1)
            return
        if len(self._last) > 1024:  # many distinct sources: forget the old ones
            self._last.clear()
        self._last[key] = (now, 0)
        more = f" ({suppressed} more since the last report)" if suppressed else ""
        log.warning(message + more, *args)


def _host_of(transport: asyncio.BaseTransport | None) -> str:
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else "?"


def _mac(key: bytes, *parts: bytes) -> bytes:
    h = hashlib.blake2b(key=key[:64], digest_size=32)
    for p in parts:
        h.update(_LEN.pack(len(p)))
        h.update(p)
    return h.digest()


class _HandshakeError(Exception):
    pass


class PeerConnection(asyncio.Protocol):
    """One TCP connection: handshake, then authenticated frames. Created by PeerMesh."""

    def __init__(self, mesh: PeerMesh, *, dialer: bool, expected_peer: str | None) -> None:
        self.mesh = mesh
        self.dialer = dialer
        self.peer_id = expected_peer
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.state = "hello" if not dialer else "challenge"
        self.nonce = os.urandom(32)
        self.peer_nonce = b""
        self.send_key = b""
        self.recv_key = b""
        self.send_seq = 0
        self.recv_seq = 0
        self.last_recv = mesh.loop.time()
        self.closed = False
        self.tls_pending = mesh.tls is not None and not dialer  # acceptor: TLS not yet up
        self.tls_started = False
        self.peername = ""
        self.batch = False  # both sides announced multi-raft batching in the handshake
        self._timeout = mesh.loop.call_later(HANDSHAKE_TIMEOUT, self._handshake_timeout)

    # --- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's or uvloop's TCP transport (uvloop's is not an asyncio.Transport subclass)
        self.transport = cast(asyncio.Transport, transport)
        self.describe()  # remember the address while the transport knows it
        if self.tls_pending and not self.tls_started:
            self.tls_started = True
            # Accepted in plain TCP: PeerMesh._accept_tls runs the TLS handshake, then
            # calls connection_made again with the TLS transport. Decrypted bytes that
            # arrive before that are only buffered (data_received), so nothing is ever
            # answered on the plain transport.
            transport.pause_reading()
            self.mesh._spawn(self.mesh._accept_tls(self, transport))
            return
        self.tls_pending = False
        if self.buffer:
            self.data_received(b"")
        if self.dialer:
            hello = {
                "cluster": self.mesh.cluster_id,
                "node": self.mesh.node_id,
                "nonce": self.nonce,
                "batch": self.mesh.batch,
            }
            self._write_plain(MAGIC + msgpack.packb(hello, use_bin_type=True))

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.buffer += data
        if self.tls_pending:
            return  # the TLS handshake has not handed over its transport yet
        self.last_recv = self.mesh.loop.time()
        try:
            while not self.closed and self._process_one():
                pass
        except _HandshakeError as e:
            self.mesh.security_event(self, str(e))
            self.close()
        except Exception:
            log.exception("peer connection %s: failed to process input", self.describe())
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.mesh.tls is not None and self.dialer and self.state != "open" and not self.closed:
            # The dialer's side of a refused handshake: with TLS 1.3 the acceptor checks
            # this node's certificate after the dialer's handshake is done, and drops the
            # connection (an alert, or only a reset) when it refuses it.
            reason = exc or ConnectionError("closed by the peer during the handshake")
            self.mesh.tls_failure(self.describe(), reason, self.peer_id or "?")
        elif not self.dialer and self.state == "proof" and not self.closed:
            # The dialer checks this node's proof first and hangs up when it does not hold
            # the same secret: the acceptor's only sign of a wrong secret.
            self.mesh.security_event(self, "closed by the peer before proving the cluster secret")
        self.closed = True
        self._timeout.cancel()
        self.mesh._connection_closed(self)

    # --- framing ----------------------------------------------------------------------

    def _process_one(self) -> bool:
        if len(self.buffer) < 4:
            return False
        (length,) = _LEN.unpack_from(self.buffer)
        limit = MAX_FRAME if self.state == "open" else MAX_HANDSHAKE_FRAME
        if length > limit:
            raise _HandshakeError(f"frame of {length} bytes exceeds {limit} in state {self.state}")
        extra = TAG_SIZE if self.state == "open" else 0
        if len(self.buffer) < 4 + length + extra:
            return False
        body = bytes(self.buffer[4 : 4 + length])
        tag = bytes(self.buffer[4 + length : 4 + length + extra])
        del self.buffer[: 4 + length + extra]
        if self.state == "open":
            self._on_frame(body, tag)
        else:
            self._on_handshake(body)
        return True

    def _write_plain(self, body: bytes) -> None:
        assert self.transport is not None
        self.transport.write(_LEN.pack(len(body)) + body)

    def send_frame(self, body: bytes) -> bool:
        if self.closed or self.state != "open" or self.transport is None:
            return False
        if self.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("peer %s is not reading; dropping the connection", self.peer_id)
            self.close()
            return False
        tag = _mac(self.send_key, _SEQ.pack(self.send_seq), body)[:TAG_SIZE]
        self.send_seq += 1
        self.transport.write(_LEN.pack(len(body)) + body + tag)
        return True

    def _on_frame(self, body: bytes, tag: bytes) -> None:
        expect = _mac(self.recv_key, _SEQ.pack(self.recv_seq), body)[:TAG_SIZE]
        if not hmac.compare_digest(expect, tag):
            raise _HandshakeError("frame authentication failed")
        self.recv_seq += 1
        self.mesh._frame_received(self, body)

    # --- handshake --------------------------------------------------------------------

    def _transcript(
        self, dialer_id: str, acceptor_id: str, nonce_d: bytes, nonce_a: bytes
    ) -> bytes:
        return b"|".join(
            [
                self.mesh.cluster_id.encode(),
                dialer_id.encode(),
                acceptor_id.encode(),
                nonce_d,
                nonce_a,
            ]
        )

    def _on_handshake(self, body: bytes) -> None:
        if self.state == "hello":
            self._on_hello(body)
        elif self.state == "challenge":
            self._on_challenge(body)
        elif self.state == "proof":
            self._on_proof(body)
        else:
            raise _HandshakeError(f"unexpected handshake frame in state {self.state}")

    @staticmethod
    def _decode_small(body: bytes) -> dict[str, Any]:
        try:
            msg = msgpack.unpackb(
                body, raw=False, max_bin_len=256, max_str_len=256, max_array_len=16, max_map_len=16
            )
        except Exception as e:
            raise _HandshakeError(f"malformed handshake: {type(e).__name__}") from None
        if not isinstance(msg, dict):
            raise _HandshakeError("malformed handshake: not a map")
        return msg

    @staticmethod
    def _field(msg: dict[str, Any], name: str, kind: type) -> Any:
        value = msg.get(name)
        if not isinstance(value, kind):
            raise _HandshakeError(f"malformed handshake: field {name!r}")
        return value

    def _on_hello(self, body: bytes) -> None:
        if not body.startswith(MAGIC):
            raise _HandshakeError("not a raftstore peer (bad magic)")
        msg = self._decode_small(body[len(MAGIC) :])
        cluster = self._field(msg, "cluster", str)
        peer = self._field(msg, "node", str)
        nonce = self._field(msg, "nonce", bytes)
        if cluster != self.mesh.cluster_id:
            raise _HandshakeError(f"peer belongs to cluster {cluster!r}")
        if peer not in self.mesh.peers or len(nonce) != 32:
            raise _HandshakeError(f"unknown peer {peer!r}")
        if peer in self.mesh.blocked:
            self.state = "dropped"  # partitioned: ignore, let the handshake time out
            return
        self.peer_id, self.peer_nonce = peer, nonce
        self.batch = self.mesh.batch and msg.get("batch") is True
        transcript = self._transcript(peer, self.mesh.node_id, nonce, self.nonce)
        mac = _mac(self.mesh.secret, b"acceptor", transcript)
        challenge = {"node": self.mesh.node_id, "nonce": self.nonce, "mac": mac}
        if self.batch:
            challenge["batch"] = True
        self._write_plain(msgpack.packb(challenge, use_bin_type=True))
        self.state = "proof"

    def _on_challenge(self, body: bytes) -> None:
        msg = self._decode_small(body)
        peer = self._field(msg, "node", str)
        nonce = self._field(msg, "nonce", bytes)
        mac = self._field(msg, "mac", bytes)
        if peer != self.peer_id or len(nonce) != 32:
            raise _HandshakeError(f"expected peer {self.peer_id!r}, got {peer!r}")
        transcript = self._transcript(self.mesh.node_id, peer, self.nonce, nonce)
        if not hmac.compare_digest(mac, _mac(self.mesh.secret, b"acceptor", transcript)):
            raise _HandshakeError("peer failed to prove the cluster secret")
        self.peer_nonce = nonce
        self.batch = self.mesh.batch and msg.get("batch") is True
        self._write_plain(
            msgpack.packb({"mac": _mac(self.mesh.secret, b"dialer", transcript)}, use_bin_type=True)
        )
        self._open(transcript)

    def _on_proof(self, body: bytes) -> None:
        msg = self._decode_small(body)
        mac = self._field(msg, "mac", bytes)
        assert self.peer_id is not None
        transcript = self._transcript(self.peer_id, self.mesh.node_id, self.peer_nonce, self.nonce)
        if not hmac.compare_digest(mac, _mac(self.mesh.secret, b"dialer", transcript)):
            raise _HandshakeError("peer failed to prove the cluster secret")
        self._open(transcript)

    def _open(self, transcript: bytes) -> None:
        d2a = _mac(self.mesh.secret, b"session d->a", transcript)
        a2d = _mac(self.mesh.secret, b"session a->d", transcript)
        self.send_key, self.recv_key = (d2a, a2d) if self.dialer else (a2d, d2a)
        self.state = "open"
        self._timeout.cancel()
        self.mesh._connection_open(self)

    def _handshake_timeout(self) -> None:
        if self.state != "open" and not self.closed:
            if self.state != "dropped":
                log.info("peer connection %s: handshake timed out", self.describe())
            self.close()

    # --- misc ---------------------------------------------------------------------------

    def describe(self) -> str:
        if self.transport is not None and not self.peername:
            self.peername = str(self.transport.get_extra_info("peername") or "")
        return f"{self.peer_id or 'unknown'}@{self.peername or '?'}"

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._timeout.cancel()
            if self.transport is not None:
                self.transport.abort()


class PeerMesh:
    """All peer connections of one node. Create, then ``await start()``."""

    def __init__(
        self,
        *,
        node_id: str,
        listen: tuple[str, int],
        peers: dict[str, tuple[str, int]],
        secret: bytes,
        cluster_id: str,
        handler: MeshHandler,
        loop: asyncio.AbstractEventLoop | None = None,
        tls: PeerTLS | None = None,
        batch: bool = True,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the cluster secret must be at least 16 bytes")
        self.node_id = node_id
        self.listen_addr = listen
        self.peers = {p: a for p, a in peers.items() if p != node_id}
        self.secret = secret
        self.cluster_id = cluster_id
        self.handler = handler
        self.loop = loop or asyncio.get_event_loop()
        self.blocked: set[str] = set()
        self.tls = tls
        self.security_events = 0  # handshakes refused (secret, cluster, node, framing)
        self.tls_failures = 0  # TLS handshakes that failed (certificate, CA, protocol)
        self._tls_log = _RateLimitedLog()  # TLS failures and refused handshakes
        self._open: dict[str, PeerConnection] = {}
        self._dialing: set[str] = set()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._handshakes: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._on_frame_hook: Callable[[str, bytes], None] | None = None
        self.batch = batch
        # Per peer: the packed ``[group_id, message]`` pairs waiting for the next flush,
        # and their size in bytes.
        self._outbox: dict[str, list[bytes]] = {}
        self._outbox_bytes: dict[str, int] = {}
        self._flush_scheduled = False
        self.counters = MeshCounters()

    async def start(self) -> None:
        host, port = self.listen_addr
        self._server = await self.loop.create_server(
            lambda: PeerConnection(self, dialer=False, expected_peer=None),
            host,
            port,
            reuse_address=True,
        )
        for peer in self.peers:
            if self.node_id > peer:
                self._tasks.append(self.loop.create_task(self._dial_forever(peer)))
        self._tasks.append(self.loop.create_task(self._keepalive()))

    async def stop(self) -> None:
        self._stopping = True
        for task in [*self._tasks, *self._handshakes]:
            task.cancel()
        for conn in list(self._open.values()):
            conn.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- sending ----------------------------------------------------------------------

    def is_connected(self, peer_id: str) -> bool:
        return peer_id in self._open

    def connected_peers(self) -> list[str]:
        return sorted(self._open)

    def send(self, peer_id: str, group_id: str, message: Any) -> bool:
        """Queue a message for a peer; False if there is no open connection (message lost).

        To a peer that batches, the message leaves with every other message queued for it
        in this event-loop iteration, as one frame (see the module's docstring)."""
        if peer_id in self.blocked:
            return False
        conn = self._open.get(peer_id)
        if conn is None:
            return False
        item = msgpack.packb([group_id, message], use_bin_type=True)
        if not conn.batch:
            if not conn.send_frame(item):
                return False
            self.counters.messages_sent += 1
            self.counters.frames_sent += 1
            return True
        queue = self._outbox.setdefault(peer_id, [])
        size = self._outbox_bytes.get(peer_id, 0)
        if queue and (len(queue) >= MAX_BATCH_MESSAGES or size + len(item) > MAX_BATCH_BYTES):
            self._flush_peer(peer_id)
            queue, size = self._outbox.setdefault(peer_id, []), 0
        queue.append(item)
        self._outbox_bytes[peer_id] = size + len(item)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)
        return True

    def flush(self) -> None:
        """Write every peer's queued messages now, one frame per peer."""
        self._flush_scheduled = False
        for peer_id in list(self._outbox):
            self._flush_peer(peer_id)

    def _flush_peer(self, peer_id: str) -> None:
        items = self._outbox.pop(peer_id, None)
        self._outbox_bytes.pop(peer_id, None)
        conn = self._open.get(peer_id)
        if not items or conn is None or peer_id in self.blocked:
            return  # the connection closed (or was blocked) since: the messages are lost
        if conn.send_frame(pack_batch(items)):
            self.counters.frames_sent += 1
            self.counters.messages_sent += len(items)

    def set_peers(self, peers: dict[str, tuple[str, int]]) -> None:
        """Change the peer set (the cluster's roster changed): dial new peers, close the
        connections of removed ones. Only listed peers may complete a handshake."""
        peers = {p: a for p, a in peers.items() if p != self.node_id}
        for gone in set(self.peers) - set(peers):
            del self.peers[gone]
            conn = self._open.get(gone)
            if conn is not None:
                conn.close()
                self._connection_closed(conn)
        for peer, address in peers.items():
            new = peer not in self.peers
            self.peers[peer] = address
            if new and self.node_id > peer and self._server is not None and not self._stopping:
                self._tasks.append(self.loop.create_task(self._dial_forever(peer)))

    # --- fault injection ----------------------------------------------------------------

    def block(self, peer_ids: set[str]) -> None:
        self.blocked = {p for p in peer_ids if p in self.peers}
        log.warning("fault injection: traffic with %s is dropped", sorted(self.blocked) or "nobody")

    def is_blocked(self, peer_id: str) -> bool:
        return peer_id in self.blocked

    # --- connection management ---------------------------------------------------------

    async def _dial_forever(self, peer: str) -> None:
        backoff = 0.05
        last: list[PeerConnection] = []  # the latest connection dialed

        def dial(p: str = peer) -> PeerConnection:
            last[:] = [PeerConnection(self, dialer=True, expected_peer=p)]
            return last[0]

        while not self._stopping and peer in self.peers:
            in_handshake = bool(last) and not last[0].closed and last[0].state != "open"
            if peer not in self._open and peer not in self.blocked and not in_handshake:
                host, port = self.peers[peer]
                backoff = min(backoff * 2, 1.0)  # back to the start once the link opens
                try:
                    await self.loop.create_connection(dial, host, port, **self._dial_tls(host))
                except (ssl.SSLError, ssl.CertificateError) as e:
                    self.tls_failure(f"{peer}@{host}:{port}", e, peer)
                    backoff = 1.0
                    if last:
                        last[0].close()
                except (OSError, TimeoutError):
                    if last:
                        last[0].close()
            if peer in self._open:
                backoff = 0.05
            await asyncio.sleep(
                backoff * (0.5 + random.random()) if peer not in self._open else 0.2
            )

    def _dial_tls(self, host: str) -> dict[str, Any]:
        if self.tls is None:
            return {}
        return {
            "ssl": self.tls.client,
            "server_hostname": self.tls.server_name or host,
            "ssl_handshake_timeout": HANDSHAKE_TIMEOUT,
        }

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    async def _accept_tls(self, conn: PeerConnection, transport: asyncio.Transport) -> None:
        """The acceptor's TLS handshake on a fresh connection, then the peer handshake."""
        assert self.tls is not None
        where = conn.describe()
        if transport.is_closing():
            conn.close()
            return
        try:
            tls_transport = await self.loop.start_tls(
                transport,
                conn,
                self.tls.server,
                server_side=True,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
            )
        except (ssl.SSLError, ssl.CertificateError, OSError, TimeoutError) as e:
            self.tls_failure(where, e, _host_of(transport))
            conn.close()
            transport.abort()
            return
        if conn.closed or tls_transport is None:
            return
        conn.connection_made(tls_transport)

    def tls_failure(self, where: str, exc: BaseException, source: str) -> None:
        """A TLS handshake with ``source`` (a peer id or host) failed: counted, and logged
        at most once per source and reason every LOG_INTERVAL seconds."""
        self.tls_failures += 1
        reason = getattr(exc, "reason", None) or type(exc).__name__
        self._tls_log.warning(
            self.loop.time(),
            (source, str(reason)),
            "peer connection %s refused: TLS handshake failed: %s",
            where,
            str(exc) or type(exc).__name__,
        )

    async def _keepalive(self) -> None:
        while not self._stopping:
            await asyncio.sleep(PING_INTERVAL)
            now = self.loop.time()
            for peer, conn in list(self._open.items()):
                if now - conn.last_recv > IDLE_TIMEOUT:
                    log.warning(
                        "peer %s silent for %.1fs; closing the connection",
                        peer,
                        now - conn.last_recv,
                    )
                    conn.close()
                    self._connection_closed(conn)
                else:
                    self.send(peer, "", {"type": "ping"})

    def _connection_open(self, conn: PeerConnection) -> None:
        assert conn.peer_id is not None
        old = self._open.get(conn.peer_id)
        self._open[conn.peer_id] = conn
        if old is not None:
            old.close()
            self.handler.on_peer_down(conn.peer_id)
        log.info("peer %s connected (%s)", conn.peer_id, "outgoing" if conn.dialer else "incoming")
        self.handler.on_peer_up(conn.peer_id)

    def _connection_closed(self, conn: PeerConnection) -> None:
        if conn.peer_id is not None and self._open.get(conn.peer_id) is conn:
            del self._open[conn.peer_id]
            log.info("peer %s disconnected", conn.peer_id)
            self.handler.on_peer_down(conn.peer_id)

    def security_event(self, conn: PeerConnection, reason: str) -> None:
        """A peer handshake refused: counted, and logged at most once per source and
        reason every LOG_INTERVAL seconds."""
        self.security_events += 1
        source = conn.peer_id or _host_of(conn.transport)
        self._tls_log.warning(
            self.loop.time(),
            (source, reason),
            "peer connection %s rejected: %s",
            conn.describe(),
            reason,
        )

    def _frame_received(self, conn: PeerConnection, body: bytes) -> None:
        peer = conn.peer_id
        assert peer is not None
        if peer in self.blocked:
            return
        try:
            decoded = msgpack.unpackb(body, raw=False, use_list=False, strict_map_key=False)
        except Exception as e:
            self.counters.bad_frames += 1
            log.warning("peer %s sent an undecodable frame (%s); dropped", peer, type(e).__name__)
            return
        items = unpack_frame(decoded)
        if items is None:
            self.counters.bad_frames += 1
            log.warning("peer %s sent a frame of unexpected shape; dropped", peer)
            return
        self.counters.frames_received += 1
        self.counters.messages_received += len(items)
        for group_id, message in items:
            if group_id == "":
                continue  # node-level: pings only keep the connection alive
            if conn.closed or peer in self.blocked:
                return  # closed or blocked while delivering: the rest is lost, as on a network
            self.handler.on_message(peer, group_id, message)


@dataclass(slots=True)
class MeshCounters:
    """What the mesh sent and received since it started (read by metrics and tests)."""

    frames_sent: int = 0
    messages_sent: int = 0
    frames_received: int = 0
    messages_received: int = 0
    bad_frames: int = 0


def pack_batch(items: list[bytes]) -> bytes:
    """One batch frame's payload from packed ``[group_id, message]`` pairs: a msgpack array
    header followed by the pairs (a valid msgpack array of them)."""
    n = len(items)
    if n < 16:
        header = bytes((0x90 | n,))
    elif n < 0x10000:
        header = b"\xdc" + struct.pack(">H", n)
    else:
        header = b"\xdd" + struct.pack(">I", n)
    return header + b"".join(items)


def _is_pair(item: object) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)


def unpack_frame(decoded: object) -> tuple[tuple[str, Any], ...] | None:
    """The ``(group_id, message)`` pairs a decoded frame carries, in order, or None when its
    shape is wrong. A frame is a batch (an array of 1..MAX_BATCH_MESSAGES pairs) or, from a
    peer that does not batch, one pair; a batch with any malformed pair is refused whole."""
    if not isinstance(decoded, tuple):
        return None
    if _is_pair(decoded):
        return (decoded,)  # type: ignore[return-value]
    if not 0 < len(decoded) <= MAX_BATCH_MESSAGES or not all(_is_pair(i) for i in decoded):
        return None
    return decoded
