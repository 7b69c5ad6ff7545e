"""StateMachine properties beyond the transcripts: exactly-once under retries,
determinism, one commit per entry, store errors propagating, malformed input contained."""

import ast
import random
from pathlib import Path

import pytest
from raftstore_client import exp

import raftstore
from raftstore.commands import (
    Delete,
    Entry,
    Op,
    Operate,
    OpType,
    Put,
    Read,
    Request,
    Result,
    Touch,
)
from raftstore.errors import ResultCode, ServerError
from raftstore.expressions import parse, parse_filter
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig
from raftstore.policy import RecordExistsAction, WritePolicy
from raftstore.records import MAX_GENERATION, Record, encode_record
from raftstore.state_machine import (
    SESSION_MAX_RESULTS,
    Session,
    StateMachine,
    decode_session,
    encode_session,
)
from raftstore.storage.base import Changes
from raftstore.storage.memory import MemoryStore

NAMESPACES = {"test": NamespaceConfig("test", default_ttl=2)}
KEYS = [Key.of("test", "s", k) for k in ("a", "b", 3)]


def machine() -> StateMachine:
    return StateMachine(NAMESPACES)


def contents(store: MemoryStore) -> tuple[dict, dict]:
    dump = store.dump()
    return dump["records"], dump["sessions"]


# --- exactly-once under whole-entry retries ---------------------------------------------


FILTERS = [
    None,
    None,
    parse_filter(exp.lt(exp.int_bin("n"), 12)),
    parse_filter(exp.not_(exp.record_exists())),
    parse_filter(exp.or_(exp.gt(exp.ttl(), 1), exp.eq(exp.list_size("l"), 2))),
]


def random_command(rng: random.Random) -> object:
    key = rng.choice(KEYS)
    exists = rng.choice(list(RecordExistsAction))
    policy = WritePolicy(exists=exists, ttl=rng.choice([0, 1, -1, -2]))
    kind = rng.randrange(5)
    flt = rng.choice(FILTERS)
    if kind == 0:
        return Put(key, {rng.choice("xyz"): rng.choice([None, 1, "s", [1]])}, policy, flt)
    if kind == 1:
        return Delete(key, filter=flt)
    if kind == 2:
        return Touch(key, WritePolicy(ttl=rng.choice([0, 5, -2])), flt)
    ops = rng.sample(
        [
            Op(OpType.INCR, "n", rng.randint(1, 9)),
            Op(OpType.LIST_APPEND, "l", rng.randint(1, 9)),
            Op(OpType.MAP_INCREMENT, "m", 1, map_key=rng.choice("pq")),
            Op(OpType.READ, "n"),
            Op(OpType.APPEND, "x", "+"),
            Op(OpType.DELETE),
        ],
        k=rng.randint(1, 3),
    )
    return Operate(key, tuple(ops), policy, flt)


class Client:
    """A client obeying the protocol: seqs rise; acked_seq only covers results received."""

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.next_seq = 1
        self.acked = 0
        self.sent: dict[int, object] = {}

    def start_entry(self, rng: random.Random) -> None:
        self.acked = rng.randint(self.acked, self.next_seq)

    def request(self, rng: random.Random) -> Request:
        if self.sent and rng.random() < 0.3:
            seq = rng.choice(sorted(self.sent))  # a retry, possibly of an acknowledged seq
        else:
            seq, self.next_seq = self.next_seq, self.next_seq + 1
            self.sent[seq] = random_command(rng)
        return Request(self.sent[seq], self.name, seq, self.acked)


def random_entries(seed: int, count: int = 8) -> list[Entry]:
    rng = random.Random(seed)
    clients = [Client(b"c%d" % i) for i in range(3)]
    now_ms, entries = 1_000, []
    for _ in range(count):
        for client in clients:
            client.start_entry(rng)
        now_ms += rng.randint(0, 1500)
        requests = tuple(rng.choice(clients).request(rng) for _ in range(rng.randint(1, 6)))
        entries.append(Entry(now_ms, requests))
    return entries


@pytest.mark.parametrize("seed", range(200))
def test_reapplying_an_entry_with_the_same_sessions_returns_identical_results(seed: int) -> None:
    sm, store, replica = machine(), MemoryStore(), MemoryStore()
    index = 0
    for entry in random_entries(seed):
        index += 1
        first = sm.apply(entry, store, index)
        after_first = contents(store)
        index += 1
        retried = sm.apply(entry, store, index)
        assert retried == first
        assert contents(store) == after_first
        sm.apply(entry, replica, index)
        assert contents(replica) == after_first


