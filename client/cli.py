"""The ``raftstore`` command line.

    raftstore node --config node.toml            run one node (what every deployment runs)
    raftstore local --nodes 3 --data-dir DIR     a local cluster of node processes, foreground
    raftstore put NS SET KEY bin=value ...       write bins (values are JSON, else strings)
    raftstore get NS SET KEY [--bins a,b]        read a record
    raftstore delete NS SET KEY                  delete a record
    raftstore scan NS [--set S] [--bins a,b]    records of a namespace or set, by partition
    raftstore index create NS NAME --bin B --type numeric|string [--set S] [--collection C]
    raftstore index drop NS NAME | index list NS [--json]   secondary indexes and build state
    raftstore query NS [--set S] --bin B (--equals V | --between LO HI) [--filter-json F]
    raftstore info [--json]                      nodes, groups, leaders, expiry, stop-writes
    raftstore stats [--metrics-port P] [--json]  each host's figures, key=value, like asinfo
    raftstore bench --workload RU,50 ...         asbench-style load with a latency summary
    raftstore placement simulate --nodes 100     replica/leader balance over joins and leaves
    raftstore admin transfer-leader GROUP [NODE] move a group's leadership (default: preferred)
    raftstore admin remove-node ID [--dead]      drain a node, or rebuild a dead node's replicas

Client commands take ``--hosts`` (default $RAFTSTORE_HOSTS or 127.0.0.1:3000). Errors print
their result code and exit 1. ``node`` and ``local`` need the server extra installed.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import re
import sys
from typing import Any

from raftstore.errors import ParameterError, RaftstoreError
from raftstore.policy import RecordExistsAction, WritePolicy

DEFAULT_HOSTS = "127.0.0.1:3000"


def _hosts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hosts",
        default=os.environ.get("RAFTSTORE_HOSTS", DEFAULT_HOSTS),
        help="comma-separated client addresses (default: %(default)s)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per command")
    parser.add_argument(
        "--tls-ca",
        default=os.environ.get("RAFTSTORE_TLS_CA"),
        help="connect with TLS, trusting this CA (PEM; default $RAFTSTORE_TLS_CA)",
    )
    parser.add_argument(
        "--tls-cert",
        default=os.environ.get("RAFTSTORE_TLS_CERT"),
        help="client certificate for nodes that require one ($RAFTSTORE_TLS_CERT)",
    )
    parser.add_argument(
        "--tls-key",
        default=os.environ.get("RAFTSTORE_TLS_KEY"),
        help="its private key ($RAFTSTORE_TLS_KEY)",
    )
    parser.add_argument(
        "--user",
        default=os.environ.get("RAFTSTORE_USER"),
        help="log in as this user (security on; default $RAFTSTORE_USER)",
    )
    parser.add_argument(
        "--password",
        default=os.environ.get("RAFTSTORE_PASSWORD"),
        help="its password (default $RAFTSTORE_PASSWORD; asked for when a user is given)",
    )


def credentials(args: argparse.Namespace) -> dict[str, Any]:
    """``user``/``password`` keyword arguments for a client (the password is asked for on
    the terminal when a user is given without one)."""
    user = getattr(args, "user", None)
    if not user:
        return {}
    password = args.password
    if password is None:
        import getpass

        password = getpass.getpass(f"password for {user}: ")
    return {"user": user, "password": password}


def _key_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("namespace")
    parser.add_argument("set", help='set name ("" for none)')
    parser.add_argument("key")
    parser.add_argument(
        "--key-type",
        choices=["auto", "int", "str", "bytes"],
        default="auto",
        help="auto: an integer if KEY looks like one, else a string; bytes: hex",
    )


def parse_key(args: argparse.Namespace) -> tuple[str, str, Any]:
    raw, kind = args.key, args.key_type
    if kind == "int" or (kind == "auto" and re.fullmatch(r"-?\d+", raw)):
        return (args.namespace, args.set, int(raw))
    if kind == "bytes":
        return (args.namespace, args.set, bytes.fromhex(raw))
    return (args.namespace, args.set, raw)


def parse_bin(text: str) -> tuple[str, Any]:
    """``name=value``: value as JSON (numbers, true/false, null, lists, objects, "strings"),
    ``hex:...`` for bytes, anything else as a plain string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected bin=value, got {text!r}")
    if value.startswith("hex:"):
        return name, bytes.fromhex(value[4:])
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "hex:" + value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _record_json(record: Any) -> dict[str, Any]:
    ns, st, uk, digest = record.key
    return {
        "key": {
            "namespace": ns,
            "set": st,
            "user_key": _jsonable(uk),
            "digest": base64.b16encode(digest).decode().lower(),
        },
        "meta": {
            "gen": record.meta.gen,
            "ttl": record.meta.ttl,
            "last_update_ms": record.meta.last_update_ms,
        },
        "bins": _jsonable(record.bins),
    }


