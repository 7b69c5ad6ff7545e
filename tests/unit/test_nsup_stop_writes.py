"""The node's nsup sweeper (over the in-memory replica twin), stop-writes (over real
RocksDB group stores) and their per-node settings: no cluster, no network."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from raftstore_node.config import build_config
from raftstore_node.namespace_settings import DEFAULTS, NamespaceSettings, parse_size
from raftstore_node.nsup import Nsup
from raftstore_node.services.kv import now_ms
from raftstore_node.stop_writes import StopWrites, grows

from raftstore.commands import Batch, Delete, Op, Operate, OpType, Put, Read, Request, Touch
from raftstore.errors import Forbidden, ResultCode
from raftstore.keys import Key
from raftstore.namespaces import ConfigError, NamespaceConfig
from raftstore.policy import WritePolicy
from raftstore.replication.memory import InMemoryGroup, InMemoryReplica
from raftstore.state_machine import StateMachine
from raftstore.storage.base import Changes
from raftstore.storage.engine import Engine

# --- settings ---------------------------------------------------------------------------


def _doc(tmp_path: Path, **ns: Any) -> dict[str, Any]:
    (tmp_path / "s").write_text("0123456789abcdef0123")
    return {
        "node_id": "n1",
        "data_dir": "d",
        "secret_file": "s",
        "member": [{"id": "n1", "client": "127.0.0.1:3000", "peer": "127.0.0.1:3001"}],
        "namespace": [{"name": "test", "replication_factor": 1, **ns}],
    }


def test_namespace_settings_are_read_per_node_with_size_suffixes(tmp_path: Path) -> None:
    config = build_config(
        _doc(tmp_path, nsup_period=1, nsup_deletes_per_second=50, stop_writes_size="64M"),
        base=tmp_path,
    )
    assert config.settings_of("test") == NamespaceSettings(1.0, 50, 64 << 20)
    assert config.namespaces[0] == NamespaceConfig("test", replication_factor=1)
    assert config.settings_of("other") == DEFAULTS  # a namespace without settings here
    assert build_config(_doc(tmp_path), base=tmp_path).settings_of("test") == DEFAULTS
    assert [parse_size(v, "x") for v in (0, 1024, "1G", "512k", "2MiB", "3 GB", "1T")] == [
        0,
        1024,
        1 << 30,
        512 << 10,
        2 << 20,
        3 << 30,
        1 << 40,
    ]


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ({"nsup_period": -1}, "nsup_period must be 0 (off) or 0.1..86400"),
        ({"nsup_period": "120"}, "nsup_period"),
        ({"nsup_period": 0.01}, "nsup_period"),
        ({"nsup_period": True}, "nsup_period"),
        ({"nsup_deletes_per_second": 0}, "nsup_deletes_per_second must be an integer 1..1000000"),
        ({"nsup_deletes_per_second": 2.5}, "nsup_deletes_per_second"),
        ({"stop_writes_size": "64X"}, "stop_writes_size: expected bytes as an integer >= 0 or"),
        ({"stop_writes_size": -1}, "stop_writes_size"),
        ({"stop_writes_size": "1.5G"}, "stop_writes_size"),
        ({"stop_writes": 5}, "allowed keys are"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_error(
    tmp_path: Path, setting: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ConfigError, match="namespace") as err:
        build_config(_doc(tmp_path, **setting), base=tmp_path)
    assert needle in str(err.value)


# --- nsup -------------------------------------------------------------------------------

NS = {"test": NamespaceConfig("test", replication_factor=3)}


def _group() -> InMemoryGroup:
    return InMemoryGroup("test/0", ["n1", "n2", "n3"], StateMachine(NS))


async def _write(replica: InMemoryReplica, name: str, n: int, ttl: int) -> list[bytes]:
    digests = []
    for i in range(n):
        key = Key.of("test", "s", f"{name}{i}")
        result = await replica.propose(Request(Put(key, {"i": i}, WritePolicy(ttl=ttl))))
        assert result.ok, result
        digests.append(key.digest)
    return digests


def _nsup(replica: InMemoryReplica, rate: int = 10_000, slice_rows: int = 200) -> Nsup:
    settings = NamespaceSettings(1.0, rate, 0)
    return Nsup({"test/0": replica}, lambda _ns: settings, slice_rows=slice_rows)


def test_the_leader_deletes_expired_records_on_every_replica_and_counts_them() -> None:
    async def main() -> None:
        group = _group()
        leader = group.replica("n1")
        group.now_ms = now_ms() - 10_000  # written 10 s ago with a 1 s TTL: expired
        expired = await _write(leader, "old", 25, ttl=1)
        kept = await _write(leader, "new", 5, ttl=3600)
        kept += await _write(leader, "forever", 5, ttl=-1)
        group.now_ms = now_ms()
        nsup = _nsup(leader, slice_rows=7)
        assert await _nsup(group.replica("n2")).sweep_namespace("test") == 0  # a follower
        assert await nsup.sweep_namespace("test") == 25
        for member in ("n1", "n2", "n3"):
            store = group.replica(member).store
            assert all(store.get("test", d) is None for d in expired)
            assert all(store.get("test", d) is not None for d in kept)
        stats = nsup.stats_of("test")
        assert (stats.expired, stats.examined, stats.sweeps) == (25, 35, 1)
        assert nsup.group_expired["test/0"] == 25 and stats.last_rate > 0
        assert await nsup.sweep_namespace("test") == 0  # nothing left to expire

    asyncio.run(main())


def test_a_node_that_lost_leadership_proposes_nothing() -> None:
    async def main() -> None:
        group = _group()
        group.now_ms = now_ms() - 10_000
        expired = await _write(group.replica("n1"), "old", 10, ttl=1)
        group.now_ms = now_ms()
        group.elect("n2")
        assert await _nsup(group.replica("n1")).sweep_namespace("test") == 0
        assert all(group.replica("n3").store.get("test", d) is not None for d in expired)
        assert await _nsup(group.replica("n2")).sweep_namespace("test") == 10

    asyncio.run(main())


def test_the_sweep_deletes_client_sessions_idle_over_an_hour_on_every_replica() -> None:
    async def main() -> None:
        group = _group()
        leader = group.replica("n1")
        group.now_ms = now_ms() - 2 * 3600 * 1000  # two hours ago
        for i, client in enumerate((b"gone-1", b"gone-2")):
            key = Key.of("test", "s", f"x{i}")
            request = Request(Put(key, {"i": i}), client_id=client, seq=1, acked_seq=1)
            assert (await leader.propose(request)).ok
        group.now_ms = now_ms()
        request = Request(Put(Key.of("test", "s", "y"), {"i": 9}), client_id=b"here", seq=1)
        assert (await leader.propose(request)).ok
        nsup = _nsup(leader)
        await nsup.sweep_namespace("test")
        for member in ("n1", "n2", "n3"):
            store = group.replica(member).store
            assert store.get_session(b"gone-1") is None and store.get_session(b"gone-2") is None
            assert store.get_session(b"here") is not None
        assert nsup.stats_of("test").sessions == 2

    asyncio.run(main())


def test_deletes_are_throttled_to_the_configured_rate() -> None:
    async def main() -> None:
        group = _group()
        group.now_ms = now_ms() - 10_000
        await _write(group.replica("n1"), "old", 30, ttl=1)
        group.now_ms = now_ms()
        nsup = _nsup(group.replica("n1"), rate=100, slice_rows=10)  # 3 Expires of 10
        start = time.monotonic()
        assert await nsup.sweep_namespace("test") == 30
        assert time.monotonic() - start >= 0.18  # 30 deletes at 100/s: 2 waits of 0.1 s

    asyncio.run(main())


# --- stop-writes ------------------------------------------------------------------------


class _Replica:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.group_id = store.group_id


def test_a_namespace_at_its_cap_refuses_growing_writes_until_deletes_are_compacted(
    tmp_path: Path,
) -> None:
    engine = Engine(tmp_path / "store")
    try:
        store = engine.store("test/0")
        other = engine.store("other/0")
        caps = {"test": NamespaceSettings(stop_writes_size=1 << 20)}
        stop = StopWrites(
            {"test/0": _Replica(store), "other/0": _Replica(other)},  # type: ignore[dict-item]
            lambda ns: caps.get(ns, DEFAULTS),
        )
        stop.refresh()
        stop.check("test")
        rows = {("test", os.urandom(16)): os.urandom(1000) for _ in range(3000)}
        store.commit(Changes(records=rows), 1)
        other.commit(Changes(records=dict(rows)), 1)
        stop.refresh()
        assert stop.stopped("test") and not stop.stopped("other")  # other has no cap
        assert stop.sizes["test"] >= 1 << 20
        with pytest.raises(Forbidden) as err:
            stop.check("test")
        assert err.value.code == ResultCode.FORBIDDEN == 22
        assert "'test'" in err.value.message and "stop_writes_size 1048576" in err.value.message
        store.purge("test", [d for _, d in rows])
        stop.refresh()
        assert stop.stopped("test")  # deleted rows count until compacted
        store.compact()
        stop.refresh()
        assert not stop.stopped("test")
        stop.check("test")
    finally:
        engine.close()


def test_only_writes_that_can_add_data_are_stopped() -> None:
    key = Key.of("test", "", "k")
    write, read = Op(OpType.WRITE, "a", 1), Op(OpType.READ, "a")
    assert grows(Put(key, {"a": 1}))
    assert grows(Operate(key, (read, write)))
    assert grows(Batch((Delete(key), Put(key, {"a": 1}))))
    assert not grows(Operate(key, (read, Op(OpType.DELETE))))
    assert not grows(Operate(key, (Op(OpType.TOUCH),)))
    assert not grows(Batch((Delete(key), Read(key))))
    assert not any(grows(c) for c in (Delete(key), Touch(key), Read(key)))
