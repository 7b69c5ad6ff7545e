"""The node configuration's ``[storage]`` table tunes RocksDB: good values reach the
engine's options, bad ones are refused with a clear ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest
from raftstore_node.config import build_config

from raftstore.keys import Key
from raftstore.namespaces import ConfigError
from raftstore.storage.base import Changes
from raftstore.storage.engine import Engine, StorageSettings


def _doc(tmp_path: Path, storage: dict | None) -> dict:
    (tmp_path / "secret").write_text("s" * 32)
    doc = {
        "node_id": "n1",
        "data_dir": "data",
        "secret_file": "secret",
        "member": [{"id": "n1", "client": "127.0.0.1:3000", "peer": "127.0.0.1:3100"}],
    }
    if storage is not None:
        doc["storage"] = storage
    return doc


def test_storage_settings_reach_the_node_config(tmp_path: Path) -> None:
    config = build_config(_doc(tmp_path, None), base=tmp_path)
    assert config.storage == StorageSettings()
    tuned = {"block_cache_bytes": 8 << 20, "bloom_bits_per_key": 0, "compression": "zstd"}
    config = build_config(_doc(tmp_path, tuned), base=tmp_path)
    assert config.storage.block_cache_bytes == 8 << 20
    assert config.storage.bloom_bits_per_key == 0
    assert config.storage.compression == "zstd"


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ({"compression": "brotli"}, "compression"),
        ({"block_cache_bytes": 10}, "block_cache_bytes"),
        ({"bloom_bits_per_key": -1}, "bloom_bits_per_key"),
        ({"block_size": "4k"}, "block_size"),
        ({"background_jobs": True}, "background_jobs"),
        ({"cache": 1}, "allowed keys"),
        ("lz4", "allowed keys"),
    ],
)
def test_bad_storage_settings_are_refused(tmp_path: Path, storage: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(_doc(tmp_path, storage), base=tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize("compression", ["lz4", "zstd", "snappy", "none"])
def test_an_engine_with_each_setting_stores_and_reopens(tmp_path: Path, compression: str) -> None:
    settings = StorageSettings(compression=compression, bloom_bits_per_key=0, block_size=8192)
    digests = [Key.of("test", "s", i).digest for i in range(200)]
    eng = Engine(tmp_path / "store", settings=settings)
    store = eng.store("test/0")
    store.commit(Changes({("test", d): b"v" * 50 for d in digests}), 1)
    store.close()
    eng.close()
    eng = Engine(tmp_path / "store", settings=settings)
    try:
        assert eng.verify()[0] == 202  # 200 rows, the applied index, the catalog entry
        assert eng.store("test/0").get("test", digests[7]) == b"v" * 50
    finally:
        eng.close()
