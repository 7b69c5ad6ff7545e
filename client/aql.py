"""``raftstore aql``: an aql-style shell over the Python client.

    raftstore aql                          interactive: history, multi-line until ';'
    raftstore aql -c "STATEMENT; ..."      run statements and exit (1 on the first error)
    raftstore aql --json | -y/--yes        JSON lines instead of tables; TRUNCATE unasked

Statements are parsed by ``aql_parse`` (a lark grammar) before anything is sent: a script
with bad SQL anywhere runs nothing. Each statement is planned (``plan_select``: a PK get,
an index query when a ready index covers the WHERE bin with the value's type, otherwise a
scan with a filter expression, or a plain scan) and run through ``Client``. Errors print
``Error: (code) NAME: message`` on stderr.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from raftstore_client import aql_parse as ast

from raftstore.errors import ParameterError, RaftstoreError

HISTORY_FILE = "~/.raftstore_aql_history"

HELP = """\
Statements end with ';' (they may span lines). Keywords are case-insensitive.

  INSERT INTO ns[.set] (PK, bin1, bin2, ...) VALUES (key, v1, v2, ...)
  SELECT * | bin1, bin2 FROM ns[.set] [WHERE PK = key | WHERE bin = v
                                       | WHERE bin BETWEEN lo AND hi] [LIMIT n]
  DELETE FROM ns[.set] WHERE PK = key
  CREATE [LIST|MAPKEYS|MAPVALUES] INDEX name ON ns[.set] (bin) NUMERIC|STRING
  DROP INDEX ns[.set] name
  SHOW NAMESPACES | SHOW SETS [ns] | SHOW INDEXES [ns]
  TRUNCATE ns[.set] [BEFORE 'ISO time' | unix_ms]    (asks unless --yes)
  EXPLAIN SELECT ...                                  the plan: pk get, index query, scan
  SET OUTPUT TABLE | JSON
  HELP | EXIT | QUIT

Values: 42, -1.5, 'text' or "text", TRUE, FALSE, NULL (deletes a bin), [1, 'a'],
{'k': 1}, JSON'{"k": [1, 2]}', X'00ff' (bytes). Names: letters, digits, _ and -, or
`quoted`. WHERE bin = v / BETWEEN use a ready secondary index on the bin whose type fits
the value (NUMERIC: integers, STRING: strings); without one they scan with a filter
expression (EXPLAIN says which). SHOW SETS scans the namespace's metadata."""


# --- rendering ------------------------------------------------------------------------


