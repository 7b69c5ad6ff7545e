"""Drives a StateMachine over a MemoryStore from datadriven transcripts.

Directives (each write or read is one entry unless grouped by ``entry``)::

    namespace name=N [default-ttl=S] [max-record-size=B]   configure a namespace
    now ms=T | advance ms=D                                set the leader's clock
    put k=KEY bins={...} [POLICY] [SESSION]
    delete k=KEY [POLICY] [SESSION]
    touch k=KEY [POLICY] [SESSION]
    operate k=KEY ops=[incr("a", 1), read("a"), ...] [POLICY] [SESSION]
    get k=KEY [bins=("a",)] [header] [local] [SESSION]     (local: StateMachine.read)
    entry                                                  input: one request per line
    batch [SESSION] [filter=EXPR]                          input: one command per line, as
                                                           one Batch request (the filter is
                                                           the batch's: for lines without one)
    truncate [ns=N] [set=S] [before=MS] [SESSION]          a Truncate request
    sweep [ns=N]                                           purge the rows markers hide
    nsup-scan [ns=N] [limit=N]      an nsup sweep: list the records expired at now
    nsup-apply [ns=N] [now=MS]      propose an Expire of what nsup-scan listed (its clock:
                                    the scan's, or now=MS), applied at the current now
    dump                                                   every stored record
    session client=C                                       a client's dedup session
    create-index name=I bin=B type=numeric|string [set=S] [collection=list|mapkeys|mapvalues]
    drop-index name=I
    build-index name=I [limit=N]        one build slice from the index's current cursor
    indexes                             every index: state, then its rows in order
    query [name=I] [bin=B] (eq=V | lo=V hi=V) [set=S] [filter=EXPR]   what a query returns

Common arguments: ``ns=`` (default test), ``set=`` (default none), ``filter=EXPR``: a
filter expression written with the builder's names (``raftstore_client.exp``: ``ge(
int_bin("age"), 21)``) plus ``raw_call(op_number, ...)``, ``raw_bin(name, type_number)``
and ``nested(n)`` (n levels of not) for malformed trees. The filter is parsed as the node
parses it before proposing: a malformed one prints ``refused: PARAMETER_ERROR (4): ...``
and nothing is applied. KEY is a bare word
(a string key) or a Python literal (``7``, ``b"x"``, ``"7"``). POLICY: ``exists=
update|update_only|replace|replace_only|create_only``, ``gen=eq:N|gt:N``, ``ttl=S``,
``send-key``. SESSION: ``client=C seq=N [acked=N]``.

Values are Python literals plus ``nan``, ``inf``, ``obj`` (an object()),
``bytearray(...)`` and ``nest(n)`` (n nested lists). Ops are written as calls named
after OpType members in lower case, with positional arguments in the order of
``OP_PARAMS`` or keywords; ``op(type, ...)`` builds an Op with a raw type number.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from raftstore_client import exp

from raftstore.commands import (
    Batch,
    BuildIndex,
    CreateIndex,
    Delete,
    DropIndex,
    Entry,
    Expire,
    ExpiredRecord,
    Op,
    Operate,
    OpType,
    Put,
    Read,
    Request,
    Result,
    Touch,
    Truncate,
)
from raftstore.errors import ParameterError, RaftstoreError, ResultCode
from raftstore.expiry import expired_rows
from raftstore.expressions import parse_filter
from raftstore.keys import Key
from raftstore.namespaces import NamespaceConfig
from raftstore.policy import GenPolicy, RecordExistsAction, WritePolicy
from raftstore.query import IndexReader, QuerySpec, resolve, verify
from raftstore.records import decode_record
from raftstore.scan import Cursor, ScanSpec
from raftstore.sindex import (
    Collection,
    IndexDef,
    IndexType,
    decode_index_value,
    decode_state,
    index_prefix,
    split_row,
)
from raftstore.state_machine import StateMachine, decode_session
from raftstore.storage.memory import MemoryStore
from raftstore.truncation import hidden_rows
from raftstore.v1 import exp_pb2
from tests.datadriven import TestCase, parse_directive

OP_PARAMS: dict[OpType, tuple[str, ...]] = {
    OpType.READ: ("bin",),
    OpType.WRITE: ("bin", "value"),
    OpType.INCR: ("bin", "value"),
    OpType.APPEND: ("bin", "value"),
    OpType.PREPEND: ("bin", "value"),
    OpType.TOUCH: (),
    OpType.DELETE: (),
    OpType.LIST_APPEND: ("bin", "value"),
    OpType.LIST_APPEND_ITEMS: ("bin", "value"),
    OpType.LIST_INSERT: ("bin", "index", "value"),
    OpType.LIST_SET: ("bin", "index", "value"),
    OpType.LIST_GET: ("bin", "index"),
    OpType.LIST_GET_RANGE: ("bin", "index", "count"),
    OpType.LIST_POP: ("bin", "index"),
    OpType.LIST_REMOVE: ("bin", "index", "count"),
    OpType.LIST_SIZE: ("bin",),
    OpType.LIST_CLEAR: ("bin",),
    OpType.MAP_PUT: ("bin", "map_key", "value"),
    OpType.MAP_PUT_ITEMS: ("bin", "value"),
    OpType.MAP_GET_BY_KEY: ("bin", "map_key"),
    OpType.MAP_REMOVE_BY_KEY: ("bin", "map_key"),
    OpType.MAP_INCREMENT: ("bin", "map_key", "value"),
    OpType.MAP_SIZE: ("bin",),
    OpType.MAP_CLEAR: ("bin",),
}
_NAMES = {"nan": math.nan, "inf": math.inf}
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Pow: lambda a, b: a**b,
}


# --- literals -------------------------------------------------------------------------


def evaluate(text: str) -> Any:
    """Evaluate a transcript value expression (see the module docstring)."""
    return _eval(ast.parse(text.strip(), mode="eval").body)


def _eval(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_eval(e) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict):
        return {_eval(k): _eval(v) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.Name) and node.id == "obj":
        return object()
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _call(
            node.func.id,
            [_eval(a) for a in node.args],
            {k.arg: _eval(k.value) for k in node.keywords},
        )
    raise ValueError(f"unsupported expression {ast.unparse(node)!r}")


def _call(name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if name == "bytearray":
        return bytearray(*args)
    if name == "nest":
        value: list[Any] = []
        for _ in range(args[0] - 1):
            value = [value]
        return value
    if name == "op":
        return Op(args[0], *args[1:], **kwargs)
    kind = OpType[name.upper()]
    return Op(kind, **dict(zip(OP_PARAMS[kind], args, strict=False)), **kwargs)


def _raw_call(op: int, *args: Any) -> exp_pb2.Expression:
    msg = exp_pb2.Expression()
    msg.call.op = op
    for arg in args:
        msg.call.args.add().CopyFrom(arg if isinstance(arg, exp_pb2.Expression) else exp.val(arg))
    return msg


def _nested(depth: int) -> exp_pb2.Expression:
    msg = exp.val(True)
    for _ in range(depth - 1):
        msg = exp.not_(msg)
    return msg


_FILTER_NAMES: dict[str, Any] = {
    **{name: getattr(exp, name) for name in exp.__all__},
    "raw_call": _raw_call,
    "raw_bin": lambda name, kind: exp_pb2.Expression(
        bin=exp_pb2.BinExpression(name=name, type=kind)
    ),
    "nested": _nested,
}


def filter_expression(text: str) -> exp_pb2.Expression:
    """A transcript's ``filter=`` text as the message a client sends."""
    return _filter_eval(ast.parse(text.strip(), mode="eval").body)


