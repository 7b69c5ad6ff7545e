"""MemoryStore: the RecordStore contract, in memory."""

import pytest

from raftstore.keys import Key, partition_id
from raftstore.storage.base import Changes
from raftstore.storage.memory import MemoryStore


def digest(i: int) -> bytes:
    return Key.of("test", "", i).digest


def test_empty_store_has_nothing_and_applied_index_zero() -> None:
    store = MemoryStore()
    assert store.get("test", digest(1)) is None
    assert store.get_session(b"c") is None
    assert store.applied_index() == 0
    assert list(store.scan("test")) == []


def test_commit_writes_and_deletes_rows_and_sets_the_index() -> None:
    store = MemoryStore()
    store.commit(Changes({("test", digest(1)): b"r1", ("test", digest(2)): b"r2"}, {b"c": b"s"}), 3)
    store.commit(Changes({("test", digest(1)): None}, {b"c": None}), 4)
    assert store.get("test", digest(1)) is None
    assert store.get("test", digest(2)) == b"r2"
    assert store.get_session(b"c") is None
    assert store.applied_index() == 4


def test_commit_with_no_changes_still_advances_the_index() -> None:
    store = MemoryStore()
    store.commit(Changes(), 9)
    assert store.applied_index() == 9


def test_commit_below_the_applied_index_is_refused_and_changes_nothing() -> None:
    store = MemoryStore()
    store.commit(Changes(), 5)
    with pytest.raises(ValueError):
        store.commit(Changes({("test", digest(1)): b"r"}), 4)
    assert store.get("test", digest(1)) is None
    assert store.applied_index() == 5


def test_namespaces_are_separate() -> None:
    store = MemoryStore()
    store.commit(Changes({("a", digest(1)): b"in a"}), 1)
    assert store.get("b", digest(1)) is None
    assert list(store.scan("b")) == []


def test_scan_orders_by_partition_big_endian_then_digest() -> None:
    store = MemoryStore()
    digests = [digest(i) for i in range(500)]
    store.commit(Changes({("test", d): d[:4] for d in digests}), 1)
    scanned = [d for d, _ in store.scan("test")]
    expected = sorted(digests, key=lambda d: (partition_id(d), d))
    assert scanned == expected
    assert scanned != sorted(digests)  # partition order is not raw digest order


def test_scan_of_one_partition_yields_only_its_records() -> None:
    store = MemoryStore()
    digests = [digest(i) for i in range(5000)]
    store.commit(Changes({("test", d): b"v" for d in digests}), 1)
    target = partition_id(digests[0])
    scanned = [d for d, _ in store.scan("test", target)]
    assert scanned == sorted(d for d in digests if partition_id(d) == target)


def test_scan_is_not_disturbed_by_a_commit_while_iterating() -> None:
    store = MemoryStore()
    store.commit(Changes({("test", digest(i)): b"v" for i in range(10)}), 1)
    rows = store.scan("test")
    first = next(rows)
    store.commit(Changes({("test", d): None for d, _ in list(store.scan("test"))}), 2)
    assert len([first, *rows]) == 10
