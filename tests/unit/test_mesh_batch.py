"""Multi-raft batching on the peer mesh: one frame per peer per loop iteration carrying
every group's messages in order; malformed batches are refused whole; a peer that does not
batch still interoperates."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import pytest

from raftstore.replication import mesh as mesh_mod
from raftstore.replication.mesh import MAX_BATCH_MESSAGES, PeerMesh, pack_batch, unpack_frame
from tests.unit.test_mesh import Recorder, free_port, run, until


async def pair(batch_a: bool = True, batch_b: bool = True) -> tuple[PeerMesh, PeerMesh, Recorder]:
    ports = {"a": free_port(), "b": free_port()}
    peers = {n: ("127.0.0.1", p) for n, p in ports.items()}
    ra, rb = Recorder(), Recorder()
    a = PeerMesh(
        node_id="a",
        listen=peers["a"],
        peers=peers,
        secret=b"s" * 32,
        cluster_id="c",
        handler=ra,
        batch=batch_a,
    )
    b = PeerMesh(
        node_id="b",
        listen=peers["b"],
        peers=peers,
        secret=b"s" * 32,
        cluster_id="c",
        handler=rb,
        batch=batch_b,
    )
    await a.start()
    await b.start()
    await until(lambda: a.is_connected("b") and b.is_connected("a"))
    return a, b, ra


def _msg(i: int) -> dict[str, Any]:
    return {"type": "append_entries", "term": 1, "commit_index": i}


@pytest.mark.parametrize("n", [1, 2, 15, 16, 1000, 70000])
def test_pack_batch_is_a_msgpack_array_of_the_pairs(n: int) -> None:
    items = [msgpack.packb([f"g/{i}", i]) for i in range(n)]
    decoded = msgpack.unpackb(pack_batch(items), use_list=False)
    assert len(decoded) == n and decoded[0] == ("g/0", 0) and decoded[-1] == (f"g/{n - 1}", n - 1)


def test_every_groups_messages_to_a_peer_leave_as_one_frame_in_order() -> None:
    async def scenario() -> None:
        a, b, ra = await pair()
        await asyncio.sleep(0.6)  # let the first pings pass
        sent0, recv0 = b.counters.frames_sent, a.counters.frames_received
        for i in range(200):  # one loop iteration: 200 messages of 64 groups
            assert b.send("a", f"test/{i % 64}", _msg(i))
        await until(lambda: len([m for m in ra.messages if m[1] != ""]) == 200)
        assert [m[2]["commit_index"] for m in ra.messages] == list(range(200))
        assert [m[1] for m in ra.messages] == [f"test/{i % 64}" for i in range(200)]
        # One batch frame (a keepalive ping may add one more).
        assert b.counters.frames_sent - sent0 <= 2
        assert a.counters.frames_received - recv0 <= 2
        assert b.counters.messages_sent >= 200
        await a.stop()
        await b.stop()

    run(scenario())


def test_a_batch_is_capped_in_messages_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mesh_mod, "MAX_BATCH_BYTES", 10_000)

    async def scenario() -> None:
        a, b, ra = await pair()
        await asyncio.sleep(0.6)
        sent0 = b.counters.frames_sent
        for i in range(MAX_BATCH_MESSAGES + 10):
            b.send("a", "test/0", {"type": "x", "i": i})
        await until(lambda: len(ra.messages) == MAX_BATCH_MESSAGES + 10, timeout=10)
        assert b.counters.frames_sent - sent0 >= 2
        assert [m[2]["i"] for m in ra.messages] == list(range(MAX_BATCH_MESSAGES + 10))
        ra.messages.clear()
        sent0 = b.counters.frames_sent
        for i in range(20):  # 20 messages of 2 KB: at most 4 fit under 10 000 bytes
            b.send("a", "test/1", {"i": i, "pad": b"p" * 2000})
        b.send("a", "test/1", {"i": 20, "pad": b"p" * 50_000})  # larger than a batch: alone
        await until(lambda: len(ra.messages) == 21, timeout=10)
        assert b.counters.frames_sent - sent0 >= 6
        assert [m[2]["i"] for m in ra.messages] == list(range(21))
        await a.stop()
        await b.stop()

    run(scenario())


BAD_BATCHES = {
    "empty-array": [],
    "not-a-pair": [["test/0", {"x": 1}], ["test/1"]],
    "group-not-a-string": [["test/0", {"x": 1}], [7, {"x": 2}]],
    "a-map": {"test/0": {"x": 1}},
    "a-string": "test/0",
    "too-many": [["test/0", {"x": i}] for i in range(MAX_BATCH_MESSAGES + 1)],
    "nested-batch": [[["test/0", {"x": 1}]]],
}


@pytest.mark.parametrize("kind", sorted(BAD_BATCHES))
def test_a_malformed_batch_is_refused_whole_and_the_link_keeps_working(kind: str) -> None:
    async def scenario() -> None:
        a, b, ra = await pair()
        conn = b._open["a"]  # an authenticated frame with a hostile payload
        assert conn.send_frame(msgpack.packb(BAD_BATCHES[kind], use_bin_type=True))
        await until(lambda: a.counters.bad_frames == 1)
        assert [m for m in ra.messages if m[1] != ""] == []
        assert a.is_connected("b")
        b.send("a", "test/2", {"still": "working"})
        await until(lambda: ("b", "test/2", {"still": "working"}) in ra.messages)
        await a.stop()
        await b.stop()

    run(scenario())


def test_unpack_frame_accepts_a_batch_or_one_pair() -> None:
    assert unpack_frame(("g", 1)) == (("g", 1),)
    assert unpack_frame((("g", 1), ("h", 2))) == (("g", 1), ("h", 2))
    assert unpack_frame(((("g", 1),),)) is None
    assert unpack_frame(()) is None


@pytest.mark.parametrize(("batch_a", "batch_b"), [(True, False), (False, True), (False, False)])
def test_a_peer_that_does_not_batch_gets_one_frame_per_message(
    batch_a: bool, batch_b: bool
) -> None:
    async def scenario() -> None:
        a, b, ra = await pair(batch_a, batch_b)
        assert not b._open["a"].batch and not a._open["b"].batch
        await asyncio.sleep(0.6)
        sent0 = b.counters.frames_sent
        for i in range(10):
            b.send("a", f"test/{i}", _msg(i))
        await until(lambda: len([m for m in ra.messages if m[1] != ""]) == 10)
        assert [m[2]["commit_index"] for m in ra.messages] == list(range(10))
        assert b.counters.frames_sent - sent0 >= 10
        await a.stop()
        await b.stop()

    run(scenario())
