"""The aql statement language: a lark grammar and the statements it yields.

``parse(text)`` turns one or more ``;``-separated statements into ``Statement`` values;
anything the grammar does not accept, or that it accepts but cannot mean anything
(``INSERT`` without a PK column, a malformed ``JSON'...'`` literal), raises
``ParameterError`` (4) naming the place and what was expected. Parsing never talks to a
node, so a script with bad SQL anywhere runs none of its statements.

Keywords are case-insensitive; names (namespaces, sets, bins, indexes) are kept as
written. Values: integers, floats, 'strings' and "strings" (backslash escapes, '' inside
single quotes), TRUE/FALSE, NULL (deletes a bin on INSERT), lists ``[1, 'a']`` and maps
``{'k': 1}`` written plainly or as ``JSON'...'`` (aql's form), bytes as ``X'00ff'``.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from raftstore.errors import ParameterError

GRAMMAR = r"""
script: ";"* (statement (";"+ statement)* ";"*)?

?statement: select | explain | insert | delete | create_index | drop_index
          | show | truncate | set_output | help | exit

select: "SELECT"i projection "FROM"i target [where] [limit]
projection: "*"                         -> all_bins
          | name ("," name)*            -> bin_list
where: "WHERE"i (pk_eq | bin_eq | bin_between)
pk_eq: "PK"i "=" value
bin_eq: name "=" value
bin_between: name "BETWEEN"i value "AND"i value
limit: "LIMIT"i INT

explain: "EXPLAIN"i select

insert: "INSERT"i "INTO"i target "(" column ("," column)* ")" "VALUES"i "(" value ("," value)* ")"
column: PK | name

delete: "DELETE"i "FROM"i target "WHERE"i pk_eq

create_index: "CREATE"i [COLLECTION] "INDEX"i name "ON"i target "(" name ")" INDEX_TYPE
drop_index: "DROP"i "INDEX"i target name

show: "SHOW"i SHOWN [name]

truncate: "TRUNCATE"i target ["BEFORE"i value]

set_output: "SET"i "OUTPUT"i OUTPUT_FORMAT

help: "HELP"i
exit: "EXIT"i | "QUIT"i

target: name ["." name]
name: NAME | QUOTED_NAME

?value: SIGNED_INT      -> int
      | SIGNED_FLOAT    -> float
      | string          -> str
      | "TRUE"i         -> true
      | "FALSE"i        -> false
      | "NULL"i         -> null
      | "JSON"i string  -> json
      | HEX_STRING      -> hex
      | "[" [value ("," value)*] "]"            -> list
      | "{" [pair ("," pair)*] "}"              -> map
pair: value ":" value
string: SQ_STRING | DQ_STRING

