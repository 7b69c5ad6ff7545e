"""The client's retry rules and partition table (pure parts of the client)."""

from __future__ import annotations

import time

import pytest
from raftstore_client._errors import Translated
from raftstore_client._routing import PartitionTable
from raftstore_client._session import RetryState, Session

from raftstore.errors import (
    GenerationError,
    NamespaceNotFound,
    PartitionUnavailable,
    RecordNotFound,
    ServerNotAvailable,
    Timeout,
)
from raftstore.keys import Key
from raftstore.v1 import cluster_pb2


def state(write: bool, exactly_once: bool = True) -> RetryState:
    return RetryState(write, exactly_once, time.monotonic() + 10, max_retries=3)


def t(err: Exception, hint: tuple[str, str] | None = None, server: bool = True) -> Translated:
    return Translated(err, hint, server)  # type: ignore[arg-type]


def test_a_record_condition_is_never_retried() -> None:
    assert state(False).next_delay(t(RecordNotFound())) is None
    assert state(True).next_delay(t(GenerationError())) is None


def test_a_read_is_retried_after_any_transient_failure() -> None:
    s = state(False)
    assert s.next_delay(t(PartitionUnavailable())) is not None
    assert s.next_delay(t(ServerNotAvailable(), server=False)) is not None
    assert s.next_delay(t(Timeout(), server=False)) is not None


def test_an_in_doubt_write_is_retried_only_with_an_exactly_once_identity() -> None:
    assert state(True, exactly_once=False).next_delay(t(Timeout(in_doubt=True))) is None
    assert state(True, exactly_once=True).next_delay(t(Timeout(in_doubt=True))) is not None


def test_a_write_that_surely_did_not_run_is_retried_at_once_towards_the_hinted_leader() -> None:
    s = state(True, exactly_once=False)
    assert s.next_delay(t(PartitionUnavailable(), hint=("n2", "h:2"))) == 0.0


def test_the_final_error_is_in_doubt_if_any_attempt_was() -> None:
    s = state(True)
    s.next_delay(t(Timeout(in_doubt=True)))
    final = s.final(t(PartitionUnavailable()))
    assert final.in_doubt and isinstance(final, PartitionUnavailable)
    r = state(False)
    r.next_delay(t(Timeout(in_doubt=True)))
    assert not r.final(t(PartitionUnavailable())).in_doubt


def test_retries_stop_after_the_limit() -> None:
    s = state(False)
    delays = [s.next_delay(t(PartitionUnavailable())) for _ in range(5)]
    assert delays[:3] != [None] * 3 and delays[3:] == [None, None]


def test_sessions_number_writes_and_acknowledge_everything_below_the_oldest_outstanding() -> None:
    s = Session(b"c")
    assert s.begin() == (1, 1)
    assert s.begin() == (2, 1)
    s.end(1)
    assert s.begin() == (3, 2)
    s.end(2)
    s.end(3)
    assert s.begin() == (4, 4)


def _pmap() -> cluster_pb2.PartitionMap:
    pmap = cluster_pb2.PartitionMap(cluster_id="c")
    pmap.nodes.add(node_id="n1", client_address="a:1")
    pmap.nodes.add(node_id="n2", client_address="a:2")
    ns = pmap.namespaces.add(name="test", partition_groups=2)
    ns.partition_group.extend([0] * 2048 + [1] * 2048)
    pmap.groups.add(group_id="test/0", leader_node_id="n1")
    pmap.groups.add(group_id="test/1", leader_node_id="")
    return pmap


def test_the_partition_table_routes_to_the_leader_and_learns_from_hints() -> None:
    table = PartitionTable(["seed:1"])
    table.update(_pmap())
    key = next(
        Key.of("test", "s", i) for i in range(1000) if Key.of("test", "s", i).partition < 2048
    )
    assert table.group_of(key) == "test/0"
    assert table.address_for("test/0") == "a:1"
    assert table.address_for("test/1") in {"a:1", "a:2"}
    table.set_leader("test/1", "n2", "a:2")
    assert table.address_for("test/1") == "a:2"
    table.forget_address("a:2")
    assert table.addresses()[-1] == "seed:1"
    with pytest.raises(NamespaceNotFound):
        table.group_of(Key.of("other", "s", 1))
