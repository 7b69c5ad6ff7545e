"""nsup's Expire command: codec round trip, refusals, and (property) that deleting what a
sweep found never changes what any read returns."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from raftstore.codec import decode_entry, encode_entry
from raftstore.commands import (
    Batch,
    Entry,
    Expire,
    ExpiredRecord,
    Put,
    Read,
    Request,
)
from raftstore.errors import ResultCode
from raftstore.expiry import expired_rows
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig
from raftstore.policy import WritePolicy
from raftstore.state_machine import StateMachine
from raftstore.storage.memory import MemoryStore

NS = {"test": NamespaceConfig("test")}
DIGEST = bytes(range(16))


def apply(store: MemoryStore, now: int, *commands: object) -> list:
    apply.index += 1  # type: ignore[attr-defined]
    entry = Entry(now, tuple(Request(c) for c in commands))  # type: ignore[arg-type]
    return StateMachine(NS).apply(entry, store, apply.index)  # type: ignore[attr-defined]


apply.index = 0  # type: ignore[attr-defined]


def test_expire_round_trips_through_the_codec() -> None:
    command = Expire("test", 12345, (ExpiredRecord(DIGEST, 7, 12000), ExpiredRecord(DIGEST, 1, 5)))
    entry = Entry(99, (Request(command),))
    assert decode_entry(encode_entry(entry)) == entry


def test_malformed_expire_changes_nothing() -> None:
    store = MemoryStore()
    key = Key.of("test", "", "a")
    apply(store, 1000, Put(key, {"a": 1}, WritePolicy(ttl=1)))
    good = ExpiredRecord(key.digest, 1, 2000)
    for bad in [
        Expire("test", 5000, (good, ExpiredRecord(b"short", 1, 1))),
        Expire("test", 5000, [good]),  # type: ignore[arg-type]
        Expire("test", "5000", (good,)),  # type: ignore[arg-type]
    ]:
        (result,) = apply(store, 5000, bad)
        assert result.code == ResultCode.PARAMETER_ERROR, result
    assert store.get("test", key.digest) is not None
    (result,) = apply(store, 5000, Batch((Expire("test", 5000, (good,)),)))  # type: ignore[arg-type]
    assert result.batch[0].code == ResultCode.PARAMETER_ERROR
    assert store.get("test", key.digest) is not None
    (result,) = apply(store, 5000, Expire("test", 5000, (good,)))
    assert result.ok and result.generation == 1
    assert store.get("test", key.digest) is None


writes = st.lists(
    st.tuples(st.integers(0, 7), st.integers(-1, 3), st.integers(0, 2500)), max_size=25
)


@settings(max_examples=60, deadline=None)
@given(writes, st.integers(0, 4000), st.integers(0, 2500))
def test_expiry_never_changes_what_reads_return(
    ops: list[tuple[int, int, int]], sweep_at: int, apply_after: int
) -> None:
    """Whatever was written (TTL -1 never, 0 default, else seconds), a sweep at any time
    and its Expire applied at any later time change no read, and remove every record
    still expired and unchanged."""
    store = MemoryStore()
    keys = [Key.of("test", "", f"k{i}") for i in range(8)]
    now = 1000
    for k, ttl, step in ops:
        now += step
        apply(store, now, Put(keys[k], {"v": step}, WritePolicy(ttl=ttl)))
    sweep_now = now + sweep_at
    found = []
    after = None
    while True:
        part = expired_rows(store, "test", after, 3, sweep_now)
        found += part.expired
        after = part.cursor
        if after is None:
            break
    # a write between the sweep and the apply: the first key gets a long TTL again
    apply(store, sweep_now, Put(keys[0], {"v": -1}, WritePolicy(ttl=100)))
    at = sweep_now + apply_after
    reads = [Read(k) for k in keys]
    before = [r.code for r in apply(store, at, *reads)]
    apply(store, at, Expire("test", sweep_now, tuple(found)))
    assert [r.code for r in apply(store, at, *reads)] == before
    assert store.get("test", keys[0].digest) is not None  # rewritten: survives
    for record in found:
        if record.digest != keys[0].digest:
            assert store.get("test", record.digest) is None
