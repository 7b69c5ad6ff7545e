#!/usr/bin/env python3
"""Regenerate raftstore/v1/*_pb2*.py from proto/ (or, with --check, fail if they are stale).

Usage: python scripts/gen_proto.py [--check]
Needs grpcio-tools (the `test` extra pins the version that produced the committed code).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_PACKAGE = Path("raftstore") / "v1"
GRPC_SERVICES = ("kv.proto", "cluster.proto", "testing.proto", "security.proto", "index.proto")


def generate(out_root: Path) -> list[Path]:
    """Run protoc into out_root; return the generated files relative to out_root."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted((PROTO_DIR / "raftstore" / "v1").glob("*.proto"))
    for proto in protos:
        args = [
            "protoc",
            f"-I{PROTO_DIR}",
            f"-I{include}",
            f"--python_out={out_root}",
            f"--pyi_out={out_root}",
        ]
        if proto.name in GRPC_SERVICES:
            args.append(f"--grpc_python_out={out_root}")
        args.append(str(proto.relative_to(PROTO_DIR)))
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {proto}")
    return sorted(p.relative_to(out_root) for p in (out_root / OUT_PACKAGE).glob("*_pb2*.py*"))


def committed_files() -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / OUT_PACKAGE).glob("*_pb2*.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        fresh = generate(out)
        if args.check:
            stale = [
                str(p)
                for p in fresh
                if not (ROOT / p).exists() or not filecmp.cmp(out / p, ROOT / p, shallow=False)
            ]
            extra = [str(p) for p in committed_files() if p not in fresh]
            if stale or extra:
                print("generated code is stale; run: python scripts/gen_proto.py", file=sys.stderr)
                for p in stale + extra:
                    print(f"  {p}", file=sys.stderr)
                return 1
            print(f"generated code is up to date ({len(fresh)} files)")
            return 0
        for p in committed_files():
            (ROOT / p).unlink()
        for p in fresh:
            shutil.copyfile(out / p, ROOT / p)
        print(f"wrote {len(fresh)} files under {OUT_PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