def cell(value: Any) -> str:
    """A value as the shell prints it in a table: strings quoted (as aql does), bytes as
    X'hex', lists and maps as JSON, NULL for None."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(jsonable(value), ensure_ascii=False)


def jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "hex:" + value.hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


MISSING = _MISSING = object()  # a bin the record does not have: a blank cell


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], quote: bool = True) -> str:
    """An aligned table with aql's borders; cells are ``cell()`` of each value (strings
    as they are when not ``quote``), blank for a bin the record does not have
    (``MISSING``). Numbers align right."""

    def text(v: Any) -> str:
        if v is _MISSING:
            return ""
        return v if isinstance(v, str) and not quote else cell(v)

    texts = [[text(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in texts:
        widths = [max(w, len(t)) for w, t in zip(widths, row, strict=True)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(values: Sequence[str], numeric: Sequence[bool]) -> str:
        parts = [
            (v.rjust(w) if right else v.ljust(w))
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    out = [rule, line(columns, [False] * len(columns)), rule]
    for row, raw in zip(texts, rows, strict=True):
        numeric = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw]
        out.append(line(row, numeric))
    if rows:
        out.append(rule)
    return "\n".join(out)


def record_rows(records: Sequence[Any], bins: Sequence[str] | None) -> tuple[list[str], list[list]]:
    """Columns (PK, then the selected bins or every bin seen, in first-seen order) and one
    row per record; a record whose key was not stored shows its digest as X'...'."""
    names: list[str] = list(bins) if bins is not None else []
    if bins is None:
        for record in records:
            names.extend(b for b in record.bins if b not in names)
    rows = []
    for record in records:
        _, _, user_key, digest = record.key
        pk = user_key if user_key is not None else digest
        rows.append([pk, *(record.bins.get(b, _MISSING) for b in names)])
    return ["PK", *names], rows


def record_json(record: Any) -> dict[str, Any]:
    ns, set_name, user_key, digest = record.key
    return {
        "namespace": ns,
        "set": set_name,
        "PK": jsonable(user_key),
        "digest": digest.hex(),
        "gen": record.meta.gen,
        "ttl": record.meta.ttl,
        "bins": jsonable(record.bins),
    }


# --- planning -------------------------------------------------------------------------


@dataclass
class Plan:
    """How a SELECT runs. ``kind``: PK GET, INDEX QUERY, SCAN WITH FILTER or SCAN."""

    kind: str
    select: ast.Select
    index: Any = None  # IndexInfo of an INDEX QUERY
    reason: str = ""  # why an index was not used
    filter: Any = None  # the Expression of a SCAN WITH FILTER
    details: dict[str, Any] = field(default_factory=dict)


_INDEX_TYPE = {int: "NUMERIC", str: "STRING"}


def _condition(where: ast.BinEquals | ast.BinBetween) -> str:
    if isinstance(where, ast.BinEquals):
        return f"{where.bin} = {cell(where.value)}"
    return f"{where.bin} BETWEEN {cell(where.low)} AND {cell(where.high)}"


def _filter(where: ast.BinEquals | ast.BinBetween) -> Any:
    from raftstore_client import exp

    sample = where.value if isinstance(where, ast.BinEquals) else where.low
    typed = {int: exp.int_bin, float: exp.float_bin, str: exp.string_bin, bytes: exp.bytes_bin}
    bin_exp = typed[type(sample)](where.bin)
    if isinstance(where, ast.BinEquals):
        return exp.eq(bin_exp, where.value)
    return exp.and_(exp.ge(bin_exp, where.low), exp.le(bin_exp, where.high))


def plan_select(client: Any, select: ast.Select) -> Plan:
    where = select.where
    if where is None:
        return Plan("SCAN", select)
    if isinstance(where, ast.PkEquals):
        return Plan("PK GET", select)
    sample = where.value if isinstance(where, ast.BinEquals) else where.low
    index_type = _INDEX_TYPE.get(type(sample))
    target = select.target
    candidates = [
        i
        for i in client.list_indexes(target.namespace)
        if i.bin == where.bin and i.collection == "DEFAULT" and i.set == (target.set or "")
    ]
    fitting = [i for i in candidates if i.type == index_type]
    ready = [i for i in fitting if i.ready]
    if ready:
        return Plan("INDEX QUERY", select, index=ready[0])
    if fitting:
        reason = f"index {fitting[0].name} is still building ({fitting[0].progress:.0%})"
    elif candidates:
        reason = (
            f"index {candidates[0].name} on {where.bin} is {candidates[0].type}; "
            f"the value {cell(sample)} needs {index_type or 'no index type'}"
        )
    else:
        reason = f"no index on {target}.{where.bin}"
    return Plan("SCAN WITH FILTER", select, reason=reason, filter=_filter(where))


def explain(client: Any, plan: Plan) -> dict[str, Any]:
    """The plan as field → value: what runs, where (partition, group, leader node)."""
    from raftstore.keys import N_PARTITIONS, Key

    select = plan.select
    out: dict[str, Any] = {
        "plan": plan.kind,
        "namespace": select.target.namespace,
        "set": select.target.set if select.target.set is not None else "(all)",
        "bins": "*" if select.bins is None else ", ".join(select.bins),
    }
    pmap = client.partition_map()
    nodes = {n.node_id: n.client_address for n in pmap.nodes}
    groups = {g.group_id: g for g in pmap.groups}
    namespaces = {ns.name: ns for ns in pmap.namespaces}
    ns_info = namespaces.get(select.target.namespace)
    if ns_info is None:
        from raftstore.errors import NamespaceNotFound

        raise NamespaceNotFound(
            f"namespace {select.target.namespace!r} is not configured "
            f"(known: {', '.join(sorted(namespaces)) or 'none'})"
        )

    def leader(group_id: str) -> str:
        g = groups.get(group_id)
        if g is None or not g.leader_node_id:
            return "(unknown)"
        return f"{g.leader_node_id} ({nodes.get(g.leader_node_id, '?')})"

    if isinstance(select.where, ast.PkEquals):
        key = Key.of(select.target.namespace, select.target.set, select.where.key)
        group_id = f"{key.namespace}/{ns_info.partition_group[key.partition]}"
        out.update(
            key=cell(key.user_key),
            key_type=type(key.user_key).__name__,
            digest=key.digest.hex(),
            partition=key.partition,
            group=group_id,
            leader=leader(group_id),
        )
    else:
        group_ids = [f"{ns_info.name}/{i}" for i in sorted(set(ns_info.partition_group))]
        out["partitions"] = f"0-{N_PARTITIONS - 1}"
        out["groups"] = len(group_ids)
        out["leaders"] = ", ".join(f"{g}: {leader(g)}" for g in group_ids)
        out["streams"] = (
            "one per group, in parallel" if plan.kind == "INDEX QUERY" else "by leader, in order"
        )
    if plan.index is not None:
        i = plan.index
        out["index"] = f"{i.name} ({i.type} on {i.bin}, ready)"
    if select.where is not None and not isinstance(select.where, ast.PkEquals):
        out["condition"] = _condition(select.where)
    if plan.filter is not None:
        out["filter"] = "filter expression, evaluated on each group's leader"
        out["why_no_index"] = plan.reason
    if select.limit is not None:
        out["limit"] = select.limit
    out["read_mode"] = client.read_mode.name
    return out


# --- running statements ---------------------------------------------------------------


class Session:
    """Runs parsed statements against a client made on first use, printing results.

    ``confirm(question)`` answers TRUNCATE's question (None: refuse unless ``yes``)."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        output: str = "TABLE",
        yes: bool = False,
        confirm: Callable[[str], bool] | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self._connect = connect
        self._client: Any = None
        self.output = output
        self.yes = yes
        self.confirm = confirm
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # output
    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _json(self, obj: Any) -> None:
        self._print(json.dumps(obj, ensure_ascii=False))

    def error(self, e: RaftstoreError) -> None:
        doubt = " (in doubt: it may have been applied)" if e.in_doubt else ""
        print(f"Error: ({int(e.code)}) {e.code.name}: {e.message}{doubt}", file=self.err)

    def _done(self, message: str, **fields: Any) -> None:
        if self.output == "JSON":
            self._json({"ok": True, **fields})
        else:
            self._print(message)

    def _rows(
        self, columns: list[str], rows: list[list], started: float, quote: bool = False
    ) -> None:
        if self.output == "JSON":
            for row in rows:
                self._json({c: jsonable(v) for c, v in zip(columns, row, strict=True)})
            return
        if rows:
            self._print(render_table(columns, rows, quote))
        self._print(f"{len(rows)} row{'' if len(rows) == 1 else 's'} in set "
                    f"({time.monotonic() - started:.3f} secs)")  # fmt: skip

    # statements
    def run_script(self, text: str) -> int:
        """Parse every statement of ``text``, then run them in order; stop at the first
        error. 0 when all ran, 1 otherwise (bad SQL anywhere runs nothing)."""
        try:
            statements = ast.parse(text)
        except RaftstoreError as e:
            self.error(e)
            return 1
        for statement in statements:
            if isinstance(statement, ast.Exit):
                break
            try:
                self.execute(statement)
            except RaftstoreError as e:
                self.error(e)
                return 1
        return 0

    def execute(self, statement: ast.Statement) -> None:
        started = time.monotonic()
        match statement:
            case ast.Select():
                self._select(statement, started)
            case ast.Explain():
                plan = plan_select(self.client, statement.select)
                fields = explain(self.client, plan)
                if self.output == "JSON":
                    self._json(fields)
                else:
                    rows = [[k, str(v)] for k, v in fields.items()]
                    self._print(render_table(["field", "value"], rows, quote=False))
            case ast.Insert():
                self._insert(statement)
            case ast.Delete():
                self.client.delete(_key(statement.target, statement.key))
                self._done("OK, 1 record affected.", affected=1)
            case ast.CreateIndex():
                t = statement.target
                self.client.create_index(
                    t.namespace, t.set, statement.bin, statement.type, statement.collection,
                    statement.name,
                )  # fmt: skip
                self._done(
                    f"OK, 1 index added ({statement.name}; it builds in the background, "
                    "SHOW INDEXES shows its state).",
                    index=statement.name,
                )
            case ast.DropIndex():
                self.client.drop_index(statement.namespace, statement.name)
                self._done("OK, 1 index removed.", index=statement.name)
            case ast.Show():
                self._show(statement, started)
            case ast.Truncate():
                self._truncate(statement)
            case ast.SetOutput():
                self.output = statement.format
                self._done(f"OK, output is {statement.format}.", output=statement.format)
            case ast.Help():
                self._print(HELP)
            case ast.Exit():
                pass

    def _insert(self, statement: ast.Insert) -> None:
        from raftstore.policy import WritePolicy

        key = _key(statement.target, statement.key)
        self.client.put(key, statement.bins, WritePolicy(send_key=True))
        self._done("OK, 1 record affected.", affected=1)

    def _select(self, select: ast.Select, started: float) -> None:
        plan = plan_select(self.client, select)
        records = _limited(self._records(plan), select.limit)
        if self.output == "JSON":
            for record in records:
                self._json(record_json(record))
            return
        got = list(records)
        columns, rows = record_rows(got, select.bins)
        self._rows(columns, rows, started, quote=True)

    def _records(self, plan: Plan) -> Iterator[Any]:
        select, client = plan.select, self.client
        t = select.target
        bins = list(select.bins) if select.bins is not None else None
        where = select.where
        if isinstance(where, ast.PkEquals):
            key = _key(t, where.key)
            record = client.get(key) if bins is None else client.select(key, bins)
            return iter([record])
        if plan.kind == "INDEX QUERY":
            assert where is not None and not isinstance(where, ast.PkEquals)
            bounds: dict[str, Any] = (
                {"equals": where.value}
                if isinstance(where, ast.BinEquals)
                else {"between": (where.low, where.high)}
            )
            return client.query(  # type: ignore[no-any-return]
                t.namespace, t.set, bin=where.bin, index=plan.index.name, bins=bins, **bounds
            )
        return client.scan(t.namespace, t.set, bins, filter=plan.filter)  # type: ignore[no-any-return]

    def _show(self, show: ast.Show, started: float) -> None:
        client = self.client
        if show.what == "NAMESPACES":
            pmap = client.partition_map()
            columns = ["namespace", "replication_factor", "default_ttl", "max_record_size",
                       "partition_groups"]  # fmt: skip
            rows = [
                [ns.name, ns.replication_factor, ns.default_ttl, ns.max_record_size,
                 ns.partition_groups]
                for ns in sorted(pmap.namespaces, key=lambda n: n.name)
            ]  # fmt: skip
            self._rows(columns, rows, started)
            return
        namespaces = [show.namespace] if show.namespace else self._namespaces()
        if show.what == "INDEXES":
            columns = ["namespace", "set", "bin", "name", "type", "collection", "state",
                       "progress"]  # fmt: skip
            rows = [
                [i.namespace, i.set, i.bin, i.name, i.type, i.collection,
                 "ready" if i.ready else "building", f"{i.progress:.0%}"]
                for ns in namespaces
                for i in sorted(client.list_indexes(ns), key=lambda i: i.name)
            ]  # fmt: skip
            self._rows(columns, rows, started)
            return
        counts: dict[tuple[str, str], int] = {}
        for ns in namespaces:  # SETS: a metadata-only scan
            for record in client.scan(ns, metadata_only=True):
                counts[(ns, record.key[1])] = counts.get((ns, record.key[1]), 0) + 1
        rows = [[ns, s, n] for (ns, s), n in sorted(counts.items())]
        self._rows(["namespace", "set", "objects"], rows, started)

    def _namespaces(self) -> list[str]:
        return sorted(ns.name for ns in self.client.partition_map().namespaces)

    def _truncate(self, statement: ast.Truncate) -> None:
        from raftstore_client.cli import parse_before

        before = None if statement.before is None else parse_before(str(statement.before))
        what = str(statement.target)
        if not self.yes:
            question = f"Truncate {what}? Every record of it is removed for good. [y/N] "
            if self.confirm is None:
                raise ParameterError(
                    f"TRUNCATE {what} needs confirmation: run with --yes (or answer the "
                    "question in the interactive shell)"
                )
            if not self.confirm(question):
                self._done("Not truncated.", truncated=False)
                return
        t = statement.target
        self.client.truncate(t.namespace, t.set, before)
        self._done(f"OK, {what} truncated.", truncated=what)


