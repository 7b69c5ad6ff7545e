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
    ExpiredSession,
    Put,
    Read,
    Request,
)
from raftstore.errors import ResultCode
from raftstore.expiry import expired_rows, idle_sessions
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig
from raftstore.policy import WritePolicy
from raftstore.state_machine import SESSION_IDLE_RESET_MS, StateMachine
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


# --- idle client sessions ------------------------------------------------------------

HOUR_MS = SESSION_IDLE_RESET_MS


def _write_as(store: MemoryStore, now: int, client: bytes, seq: int, value: int) -> object:
    key = Key.of("test", "", f"k{seq}")
    request = Request(Put(key, {"v": value}), client_id=client, seq=seq, acked_seq=seq)
    apply.index += 1  # type: ignore[attr-defined]
    return StateMachine(NS).apply(Entry(now, (request,)), store, apply.index)[0]  # type: ignore[attr-defined]


def test_expire_with_sessions_round_trips_through_the_codec() -> None:
    command = Expire("test", 5, (), (ExpiredSession(b"client-1", 3), ExpiredSession(b"c2", 0)))
    entry = Entry(99, (Request(command),))
    assert decode_entry(encode_entry(entry)) == entry


def test_only_sessions_idle_over_an_hour_and_unchanged_are_deleted() -> None:
    store = MemoryStore()
    _write_as(store, 1_000, b"gone", 1, 1)  # last seen at 1 s
    _write_as(store, 1_000, b"back", 1, 1)
    _write_as(store, 2 * HOUR_MS, b"recent", 1, 1)
    now = 1_000 + HOUR_MS + 1  # "gone" and "back" are idle over an hour, "recent" is not
    found = idle_sessions(store, None, 100, now, HOUR_MS)
    assert {s.client_id for s in found.idle} == {b"gone", b"back"} and found.cursor is None
    _write_as(store, now, b"back", 2, 2)  # "back" writes again after the sweep looked
    (result,) = apply(store, now, Expire("test", now, (), found.idle))
    assert result.ok and result.bins == {"sessions": 1}
    assert store.get_session(b"gone") is None  # deleted
    assert store.get_session(b"back") is not None  # changed since the sweep: kept
    assert store.get_session(b"recent") is not None
    (again,) = apply(store, now, Expire("test", now, (), found.idle))  # a duplicate
    assert again.ok and not again.bins


def test_an_early_clock_deletes_no_session() -> None:
    store = MemoryStore()
    _write_as(store, 1_000, b"c", 1, 1)
    seen = (ExpiredSession(b"c", 1_000),)
    # the command claims a late clock but the entry's own is early: capped, nothing goes
    apply(store, 1_000 + HOUR_MS // 2, Expire("test", 10 * HOUR_MS, (), seen))
    assert store.get_session(b"c") is not None


@settings(max_examples=40, deadline=None)
@given(
    seqs=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=8),
    idle=st.booleans(),
)
def test_deleting_an_idle_session_changes_no_later_result(seqs: list[int], idle: bool) -> None:
    """Retries and new requests of a client after its idle session was deleted get the
    same results as with the idle session still on disk (both start a fresh session)."""
    late = 1_000 + HOUR_MS + (1 if idle else -1)
    outcomes = []
    for sweep in (False, True):
        apply.index = 0  # type: ignore[attr-defined]
        store = MemoryStore()
        for seq in (1, 2, 3):
            _write_as(store, 1_000, b"c", seq, seq)
        if sweep:
            found = idle_sessions(store, None, 10, late, HOUR_MS)
            apply(store, late, Expire("test", late, (), found.idle))
            assert (store.get_session(b"c") is None) == idle
        outcomes.append([_write_as(store, late, b"c", s, 10 + s) for s in seqs])
    assert outcomes[0] == outcomes[1]
