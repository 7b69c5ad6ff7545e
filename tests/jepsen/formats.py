"""Readers for foreign history formats, and `read_history`, which detects the format.

Three formats are understood (see DESIGN.md for their exact shapes):

- ``jsonl``: the harness's own format (`history.read_jsonl`).
- ``etcd``: Jepsen etcd logs, ``INFO  jepsen.util - <process> <type> <f> <value>`` lines;
  other lines are ignored. A single register (key None). ``:timed-out`` as a value becomes
  ``error="timed-out"`` with value None.
- ``edn``: one EDN map per line, ``{:process 9, :type :invoke, :f :append, :key "0", ...}``.

Both foreign formats lack the harness's clock, so their events get ``index`` = ``time`` =
the event's position (0, 1, 2, ...), which is their real-time order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from tests.jepsen.edn import EdnError, Keyword, parse_map_line
from tests.jepsen.history import HistoryError, Op, read_jsonl

__all__ = ["FORMATS", "detect_format", "parse_edn_lines", "parse_etcd_lines", "read_history"]

FORMATS: Final = ("jsonl", "etcd", "edn")
ETCD_PREFIX: Final = "INFO  jepsen.util - "
_ETCD_VALUE: Final = re.compile(r"nil|:[\w-]+|-?\d+|\[\s*(\S+)\s+(\S+)\s*\]")
_EXTENSIONS: Final = {".jsonl": "jsonl", ".edn": "edn"}


def read_history(path: str | Path, fmt: str | None = None) -> tuple[Op, ...]:
    """Read a history file in ``fmt`` (one of FORMATS), detected when None.

    Raises HistoryError for an unknown format or a malformed file, OSError if unreadable.
    """
    fmt = fmt or detect_format(path)
    if fmt == "jsonl":
        return read_jsonl(path)
    with open(path, encoding="utf-8") as lines:
        if fmt == "etcd":
            return tuple(parse_etcd_lines(lines, str(path)))
        if fmt == "edn":
            return tuple(parse_edn_lines(lines, str(path)))
    raise HistoryError(f"unknown history format {fmt!r}; expected one of {FORMATS}")


def detect_format(path: str | Path) -> str:
    """Guess the format from the content, falling back to the extension.

    A line containing ETCD_PREFIX means ``etcd``; otherwise the first non-blank line decides:
    ``{"`` means ``jsonl`` and ``{:`` means ``edn``. Raises HistoryError if nothing matches.
    """
    with open(path, encoding="utf-8") as lines:
        first = _first_line_or_etcd(lines)
    if first == ETCD_PREFIX:
        return "etcd"
    if first.startswith('{"'):
        return "jsonl"
    if first.startswith("{:"):
        return "edn"
    fmt = _EXTENSIONS.get(Path(path).suffix)
    if fmt is None:
        raise HistoryError(f"{path}: cannot tell the history format")
    return fmt


def _first_line_or_etcd(lines: Iterable[str]) -> str:
    """ETCD_PREFIX if any line holds it, else the first non-blank line stripped (or "")."""
    first = ""
    for line in lines:
        if ETCD_PREFIX in line:
            return ETCD_PREFIX
        if not first:
            first = line.strip()
            if first.startswith("{"):
                return first
    return first


# ------------------------------------------------------------------------------ etcd


def parse_etcd_lines(lines: Iterable[str], name: str = "<etcd log>") -> Iterator[Op]:
    """Events of a Jepsen etcd log; lines without ETCD_PREFIX are skipped."""
    index = 0
    for number, line in enumerate(lines, start=1):
        start = line.find(ETCD_PREFIX)
        if start < 0:
            continue
        yield _parse_etcd_event(line[start + len(ETCD_PREFIX) :], index, f"{name}:{number}")
        index += 1


def _parse_etcd_event(text: str, index: int, where: str) -> Op:
    fields = text.split(None, 3)
    if len(fields) != 4 or not fields[0].isdigit():
        raise HistoryError(f"{where}: expected '<process> <type> <f> <value>'")
    process, kind, f, raw_value = fields
    if not (kind.startswith(":") and f.startswith(":")):
        raise HistoryError(f"{where}: type and f must be keywords")
    value, error = _parse_etcd_value(raw_value.strip(), where)
    return Op(index, index, int(process), kind[1:], f[1:], None, value, None, error)


def _parse_etcd_value(raw: str, where: str) -> tuple[Any, str | None]:
    """(value, error): nil, an integer, ``[old new]``, or a keyword such as ``:timed-out``."""
    match = _ETCD_VALUE.fullmatch(raw)
    if match is None:
        raise HistoryError(f"{where}: cannot parse value {raw!r}")
    if raw == "nil":
        return None, None
    if raw.startswith(":"):
        return None, raw[1:]
    if raw.startswith("["):
        return [_parse_etcd_scalar(part, where) for part in match.groups()], None
    return int(raw), None


def _parse_etcd_scalar(raw: str, where: str) -> int | None:
    if raw == "nil":
        return None
    try:
        return int(raw)
    except ValueError:
        raise HistoryError(f"{where}: cannot parse {raw!r} in a [old new] value")


# ------------------------------------------------------------------------------- EDN

_EDN_FIELDS: Final = ("process", "type", "f", "key", "value", "node", "error", "time", "index")


def parse_edn_lines(lines: Iterable[str], name: str = "<edn>") -> Iterator[Op]:
    """Events of an EDN history, one map per non-blank line.

    ``:process`` is an integer or a keyword (``:nemesis``); ``:type`` and ``:f`` are
    keywords; ``:key``, ``:value``, ``:node`` and ``:error`` are optional. Keyword values are
    turned into plain strings. Raises HistoryError for anything else.
    """
    index = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            event = parse_map_line(line)
        except EdnError as exc:
            raise HistoryError(f"{where}: {exc}")
        yield _edn_event(event, index, where)
        index += 1


def _edn_event(event: dict[Any, Any], index: int, where: str) -> Op:
    unknown = [k for k in event if not (isinstance(k, Keyword) and k in _EDN_FIELDS)]
    if unknown:
        raise HistoryError(f"{where}: unexpected field(s) {unknown}")
    process, kind, f = event.get("process"), event.get("type"), event.get("f")
    if not isinstance(process, (int, Keyword)) or isinstance(process, bool):
        raise HistoryError(f"{where}: :process must be an integer or a keyword")
    if not (isinstance(kind, Keyword) and isinstance(f, Keyword)):
        raise HistoryError(f"{where}: :type and :f must be keywords")
    node, error = event.get("node"), event.get("error")
    if not all(v is None or isinstance(v, str) for v in (node, error)):
        raise HistoryError(f"{where}: :node and :error must be strings or keywords")
    time = event.get("time", index)
    if not isinstance(time, int) or isinstance(time, bool):
        raise HistoryError(f"{where}: :time must be an integer")
    return Op(
        index,
        time,
        _plain(process),
        str(kind),
        str(f),
        _plain(event.get("key")),
        _plain(event.get("value")),
        _plain(node),
        _plain(error),
    )


def _plain(value: Any) -> Any:
    """Replace Keyword instances (recursively) with plain strings."""
    if isinstance(value, Keyword):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value