def _key(target: ast.Target, user_key: Any) -> tuple[str, str, Any]:
    return (target.namespace, target.set or "", user_key)


def _limited(records: Iterator[Any], limit: int | None) -> Iterator[Any]:
    """At most ``limit`` records; the stream is closed once enough have come."""
    try:
        yield from itertools.islice(records, limit) if limit is not None else records
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()


# --- the interactive shell ------------------------------------------------------------


def _setup_history() -> None:
    """Python's readline with a history file; nothing when readline is unavailable."""
    try:
        import readline
    except ImportError:
        return
    import atexit

    path = os.path.expanduser(os.environ.get("RAFTSTORE_AQL_HISTORY", HISTORY_FILE))
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(1000)

    def save() -> None:
        try:
            readline.write_history_file(path)
        except OSError:
            pass

    atexit.register(save)


def interactive(session: Session, read_line: Callable[[str], str], prompts: bool) -> int:
    """Read statements until EXIT or end of input: lines gather until a statement ends
    with ';' (``help``/``exit`` need none). Errors are printed and the shell goes on;
    returns 1 if any statement failed (for scripts piped in), else 0."""
    failed = False
    buffer: list[str] = []
    while True:
        prompt = ("aql> " if not buffer else "  -> ") if prompts else ""
        try:
            line = read_line(prompt)
        except EOFError:
            if prompts:
                print(file=session.out)
            line = None
        except KeyboardInterrupt:
            print("^C", file=session.out)
            buffer = []
            continue
        if line is not None:
            buffer.append(line)
        text = "\n".join(buffer)
        if line is not None and not (text.strip() and ast.statement_complete(text)):
            if not text.strip():
                buffer = []
            continue
        buffer = []
        if text.strip():
            try:
                statements = ast.parse(text)
            except RaftstoreError as e:
                session.error(e)
                failed = True
                statements = []
            for statement in statements:
                if isinstance(statement, ast.Exit):
                    return 1 if failed else 0
                try:
                    session.execute(statement)
                except RaftstoreError as e:
                    session.error(e)
                    failed = True
                except KeyboardInterrupt:
                    print("^C", file=session.out)
        if line is None:
            return 1 if failed else 0