PK: "PK"i
COLLECTION.2: /(LIST|MAPKEYS|MAPVALUES)\b/i
INDEX_TYPE.2: /(NUMERIC|STRING)\b/i
SHOWN.2: /(NAMESPACES|SETS|INDEXES|INDEX)\b/i
OUTPUT_FORMAT.2: /(TABLE|JSON)\b/i
NAME: /[A-Za-z_][A-Za-z0-9_\-]*/
QUOTED_NAME: /`[^`]+`/
SQ_STRING: /'(?:[^'\\]|\\.|'')*'/s
DQ_STRING: /"(?:[^"\\]|\\.)*"/s
HEX_STRING.2: /[xX]'[0-9A-Fa-f]*'/
SIGNED_INT: /[+-]?\d+/
SIGNED_FLOAT.3: /[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?|[+-]?\d+[eE][+-]?\d+/

COMMENT: /--[^\n]*/
%import common.INT
%import common.WS
%ignore WS
%ignore COMMENT
"""

# --- statements ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    namespace: str
    set: str | None  # None: the whole namespace

    def __str__(self) -> str:
        return self.namespace if self.set is None else f"{self.namespace}.{self.set}"


@dataclass(frozen=True)
class PkEquals:
    key: int | str | bytes


@dataclass(frozen=True)
class BinEquals:
    bin: str
    value: Any


@dataclass(frozen=True)
class BinBetween:
    bin: str
    low: Any
    high: Any


Where = PkEquals | BinEquals | BinBetween


@dataclass(frozen=True)
class Select:
    target: Target
    bins: tuple[str, ...] | None  # None: every bin
    where: Where | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Explain:
    select: Select


@dataclass(frozen=True)
class Insert:
    target: Target
    key: int | str | bytes
    bins: dict[str, Any]  # None values delete the bin


@dataclass(frozen=True)
class Delete:
    target: Target
    key: int | str | bytes


@dataclass(frozen=True)
class CreateIndex:
    name: str
    target: Target
    bin: str
    type: str  # NUMERIC | STRING
    collection: str  # DEFAULT | LIST | MAPKEYS | MAPVALUES


@dataclass(frozen=True)
class DropIndex:
    namespace: str
    name: str


@dataclass(frozen=True)
class Show:
    what: str  # NAMESPACES | SETS | INDEXES
    namespace: str | None = None


@dataclass(frozen=True)
class Truncate:
    target: Target
    before: int | str | None = None  # unix ms or an ISO time


@dataclass(frozen=True)
class SetOutput:
    format: str  # TABLE | JSON


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Exit:
    pass


Statement = (
    Select | Explain | Insert | Delete | CreateIndex | DropIndex | Show | Truncate | SetOutput
    | Help | Exit
)  # fmt: skip

# --- parsing --------------------------------------------------------------------------


@functools.cache
def _parser() -> Any:
    import lark

    return lark.Lark(GRAMMAR, start="script", parser="lalr", maybe_placeholders=True)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def _unquote(token: str) -> str:
    quote, body = token[0], token[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.S)


def _is_key(value: Any) -> bool:
    return isinstance(value, (int, str, bytes)) and not isinstance(value, bool)


def _transformer() -> Any:
    from lark import Transformer, v_args

    @v_args(inline=True)
    class Build(Transformer):  # type: ignore[type-arg]
        def script(self, *statements: Any) -> list[Any]:
            return list(statements)

        # values
        def int(self, token: Any) -> int:
            return int(token)

        def float(self, token: Any) -> float:
            return float(token)

        def string(self, token: Any) -> str:
            return _unquote(str(token))

        def str(self, text: str) -> str:
            return text

        def true(self) -> bool:
            return True

        def false(self) -> bool:
            return False

        def null(self) -> None:
            return None

        def json(self, text: str) -> Any:
            try:
                return json.loads(text)
            except ValueError as e:
                raise ParameterError(f"JSON literal {text!r} is not valid JSON: {e}") from None

        def hex(self, token: Any) -> bytes:
            digits = str(token)[2:-1]
            if len(digits) % 2:
                raise ParameterError(f"bytes literal {token!s} has an odd number of hex digits")
            return bytes.fromhex(digits)

        def list(self, *items: Any) -> list[Any]:
            return [] if items == (None,) else list(items)

        def pair(self, key: Any, value: Any) -> tuple[Any, Any]:
            if isinstance(key, (list, dict)) or key is None:
                raise ParameterError(f"a map key must be a scalar, not {key!r}")
            return key, value

        def map(self, *pairs: Any) -> dict[Any, Any]:
            return {} if pairs == (None,) else dict(pairs)

        # names
        def name(self, token: Any) -> str:
            text = str(token)
            return text[1:-1] if text.startswith("`") else text

        def target(self, namespace: str, set_name: str | None) -> Target:
            return Target(namespace, set_name)

        def column(self, token: Any) -> str | None:
            return None if getattr(token, "type", "") == "PK" else token  # None: the PK

        # statements
        def all_bins(self) -> None:
            return None

        def bin_list(self, *names: str) -> tuple[str, ...]:
            return tuple(names)

        def pk_eq(self, value: Any) -> PkEquals:
            if not _is_key(value):
                raise ParameterError(f"PK must be an integer, a string or bytes, not {value!r}")
            return PkEquals(value)

        def bin_eq(self, name: str, value: Any) -> BinEquals:
            _check_bound(name, value)
            return BinEquals(name, value)

        def bin_between(self, name: str, low: Any, high: Any) -> BinBetween:
            _check_bound(name, low)
            _check_bound(name, high)
            if type(low) is not type(high):
                raise ParameterError(f"BETWEEN bounds of {name} differ in type: {low!r}, {high!r}")
            return BinBetween(name, low, high)

        def where(self, condition: Where) -> Where:
            return condition

        def limit(self, token: Any) -> int:
            return int(token)

        def select(self, bins: Any, target: Target, where: Any, limit: Any) -> Select:
            return Select(target, bins, where, limit)

        def explain(self, select: Select) -> Explain:
            return Explain(select)

        def columns(self, *names: str | None) -> list[str | None]:
            return list(names)

        def values(self, *items: Any) -> list[Any]:
            return list(items)

        def insert(self, target: Target, columns: list[Any], values: list[Any]) -> Insert:
            return _build_insert(target, columns, values)

        def delete(self, target: Target, where: PkEquals) -> Delete:
            return Delete(target, where.key)

        def create_index(
            self, collection: Any, name: str, target: Target, bin_name: str, kind: Any
        ) -> CreateIndex:
            coll = str(collection).upper() if collection is not None else "DEFAULT"
            return CreateIndex(name, target, bin_name, str(kind).upper(), coll)

        def drop_index(self, target: Target, name: str) -> DropIndex:
            return DropIndex(target.namespace, name)

        def show(self, what: Any, namespace: str | None) -> Show:
            kind = str(what).upper()
            return Show("INDEXES" if kind == "INDEX" else kind, namespace)

        def truncate(self, target: Target, before: Any) -> Truncate:
            if before is not None and (
                isinstance(before, bool) or not isinstance(before, (int, str))
            ):
                raise ParameterError("TRUNCATE ... BEFORE takes unix ms or an ISO time string")
            return Truncate(target, before)

        def set_output(self, token: Any) -> SetOutput:
            return SetOutput(str(token).upper())

        def help(self) -> Help:
            return Help()

        def exit(self) -> Exit:
            return Exit()

    return Build()


