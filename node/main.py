"""``raftstore node``: run one node in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

from raftstore.failpoints import FailpointError
from raftstore.namespaces import ConfigError

DATA_CORRUPT_EXIT = 65  # EX_DATAERR: a corrupt WAL or RocksDB file refused at start


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="raftstore node", description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="node configuration file (TOML)")
    source.add_argument(
        "--from-env",
        action="store_true",
        help="build the configuration from a StatefulSet pod's environment "
        "(POD_NAME, RAFTSTORE_*; see raftstore_node.envconfig)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus /metrics on this port of the node's host (0: none; "
        "overrides the configuration's metrics_port)",
    )
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("RAFTSTORE_LOG_FORMAT", "text"),
        help="json: one JSON object per line (ts, level, logger, msg, node)",
    )
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
        "--join",
        metavar="HOST:PORT",
        help="first start only: join the running cluster that this member (a client address) "
        "belongs to; the configuration then lists only this node under [[member]]",
    )
    p.add_argument(
        "--no-balance-leaders",
        action="store_true",
        help="leave leaders where elections put them (default: move each group's "
        "leadership to its preferred replica, spreading leaders evenly)",
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
    p.add_argument(
        "--event-loop",
        choices=["auto", "uvloop", "asyncio"],
        default=os.environ.get("RAFTSTORE_EVENT_LOOP", "auto"),
        help="the node's event loop: uvloop (faster; the server extra installs it), "
        "asyncio's own, or auto (default): uvloop when installed, unless [tls] is on",
    )
    return p


def loop_factory(kind: str, tls: bool = False) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop ``--event-loop`` names; ConfigError for uvloop when not installed.

    ``auto`` takes asyncio's loop when the node runs TLS: the peer mesh upgrades accepted
    connections with ``loop.start_tls``, and under uvloop 0.23 those peer links did not
    form (tests/integration/test_peer_tls.py); ``--event-loop uvloop`` still forces it."""
    if kind == "asyncio" or (kind == "auto" and tls):
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if kind == "uvloop":
            raise ConfigError("--event-loop uvloop: uvloop is not installed") from None
        return asyncio.new_event_loop
    return uvloop.new_event_loop  # type: ignore[no-any-return]


def configure_logging(level: str, fmt: str = "text") -> None:
    from raftstore_node.logs import configure

    configure(level, fmt)


def _load(args: argparse.Namespace, **overrides: Any) -> Any:
    overrides.update(
        fsync=not args.unsafe_no_fsync,
        read_path=args.read_path,
        balance_leaders=not args.no_balance_leaders,
        join=args.join or "",
        unsafe_local_reads=args.unsafe_local_reads,
        enable_fault_injection=args.enable_fault_injection,
    )
    if args.metrics_port is not None:
        if not 0 <= args.metrics_port <= 65535:
            raise ConfigError(
                f"--metrics-port: expected 1..65535 (0: none), not {args.metrics_port}"
            )
        overrides["metrics_port"] = args.metrics_port
    if args.from_env:
        from raftstore_node.envconfig import load_from_env

        return load_from_env(os.environ, **overrides)
    from raftstore_node.config import load_config

    return load_config(args.config, **overrides)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    env_failpoints = os.environ.get("RAFTSTORE_FAILPOINTS", "")
    try:
        config = _load(args, enable_failpoints=args.enable_failpoints or bool(env_failpoints))
    except ConfigError as e:
        print(f"raftstore node: configuration error: {e}", file=sys.stderr)
        return 2
    from raftstore_node.logs import set_node_id

    set_node_id(config.node_id)
    from raftstore_node.server import RaftstoreNode

    from raftstore.replication.journal import JournalCorruptError
    from raftstore.storage.rocks import StoreCorruption

    async def run() -> None:
        node = RaftstoreNode(config)
        if env_failpoints:
            node.failpoints.arm_from_env(env_failpoints)
        await node.start()
        await node.run_until_stopped()

    try:
        factory = loop_factory(args.event_loop, tls=config.tls is not None)
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(run())
    except (ConfigError, FailpointError) as e:
        print(f"raftstore node: configuration error: {e}", file=sys.stderr)
        return 2
    except (StoreCorruption, JournalCorruptError) as e:
        print(
            f"raftstore node: refusing to start, its data is corrupt: {e}\n"
            "  Nothing of this node's data is served. Replace it: from a healthy member run "
            "`raftstore admin remove-node --dead ID` (or `admin revive` where it held a "
            "group's last replicas), then empty its data directory and start it again with "
            "--join (README: 'Corruption').",
            file=sys.stderr,
        )
        return DATA_CORRUPT_EXIT
    except OSError as e:
        print(f"raftstore node: cannot start: {e}", file=sys.stderr)
        return 1
    return 0