def _ask(read_line: Callable[[str], str], err: TextIO) -> Callable[[str], bool]:
    def confirm(question: str) -> bool:
        print(question, end="", file=err, flush=True)
        try:
            answer = read_line("")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    return confirm


def run(args: argparse.Namespace, make_client: Callable[[argparse.Namespace], Any]) -> int:
    tty = sys.stdin.isatty()
    session = Session(
        lambda: make_client(args), output="JSON" if args.json else "TABLE", yes=args.yes
    )
    try:
        if args.command_text is not None:
            if tty:
                session.confirm = _ask(input, sys.stderr)
            return session.run_script(args.command_text)
        if tty:
            _setup_history()
            print("raftstore aql: statements end with ';' — help; for help, exit; to leave")
        session.confirm = _ask(input, sys.stderr)
        return interactive(session, input, prompts=tty)
    finally:
        session.close()


def add_aql_command(
    sub: Any,
    hosts: Callable[[argparse.ArgumentParser], None],
    make_client: Callable[[argparse.Namespace], Any],
) -> None:
    p = sub.add_parser("aql", help="SQL-like shell (aql): INSERT, SELECT, indexes, SHOW ...")
    p.add_argument(
        "-c", dest="command_text", metavar="STATEMENTS", help="run these statements and exit"
    )
    p.add_argument("--json", action="store_true", help="JSON lines instead of tables")
    p.add_argument("-y", "--yes", action="store_true", help="TRUNCATE without asking")
    hosts(p)
    p.set_defaults(func=lambda args: run(args, make_client))


def script_lines(lines: Iterable[str]) -> Callable[[str], str]:
    """A ``read_line`` over fixed lines (EOFError after the last): drives the shell in tests."""
    it = iter(lines)

    def read_line(prompt: str) -> str:
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return read_line