def _check_bound(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, bytes)):
        raise ParameterError(
            f"WHERE {name}: compare with an integer, a float or a string, not {value!r}"
        )


def _build_insert(target: Target, columns: list[str | None], values: list[Any]) -> Insert:
    if len(columns) != len(values):
        raise ParameterError(
            f"INSERT INTO {target}: {len(columns)} columns but {len(values)} values"
        )
    if columns.count(None) != 1:
        raise ParameterError(f"INSERT INTO {target}: name the key column PK exactly once")
    bins: dict[str, Any] = {}
    key: Any = None
    for column, value in zip(columns, values, strict=True):
        if column is None:
            if not _is_key(value):
                raise ParameterError(f"PK must be an integer, a string or bytes, not {value!r}")
            key = value
        elif column in bins:
            raise ParameterError(f"INSERT INTO {target}: bin {column!r} is named twice")
        else:
            bins[column] = value
    if not bins:
        raise ParameterError(f"INSERT INTO {target}: give at least one bin besides PK")
    return Insert(target, key, bins)


_TERMINAL_WORDS = {
    "COLLECTION": "LIST|MAPKEYS|MAPVALUES",
    "INDEX_TYPE": "NUMERIC|STRING",
    "SHOWN": "NAMESPACES|SETS|INDEXES",
    "OUTPUT_FORMAT": "TABLE|JSON",
    "NAME": "name",
    "QUOTED_NAME": "`name`",
    "SIGNED_INT": "integer",
    "INT": "integer",
    "SIGNED_FLOAT": "float",
    "SQ_STRING": "'string'",
    "DQ_STRING": '"string"',
    "HEX_STRING": "X'hex'",
}


def _describe_expected(expected: set[str]) -> str:
    parser = _parser()
    names = []
    for terminal in sorted(expected):
        try:
            pattern = parser.get_terminal(terminal).pattern
        except KeyError:
            names.append(terminal)
            continue
        if pattern.type == "str":
            names.append(repr(pattern.value.upper()))
        else:
            names.append(_TERMINAL_WORDS.get(terminal, terminal.lower()))
    return ", ".join(dict.fromkeys(names))


def parse(text: str) -> list[Statement]:
    """Every statement of ``text`` (separated by ``;``); ParameterError on bad SQL."""
    import lark

    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as e:
        char = text[e.pos_in_stream]
        what = "unterminated string" if char in "'\"`" else f"unexpected {char!r}"
        raise ParameterError(
            f"bad SQL at line {e.line} column {e.column}: {what}"
            f" (near {_near(text, e.pos_in_stream)!r})"
        ) from None
    except lark.exceptions.UnexpectedToken as e:
        if e.token.type == "$END":
            where = "bad SQL: unexpected end of statement"
        else:
            where = f"bad SQL at line {e.line} column {e.column}: unexpected {str(e.token)!r}"
        raise ParameterError(f"{where}; expected {_describe_expected(e.expected)}") from None
    except lark.exceptions.UnexpectedEOF as e:
        raise ParameterError(
            f"bad SQL: unexpected end of statement; expected {_describe_expected(set(e.expected))}"
        ) from None
    try:
        return _transformer().transform(_split_inserts(tree))  # type: ignore[no-any-return]
    except lark.exceptions.VisitError as e:
        if isinstance(e.orig_exc, ParameterError):
            raise ParameterError(f"bad SQL: {e.orig_exc.message}") from None
        raise


def _near(text: str, pos: int) -> str:
    return text[max(0, pos - 10) : pos + 10].strip()


def _split_inserts(tree: Any) -> Any:
    """Rewrite each ``insert`` node's children as (target, columns, values) subtrees, so
    the transformer knows where the column list ends."""
    from lark import Tree

    for node in tree.iter_subtrees():
        if node.data == "insert":
            target, *rest = node.children
            columns = [c for c in rest if isinstance(c, Tree) and c.data == "column"]
            values = rest[len(columns) :]
            node.children = [target, Tree("columns", columns), Tree("values", values)]
    return tree


@functools.cache
def _lexer() -> Any:
    import lark

    return lark.Lark(GRAMMAR, start="script", parser="lalr", lexer="basic")


SHELL_WORDS = {"help", "exit", "quit"}


def statement_complete(text: str) -> bool:
    """Whether the shell has read a whole statement: the last token of ``text`` is ``;``
    (a ``;`` inside a string or a comment does not count; an unterminated string is
    incomplete), or the text is one of ``help``, ``exit``, ``quit`` on its own."""
    import lark

    if text.strip().lower() in SHELL_WORDS:
        return True
    try:
        tokens = list(_lexer().lex(text))
    except lark.exceptions.UnexpectedCharacters as e:
        if text[e.pos_in_stream] in "'\"`":
            return False  # an unterminated string or quoted name: read on
        return text.rstrip().endswith(";")  # parse() reports the stray character
    return bool(tokens) and tokens[-1].type == "SEMICOLON"
