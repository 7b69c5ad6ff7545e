"""The operation and history model, and the harness's JSONL history format.

A history is a sequence of `Op` events in real-time order. A client operation appears as
two events from the same process: an ``invoke`` and later one completion, ``ok`` (it took
effect between the two), ``fail`` (it definitely did not take effect) or ``info``
(indeterminate: it may have taken effect at any time after its invocation, or never). An
invoke with no completion at the end of the history is treated like ``info``. Events of
any other type, or whose process is not an integer (nemesis events, for example), are kept
in the history but are not client operations; `pair_operations` skips them.

JSONL format: one JSON object per line with Jepsen's field names, written in this order::

    {"index": 0, "time": 1234, "process": 3, "type": "invoke", "f": "write",
     "key": "k1", "value": 4, "node": "n1", "error": null}

``index`` is strictly increasing through the file and ``time`` is nanoseconds from a
monotonic clock. `HistoryWriter` assigns both under one lock, so the file order, the index
order and the time order agree.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Final, TextIO

__all__ = [
    "COMPLETION_TYPES",
    "UNSET",
    "HistoryError",
    "HistoryWriter",
    "Op",
    "OpType",
    "Operation",
    "is_client_event",
    "op_from_dict",
    "op_to_dict",
    "pair_operations",
    "read_jsonl",
    "write_jsonl",
]


class HistoryError(ValueError):
    """A history that cannot be read or is malformed (the message names the line or event)."""


class OpType(StrEnum):
    """The event types of client operations; other strings are non-client events."""

    INVOKE = "invoke"
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


COMPLETION_TYPES: Final = frozenset({OpType.OK, OpType.FAIL, OpType.INFO})
_CLIENT_TYPES: Final = frozenset(OpType)
FIELDS: Final = ("index", "time", "process", "type", "f", "key", "value", "node", "error")


class _Unset(Enum):
    """Type of `UNSET`, the "argument not given" sentinel (distinct from a null value)."""

    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET


@dataclass(frozen=True, slots=True)
class Op:
    """One history event. ``type`` is a plain string so that non-client events survive."""

    index: int
    time: int
    process: int | str
    type: str
    f: str
    key: Any = None
    value: Any = None
    node: str | None = None
    error: str | None = None


def is_client_event(op: Op) -> bool:
    """True for invoke/ok/fail/info events of an integer process (not a nemesis event)."""
    return (
        op.type in _CLIENT_TYPES
        and isinstance(op.process, int)
        and not isinstance(op.process, bool)
    )


@dataclass(frozen=True, slots=True)
class Operation:
    """A client operation: its invoke event and its completion (None if it never completed).

    ``type`` is the completion type, with a missing completion reported as ``info``.
    ``value`` is the value that describes what the operation did: the completion's value
    for ``ok`` (a read's result, a write's value) and the invocation's value otherwise.
    """

    invoke: Op
    completion: Op | None

    @property
    def process(self) -> int | str:
        return self.invoke.process

    @property
    def f(self) -> str:
        return self.invoke.f

    @property
    def key(self) -> Any:
        return self.invoke.key

    @property
    def type(self) -> OpType:
        return OpType.INFO if self.completion is None else OpType(self.completion.type)

    @property
    def value(self) -> Any:
        if self.completion is not None and self.completion.type == OpType.OK:
            return self.completion.value
        return self.invoke.value

    @property
    def invoke_index(self) -> int:
        return self.invoke.index

    @property
    def complete_index(self) -> int | None:
        """Index of the completion; None when the operation never completed."""
        return None if self.completion is None else self.completion.index


def pair_operations(history: Iterable[Op]) -> tuple[Operation, ...]:
    """Pair each client invoke with its process's next completion, in invocation order.

    Non-client events are skipped. Raises HistoryError for a completion with no pending
    invoke, a second invoke while one is pending, or a completion whose ``f`` or ``key``
    differs from its invoke.
    """
    pending: dict[int | str, int] = {}
    invokes: list[Op] = []
    completions: list[Op | None] = []
    for op in history:
        if not is_client_event(op):
            continue
        if op.type == OpType.INVOKE:
            if op.process in pending:
                raise HistoryError(f"process {op.process} invoked again at index {op.index}")
            pending[op.process] = len(invokes)
            invokes.append(op)
            completions.append(None)
            continue
        slot = pending.pop(op.process, None)
        if slot is None:
            raise HistoryError(f"completion at index {op.index} has no pending invoke")
        _check_completion_matches(invokes[slot], op)
        completions[slot] = op
    return tuple(Operation(i, c) for i, c in zip(invokes, completions, strict=True))


def _check_completion_matches(invoke: Op, completion: Op) -> None:
    if invoke.f != completion.f or invoke.key != completion.key:
        raise HistoryError(
            f"completion at index {completion.index} ({completion.f} {completion.key!r}) does"
            f" not match its invoke at index {invoke.index} ({invoke.f} {invoke.key!r})"
        )


# ----------------------------------------------------------------------------- JSONL


def op_to_dict(op: Op) -> dict[str, Any]:
    """The JSON object of an event, fields in the canonical order."""
    return {name: getattr(op, name) for name in FIELDS}


_REQUIRED: Final = {
    "index": int,
    "time": int,
    "process": (int, str),
    "type": str,
    "f": str,
}
_KIND_NAMES: Final = {
    "index": "an integer",
    "time": "an integer",
    "process": "an integer or string",
    "type": "a string",
    "f": "a string",
}


def op_from_dict(obj: object, where: str = "event") -> Op:
    """Build an Op from a decoded JSON object; raise HistoryError naming ``where``."""
    if not isinstance(obj, dict):
        raise HistoryError(f"{where}: expected a JSON object")
    for name, kinds in _REQUIRED.items():
        field = obj.get(name)
        if not isinstance(field, kinds) or isinstance(field, bool):
            raise HistoryError(f"{where}: field {name!r} is missing or not {_KIND_NAMES[name]}")
    for name in ("node", "error"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise HistoryError(f"{where}: field {name!r} must be a string or null")
    if isinstance(obj.get("key"), (list, dict)):
        raise HistoryError(f"{where}: field 'key' must be a JSON scalar or null")
    return Op(**{name: obj.get(name) for name in FIELDS})


def _encode(op: Op) -> str:
    return json.dumps(op_to_dict(op), separators=(", ", ": "), ensure_ascii=False)


def write_jsonl(path: str | Path, history: Iterable[Op]) -> None:
    """Write a whole history to ``path`` (truncating it), one JSON object per line."""
    with open(path, "w", encoding="utf-8") as out:
        for op in history:
            out.write(_encode(op) + "\n")


def read_jsonl(path: str | Path) -> tuple[Op, ...]:
    """Read a JSONL history. Blank lines are skipped.

    Raises HistoryError (with the line number) for invalid JSON, a malformed event, or an
    ``index`` that does not strictly increase.
    """
    with open(path, encoding="utf-8") as lines:
        return tuple(_parse_jsonl_lines(lines, str(path)))


def _parse_jsonl_lines(lines: Iterable[str], name: str) -> Iterator[Op]:
    last_index: int | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HistoryError(f"{where}: invalid JSON: {exc.msg}")
        op = op_from_dict(obj, where)
        if last_index is not None and op.index <= last_index:
            raise HistoryError(f"{where}: index {op.index} does not increase")
        last_index = op.index
        yield op


class HistoryWriter:
    """Records a history as JSONL while a test runs.

    Each method writes and flushes one line before returning, so a crash leaves a valid
    prefix. ``index`` (0, 1, 2, ...) and ``time`` (``clock()``, by default
    ``time.monotonic_ns``) are assigned under one lock together with the write, so all
    methods are safe to call from any thread and the file is in index and time order.
    The file is truncated on open. Use as a context manager or call `close`.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], int] = time.monotonic_ns):
        self._lock = threading.Lock()
        self._clock = clock
        self._next_index = 0
        self._file: TextIO = open(path, "w", encoding="utf-8")  # noqa: SIM115

    def invoke(
        self, process: int, f: str, key: Any = None, value: Any = None, node: str | None = None
    ) -> Op:
        """Record that ``process`` invokes ``f``; return the event to pass to `complete`."""
        return self.event(process, OpType.INVOKE, f, key, value, node)

    def complete(
        self,
        op: Op,
        type: str,
        value: Any | _Unset = UNSET,
        error: str | None = None,
        node: str | _Unset | None = UNSET,
    ) -> Op:
        """Record the completion (``ok``, ``fail`` or ``info``) of the invoke event ``op``.

        ``value`` and ``node`` default to the invoke's (a read passes the value it read).
        Raises ValueError if ``op`` is not an invoke or ``type`` is not a completion type.
        """
        if op.type != OpType.INVOKE:
            raise ValueError(f"complete() needs an invoke event, got {op.type!r}")
        if type not in COMPLETION_TYPES:
            raise ValueError(f"completion type must be ok, fail or info, not {type!r}")
        value = op.value if value is UNSET else value
        node = op.node if node is UNSET else node
        return self.event(op.process, type, op.f, op.key, value, node, error)

    def event(
        self,
        process: int | str,
        type: str,
        f: str,
        key: Any = None,
        value: Any = None,
        node: str | None = None,
        error: str | None = None,
    ) -> Op:
        """Record any event, e.g. ``event("nemesis", "nemesis", "partition", value=...)``."""
        with self._lock:
            op = Op(self._next_index, self._clock(), process, str(type), f, key, value, node, error)
            self._file.write(_encode(op) + "\n")
            self._file.flush()
            self._next_index += 1
        return op

    def close(self) -> None:
        """Close the file; later calls to the writer raise ValueError."""
        with self._lock:
            self._file.close()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