def _filter_eval(node: ast.expr) -> Any:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_filter_eval(a) for a in node.args]
        return _FILTER_NAMES[node.func.id](*args)
    return _eval(node)


def user_key(text: str) -> Any:
    """A bare word is a string key; anything else is a literal."""
    return text if _WORD.match(text) else evaluate(text)


# --- results --------------------------------------------------------------------------


def format_result(result: Result) -> str:
    """One line: ``OK gen=.. void=.. lu=.. [bins=..] [ops=[..]]`` or ``CODE (n): message``."""
    if result.code != ResultCode.OK:
        return f"{result.code.name} ({int(result.code)}): {result.message}"
    parts = [f"OK gen={result.generation} void={result.void_time_ms} lu={result.last_update_ms}"]
    if result.bins is not None:
        parts.append(f"bins={result.bins!r}")
    if result.op_results:
        parts.append("ops=[" + ", ".join(f"{b}={v!r}" for b, v in result.op_results) + "]")
    return " ".join(parts)


# --- the harness ----------------------------------------------------------------------


class Harness:
    """State of one transcript: namespaces, clock, store and log index."""

    def __init__(self) -> None:
        self.namespaces = {"test": NamespaceConfig("test")}
        self.store = MemoryStore()
        self.now_ms = 1000
        self.index = 0
        self.labels: dict[bytes, str] = {}
        self.swept: tuple[int, tuple[ExpiredRecord, ...]] = (0, ())  # nsup-scan: now, found

    @property
    def machine(self) -> StateMachine:
        return StateMachine(self.namespaces)

    def handle(self, case: TestCase) -> str:
        """Run one transcript block and return its output."""
        handler = getattr(self, "_do_" + case.cmd.replace("-", "_"), None)
        if handler is not None:
            return handler(case)
        try:
            request = self._request(case)
        except ParameterError as e:  # the node refuses it before proposing
            return f"refused: {format_result(Result(e.code, message=e.message))}"
        if case.cmd == "get" and case.has("local"):
            return format_result(self.machine.read(self.store, request.command, self.now_ms))
        results = self._apply([request])
        return format_result(results[0])

    def _apply(self, requests: list[Request]) -> list[Result]:
        self.index += 1
        entry = Entry(self.now_ms, tuple(requests))
        return self.machine.apply(entry, self.store, self.index)

    def _do_entry(self, case: TestCase) -> str:
        lines = [line for line in case.input.split("\n") if line.strip()]
        requests = [self._request(_line_case(case, line)) for line in lines]
        results = self._apply(requests)
        return "\n".join(f"[{i}] {format_result(r)}" for i, r in enumerate(results))

    def _do_batch(self, case: TestCase) -> str:
        lines = [line for line in case.input.split("\n") if line.strip()]
        commands = []
        for line in lines:
            sub = _line_case(case, line)
            if case.has("filter") and not sub.has("filter"):
                args = (*sub.args, ("filter", case.arg("filter")))
                sub = TestCase(sub.path, sub.line, sub.cmd, args, "", "", (0, 0))
            try:
                commands.append(self._command(sub))
            except ParameterError as e:  # the node refuses the batch before proposing
                return f"refused: {format_result(Result(e.code, message=e.message))}"
        result = self._apply([self._identity(case, Batch(tuple(commands)))])[0]
        if not result.batch:
            return format_result(result)
        return "\n".join(f"[{i}] {format_result(r)}" for i, r in enumerate(result.batch))

    def _do_truncate(self, case: TestCase) -> str:
        result = self._apply([self._request(case)])[0]
        if not result.ok:
            return format_result(result)
        return f"OK lut={result.last_update_ms}"

    def _do_sweep(self, case: TestCase) -> str:
        ns, after, purged = case.arg("ns", "test"), None, 0
        while True:
            hidden, after = hidden_rows(self.store, ns, after, 2)
            self.store.purge(ns, hidden)
            purged += len(hidden)
            if after is None:
                return f"purged {purged}"

    def _do_nsup_scan(self, case: TestCase) -> str:
        ns, after, limit = case.arg("ns", "test"), None, int(case.arg("limit", "2"))
        found: list[ExpiredRecord] = []
        examined = 0
        while True:
            part = expired_rows(self.store, ns, after, limit, self.now_ms)
            found += part.expired
            examined += part.examined
            after = part.cursor
            if after is None:
                break
        self.swept = (self.now_ms, tuple(found))
        lines = [f"{self._label(r.digest)} gen={r.generation} void={r.void_time_ms}" for r in found]
        return "\n".join([*lines, f"examined {examined}, expired {len(found)}"])

    def _do_nsup_apply(self, case: TestCase) -> str:
        now, found = self.swept
        command = Expire(case.arg("ns", "test"), int(case.arg("now", str(now))), found)
        result = self._apply([Request(command)])[0]
        if not result.ok:
            return format_result(result)
        return f"OK deleted={result.generation}"

    def _do_namespace(self, case: TestCase) -> str:
        config = NamespaceConfig(
            case.arg("name"),
            default_ttl=int(case.arg("default-ttl", "0")),
            max_record_size=int(case.arg("max-record-size", str(1024 * 1024))),
        )
        self.namespaces = {**self.namespaces, config.name: config}
        return f"{config.name}: default_ttl={config.default_ttl} max_record_size=" + str(
            config.max_record_size
        )

    def _do_now(self, case: TestCase) -> str:
        self.now_ms = int(case.arg("ms"))
        return f"now={self.now_ms}"

    def _do_advance(self, case: TestCase) -> str:
        self.now_ms += int(case.arg("ms"))
        return f"now={self.now_ms}"

    def _do_dump(self, case: TestCase) -> str:
        lines = []
        for ns in sorted(self.namespaces):
            for digest, data in self.store.scan(ns):
                lines.append(f"{ns}/{self._label(digest)} {_format_record(decode_record(data))}")
        lines.append(f"applied={self.store.applied_index()}")
        return "\n".join(lines)

    def _do_session(self, case: TestCase) -> str:
        data = self.store.get_session(case.arg("client").encode())
        if data is None:
            return "no session"
        session = decode_session(data)
        return (
            f"floor={session.floor} last_seen={session.last_seen_ms} "
            f"cached={sorted(session.results)}"
        )

    # --- secondary indexes ----------------------------------------------------------

    def _do_create_index(self, case: TestCase) -> str:
        definition = IndexDef(
            case.arg("ns", "test"),
            case.arg("name"),
            case.arg("set", ""),
            case.arg("bin"),
            IndexType[case.arg("type").upper()],
            Collection[case.arg("collection", "default").upper()],
        )
        return format_result(
            self._apply([Request(CreateIndex(definition.namespace, definition))])[0]
        )

    def _do_drop_index(self, case: TestCase) -> str:
        command = DropIndex(case.arg("ns", "test"), case.arg("name"))
        return format_result(self._apply([Request(command)])[0])

    def _do_build_index(self, case: TestCase) -> str:
        name = case.arg("name")
        data = self.store.index_defs().get(name)
        cursor = decode_state(data).cursor if data is not None else b""
        command = BuildIndex(case.arg("ns", "test"), name, cursor, int(case.arg("limit", "512")))
        result = self._apply([Request(command)])[0]
        return format_result(result) + "\n" + self._do_indexes(case)

    def _do_indexes(self, case: TestCase) -> str:
        lines = []
        for name, data in sorted(self.store.index_defs().items()):
            state = decode_state(data)
            d = state.definition
            where = f"{d.namespace}.{d.set_name or '*'}.{d.bin}"
            status = "ready" if state.ready else "building"
            cursor = self._label(state.cursor) if state.cursor else "-"
            lines.append(
                f"index {name} on {where} {d.type.name} {d.collection.name}: {status} "
                f"cursor={cursor} examined={state.indexed}"
            )
            prefix = index_prefix(name)
            for key in self.store.index_keys(prefix, prefix):
                value, _, digest = split_row(prefix, key)
                lines.append(f"  {decode_index_value(d.type, value)!r} -> {self._label(digest)}")
        return "\n".join(lines) or "no indexes"

    def _do_query(self, case: TestCase) -> str:
        lo = evaluate(case.arg("eq")) if case.has("eq") else evaluate(case.arg("lo"))
        hi = evaluate(case.arg("eq")) if case.has("eq") else evaluate(case.arg("hi"))
        flt = parse_filter(filter_expression(case.arg("filter"))) if case.has("filter") else None
        spec = QuerySpec(
            ScanSpec(case.arg("ns", "test"), case.arg("set", "")),
            case.arg("bin", ""),
            lo,
            hi,
            index=case.arg("name", ""),
            filter=flt,
        )
        states = {n: decode_state(d) for n, d in self.store.index_defs().items()}
        try:
            state, bounds = resolve(states, spec)
        except RaftstoreError as e:
            return format_result(Result(e.code, message=e.message))
        reader = IndexReader(self.store, state.definition.name, bounds, 0, 4096, Cursor(0))
        hits = reader.step()
        assert hits is not None
        out = []
        for _, digest in hits:
            ns = spec.scan.namespace
            got = verify(spec, state, bounds, digest, self.store.get(ns, digest), self.now_ms)
            if got is not None:
                out.append(f"{self._label(digest)} {got.record.bins!r}")
        skipped = len(hits) - len(out)
        return "\n".join([*out, f"{len(out)} records ({skipped} index hits re-checked out)"])

    def _label(self, digest: bytes) -> str:
        return self.labels.get(digest, digest.hex()[:8])

    # --- building requests --------------------------------------------------------

    def _request(self, case: TestCase) -> Request:
        return self._identity(case, self._command(case))

    def _identity(self, case: TestCase, command: Any) -> Request:
        return Request(
            command,
            client_id=case.arg("client", "").encode(),
            seq=int(case.arg("seq", "0")),
            acked_seq=int(case.arg("acked", "0")),
        )

    def _command(self, case: TestCase) -> Any:
        if case.cmd == "truncate":
            before = int(case.arg("before", "0"))
            return Truncate(case.arg("ns", "test"), case.arg("set", ""), before)
        key = self._key(case)
        flt = parse_filter(filter_expression(case.arg("filter"))) if case.has("filter") else None
        if case.cmd == "put":
            return Put(key, evaluate(case.arg("bins")), _policy(case), flt)
        if case.cmd == "delete":
            return Delete(key, _policy(case), flt)
        if case.cmd == "touch":
            return Touch(key, _policy(case), flt)
        if case.cmd == "operate":
            return Operate(key, tuple(evaluate(case.arg("ops"))), _policy(case), flt)
        if case.cmd == "get":
            bins = evaluate(case.arg("bins")) if case.has("bins") else None
            return Read(key, bins, header_only=case.has("header"), filter=flt)
        raise ValueError(f"unknown command {case.cmd!r}")

    def _key(self, case: TestCase) -> Key:
        set_name = case.arg("set", "")
        key = Key.of(case.arg("ns", "test"), set_name, user_key(case.arg("k")))
        label = case.arg("k") if not set_name else f"{set_name}/{case.arg('k')}"
        self.labels.setdefault(key.digest, label)
        return key


def _line_case(parent: TestCase, line: str) -> TestCase:
    cmd, args = parse_directive(line)
    return TestCase(parent.path, parent.line, cmd, args, "", "", (0, 0))


_EXISTS = {a.name.lower(): a for a in RecordExistsAction}
_GEN = {"eq": GenPolicy.EXPECT_GEN_EQUAL, "gt": GenPolicy.EXPECT_GEN_GT}


def _policy(case: TestCase) -> WritePolicy:
    gen, generation = GenPolicy.NONE, 0
    if case.has("gen"):
        kind, _, number = case.arg("gen").partition(":")
        gen, generation = _GEN[kind], int(number)
    return WritePolicy(
        exists=_EXISTS[case.arg("exists", "update")],
        gen=gen,
        generation=generation,
        ttl=int(case.arg("ttl", "0")),
        send_key=case.has("send-key"),
    )


def _format_record(record: Any) -> str:
    key = "" if record.user_key is None else f" key={record.user_key!r}"
    return (
        f"gen={record.generation} void={record.void_time_ms} lu={record.last_update_ms} "
        f"set={record.set_name!r}{key} bins={record.bins!r}"
    )
