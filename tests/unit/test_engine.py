"""The node's storage engine: one RocksDB, one column family per group replica.

Each test names the behaviour it proves: groups are isolated, a destroyed group can come
back empty, rows survive a reopen and a crash, a group's snapshot carries only its rows
and installs into another engine (even where the group has no column family yet), an
install interrupted by a crash leaves the old rows or the new ones, an empty group's
snapshot has no SST file, and a data dir of the per-group layout is imported.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import rocksdict
from raftstore_node.server import RaftstoreNode

from raftstore.keys import Key
from raftstore.replication.snapshot import (
    ROWS,
    Manifest,
    SnapshotError,
    extract_rows,
    read_manifest,
    write_snapshot,
)
from raftstore.storage.base import Changes
from raftstore.storage.engine import Engine
from raftstore.storage.rocks import (
    APPLIED_KEY,
    GroupStore,
    StoreClosed,
    StoreCorruption,
    record_key,
)

REPO = Path(__file__).resolve().parents[2]


def _digest(i: int) -> bytes:
    return Key.of("test", "s", i).digest


def _fill(store: GroupStore, first: int, count: int, index: int, tag: bytes = b"v") -> None:
    records = {("test", _digest(i)): tag + str(i).encode() for i in range(first, first + count)}
    store.commit(Changes(records, {b"client-" + tag: b"session"}), index)


def _rows(store: GroupStore) -> dict[bytes, bytes]:
    it = store.db.iter()
    it.seek_to_first()
    rows = {}
    while it.valid():
        rows[it.key()] = it.value()
        it.next()
    del it
    return rows


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "store")
    yield eng
    eng.close()


def test_groups_are_isolated_in_get_scan_sessions_and_applied_index(engine: Engine) -> None:
    a, b = engine.store("test/0"), engine.store("test/1")
    _fill(a, 0, 10, index=7, tag=b"a")
    _fill(b, 5, 10, index=3, tag=b"b")
    assert (a.applied_index(), b.applied_index()) == (7, 3)
    assert a.get("test", _digest(2)) == b"a2" and b.get("test", _digest(2)) is None
    assert a.get("test", _digest(7)) == b"a7" and b.get("test", _digest(7)) == b"b7"
    assert {v for _, v in a.scan("test")} == {b"a%d" % i for i in range(10)}
    assert {v for _, v in b.scan("test")} == {b"b%d" % i for i in range(5, 15)}
    assert a.get_session(b"client-a") == b"session" and a.get_session(b"client-b") is None
    partition = Key.of("test", "s", 3).partition
    assert [d for d, _ in a.scan("test", partition)] == [_digest(3)]
    assert engine.groups() == {"test/0", "test/1"}


def test_scan_is_in_partition_then_digest_order(engine: Engine) -> None:
    store = engine.store("test/0")
    _fill(store, 0, 50, index=1)
    digests = [d for d, _ in store.scan("test")]
    order = [Key.of("test", "s", i) for i in range(50)]
    assert digests == [k.digest for k in sorted(order, key=lambda k: (k.partition, k.digest))]


def test_a_destroyed_group_comes_back_empty_and_others_keep_their_rows(engine: Engine) -> None:
    a, b = engine.store("test/0"), engine.store("test/1")
    _fill(a, 0, 10, index=4)
    _fill(b, 0, 10, index=5)
    a.destroy()
    assert engine.groups() == {"test/1"}
    with pytest.raises(StoreClosed):  # a write to a dropped CF would poison the whole DB
        _fill(a, 0, 1, index=6)
    again = engine.store("test/0")
    assert again.applied_index() == 0 and list(again.scan("test")) == []
    assert b.applied_index() == 5 and len(list(b.scan("test"))) == 10
    _fill(again, 0, 1, index=1)
    assert again.get("test", _digest(0)) == b"v0"


def test_rows_and_applied_index_persist_across_a_reopen(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "store")
    _fill(eng.store("test/0"), 0, 20, index=9)
    _fill(eng.store("test/1"), 0, 3, index=2)
    eng.close()
    eng = Engine(tmp_path / "store")
    try:
        a = eng.store("test/0")
        assert a.applied_index() == 9 and len(list(a.scan("test"))) == 20
        assert eng.store("test/1").applied_index() == 2
        assert eng.groups() == {"test/0", "test/1"}
    finally:
        eng.close()


def _run_and_crash(script: str) -> None:
    """Run ``script`` in a fresh interpreter that ends with os._exit (no close, no flush:
    as a kill -9 would leave the files)."""
    code = "import os, sys\nfrom pathlib import Path\n" + textwrap.dedent(script)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr


def test_a_durable_commit_survives_a_crash(tmp_path: Path) -> None:
    _run_and_crash(
        f"""
        from raftstore.storage.engine import Engine
        from raftstore.storage.base import Changes
        store = Engine(Path({str(tmp_path / "store")!r})).store("test/0")
        store.commit(Changes({{("test", bytes(16)): b"x"}}, {{}}), 11)
        store.make_durable()
        os._exit(9)
        """
    )
    eng = Engine(tmp_path / "store")
    try:
        store = eng.store("test/0")
        assert store.applied_index() == 11 and store.get("test", bytes(16)) == b"x"
    finally:
        eng.close()


def _snapshot_of(store: GroupStore, path: Path, work: Path) -> None:
    work.mkdir(exist_ok=True)
    store.make_durable()
    rows = work / ROWS
    has_rows = store.export(rows)
    manifest = Manifest(store.group_id, (b"", 5, 1), (b"", 4, 1), ("n1",), store.applied_index())
    write_snapshot(path, manifest, rows if has_rows else None)


def test_a_snapshot_holds_only_its_group_and_installs_into_another_engine(
    engine: Engine, tmp_path: Path
) -> None:
    source = engine.store("test/0")
    _fill(source, 0, 200, index=42, tag=b"src")
    _fill(engine.store("test/1"), 0, 300, index=7, tag=b"other")
    path = tmp_path / "snapshot"
    _snapshot_of(source, path, tmp_path / "work")
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["manifest.json", ROWS]
    assert read_manifest(path).applied_index == 42

    other = Engine(tmp_path / "other")
    try:
        assert "test/0" not in other.groups()  # a new replica: the group has no CF yet
        target = other.store("test/0")
        sst = extract_rows(path, tmp_path / "incoming", target.sst_options())
        target.install(sst)
        assert _rows(target) == _rows(source)
        assert target.applied_index() == 42
        assert not any(v.startswith(b"other") for _, v in target.scan("test"))
    finally:
        other.close()


def test_installing_replaces_every_row_of_an_existing_group(engine: Engine, tmp_path: Path) -> None:
    source = engine.store("test/0")
    _fill(source, 0, 10, index=50, tag=b"new")
    path = tmp_path / "snapshot"
    _snapshot_of(source, path, tmp_path / "work")
    target = engine.store("test/1")
    _fill(target, 100, 10, index=3, tag=b"old")  # rows the snapshot does not have
    target.install(extract_rows(path, tmp_path / "incoming", target.sst_options()))
    assert _rows(target) == _rows(source)
    _fill(target, 0, 1, index=51, tag=b"after")  # the store keeps working after the swap
    assert target.get("test", _digest(0)) == b"after0" and target.applied_index() == 51


def test_an_empty_group_snapshot_has_no_sst_and_installs_as_empty(
    engine: Engine, tmp_path: Path
) -> None:
    empty = engine.store("test/0")
    path = tmp_path / "snapshot"
    _snapshot_of(empty, path, tmp_path / "work")
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["manifest.json"]
    target = engine.store("test/1")
    _fill(target, 0, 5, index=8)
    sst = extract_rows(path, tmp_path / "incoming", target.sst_options())
    assert sst is None
    target.install(sst)
    assert _rows(target) == {} and target.applied_index() == 0


def _generations(path: Path, group_id: str) -> int:
    families = rocksdict.Rdict.list_cf(str(path), rocksdict.Options(raw_mode=True))
    return len([f for f in families if f.startswith(group_id + "#")])


_CRASHING_INSTALL = """
from raftstore.storage.engine import Engine
from raftstore.storage.rocks import GroupStore
def crash(name):
    if name == {point!r}:
        os._exit(9)
