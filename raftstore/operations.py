"""What each ``OpType`` of an ``Operate`` does to a record's bins (pure, no I/O).

``apply_ops(bins, ops)`` runs the ops in order on copies and returns the final bins and
the (bin, value) results; it never mutates its input, so a failing op leaves nothing
changed. Record metadata (generation, expiry, policies) is the state machine's concern.

Semantics follow Aerospike's where they exist:

- Negative list indexes count from the end. Single-element ops (LIST_GET, LIST_SET,
  LIST_POP) need an existing element; LIST_INSERT accepts ``-size..size`` (``size``
  appends; no null padding); range ops (LIST_GET_RANGE, LIST_REMOVE) accept a start in
  ``-size..size`` and clip the count to the end. Anything else raises OpNotApplicable.
- An op on a bin of another type raises BinTypeError; so does INCR/MAP_INCREMENT mixing
  int and float, and APPEND/PREPEND mixing str and bytes.
- A modifying list or map op on an absent bin creates the list or map; reads of an
  absent bin: READ -> None, LIST_SIZE/MAP_SIZE -> 0, MAP_GET_BY_KEY -> None,
  LIST_GET_RANGE -> [] (start 0), LIST_GET/LIST_POP -> OpNotApplicable.
- TOUCH needs a record (RecordNotFound otherwise) and changes no bin; DELETE removes
  every bin and the record (a no-op when there is none); later write ops recreate it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from raftstore.commands import READ_ONLY_OPS, Op, OpType
from raftstore.errors import (
    BinTypeError,
    OpNotApplicable,
    ParameterError,
    RecordNotFound,
)
from raftstore.keys import INT64_MAX, INT64_MIN
from raftstore.values import (
    Value,
    normalize_map_key,
    normalize_value,
    type_name,
    validate_bin_name,
)

Bins = Mapping[str, Value]
OpResults = tuple[tuple[str, Value], ...]


@dataclass(frozen=True, slots=True)
class OpsOutcome:
    """Final bins (None: no record) and the results of the ops that return a value."""

    bins: dict[str, Value] | None
    results: OpResults


def validate_ops(ops: object) -> tuple[Op, ...]:
    """Return ``ops`` as a non-empty tuple of Op with known types; else ParameterError."""
    if not isinstance(ops, (tuple, list)) or not ops:
        raise ParameterError("operate needs a non-empty sequence of ops")
    for op in ops:
        if not isinstance(op, Op):
            raise ParameterError(f"operate ops must be Op values, not {type_name(op)}")
        try:
            OpType(op.type)
        except ValueError:
            raise ParameterError(f"unknown op type {op.type!r}")
    return tuple(ops)


def is_read_only(ops: Iterable[Op]) -> bool:
    """True when no op writes (every op type is in READ_ONLY_OPS)."""
    return all(op.type in READ_ONLY_OPS for op in ops)


def apply_ops(bins: Bins | None, ops: Iterable[Op]) -> OpsOutcome:
    """Apply ``ops`` in order to ``bins`` (None: the record is absent).

    Returns the final bins (None or empty: no record remains) and the results.
    Raises ParameterError, BinNameTooLong, BinTypeError, OpNotApplicable or
    RecordNotFound (TOUCH without a record); the input is never mutated.
    """
    current: Bins | None = bins
    results: list[tuple[str, Value]] = []
    for op in ops:
        current, produced = apply_op(current, op)
        results.extend(produced)
    return OpsOutcome(None if current is None else dict(current), tuple(results))


def apply_op(bins: Bins | None, op: Op) -> tuple[Bins | None, OpResults]:
    """Apply one op; return (new bins, results). Unchanged bins come back as given."""
    kind = OpType(op.type)
    if kind is OpType.DELETE:
        return None, ()
    if kind is OpType.TOUCH:
        if bins is None:
            raise RecordNotFound("touch op on a record that does not exist")
        return bins, ()
    start: Bins = {} if bins is None else bins
    updated, results = _HANDLERS[kind](start, op)
    return (bins if updated is None else updated), results


# --- handlers: (bins, op) -> (new bins or None when unchanged, results) ---------------

Handler = Callable[[Bins, Op], tuple[dict[str, Value] | None, OpResults]]


def _with_bin(bins: Bins, name: str, value: Value) -> dict[str, Value]:
    updated = dict(bins)
    updated[name] = value
    return updated


def _without_bin(bins: Bins, name: str) -> dict[str, Value]:
    return {k: v for k, v in bins.items() if k != name}


def _read(bins: Bins, op: Op) -> tuple[None, OpResults]:
    if op.bin == "":
        return None, tuple((name, bins[name]) for name in sorted(bins))
    name = validate_bin_name(op.bin)
    return None, ((name, bins.get(name)),)


def _write(bins: Bins, op: Op) -> tuple[dict[str, Value], OpResults]:
    name = validate_bin_name(op.bin)
    if op.value is None:
        return _without_bin(bins, name), ()
    return _with_bin(bins, name, normalize_value(op.value, name)), ()


def _number(value: object, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{what}: increment must be int or float, not {type_name(value)}")
    return normalize_value(value, what)


def _add(current: Value, delta: int | float, what: str) -> int | float:
    """current + delta with Aerospike's typing: int+int or float+float, int64 range."""
    if type(current) is not type(delta):
        raise BinTypeError(f"{what}: cannot add {type_name(delta)} to {type_name(current)}")
    total = current + delta
    if isinstance(total, int) and not INT64_MIN <= total <= INT64_MAX:
        raise ParameterError(f"{what}: {current} + {delta} overflows int64")
    return total


