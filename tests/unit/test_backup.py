"""Backup files, manifest and the resume/restore logic, without a cluster: every value type
round-trips exactly, corruption of any kind is detected, an interrupted backup resumes
without duplicating a record, and restore builds the writes its policy asks for."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raftstore_client import _backup_format as fmt
from raftstore_client._index import IndexInfo
from raftstore_client.backup import backup, remaining_ttl, restore, verify
from raftstore_client.batch import BatchRecord, BatchWrite
from raftstore_client.types import Meta, Record

from raftstore.errors import BackupError, ResultCode
from raftstore.keys import N_PARTITIONS, compute_digest, partition_id
from raftstore.policy import TTL_NEVER, GenPolicy, RecordExistsAction

ints = st.integers(-(2**63), 2**63 - 1)
scalars = st.one_of(ints, st.floats(allow_nan=False), st.text(), st.binary(), st.booleans())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(st.one_of(inner, st.none()), max_size=4),
        st.dictionaries(st.one_of(ints, st.text(), st.binary()), inner, max_size=4),
    ),
    max_leaves=12,
)
bins = st.dictionaries(st.text(min_size=1, max_size=15), values, min_size=1, max_size=5)


def _record(user_key: Any, bins: dict[str, Any], set_name: str = "s", ttl: int = -1) -> Record:
    digest = compute_digest(set_name, user_key)
    return Record(("test", set_name, user_key, digest), Meta(3, ttl, 1_700_000_000_000), bins)


@settings(max_examples=200, deadline=None)
@given(bins, st.one_of(ints, st.text(max_size=20), st.binary(max_size=20)))
def test_every_value_type_round_trips_exactly(b: dict[str, Any], user_key: Any) -> None:
    rec = _record(user_key, b)
    payload, _ = fmt.encode_record(rec, 0)
    back = fmt.decode_record(payload)
    assert fmt.canonical(back) == fmt.canonical(rec)
    assert back.key == rec.key and back.meta == rec.meta
    assert back.bins == rec.bins


def test_canonical_tells_int_float_bool_and_str_bytes_apart() -> None:
    forms = [{"v": 1}, {"v": 1.0}, {"v": True}, {"v": "a"}, {"v": b"a"}, {"v": [1]}, {"v": {1: 1}}]
    assert len({fmt.canonical(_record(1, b)) for b in forms}) == len(forms)
    decoded = [fmt.decode_record(fmt.encode_record(_record(1, b), 0)[0]).bins for b in forms]
    assert [type(b["v"]) for b in decoded] == [int, float, bool, str, bytes, list, dict]


def test_a_digest_only_key_round_trips() -> None:
    rec = Record(("test", "s", None, compute_digest("s", 7)), Meta(1, -1, 5), {"a": 1})
    assert fmt.decode_record(fmt.encode_record(rec, 0)[0]).key == rec.key


def test_expiry_is_stored_as_a_void_time() -> None:
    assert fmt.encode_record(_record(1, {"a": 1}, ttl=-1), 1000)[1] == 0
    # the node rounds the time left up to seconds: 60 means 59..60 s, taken as 59.5
    assert fmt.encode_record(_record(1, {"a": 1}, ttl=60), 1000)[1] == 60_500
    assert remaining_ttl(0, 5) == TTL_NEVER
    assert remaining_ttl(61_000, 1000) == 60
    assert remaining_ttl(61_000, 1600) == 59  # rounded to the nearest second
    assert remaining_ttl(61_000, 1400) == 60
    assert remaining_ttl(61_000, 60_900) == 1  # at least a second while it lives
    assert remaining_ttl(61_000, 61_000) is None  # expired since the backup


def _data_file(tmp_path: Path, n: int = 50) -> Path:
    w = fmt.RecordWriter(tmp_path / "range-0000.rsb.gz")
    for i in range(n):
        w.write(*fmt.encode_record(_record(i, {"i": i, "s": "x" * i}), 0))
    w.close()
    return tmp_path / "range-0000.rsb.gz"


def test_a_data_file_holds_its_records_in_order(tmp_path: Path) -> None:
    path = _data_file(tmp_path)
    assert not path.with_name(path.name + ".part").exists()
    got = [fmt.decode_record(p).bins["i"] for p, _ in fmt.read_records(path)]
    assert got == list(range(50))


def _rewrite(path: Path, edit: Any) -> None:
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(edit(raw)))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda raw: raw[:-5], "ends early"),  # trailer cut
        (lambda raw: raw[:200], "ends early"),  # truncated mid-record
        (lambda raw: raw[:100] + bytes([raw[100] ^ 1]) + raw[101:], "CRC|parse|claims|ends"),
        (lambda raw: raw + b"x", "after the trailer"),
        (lambda raw: b"XXXX" + raw[4:], "not a raftstore backup"),
        (lambda raw: raw[:4] + b"\x09" + raw[5:], "format version 9"),
        (lambda raw: raw[:-8] + (49).to_bytes(8, "big"), "trailer says 49"),
    ],
)
def test_corruption_is_detected(tmp_path: Path, edit: Any, message: str) -> None:
    path = _data_file(tmp_path)
    _rewrite(path, edit)
    with pytest.raises(BackupError, match=message):
        list(fmt.read_records(path))


def test_a_damaged_gzip_stream_is_detected(tmp_path: Path) -> None:
    path = _data_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError):
        list(fmt.read_records(path))


def test_an_unfinished_file_has_no_trailer(tmp_path: Path) -> None:
    w = fmt.RecordWriter(tmp_path / "r.rsb.gz")
    w.write(*fmt.encode_record(_record(1, {"a": 1}), 0))
    w._gz.close()
    w._raw.close()
    with pytest.raises(BackupError, match="ends early"):
        list(fmt.read_records(w.part))


def test_ranges_cover_every_partition_once() -> None:
    for n in (1, 7, 64, N_PARTITIONS):
        ranges = fmt.split_ranges(n)
        assert [r.begin for r in ranges] == sorted({r.begin for r in ranges})
        assert sum(r.count for r in ranges) == N_PARTITIONS
        fmt.check_ranges(fmt.Manifest("test", None, "c", ranges))
    with pytest.raises(BackupError):
        fmt.split_ranges(0)


def test_the_manifest_round_trips_and_bad_ones_are_refused(tmp_path: Path) -> None:
    m = fmt.new_manifest("test", "s", "cid", 4)
    m.indexes = [{"name": "i", "set": "s", "bin": "b", "type": "NUMERIC", "collection": "LIST"}]
    m.ranges[1].state, m.ranges[1].records = "done", 12
    fmt.write_manifest(tmp_path, m)
    back = fmt.load_manifest(tmp_path)
    assert back.to_json() == m.to_json() and back.records == 12 and not back.complete
    with pytest.raises(BackupError, match="no such directory"):
        fmt.load_manifest(tmp_path / "nope")
    with pytest.raises(BackupError, match="not a backup directory"):
        fmt.load_manifest(tmp_path / "..")
    for text, message in [
        ("{", "unreadable"),
        ('{"format": "x"}', "not a raftstore backup"),
        ('{"format": "raftstore-backup", "version": 2}', "format version 2"),
        ('{"format": "raftstore-backup", "version": 1}', "malformed"),
    ]:
        (tmp_path / fmt.MANIFEST).write_text(text)
        with pytest.raises(BackupError, match=message):
            fmt.load_manifest(tmp_path)


# --- backup and restore against an in-memory client ----------------------------------


class MemoryClient:
    """The part of Client that backup and restore use, over a dict of records; scans of
    the partitions in ``fail_in`` raise after their first record."""

    def __init__(self, records: list[Record]) -> None:
        self.records = {r.key[3]: r for r in records}
        self.fail_in: set[int] = set()
        self.scans: list[int] = []
        self.batches: list[list[BatchWrite]] = []
        self.indexes: list[tuple[Any, ...]] = []

    def scan(self, namespace: str, set: Any = None, **kw: Any) -> Iterator[Record]:
        begin, count = kw.get("partition_begin", 0), kw.get("partition_count", N_PARTITIONS)
        if namespace != "test":
            raise BackupError("no namespace")
        if count > 1:
            self.scans.append(begin)
        chosen = sorted(
            (r for r in self.records.values() if begin <= partition_id(r.key[3]) < begin + count),
            key=lambda r: (partition_id(r.key[3]), r.key[3]),
        )
        return self._stream(chosen, begin)

    def _stream(self, chosen: list[Record], begin: int) -> Iterator[Record]:
        for i, r in enumerate(chosen):
            if i == 1 and begin in self.fail_in:
                raise ConnectionError("node killed")
            yield r

    def partition_map(self) -> Any:
        return type("Map", (), {"cluster_id": "mem"})()

    def list_indexes(self, namespace: str) -> list[IndexInfo]:
        return [IndexInfo(namespace, "ix", "s", "i", "NUMERIC", "DEFAULT", True, 1, 8, 8, 8, 0)]

    def create_index(self, *args: Any) -> None:
        self.indexes.append(args)

    def batch_write(self, items: list[BatchWrite]) -> list[BatchRecord]:
        self.batches.append(items)
        return [BatchRecord(i.key, ResultCode.OK) for i in items]


def _records(n: int) -> list[Record]:
    return [_record(i, {"i": i}, ttl=3600 if i % 2 else -1) for i in range(n)]


def _all_digests(directory: Path) -> list[bytes]:
    m = fmt.load_manifest(directory)
    return [
        fmt.decode_record(p).key[3]
        for r in m.ranges
        for p, _ in fmt.read_records(directory / r.file)
    ]


def test_an_interrupted_backup_resumes_without_duplicating(tmp_path: Path) -> None:
    client = MemoryClient(_records(2000))
    ranges = fmt.split_ranges(16)
    client.fail_in = {ranges[3].begin, ranges[9].begin}
    with pytest.raises(ConnectionError):
        backup(client, tmp_path, "test", ranges=16, parallel=1)
    m = fmt.load_manifest(tmp_path)
    done = {r.index for r in m.ranges if r.state == "done"}
    assert 3 not in done and not m.complete and not m.finished_ms
    client.fail_in, client.scans = set(), []
    report = backup(client, tmp_path, "test", ranges=16, parallel=4)
    assert report.ranges_skipped == len(done) and report.ranges_written == 16 - len(done)
    assert sorted(client.scans) == sorted(r.begin for r in ranges if r.index not in done)
    digests = _all_digests(tmp_path)
    assert sorted(digests) == sorted(client.records) and report.records == 2000
    assert not list(tmp_path.glob("*.part"))  # failed ranges' partial files were replaced


def test_a_range_whose_done_mark_is_removed_is_written_again(tmp_path: Path) -> None:
    client = MemoryClient(_records(500))
    backup(client, tmp_path, "test", ranges=8)
    m = fmt.load_manifest(tmp_path)
    m.ranges[5].state = "pending"
    fmt.write_manifest(tmp_path, m)
    client.scans = []
    report = backup(client, tmp_path, "test", ranges=8)
    assert client.scans == [m.ranges[5].begin] and report.ranges_written == 1
    assert sorted(_all_digests(tmp_path)) == sorted(client.records)


def test_a_directory_of_another_backup_is_refused(tmp_path: Path) -> None:
    client = MemoryClient(_records(10))
    backup(client, tmp_path, "test", "s", ranges=4)
    with pytest.raises(BackupError, match="holds a backup of namespace test set s"):
        backup(client, tmp_path, "test", ranges=4)


@pytest.mark.parametrize(
    "policy, exists, gen",
    [
        ("create-only", RecordExistsAction.CREATE_ONLY, GenPolicy.NONE),
        ("replace", RecordExistsAction.REPLACE, GenPolicy.NONE),
        ("generation", RecordExistsAction.REPLACE, GenPolicy.EXPECT_GEN_GT),
    ],
)
def test_restore_writes_batches_with_its_policy(
    tmp_path: Path, policy: str, exists: RecordExistsAction, gen: GenPolicy
) -> None:
    source = _records(300)
    source.append(Record(("test", "s", None, compute_digest("s", "hidden")), Meta(4, -1, 1), {}))
    backup(MemoryClient(source), tmp_path, "test", ranges=4)
    target = MemoryClient([])
    report = restore(target, tmp_path, policy=policy, batch_size=40, parallel=2)
    items = [i for b in target.batches for i in b]
    assert report.codes == {"OK": 301} and report.digest_only == 1
    assert all(len(b) <= 40 for b in target.batches) and len(items) == 301
    assert target.indexes == [("test", "s", "i", "NUMERIC", "DEFAULT", "ix")]
    by_key = {i.key[2]: i for i in items}
    assert by_key[None].key[3] == compute_digest("s", "hidden")
    assert not by_key[None].policy.send_key and by_key[2].policy.send_key
    for k in (1, 2):
        p = by_key[k].policy
        assert (p.exists, p.gen, p.generation) == (exists, gen, 3)
    assert by_key[2].policy.ttl == TTL_NEVER and 3590 < by_key[1].policy.ttl < 3600


def test_restore_refuses_bad_input_before_writing(tmp_path: Path) -> None:
    target = MemoryClient([])
    with pytest.raises(BackupError, match="no such directory"):
        restore(target, tmp_path / "missing")
    backup(MemoryClient(_records(100)), tmp_path, "test", ranges=4)
    with pytest.raises(BackupError, match="policy must be one of"):
        restore(target, tmp_path, policy="upsert")
    data = tmp_path / "range-0002.rsb.gz"
    good = data.read_bytes()
    data.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(BackupError, match="does not match the manifest"):
        restore(target, tmp_path)
    data.unlink()
    with pytest.raises(BackupError, match="missing"):
        restore(target, tmp_path)
    data.write_bytes(good)
    verify(tmp_path)
    with pytest.raises(BackupError, match="no namespace"):
        restore(target, tmp_path, namespace="other")
    m = json.loads((tmp_path / fmt.MANIFEST).read_text())
    m["ranges"][0]["state"] = "pending"
    (tmp_path / fmt.MANIFEST).write_text(json.dumps(m))
    with pytest.raises(BackupError, match="incomplete"):
        restore(target, tmp_path)
    assert target.batches == [] and target.indexes == []