store = GroupStore(Engine(Path({store!r}), failpoints=crash), "test/0")
store.install(Path({sst!r}))
"""


@pytest.mark.parametrize(
    ("point", "survivor"),
    [("store.install.ingested", "old"), ("store.install.switched", "new")],
)
def test_a_crash_during_an_install_leaves_the_old_rows_or_the_new_never_a_mix(
    tmp_path: Path, point: str, survivor: str
) -> None:
    eng = Engine(tmp_path / "source")
    _fill(eng.store("test/0"), 0, 10, index=20, tag=b"new")
    _snapshot_of(eng.store("test/0"), tmp_path / "snapshot", tmp_path / "work")
    new_rows = _rows(eng.store("test/0"))
    eng.close()
    eng = Engine(tmp_path / "store")
    _fill(eng.store("test/0"), 5, 10, index=3, tag=b"old")
    _fill(eng.store("test/1"), 0, 4, index=2)
    old_rows = _rows(eng.store("test/0"))
    sst = extract_rows(tmp_path / "snapshot", tmp_path / "incoming", eng.cf_options())
    eng.close()
    assert sst is not None
    _run_and_crash(
        _CRASHING_INSTALL.format(point=point, store=str(tmp_path / "store"), sst=str(sst))
    )

    assert _generations(tmp_path / "store", "test/0") == 2  # both generations left
    eng = Engine(tmp_path / "store")
    try:
        rows = _rows(eng.store("test/0"))
        assert rows == (old_rows if survivor == "old" else new_rows)
        assert eng.store("test/1").applied_index() == 2
        families = rocksdict.Rdict.list_cf(
            str(tmp_path / "store"), rocksdict.Options(raw_mode=True)
        )
        assert len([f for f in families if f.startswith("test/0#")]) == 1  # the other dropped
    finally:
        eng.close()


def test_retain_drops_the_groups_no_longer_placed_here(engine: Engine) -> None:
    for i in range(3):
        _fill(engine.store(f"test/{i}"), 0, 2, index=1)
    engine.retain(["test/1"])
    assert engine.groups() == {"test/1"}


def _legacy_db(path: Path, rows: int, applied: int) -> dict[bytes, bytes]:
    """A group RocksDB of the previous layout (one DB per group, rows in its default CF)."""
    db = rocksdict.Rdict(str(path), rocksdict.Options(raw_mode=True))
    written = {record_key("test", _digest(i)): b"legacy%d" % i for i in range(rows)}
    written[b"s" + b"client"] = b"session"
    written[APPLIED_KEY] = applied.to_bytes(8, "big")
    for key, value in written.items():
        db.put(key, value)
    db.close()
    return written


def test_a_data_dir_of_the_per_group_layout_is_imported_at_open(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "groups" / "test-0"
    directory.mkdir(parents=True)
    written = _legacy_db(directory / "db", rows=30, applied=77)
    node = SimpleNamespace(engine=engine)
    with caplog.at_level(logging.INFO):
        store = RaftstoreNode._open_store(node, "test/0", directory)  # type: ignore[arg-type]
    assert _rows(store) == written and store.applied_index() == 77
    assert store.get("test", _digest(3)) == b"legacy3"
    assert not (directory / "db").exists()
    assert "imported" in caplog.text and "applied index 77" in caplog.text
    _fill(store, 0, 1, index=78)
    assert RaftstoreNode._open_store(node, "test/0", directory).applied_index() == 78


def test_a_leftover_legacy_dir_of_an_imported_group_is_deleted_not_reimported(
    engine: Engine, tmp_path: Path
) -> None:
    directory = tmp_path / "groups" / "test-0"
    directory.mkdir(parents=True)
    _fill(engine.store("test/0"), 0, 2, index=90)  # imported, then the node kept applying
    _legacy_db(directory / "db", rows=30, applied=77)  # a crash came before the delete
    store = RaftstoreNode._open_store(SimpleNamespace(engine=engine), "test/0", directory)  # type: ignore[arg-type]
    assert store.applied_index() == 90 and not (directory / "db").exists()


def test_a_format_1_snapshot_left_on_disk_is_still_read(engine: Engine, tmp_path: Path) -> None:
    written = _legacy_db(tmp_path / "checkpoint", rows=12, applied=33)
    manifest = Manifest("test/0", (b"", 33, 2), (b"", 32, 2), ("n1", "n2"), 33, format=1)
    path = tmp_path / "snapshot"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        raw = manifest.to_json()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
        tar.add(tmp_path / "checkpoint", arcname="db")
    assert read_manifest(path).format == 1
    store = engine.store("test/0")
    store.install(extract_rows(path, tmp_path / "incoming", store.sst_options()))
    assert _rows(store) == written and store.applied_index() == 33


def test_an_unknown_snapshot_format_is_refused(tmp_path: Path) -> None:
    manifest = Manifest("test/0", (b"", 1, 1), (b"", 0, 0), ("n1",), 1)
    path = tmp_path / "snapshot"
    write_snapshot(path, manifest, None)
    raw = path.read_bytes().replace(b'"format": 2', b'"format": 9')
    path.write_bytes(raw)
    with pytest.raises(SnapshotError, match="unsupported snapshot format 9"):
        read_manifest(path)


def test_memtables_are_counted_for_the_whole_node(engine: Engine) -> None:
    for i in range(4):
        _fill(engine.store(f"test/{i}"), 0, 100, index=1)
    assert engine.memtable_bytes() > 0
    assert engine.store("test/0").property_int("rocksdb.estimate-num-keys") >= 100


def test_a_corrupt_table_is_an_error_never_a_short_scan_or_snapshot(tmp_path: Path) -> None:
    """RocksDB's iterator just stops at a corrupt block: without its status checked, a
    scan, a snapshot export (shipped to followers!) or the start-up check would see fewer
    rows and carry on."""
    eng = Engine(tmp_path / "store")
    store = eng.store("test/0")
    for batch in range(4):
        records = {
            ("test", _digest(i)): os.urandom(100) for i in range(batch * 2000, (batch + 1) * 2000)
        }
        store.commit(Changes(records), batch + 1)
    assert eng.verify()[0] > 8000
    store.close()
    eng.close()  # flushes: the rows are in SST files now
    table = max((tmp_path / "store").glob("*.sst"), key=lambda p: p.stat().st_size)
    data = bytearray(table.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = b"\xa5" * 16
    table.write_bytes(bytes(data))
    eng = Engine(tmp_path / "store")  # opening checks only the metadata
    try:
        with pytest.raises(StoreCorruption, match="Corruption"):
            eng.verify()
        store = eng.store("test/0")
        with pytest.raises(StoreCorruption, match=table.name):
            sum(1 for _ in store.scan("test"))
        with pytest.raises(StoreCorruption):
            store.export(tmp_path / "snap.sst")
    finally:
        eng.close()


def test_sessions_are_scanned_in_client_id_order_from_a_cursor(engine: Engine) -> None:
    store = engine.store("test/0")
    ids = [b"a", b"ab", b"b", b"b\x00", b"c"]
    store.commit(Changes({}, {cid: b"session-" + cid for cid in ids}), 1)
    engine.store("test/1").commit(Changes({}, {b"other": b"x"}), 1)  # another group's
    assert [cid for cid, _ in store.scan_sessions()] == ids
    assert [cid for cid, _ in store.scan_sessions(b"ab")] == [b"b", b"b\x00", b"c"]
    assert [cid for cid, _ in store.scan_sessions(b"b")] == [b"b\x00", b"c"]
    assert dict(store.scan_sessions(b"b\x00")) == {b"c": b"session-c"}
