"""``raftstore node``: run one node in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from raftstore.failpoints import FailpointError
from raftstore.namespaces import ConfigError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="raftstore node", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="node configuration file (TOML)")
    p.add_argument(
        "--log-level",
        default=os.environ.get("RAFTSTORE_LOG_LEVEL", "info"),
        choices=["debug", "info", "warning", "error"],
    )
    p.add_argument(
        "--unsafe-no-fsync",
        action="store_true",
        help="UNSAFE, benchmarks only: never fsync the Raft journal",
    )
    p.add_argument(
        "--read-path",
        choices=["readindex", "log"],
        default="readindex",
        help="how LINEARIZE reads confirm leadership: a ReadIndex quorum round shared by many "
        "reads (default), or one entry through the log per read",
    )
    p.add_argument(
        "--unsafe-local-reads",
        action="store_true",
        help="UNSAFE, tests only: answer LINEARIZE reads from the leader's local state "
        "with no barrier, and keep a cut-off leader for 30 s as stock pysyncobj does",
    )
    p.add_argument(
        "--enable-fault-injection",
        action="store_true",
        help="tests only: serve the FaultInjection service (network partitions)",
    )
    p.add_argument(
        "--enable-failpoints",
        action="store_true",
        help="tests only: allow failpoints to be armed (also RAFTSTORE_FAILPOINTS)",
    )
    return p


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        stream=sys.stderr,
        format="%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("pysyncobj").setLevel(logging.WARNING)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    from raftstore_node.config import load_config

    env_failpoints = os.environ.get("RAFTSTORE_FAILPOINTS", "")
    try:
        config = load_config(
            args.config,
            fsync=not args.unsafe_no_fsync,
            read_path=args.read_path,
            unsafe_local_reads=args.unsafe_local_reads,
            enable_fault_injection=args.enable_fault_injection,
            enable_failpoints=args.enable_failpoints or bool(env_failpoints),
        )
    except ConfigError as e:
        print(f"raftstore node: configuration error: {e}", file=sys.stderr)
        return 2
    from raftstore_node.server import RaftstoreNode

    async def run() -> None:
        node = RaftstoreNode(config)
        if env_failpoints:
            node.failpoints.arm_from_env(env_failpoints)
        await node.start()
        await node.run_until_stopped()

    try:
        asyncio.run(run())
    except (ConfigError, FailpointError) as e:
        print(f"raftstore node: configuration error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"raftstore node: cannot start: {e}", file=sys.stderr)
        return 1
    return 0
