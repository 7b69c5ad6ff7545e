"""``raftstore backup`` and ``raftstore restore``: arguments, a progress line on stderr and
the summary (JSON with ``--json``). The work is ``raftstore_client.backup``'s."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

POLICY_NAMES = ("create-only", "replace", "generation")


def add_backup_commands(
    sub: Any,
    hosts: Callable[[argparse.ArgumentParser], None],
    client: Callable[[argparse.Namespace], Any],
) -> None:
    """Register ``backup`` and ``restore`` on the CLI's subparsers."""
    p = sub.add_parser("backup", help="scan a namespace or set into a resumable backup directory")
    p.add_argument("--namespace", required=True)
    p.add_argument("--set", default=None, help="only this set")
    p.add_argument("--directory", required=True, help="created if absent; rerun to resume")
    p.add_argument("--ranges", type=int, default=64, help="partition ranges (files)")
    p.add_argument("--parallel", type=int, default=8, help="ranges scanned at once")
    p.add_argument("--records-per-second", type=int, default=0, help="throttle (0: none)")
    _common(p, hosts)
    p.set_defaults(func=lambda a: _backup(a, client))

    p = sub.add_parser("restore", help="write a backup directory back in batches")
    p.add_argument("--directory", required=True)
    p.add_argument(
        "--policy",
        choices=POLICY_NAMES,
        default="replace",
        help="create-only: keep existing records (KEY_EXISTS); replace: overwrite; "
        "generation: overwrite only records whose generation is lower than the backup's",
    )
    p.add_argument("--namespace", default=None, help="restore into this namespace instead")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--parallel", type=int, default=4, help="ranges restored at once")
    p.add_argument("--no-indexes", action="store_true", help="do not recreate indexes")
    _common(p, hosts)
    p.set_defaults(func=lambda a: _restore(a, client))


def _common(p: argparse.ArgumentParser, hosts: Callable[[argparse.ArgumentParser], None]) -> None:
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    hosts(p)


def _backup(args: argparse.Namespace, client: Callable[[argparse.Namespace], Any]) -> int:
    from raftstore_client.backup import backup

    with client(args) as c:
        report = backup(
            c,
            args.directory,
            args.namespace,
            args.set,
            ranges=args.ranges,
            parallel=args.parallel,
            records_per_second=args.records_per_second,
            progress=None if args.no_progress else ProgressLine("backup"),
        )
    _done(args)
    if args.json:
        print(json.dumps(asdict(report)))
    else:
        rate = report.records_written / report.seconds if report.seconds else 0.0
        print(
            f"backup {report.directory}: {report.records} records "
            f"({report.records_written} written now, {report.ranges_written} ranges written, "
            f"{report.ranges_skipped} already done), {report.bytes} bytes, "
            f"{report.seconds:.1f} s, {rate:.0f} records/s"
        )
    return 0


def _restore(args: argparse.Namespace, client: Callable[[argparse.Namespace], Any]) -> int:
    from raftstore_client.backup import restore

    with client(args) as c:
        report = restore(
            c,
            args.directory,
            policy=args.policy,
            namespace=args.namespace,
            batch_size=args.batch_size,
            parallel=args.parallel,
            indexes=not args.no_indexes,
            progress=None if args.no_progress else ProgressLine("restore"),
        )
    _done(args)
    if args.json:
        print(json.dumps({**asdict(report), "written": report.written}))
    else:
        rate = report.records / report.seconds if report.seconds else 0.0
        codes = " ".join(f"{k}={v}" for k, v in report.codes.items())
        print(
            f"restore: {report.records} records read, {codes or 'nothing written'}, "
            f"{report.expired} expired since the backup, {report.digest_only} by digest, "
            f"indexes {','.join(report.indexes) or '-'}, {report.seconds:.1f} s, "
            f"{rate:.0f} records/s"
        )
    return (
        0
        if report.in_doubt == 0 and set(report.codes) <= {"OK", "KEY_EXISTS", "GENERATION_ERROR"}
        else 1
    )


def _done(args: argparse.Namespace) -> None:
    if not args.no_progress:
        print(file=sys.stderr)


class ProgressLine:
    """A progress callback that redraws one stderr line at most every 0.2 s."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.started = time.monotonic()
        self.shown = 0.0

    def __call__(self, records: int, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.2 and done < total:
            return
        self.shown = now
        rate = records / max(now - self.started, 1e-9)
        bar = "#" * (30 * done // total) if total else ""
        print(
            f"\r{self.what} [{bar:<30}] {done}/{total} ranges  {records} records  {rate:.0f}/s",
            end="",
            file=sys.stderr,
            flush=True,
        )
