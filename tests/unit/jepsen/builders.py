"""Compact construction of hand-written histories for the tests.

`history` takes rows ``(process, type, f, value)`` or ``(process, type, f, value, key)`` in
real-time order and numbers them; ``index`` and ``time`` are the row's position.
"""

from __future__ import annotations

from typing import Any

from tests.jepsen.history import Op


def history(*rows: tuple[Any, ...]) -> tuple[Op, ...]:
    """Events from rows (process, type, f, value[, key]); see the module docstring."""
    ops = []
    for index, row in enumerate(rows):
        process, kind, f, value, *rest = row
        key = rest[0] if rest else None
        ops.append(Op(index, index, process, kind, f, key, value))
    return tuple(ops)