def _client(args: argparse.Namespace) -> Any:
    from raftstore_client.client import Client
    from raftstore_client.tls import TLS

    tls = None
    if args.tls_ca or args.tls_cert:
        tls = TLS.from_files(args.tls_ca, args.tls_cert, args.tls_key)
    return Client(args.hosts, timeout=args.timeout, tls=tls, **credentials(args))


def cmd_put(args: argparse.Namespace) -> int:
    bins = dict(parse_bin(b) for b in args.bins)
    policy = WritePolicy(
        exists=RecordExistsAction[args.exists.upper()], ttl=args.ttl, send_key=args.send_key
    )
    with _client(args) as client:
        meta = client.put(parse_key(args), bins, policy)
    print(json.dumps({"gen": meta.gen, "ttl": meta.ttl}))
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        key = parse_key(args)
        record = client.select(key, args.bins.split(",")) if args.bins else client.get(key)
    print(json.dumps(_record_json(record), indent=None if args.compact else 2))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.delete(parse_key(args))
    print("deleted")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    """One line per record (JSON Lines with --json); the count on stderr."""
    from raftstore.policy import ReadMode

    count = 0
    with _client(args) as client:
        records = client.scan(
            args.namespace,
            args.set,
            args.bins.split(",") if args.bins else None,
            metadata_only=args.metadata_only,
            partition_begin=args.partition_begin,
            partition_count=args.partition_count,
            after_digest=bytes.fromhex(args.after_digest) if args.after_digest else None,
            records_per_second=args.records_per_second,
            page_size=args.page_size,
            read_mode=ReadMode[args.read_mode.upper()],
        )
        for record in records:
            print(json.dumps(_record_json(record)) if args.json else _record_line(record))
            count += 1
    print(f"{count} records", file=sys.stderr)
    return 0


def parse_before(text: str | None) -> int | None:
    """``--before``: unix ms (digits) or an ISO 8601 time (UTC unless it says otherwise)."""
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"--before {text!r}: give unix ms or an ISO time (2026-01-31T12:00:00)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return int(when.timestamp() * 1000)


def cmd_truncate(args: argparse.Namespace) -> int:
    """Truncate a namespace or set on every group; refuses without --yes."""
    what = f"{args.namespace}.{args.set}" if args.set else f"namespace {args.namespace}"
    before = parse_before(args.before)
    if not args.yes:
        print(
            f"raftstore truncate: this removes every record of {what}"
            f"{f' last updated before {args.before}' if before else ''}; "
            "run again with --yes to confirm",
            file=sys.stderr,
        )
        return 2
    with _client(args) as client:
        groups = client.truncate(args.namespace, args.set, before)
    print(json.dumps({"truncated": what, "groups": groups}))


