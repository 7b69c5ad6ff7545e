"""Bounded input and bounded work: admission limits, element budgets, parsing limits,
failing-disk failpoints, and how the client treats the resulting codes."""

from __future__ import annotations

import errno
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest
from raftstore_client._errors import Translated, translate
from raftstore_client._session import MAX_OVERLOAD_BACKOFF, RetryState
from raftstore_node.admission import Admission, DiskSpace, Limits, LoopMonitor
from raftstore_node.parsing import RateLimitedLog, receive_limit, request_limit

from raftstore.errors import (
    DeviceOverload,
    KeyBusy,
    OutOfSpace,
    ParameterError,
    RecordTooBig,
    ResultCode,
    error_for,
)
from raftstore.failpoints import FailpointError, Failpoints
from raftstore.namespaces import ConfigError, NamespaceConfig
from raftstore.replication.journal import DurableJournal, JournalError
from raftstore.v1 import values_pb2
from raftstore.wire import ElementBudget, value_from_pb, value_to_pb

# --- admission -------------------------------------------------------------------------


def admission(free: int = 1 << 40, **limits: int) -> Admission:
    stat = SimpleNamespace(f_bavail=free, f_frsize=1)
    return Admission(Limits(**limits), DiskSpace(Path("."), statvfs=lambda _p: stat))  # type: ignore[arg-type]


def test_the_node_refuses_requests_beyond_its_in_flight_limit_and_frees_them() -> None:
    adm = admission(max_in_flight=2)
    with adm.node(10), adm.node(10):
        with pytest.raises(DeviceOverload), adm.node(10):
            pass
        assert adm.in_flight == 2
    assert adm.in_flight == 0 and adm.in_flight_bytes == 0
    with adm.node(10):
        pass


def test_request_bytes_in_flight_are_bounded_but_one_large_request_passes() -> None:
    adm = admission(max_in_flight_bytes=100)
    # alone, any size is admitted (the size limit is parsing's); then nothing more is
    with adm.node(500), pytest.raises(DeviceOverload), adm.node(1):
        pass


def test_a_group_and_a_key_have_their_own_limits() -> None:
    adm = admission(max_in_flight_per_group=3, max_in_flight_per_key=2)
    with adm.group("g", b"k"), adm.group("g", b"k"):
        with pytest.raises(KeyBusy) as busy, adm.group("g", b"k"):
            pass
        assert busy.value.code == ResultCode.KEY_BUSY == 14
        with adm.group("g", b"other"):
            with pytest.raises(DeviceOverload) as over, adm.group("g", None):
                pass
            assert over.value.code == ResultCode.DEVICE_OVERLOAD == 18
        with adm.group("h", b"k"):  # another group, the same digest
            pass
    with adm.group("g", b"k"), adm.group("g", b"k"):
        pass  # everything was released


def test_writes_are_refused_when_free_space_is_below_the_floor_reads_are_not() -> None:
    adm = admission(free=1000, min_free_bytes=4096)
    with pytest.raises(OutOfSpace) as info, adm.group("g", b"k"):
        pass
    assert info.value.code == ResultCode.OUT_OF_SPACE == 8
    with adm.group("g", None):
        pass


def test_a_late_event_loop_sheds_new_requests() -> None:
    adm = admission(max_loop_lag_ms=100)
    adm.monitor.lag = 0.5
    with pytest.raises(DeviceOverload, match="late"), adm.node(1):
        pass
    adm.monitor.lag = 0.01
    with adm.node(1):
        pass


def test_the_loop_monitor_measures_how_late_the_loop_runs() -> None:
    import asyncio

    async def run() -> float:
        monitor = LoopMonitor()
        monitor.start(asyncio.get_running_loop())
        await asyncio.sleep(0.05)
        time.sleep(0.15)  # hold the loop
        await asyncio.sleep(0.05)
        monitor.stop()
        return monitor.take_worst()

    assert asyncio.run(run()) >= 0.1


def test_disk_space_is_sampled_at_most_once_a_second() -> None:
    calls = []
    now = [0.0]

    def statvfs(path: Path) -> SimpleNamespace:
        calls.append(path)
        return SimpleNamespace(f_bavail=len(calls), f_frsize=10)

    disk = DiskSpace(Path("/x"), clock=lambda: now[0], statvfs=statvfs)  # type: ignore[arg-type]
    assert disk.free_bytes() == 10 and disk.free_bytes() == 10
    now[0] = 1.5
    assert disk.free_bytes() == 20 and len(calls) == 2