def test_without_sessions_a_reapplied_increment_applies_twice() -> None:
    """The control for the test above: dedup, not idempotence, keeps results equal."""
    sm, store = machine(), MemoryStore()
    ops = (Op(OpType.INCR, "n", 1), Op(OpType.READ, "n"))
    entry = Entry(1000, (Request(Operate(KEYS[0], ops)),))
    assert sm.apply(entry, store, 1) != sm.apply(entry, store, 2)


# --- sessions -------------------------------------------------------------------------


def incr(seq: int, acked: int = 0) -> Request:
    command = Operate(KEYS[0], (Op(OpType.INCR, "n", 1),), WritePolicy(ttl=-1))
    return Request(command, b"c", seq, acked)


def test_session_keeps_at_most_1024_results_and_refuses_evicted_seqs() -> None:
    sm, store = machine(), MemoryStore()
    total = SESSION_MAX_RESULTS + 5
    sm.apply(Entry(1000, tuple(incr(seq) for seq in range(total))), store, 1)
    session = decode_session(store.get_session(b"c"))
    assert sorted(session.results) == list(range(5, total))
    evicted, cached = sm.apply(Entry(2000, (incr(4), incr(total - 1))), store, 2)
    assert evicted.code == ResultCode.PARAMETER_ERROR
    assert cached.code == ResultCode.OK and cached.generation == total
    counter = sm.read(store, Read(KEYS[0]), 2000)
    assert counter.bins == {"n": total}


CACHED_RESULTS = [
    Result(),
    Result(ResultCode.OK, 3, 5000, 1234),
    Result(
        ResultCode.OK,
        2,
        0,
        9,
        None,
        (("l", [1, None, b"x"]), ("f", 1.0), ("b", True), ("m", {1: "a"})),
    ),
    Result(ResultCode.KEY_EXISTS, message="record already exists"),
    Result(ResultCode.OK, 1, bins={"x": 1.0, "y": b"y", "z": "z"}),
    Result(ResultCode.OK, 1, bins={}),
]


def test_cached_results_round_trip_exactly_through_the_session_encoding() -> None:
    session = Session(floor=3, last_seen_ms=77, results=dict(enumerate(CACHED_RESULTS, start=3)))
    decoded = decode_session(encode_session(session))
    assert decoded == session
    assert [repr(r) for r in decoded.results.values()] == [repr(r) for r in CACHED_RESULTS]


def test_session_is_reset_only_after_more_than_an_hour_idle() -> None:
    sm, store = machine(), MemoryStore()
    sm.apply(Entry(0, (incr(1),)), store, 1)
    sm.apply(Entry(3_600_000, (incr(1),)), store, 2)  # exactly one hour: still cached
    assert sm.read(store, Read(KEYS[0]), 3_600_000).bins == {"n": 1}
    sm.apply(Entry(7_200_001, (incr(1),)), store, 3)  # idle > 1 h: reset, applies again
    assert sm.read(store, Read(KEYS[0]), 7_200_001).bins == {"n": 2}


# --- commits and store errors -----------------------------------------------------------


class SpyStore(MemoryStore):
    __slots__ = ("commits",)

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[tuple[Changes, int]] = []

    def commit(self, changes: Changes, applied_index: int) -> None:
        self.commits.append((changes, applied_index))
        super().commit(changes, applied_index)


@pytest.mark.parametrize(
    "requests",
    [(), (Request(Delete(KEYS[0])),), (Request(Read(KEYS[0])), Request(Put(KEYS[0], {"a": 1})))],
    ids=["empty", "failing", "read-and-write"],
)
def test_apply_commits_exactly_once_with_the_entry_index(requests: tuple) -> None:
    store = SpyStore()
    machine().apply(Entry(1000, requests), store, 42)
    assert len(store.commits) == 1
    assert store.commits[0][1] == 42
    assert store.applied_index() == 42


def test_local_read_never_commits() -> None:
    store = SpyStore()
    machine().apply(Entry(1000, (Request(Put(KEYS[0], {"a": 1})),)), store, 1)
    result = machine().read(store, Read(KEYS[0]), 1000)
    assert result.bins == {"a": 1}
    assert len(store.commits) == 1


