"""Packaging promises: the client imports without the server's dependencies, the public
API is what __all__ says, generated code matches proto/."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCKED_IMPORT = """
import sys
for name in ("rocksdict", "pysyncobj", "msgpack", "raftstore_node"):
    sys.modules[name] = None  # importing any of them now raises ImportError
import raftstore_client
from raftstore_client import Client, AsyncClient, operations, WritePolicy, exp
exp.and_(exp.ge(exp.int_bin("age"), 21), exp.not_(exp.key_exists()))
from raftstore_client.cli import build_parser
build_parser()
print("ok", sorted(m for m in ("rocksdict", "pysyncobj", "msgpack") if sys.modules.get(m)))
"""


def test_the_client_imports_without_rocksdb_pysyncobj_or_msgpack() -> None:
    out = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORT], capture_output=True, text=True, cwd="/"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok []"


def test_no_generic_top_level_packages_are_installed() -> None:
    out = subprocess.run([sys.executable, "-c", "import node"], capture_output=True, cwd="/")
    assert out.returncode != 0
    out = subprocess.run([sys.executable, "-c", "import client"], capture_output=True, cwd="/")
    assert out.returncode != 0


def test_the_public_client_api_is_exactly_all() -> None:
    import raftstore_client

    public = {n for n in dir(raftstore_client) if not n.startswith("_")}
    # submodules appear as attributes once anything imported them: not part of the API
    modules = {m.name for m in pkgutil.iter_modules(raftstore_client.__path__)}
    exported_modules = {"batch", "exp", "operations"}
    assert set(raftstore_client.__all__) == public - modules | exported_modules
    for name in raftstore_client.__all__:
        assert getattr(raftstore_client, name) is not None


def test_generated_code_matches_proto() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