@pytest.mark.parametrize(
    "raw", [{"max_in_flight": 0}, {"max_in_flight": -1}, {"nope": 1}, {"min_free_bytes": "1"}]
)
def test_limits_are_validated(raw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Limits.from_toml(raw)


def test_limits_default_and_accept_a_zero_disk_floor() -> None:
    assert Limits.from_toml(None) == Limits()
    assert Limits.from_toml({"min_free_bytes": 0}).min_free_bytes == 0


# --- parsing ---------------------------------------------------------------------------


def test_the_size_limits_follow_the_largest_namespace() -> None:
    small, big = NamespaceConfig("a"), NamespaceConfig("b", max_record_size=8 << 20)
    assert request_limit([small]) == 2 << 20
    assert request_limit([small, big]) == 9 << 20
    assert receive_limit([small, big]) == 18 << 20


def test_the_rate_limited_log_writes_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    rl = RateLimitedLog(logging.getLogger("t"), "bad things", interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for i in range(100):
            rl.note(f"#{i}")
        now[0] = 11
        rl.note("late")
    assert [r.getMessage() for r in caplog.records] == [
        "1 bad things in the last 10 s (latest: #0)",
        "100 bad things in the last 10 s (latest: late)",
    ]
    assert rl.total == 101


# --- element budget --------------------------------------------------------------------


def test_a_list_over_the_budget_is_refused_before_its_items_are_decoded() -> None:
    msg = values_pb2.Value()
    msg.list_value.items.add()  # an item without a kind: decoding it would raise
    for _ in range(10):
        msg.list_value.items.add().int_value = 1
    with pytest.raises(RecordTooBig):
        value_from_pb(msg, 0, ElementBudget(5))
    with pytest.raises(ParameterError):
        value_from_pb(msg, 0, ElementBudget(50))


def test_the_budget_counts_every_level_and_map_entries() -> None:
    value = {"a": [1, 2, 3], "b": {"c": [4, 5]}}
    msg = value_to_pb(value)
    assert value_from_pb(msg, 0, ElementBudget(2 + 3 + 1 + 2)) == value
    with pytest.raises(RecordTooBig):
        value_from_pb(msg, 0, ElementBudget(7))


# --- failing disks -----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["EIO", "ENOSPC"])
def test_an_error_failpoint_raises_the_errno(code: str) -> None:
    fp = Failpoints(True)
    fp.arm("journal.write", f"error:{code}", count=1)
    with pytest.raises(OSError) as info:
        fp.hit("journal.write")
    assert info.value.errno == getattr(errno, code)
    fp.hit("journal.write")  # disarmed after one firing


@pytest.mark.parametrize("action", ["error:", "error:NOPE", "error:5"])
def test_unknown_errors_are_refused(action: str) -> None:
    with pytest.raises(FailpointError):
        Failpoints(True).arm("journal.write", action)


def test_a_failed_journal_write_closes_the_journal_and_recovery_keeps_the_rest(
    tmp_path: Path,
) -> None:
    fp = Failpoints(True)
    journal = DurableJournal(tmp_path, failpoints=fp.hit)
    journal.add(b"one", 1, 1)
    journal.sync()
    fp.arm("journal.write", "error:ENOSPC")
    with pytest.raises(JournalError, match="write failed"):
        journal.add(b"two", 2, 1)
    with pytest.raises(JournalError, match="closed"):
        journal.add(b"two", 2, 1)
    reopened = DurableJournal(tmp_path)
    assert [e[1] for e in reopened] == [1]
    reopened.close()


def test_a_failed_fsync_closes_the_journal(tmp_path: Path) -> None:
    fp = Failpoints(True)
    journal = DurableJournal(tmp_path, failpoints=fp.hit)
    journal.add(b"one", 1, 1)
    fp.arm("journal.before_fsync", "error:EIO")
    with pytest.raises(JournalError, match="fdatasync failed"):
        journal.sync()
    with pytest.raises(JournalError, match="closed"):
        journal.add(b"two", 2, 1)


# --- the client ----------------------------------------------------------------------------


def test_overload_codes_are_retried_with_jittered_growing_waits() -> None:
    for err in (KeyBusy(), DeviceOverload()):
        s = RetryState(True, True, time.monotonic() + 60, max_retries=None)
        delays = [s.next_delay(Translated(err, None, True)) for _ in range(8)]
        assert all(d is not None and d > 0 for d in delays)
        assert max(d for d in delays if d) <= 1.5 * MAX_OVERLOAD_BACKOFF
        assert delays[-1] > delays[0]  # type: ignore[operator]
    waits = {
        RetryState(True, True, time.monotonic() + 60, None).next_delay(
            Translated(KeyBusy(), None, True)
        )
        for _ in range(20)
    }
    assert len(waits) > 1  # jitter: clients shed together do not come back together


def test_out_of_space_is_not_retried() -> None:
    s = RetryState(True, True, time.monotonic() + 60, max_retries=None)
    assert s.next_delay(Translated(OutOfSpace(), None, True)) is None


class _Rpc(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[()]:
        return ()


def test_a_message_over_the_receive_limit_is_record_too_big_and_not_in_doubt() -> None:
    e = _Rpc(grpc.StatusCode.RESOURCE_EXHAUSTED, "Received message larger than max (9 vs. 4)")
    t = translate(e, write=True, address="a:1")
    assert isinstance(t.error, RecordTooBig) and not t.error.in_doubt


def test_the_new_codes_build_their_exceptions() -> None:
    assert type(error_for(8)) is OutOfSpace
    assert type(error_for(14)) is KeyBusy
    assert type(error_for(18)) is DeviceOverload


def test_a_batch_is_capped_on_the_server_and_split_by_the_client() -> None:
    from raftstore_client._calls import BATCH_KEYS, group_keys
    from raftstore_node.convert import MAX_BATCH_KEYS, batch_reads

    from raftstore.keys import Key
    from raftstore.v1 import kv_pb2
    from raftstore.wire import key_to_pb

    req = kv_pb2.BatchGetRequest()
    for i in range(MAX_BATCH_KEYS + 1):
        key_to_pb(Key.of("test", "s", i), req.reads.add().key)
    with pytest.raises(ParameterError, match="at most"):
        batch_reads(req)
    del req.reads[-1]
    assert len(batch_reads(req)) == MAX_BATCH_KEYS
    parts = group_keys(list(range(2 * BATCH_KEYS + 1)), lambda k: "g")  # type: ignore[arg-type,return-value]
    assert [len(p) for p in parts.values()] == [BATCH_KEYS, BATCH_KEYS, 1]
    assert sorted(i for p in parts.values() for i in p) == list(range(2 * BATCH_KEYS + 1))