def _query_value(text: str) -> Any:
    """A query bound: JSON (``42``, ``"42"``), anything else a plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_index(args: argparse.Namespace) -> int:
    """create / drop / list secondary indexes."""
    import dataclasses

    with _client(args) as client:
        if args.index_command == "create":
            client.create_index(
                args.namespace, args.set, args.bin, args.type, args.collection, args.name
            )
            if args.wait:
                client.wait_for_index(args.namespace, args.name, timeout=args.wait)
            print(f"created {args.name}" + (" (ready)" if args.wait else " (building)"))
        elif args.index_command == "drop":
            client.drop_index(args.namespace, args.name)
            print(f"dropped {args.name}")
        else:
            for info in client.list_indexes(args.namespace):
                if args.json:
                    print(json.dumps(dataclasses.asdict(info)))
                    continue
                state = "ready" if info.ready else f"building {info.progress:.0%}"
                print(
                    f"{info.name}  {info.namespace}.{info.set or '*'}.{info.bin}  "
                    f"{info.type} {info.collection}  {state}  groups {info.groups_ready}/"
                    f"{info.groups_total}  examined {info.records_examined}"
                )
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    """One line per record (JSON Lines with --json); the count on stderr."""
    from raftstore.v1.exp_pb2 import Expression

    flt = None
    if args.filter_json:
        from google.protobuf import json_format

        flt = json_format.Parse(args.filter_json, Expression())
    equals = None if args.equals is None else _query_value(args.equals)
    between = None if args.between is None else tuple(_query_value(v) for v in args.between)
    count = 0
    with _client(args) as client:
        records = client.query(
            args.namespace, args.set, bin=args.bin, equals=equals, between=between,
            index=args.index or "", collection=args.collection, filter=flt,
            bins=args.bins.split(",") if args.bins else None,
        )  # fmt: skip
        for record in records:
            print(json.dumps(_record_json(record)) if args.json else _record_line(record))
            count += 1
    print(f"{count} records", file=sys.stderr)
    return 0


def _record_line(record: Any) -> str:
    _, set_name, user_key, digest = record.key
    key = "-" if user_key is None else json.dumps(_jsonable(user_key))
    meta = f"gen={record.meta.gen} ttl={record.meta.ttl}"
    bins = json.dumps(_jsonable(record.bins)) if record.bins else ""
    return f"{digest.hex()}  {set_name or '-'}  {key}  {meta}  {bins}"


def cmd_info(args: argparse.Namespace) -> int:
    from raftstore_client.info import cluster_info, render_info

    with _client(args) as client:
        info = cluster_info(client)
    print(json.dumps(info, indent=2) if args.json else render_info(info))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from raftstore_client.stats import collect, render

    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    with _client(args) as client:
        figures = {h: collect(client, h, args.metrics_port, args.timeout) for h in hosts}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print("\n\n".join(render(h, f) for h, f in figures.items()))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from raftstore_client.bench import run_bench

    return run_bench(args)


def cmd_transfer_leader(args: argparse.Namespace) -> int:
    with _client(args) as client:
        leader, term = client.transfer_leader(args.group, args.node or "")
    print(f"{args.group}: led by {leader} (term {term})")
    return 0


def _secret(args: argparse.Namespace) -> bytes:
    env = os.environ.get("RAFTSTORE_CLUSTER_SECRET")
    if env:
        return env.encode()
    if not args.secret_file:
        raise SystemExit("raftstore admin: --secret-file or $RAFTSTORE_CLUSTER_SECRET is required")
    with open(args.secret_file, "rb") as f:
        return f.read().strip()


def cmd_remove_node(args: argparse.Namespace) -> int:
    with _client(args) as client:
        epoch = client.remove_node(args.node, _secret(args), dead=args.dead)
    what = "declared dead; its replicas are rebuilt" if args.dead else "draining"
    print(f"{args.node} {what} (cluster state epoch {epoch}); see `raftstore info`")
    return 0


def cmd_revive(args: argparse.Namespace) -> int:
    dead = sorted({n for n in args.dead.split(",") if n})
    print(
        "WARNING: revive is unsafe. Groups whose majority was on "
        f"{', '.join(dead)} continue with their surviving replicas; acknowledged writes "
        "that only the dead replicas held are lost.",
        file=sys.stderr,
    )
    with _client(args) as client:
        secret = _secret(args)
        revived, lost = client.revive(dead, secret)
        print(f"revived {len(revived)} groups: {', '.join(revived) or '-'}")
        if lost:
            print(f"LOST (no surviving replica): {', '.join(lost)}")
        epoch = 0
        for node_id in dead:  # the metadata group answers again: rebuild the replicas
            epoch = client.remove_node(node_id, secret, dead=True)
    print(f"{', '.join(dead)} declared dead (cluster state epoch {epoch}); see `raftstore info`")
    return 1 if lost else 0


def cmd_placement(args: argparse.Namespace) -> int:
    from raftstore.placement_sim import run

    return run(args)


def _server(name: str) -> Any:
    try:
        if name == "node":
            from raftstore_node import main as module
        else:
            from raftstore_node import local as module
    except ImportError as e:
        sys.exit(
            f"raftstore {name}: the server is not installed ({e}); "
            "install with: pip install 'raftstore[server]'"
        )
    return module


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raftstore", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("node", help="run one node", add_help=False)
    p.set_defaults(func=lambda a: _server("node").main(a.rest), rest=[])
    p = sub.add_parser("local", help="run a local cluster of node processes", add_help=False)
    p.set_defaults(func=lambda a: _server("local").main(a.rest), rest=[])

    p = sub.add_parser("put", help="write bins of a record")
    _key_args(p)
    p.add_argument("bins", nargs="+", metavar="bin=value")
    p.add_argument(
        "--ttl", type=int, default=0, help="-2 keep, -1 never, 0 namespace default, >0 s"
    )
    p.add_argument(
        "--exists", default="update", choices=[a.name.lower() for a in RecordExistsAction]
    )
    p.add_argument("--send-key", action="store_true", help="store the user key with the record")
    _hosts(p)
    p.set_defaults(func=cmd_put)

    p = sub.add_parser("get", help="read a record")
    _key_args(p)
    p.add_argument("--bins", help="comma-separated bins to return (default: all)")
    p.add_argument("--compact", action="store_true", help="one-line JSON")
    _hosts(p)
    p.set_defaults(func=cmd_get)

    p = sub.add_parser("delete", help="delete a record")
    _key_args(p)
    _hosts(p)
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("scan", help="records of a namespace or one set, by partition")
    p.add_argument("namespace")
    p.add_argument("--set", help="only this set (default: every record of the namespace)")
    p.add_argument("--bins", help="comma-separated bins to return (default: all)")
    p.add_argument("--metadata-only", action="store_true", help="keys and metadata, no bins")
    p.add_argument("--partition-begin", type=int, default=0, metavar="N")
    p.add_argument("--partition-count", type=int, default=4096, metavar="M")
    p.add_argument(
        "--after-digest", metavar="HEX", help="resume after this digest (of partition N)"
    )
    p.add_argument("--records-per-second", type=int, default=0, help="throttle (0: none)")
    p.add_argument("--page-size", type=int, default=0, help="records per streamed message")
    p.add_argument("--read-mode", default="linearize", choices=["linearize", "allow_replica"])
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    _hosts(p)
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("truncate", help="remove every record of a namespace or set (needs --yes)")
    p.add_argument("namespace")
    p.add_argument("--set", help="only this set (default: the whole namespace)")
    p.add_argument(
        "--before",
        metavar="ISO|MS",
        help="only records last updated at or before this time (default: now)",
    )
    p.add_argument("--yes", action="store_true", help="confirm: the records cannot come back")
    _hosts(p)
    p.set_defaults(func=cmd_truncate)
    index = sub.add_parser("index", help="secondary indexes").add_subparsers(
        dest="index_command", required=True
    )
    p = index.add_parser("create", help="define an index; existing records build in background")
    p.add_argument("namespace")
    p.add_argument("name")
    p.add_argument("--set", help="only records of this set (default: every set)")
    p.add_argument("--bin", required=True)
    p.add_argument("--type", required=True, choices=["numeric", "string"])
    p.add_argument(
        "--collection", default="default", choices=["default", "list", "mapkeys", "mapvalues"]
    )
    p.add_argument("--wait", type=float, default=0, metavar="S", help="wait until ready")
    _hosts(p)
    p.set_defaults(func=cmd_index)
    p = index.add_parser("drop", help="remove an index and its entries")
    p.add_argument("namespace")
    p.add_argument("name")
    _hosts(p)
    p.set_defaults(func=cmd_index)
    p = index.add_parser("list", help="indexes of a namespace and their build state")
    p.add_argument("namespace")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    _hosts(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("query", help="records by a secondary index: equality or range")
    p.add_argument("namespace")
    p.add_argument("--set", help="the set the index covers (default: an index on every set)")
    p.add_argument("--bin", default="", help="the indexed bin")
    p.add_argument("--index", help="the index name (default: the one on --set/--bin)")
    p.add_argument("--collection", default="default")
    value = p.add_mutually_exclusive_group(required=True)
    value.add_argument("--equals", metavar="V", help="JSON value, else a string")
    value.add_argument("--between", nargs=2, metavar=("LO", "HI"), help="inclusive bounds")
    p.add_argument("--filter-json", metavar="EXP", help="filter expression as proto JSON")
    p.add_argument("--bins", help="comma-separated bins to return (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    _hosts(p)
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("info", help="nodes, partition groups, leaders, terms, applied indexes")
    p.add_argument("--json", action="store_true")
    _hosts(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("stats", help="each host's figures (status and metrics), like asinfo")
    p.add_argument("--metrics-port", type=int, help="also read http://HOST:PORT/metrics")
    p.add_argument("--json", action="store_true")
    _hosts(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("bench", help="asbench-style benchmark")
    from raftstore_client.bench import add_arguments

    add_arguments(p)
    _hosts(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("placement", help="replica placement tools")
    p = p.add_subparsers(dest="placement_command", required=True).add_parser(
        "simulate", help="balance and moves of the placement function over joins and leaves"
    )
    from raftstore.placement_sim import add_arguments as placement_arguments

    placement_arguments(p)
    p.set_defaults(func=cmd_placement)

    admin = sub.add_parser("admin", help="cluster administration").add_subparsers(
        dest="admin_command", required=True
    )
    p = admin.add_parser(
        "remove-node", help="drain a node (replicas move away), or --dead: rebuild its replicas"
    )
    p.add_argument("node")
    p.add_argument(
        "--dead", action="store_true", help="the node is gone for good (its data is lost)"
    )
    p.add_argument(
        "--secret-file",
        default=os.environ.get("RAFTSTORE_SECRET_FILE"),
        help="the cluster secret (default $RAFTSTORE_SECRET_FILE; or $RAFTSTORE_CLUSTER_SECRET)",
    )
    _hosts(p)
    p.set_defaults(func=cmd_remove_node)
    p = admin.add_parser(
        "revive",
        help="UNSAFE: groups that lost their majority with the --dead nodes continue with "
        "their survivors (may lose acknowledged writes), then the dead nodes are removed",
    )
    p.add_argument("--dead", required=True, help="comma-separated ids of the dead nodes")
    p.add_argument(
        "--secret-file",
        default=os.environ.get("RAFTSTORE_SECRET_FILE"),
        help="the cluster secret (default $RAFTSTORE_SECRET_FILE; or $RAFTSTORE_CLUSTER_SECRET)",
    )
    _hosts(p)
    p.set_defaults(func=cmd_revive)
    p = admin.add_parser(
        "transfer-leader", help="move a partition group's leadership to one of its replicas"
    )
    p.add_argument("group", help="partition group, e.g. test/3")
    p.add_argument("node", nargs="?", help="target replica (default: the preferred leader)")
    _hosts(p)
    p.set_defaults(func=cmd_transfer_leader)
    from raftstore_client.users import add_user_commands

    add_user_commands(admin, _hosts, _client)
    from raftstore_client.aql import add_aql_command

    add_aql_command(sub, _hosts, _client)

    from raftstore_client._backup_cli import add_backup_commands

    add_backup_commands(sub, _hosts, _client)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in ("node", "local"):
        return int(_server(argv[0]).main(argv[1:]) or 0)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RaftstoreError as e:
        print(f"raftstore {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