def _incr(bins: Bins, op: Op) -> tuple[dict[str, Value], OpResults]:
    name = validate_bin_name(op.bin)
    what = f"bin {name!r}"
    delta = _number(op.value, what)
    total = _add(bins.get(name, type(delta)(0)), delta, what)
    return _with_bin(bins, name, total), ()


def _concat(bins: Bins, op: Op, prepend: bool) -> tuple[dict[str, Value], OpResults]:
    name = validate_bin_name(op.bin)
    if not isinstance(op.value, (str, bytes, bytearray)):
        raise ParameterError(
            f"bin {name!r}: can only append str or bytes, not {type_name(op.value)}"
        )
    piece = normalize_value(op.value, name)
    current = bins.get(name, type(piece)())
    if type(current) is not type(piece):
        raise BinTypeError(
            f"bin {name!r} holds {type_name(current)}; cannot append {type_name(piece)}"
        )
    return _with_bin(bins, name, piece + current if prepend else current + piece), ()


# --- lists ----------------------------------------------------------------------------


def _list_of(bins: Bins, name: str) -> list[Value]:
    """The bin's list ([] when absent); BinTypeError if the bin holds something else."""
    current = bins.get(name, [])
    if not isinstance(current, list):
        raise BinTypeError(f"bin {name!r} holds {type_name(current)}, not a list")
    return current


