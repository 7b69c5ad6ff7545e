"""The proto contract other languages build from agrees with the server's Python code.

``ResultCode`` in result.proto lists every code a server can return, with the numbers and
names of ``raftstore.errors.ResultCode``; the gRPC status documented for each (in the
proto comments and in proto/README.md) is the one ``node.status.GRPC_STATUS`` sends; the
digest test vectors of proto/README.md are what ``raftstore.keys`` computes; every .proto
carries the Go and Java options.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import grpc
import pytest

from node.status import GRPC_STATUS
from raftstore.errors import ResultCode
from raftstore.keys import compute_digest, partition_id
from raftstore.v1 import result_pb2

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto" / "raftstore" / "v1"
RESULT_PROTO = PROTO_DIR / "result.proto"
PROTO_README = ROOT / "proto" / "README.md"
PREFIX = "RESULT_CODE_"

ENUM_LINE = re.compile(r"^\s*RESULT_CODE_(\w+) = (\d+);\s*// gRPC (\w+)\. \S", re.M)
TABLE_ROW = re.compile(r"^\| (\d+) \| (\w+) \| (\w+) \| .+ \|$", re.M)
VECTOR_ROW = re.compile(
    r"^\| `?([^|`]*?)`? \| (string|integer|bytes) `([^`]*)` \| `([0-9a-f]{32})` \| (\d+) \|$", re.M
)


def server_codes() -> dict[str, int]:
    """Codes a server can send: OK (per-key batch results) and every code of its table."""
    return {"OK": 0} | {code.name: int(code) for code in GRPC_STATUS}


def documented_status(pairs: list[tuple[str, str, str]]) -> dict[str, tuple[int, str]]:
    return {name: (int(number), status) for number, name, status in pairs}


def expected_status() -> dict[str, tuple[int, str]]:
    table = {code.name: (int(code), status.name) for code, status in GRPC_STATUS.items()}
    return {"OK": (0, "OK")} | table


def test_proto_enum_equals_the_python_codes_a_server_can_return() -> None:
    proto = {v.name.removeprefix(PREFIX): v.number for v in result_pb2.ResultCode.DESCRIPTOR.values}
    assert all(v.name.startswith(PREFIX) for v in result_pb2.ResultCode.DESCRIPTOR.values)
    python_server_side = {c.name: int(c) for c in ResultCode if c >= 0}
    assert proto == python_server_side
    assert proto == server_codes()  # every non-negative code is in the server's table


def test_client_side_codes_are_not_in_the_proto() -> None:
    negative = {c.name for c in ResultCode if c < 0}
    assert negative == {"CLIENT_ERROR", "SERVER_NOT_AVAILABLE"}
    names = {v.name.removeprefix(PREFIX) for v in result_pb2.ResultCode.DESCRIPTOR.values}
    assert not negative & names


def test_proto_comments_state_the_servers_grpc_status_of_every_code() -> None:
    pairs = [(n, name, st) for name, n, st in ENUM_LINE.findall(RESULT_PROTO.read_text())]
    assert len(pairs) == len(result_pb2.ResultCode.DESCRIPTOR.values)
    assert documented_status(pairs) == expected_status()


def test_readme_table_is_the_servers_grpc_status_table() -> None:
    rows = TABLE_ROW.findall(PROTO_README.read_text())
    assert len(rows) == len(expected_status())
    assert documented_status(rows) == expected_status()


def test_every_status_name_is_a_grpc_status() -> None:
    names = {s.name for s in grpc.StatusCode}
    assert {status for _, status in expected_status().values()} <= names


def _user_key(kind: str, text: str) -> int | str | bytes:
    if kind == "integer":
        return int(text)
    if kind == "bytes":
        return bytes.fromhex(text.replace(" ", ""))
    return text


def test_readme_digest_vectors_are_what_the_server_computes() -> None:
    rows = VECTOR_ROW.findall(PROTO_README.read_text())
    assert {kind for _, kind, *_ in rows} == {"string", "integer", "bytes"}
    for set_name, kind, text, digest_hex, partition in rows:
        set_name = "" if set_name == "(none)" else set_name
        digest = compute_digest(set_name, _user_key(kind, text))
        assert digest.hex() == digest_hex, (set_name, kind, text)
        assert partition_id(digest) == int(partition)
        assert int.from_bytes(digest[:2], "little") & 4095 == int(partition)


GO_PACKAGE = "github.com/raftstore/raftstore/gen/go/raftstore/v1;raftstorev1"


@pytest.mark.parametrize("proto", sorted(PROTO_DIR.glob("*.proto")), ids=lambda p: p.name)
def test_every_proto_sets_the_go_and_java_options(proto: Path) -> None:
    module = importlib.import_module(f"raftstore.v1.{proto.stem}_pb2")
    options = module.DESCRIPTOR.GetOptions()  # as compiled from the file (gen_proto.py)
    assert module.DESCRIPTOR.name == f"raftstore/v1/{proto.name}"
    assert options.go_package == GO_PACKAGE
    assert options.java_package == "io.raftstore.v1"
    assert options.java_multiple_files is True
    assert options.java_outer_classname == proto.stem.capitalize() + "Proto"