class FailingStore(SpyStore):
    def get(self, namespace: str, digest: bytes) -> bytes | None:
        raise OSError("disk on fire")


def test_store_errors_propagate_and_nothing_is_committed() -> None:
    store = FailingStore()
    with pytest.raises(OSError, match="disk on fire"):
        machine().apply(Entry(1000, (Request(Put(KEYS[0], {"a": 1}), b"c", 1),)), store, 1)
    with pytest.raises(OSError):
        machine().read(store, Read(KEYS[0]), 1000)
    assert store.commits == []


def test_a_corrupt_stored_record_raises_instead_of_becoming_a_result() -> None:
    store = MemoryStore()
    store.commit(Changes({("test", KEYS[0].digest): b"\x09garbage"}), 1)
    with pytest.raises(ServerError):
        machine().apply(Entry(1000, (Request(Read(KEYS[0])),)), store, 2)
    assert store.applied_index() == 1


def test_generation_wraps_from_2_32_minus_1_to_1() -> None:
    store = MemoryStore()
    record = Record({"a": 1}, generation=MAX_GENERATION)
    store.commit(Changes({("test", KEYS[0].digest): encode_record(record)}), 1)
    (result,) = machine().apply(Entry(1000, (Request(Put(KEYS[0], {"a": 2})),)), store, 2)
    assert result.generation == 1


# --- malformed input never raises -----------------------------------------------------


MALFORMED = [
    "not a request",
    Request(object()),
    Request(Put("not a key", {"a": 1})),
    Request(Put(Key("test", "", 1, b"short"), {"a": 1})),
    Request(Put(KEYS[0], None)),
    Request(Put(KEYS[0], {"a": 1}, "policy")),
    Request(Put(KEYS[0], {"a": 1}, WritePolicy(exists=99))),
    Request(Put(KEYS[0], {"a": 1}, WritePolicy(generation=-1))),
    Request(Put(Key("test", "", 1.5, KEYS[0].digest), {"a": 1}, WritePolicy(send_key=True))),
    Request(Operate(KEYS[0], None)),
    Request(Operate(KEYS[0], (Op(OpType.LIST_INSERT, "l", 1, index=None),))),
    Request(Read(KEYS[0], bins="a")),
    Request(Put(KEYS[0], {"a": 1}, filter="age > 21")),
    Request(Delete(KEYS[0], filter=parse(exp.add(1, 2)))),  # not a boolean
    Request(Operate(KEYS[0], (Op(OpType.INCR, "n", 1),), filter=exp.val(True))),  # unparsed
    Request(Put(KEYS[0], {"a": 1}), client_id="str id", seq=1),
    Request(Put(KEYS[0], {"a": 1}), client_id=b"c", seq="1"),
    Request(Put(KEYS[0], {"a": 1}), client_id=b"c", seq=1, acked_seq=None),
]


@pytest.mark.parametrize("request_", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_requests_get_parameter_error_and_change_nothing(request_: object) -> None:
    store = MemoryStore()
    (result,) = machine().apply(Entry(1000, (request_,)), store, 1)  # type: ignore[arg-type]
    assert result.code == ResultCode.PARAMETER_ERROR, result
    assert contents(store) == ({}, {})


# --- purity ---------------------------------------------------------------------------

FORBIDDEN = {"grpc", "pysyncobj", "time", "random", "os", "threading"}


def raftstore_imports(module: str, seen: set[str]) -> set[str]:
    """Top-level names imported by ``module`` and the raftstore modules it imports."""
    if module in seen:
        return set()
    seen.add(module)
    root = Path(raftstore.__file__).parent.parent
    path = root / (module.replace(".", "/") + ".py")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module]
        for target in targets:
            names.add(target.split(".")[0])
            source = root / (target.replace(".", "/") + ".py")
            if target.startswith("raftstore.") and source.exists():
                names |= raftstore_imports(target, seen)
    return names


def test_state_machine_imports_no_clock_randomness_threads_or_network() -> None:
    imported = raftstore_imports("raftstore.state_machine", set())
    assert "msgpack" in imported  # the walk reached raftstore.values
    assert imported & FORBIDDEN == set()