def _int_arg(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{what} must be an int, not {type_name(value)}")
    return value


def _position(index: object, size: int, allow_end: bool) -> int:
    """Resolve a possibly negative index; OpNotApplicable when out of range."""
    i = _int_arg(index, "list index")
    resolved = i + size if i < 0 else i
    limit = size if allow_end else size - 1
    if not 0 <= resolved <= limit:
        raise OpNotApplicable(f"list index {i} is out of range for a list of size {size}")
    return resolved


def _span(op: Op, size: int, default_count: int | None) -> tuple[int, int]:
    """(start, stop) of a range op; a count of None means ``default_count`` (None: to the end)."""
    start = _position(op.index, size, allow_end=True)
    count = _int_arg(op.count, "count") if op.count is not None else default_count
    if count is None:
        return start, size
    if count < 0:
        raise ParameterError(f"count must be >= 0, not {count}")
    return start, min(size, start + count)


def _list_op(fn: Callable[[list[Value], Op, str], Value], returns: bool, writes: bool) -> Handler:
    """Build a handler that runs ``fn`` on a copy of the bin's list."""

    def handler(bins: Bins, op: Op) -> tuple[dict[str, Value] | None, OpResults]:
        name = validate_bin_name(op.bin)
        items = _list_of(bins, name)
        items = list(items) if writes else items
        value = fn(items, op, name)
        updated = _with_bin(bins, name, items) if writes else None
        return updated, (((name, value),) if returns else ())

    return handler


def _item(op: Op, name: str) -> Value:
    return normalize_value(op.value, name, depth=1)


def _list_append(items: list[Value], op: Op, name: str) -> int:
    items.append(_item(op, name))
    return len(items)


def _list_append_items(items: list[Value], op: Op, name: str) -> int:
    if not isinstance(op.value, (list, tuple)):
        raise ParameterError(f"bin {name!r}: items must be a list, not {type_name(op.value)}")
    items.extend(normalize_value(op.value, name))
    return len(items)


def _list_insert(items: list[Value], op: Op, name: str) -> int:
    items.insert(_position(op.index, len(items), allow_end=True), _item(op, name))
    return len(items)


def _list_set(items: list[Value], op: Op, name: str) -> None:
    items[_position(op.index, len(items), allow_end=False)] = _item(op, name)


def _list_get(items: list[Value], op: Op, name: str) -> Value:
    return items[_position(op.index, len(items), allow_end=False)]


def _list_get_range(items: list[Value], op: Op, name: str) -> list[Value]:
    start, stop = _span(op, len(items), default_count=None)
    return items[start:stop]


def _list_pop(items: list[Value], op: Op, name: str) -> Value:
    return items.pop(_position(op.index, len(items), allow_end=False))


def _list_remove(items: list[Value], op: Op, name: str) -> int:
    start, stop = _span(op, len(items), default_count=1)
    del items[start:stop]
    return stop - start


def _list_size(items: list[Value], op: Op, name: str) -> int:
    return len(items)


def _list_clear(items: list[Value], op: Op, name: str) -> None:
    items.clear()


# --- maps -----------------------------------------------------------------------------


def _map_of(bins: Bins, name: str) -> dict[Value, Value]:
    """The bin's map ({} when absent); BinTypeError if the bin holds something else."""
    current = bins.get(name, {})
    if not isinstance(current, dict):
        raise BinTypeError(f"bin {name!r} holds {type_name(current)}, not a map")
    return current


def _map_op(
    fn: Callable[[dict[Value, Value], Op, str], Value], returns: bool, writes: bool
) -> Handler:
    """Build a handler that runs ``fn`` on a copy of the bin's map."""

    def handler(bins: Bins, op: Op) -> tuple[dict[str, Value] | None, OpResults]:
        name = validate_bin_name(op.bin)
        entries = _map_of(bins, name)
        entries = dict(entries) if writes else entries
        value = fn(entries, op, name)
        updated = _with_bin(bins, name, entries) if writes else None
        return updated, (((name, value),) if returns else ())

    return handler


def _map_put(entries: dict[Value, Value], op: Op, name: str) -> int:
    entries[normalize_map_key(op.map_key, name)] = _item(op, name)
    return len(entries)


def _map_put_items(entries: dict[Value, Value], op: Op, name: str) -> int:
    if not isinstance(op.value, dict):
        raise ParameterError(f"bin {name!r}: items must be a map, not {type_name(op.value)}")
    entries.update(normalize_value(op.value, name))
    return len(entries)


def _map_get_by_key(entries: dict[Value, Value], op: Op, name: str) -> Value:
    return entries.get(normalize_map_key(op.map_key, name))


def _map_remove_by_key(entries: dict[Value, Value], op: Op, name: str) -> Value:
    return entries.pop(normalize_map_key(op.map_key, name), None)


def _map_increment(entries: dict[Value, Value], op: Op, name: str) -> int | float:
    key = normalize_map_key(op.map_key, name)
    what = f"bin {name!r} key {key!r}"
    delta = _number(op.value, what)
    entries[key] = _add(entries.get(key, type(delta)(0)), delta, what)
    return entries[key]


def _map_size(entries: dict[Value, Value], op: Op, name: str) -> int:
    return len(entries)


def _map_clear(entries: dict[Value, Value], op: Op, name: str) -> None:
    entries.clear()


_HANDLERS: dict[OpType, Handler] = {
    OpType.READ: _read,
    OpType.WRITE: _write,
    OpType.INCR: _incr,
    OpType.APPEND: lambda bins, op: _concat(bins, op, prepend=False),
    OpType.PREPEND: lambda bins, op: _concat(bins, op, prepend=True),
    OpType.LIST_APPEND: _list_op(_list_append, returns=True, writes=True),
    OpType.LIST_APPEND_ITEMS: _list_op(_list_append_items, returns=True, writes=True),
    OpType.LIST_INSERT: _list_op(_list_insert, returns=True, writes=True),
    OpType.LIST_SET: _list_op(_list_set, returns=False, writes=True),
    OpType.LIST_GET: _list_op(_list_get, returns=True, writes=False),
    OpType.LIST_GET_RANGE: _list_op(_list_get_range, returns=True, writes=False),
    OpType.LIST_POP: _list_op(_list_pop, returns=True, writes=True),
    OpType.LIST_REMOVE: _list_op(_list_remove, returns=True, writes=True),
    OpType.LIST_SIZE: _list_op(_list_size, returns=True, writes=False),
    OpType.LIST_CLEAR: _list_op(_list_clear, returns=False, writes=True),
    OpType.MAP_PUT: _map_op(_map_put, returns=True, writes=True),
    OpType.MAP_PUT_ITEMS: _map_op(_map_put_items, returns=True, writes=True),
    OpType.MAP_GET_BY_KEY: _map_op(_map_get_by_key, returns=True, writes=False),
    OpType.MAP_REMOVE_BY_KEY: _map_op(_map_remove_by_key, returns=True, writes=True),
    OpType.MAP_INCREMENT: _map_op(_map_increment, returns=True, writes=True),
    OpType.MAP_SIZE: _map_op(_map_size, returns=True, writes=False),
    OpType.MAP_CLEAR: _map_op(_map_clear, returns=False, writes=True),
}
