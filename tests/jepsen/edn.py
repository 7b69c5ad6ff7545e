"""A strict reader for the small subset of EDN that Jepsen history lines use.

Supported: ``nil``, ``true``, ``false``, keywords (``:invoke``, ``:my.ns/name``), strings
with the escapes ``\\" \\\\ \\n \\t \\r \\b \\f \\uXXXX``, integers (optionally signed, optional
``N`` suffix), vectors ``[...]`` and maps ``{...}``; commas are whitespace. Anything else
(floats, symbols, sets, tagged literals, comments, duplicate map keys, trailing text) raises
EdnError with the column. Keywords decode to `Keyword`, a str subclass without the colon,
so ``Keyword("ok") == "ok"`` while ``isinstance(value, Keyword)`` tells them apart.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["EdnError", "Keyword", "parse_map_line"]


class EdnError(ValueError):
    """Text that is not in the supported EDN subset (the message gives the column)."""


class Keyword(str):
    """An EDN keyword, held without its leading colon."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Keyword({str(self)!r})"


_WHITESPACE: Final = " \t\r\n,"
_KEYWORD: Final = re.compile(r":([A-Za-z*+!_?<>=.\-][A-Za-z0-9*+!_?<>=./\-#:]*)")
_INTEGER: Final = re.compile(r"[+-]?\d+N?")
_DELIMITERS: Final = frozenset(_WHITESPACE + '{}[]()"')
_ESCAPES: Final = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_WORDS: Final = {"nil": None, "true": True, "false": False}


def parse_map_line(line: str) -> dict[Any, Any]:
    """Parse one line holding exactly one EDN map; raise EdnError otherwise."""
    reader = _Reader(line)
    reader.skip_whitespace()
    if reader.peek() != "{":
        raise reader.error("expected '{'")
    result = reader.read_value()
    reader.skip_whitespace()
    if reader.pos != len(line):
        raise reader.error("unexpected text after the map")
    return result


class _Reader:
    """Recursive-descent reader over one string; ``pos`` is the next unread character."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, message: str) -> EdnError:
        return EdnError(f"column {self.pos + 1}: {message}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_whitespace(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def read_value(self) -> Any:
        char = self.peek()
        if char == "{":
            return self._read_map()
        if char == "[":
            return self._read_vector()
        if char == '"':
            return self._read_string()
        if char == ":":
            return self._read_keyword()
        if char.isdigit() or (char in "+-" and self.text[self.pos + 1 : self.pos + 2].isdigit()):
            return self._read_integer()
        return self._read_word()

    def _read_map(self) -> dict[Any, Any]:
        self.pos += 1
        result: dict[Any, Any] = {}
        for key in self._read_items("}"):
            if not _is_hashable(key):
                raise self.error("map keys must be scalars")
            if key in result:
                raise self.error(f"duplicate map key {key!r}")
            self.skip_whitespace()
            if self.peek() == "}":
                raise self.error(f"map key {key!r} has no value")
            result[key] = self.read_value()
        return result

    def _read_vector(self) -> list[Any]:
        self.pos += 1
        return list(self._read_items("]"))

    def _read_items(self, closing: str):
        """Yield values up to ``closing``, consuming it; the caller may read more in between."""
        while True:
            self.skip_whitespace()
            if self.pos >= len(self.text):
                raise self.error(f"missing {closing!r}")
            if self.peek() == closing:
                self.pos += 1
                return
            yield self.read_value()

    def _read_string(self) -> str:
        self.pos += 1
        parts: list[str] = []
        while True:
            end = self._next_special()
            parts.append(self.text[self.pos : end])
            self.pos = end
            if self.peek() == '"':
                self.pos += 1
                return "".join(parts)
            parts.append(self._read_escape())

    def _next_special(self) -> int:
        quote, backslash = self.text.find('"', self.pos), self.text.find("\\", self.pos)
        candidates = [i for i in (quote, backslash) if i >= 0]
        if not candidates:
            self.pos = len(self.text)
            raise self.error("unterminated string")
        return min(candidates)

    def _read_escape(self) -> str:
        code = self.text[self.pos + 1 : self.pos + 2]
        if code in _ESCAPES:
            self.pos += 2
            return _ESCAPES[code]
        digits = self.text[self.pos + 2 : self.pos + 6]
        if code == "u" and len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
            self.pos += 6
            return chr(int(digits, 16))
        raise self.error(f"invalid escape \\{code}")

    def _read_keyword(self) -> Keyword:
        match = _KEYWORD.match(self.text, self.pos)
        if match is None:
            raise self.error("invalid keyword")
        self.pos = match.end()
        self._expect_delimiter()
        return Keyword(match.group(1))

    def _read_integer(self) -> int:
        match = _INTEGER.match(self.text, self.pos)
        assert match is not None  # read_value saw a digit
        self.pos = match.end()
        self._expect_delimiter()
        return int(match.group().rstrip("N"))

    def _read_word(self) -> Any:
        end = self.pos
        while end < len(self.text) and self.text[end] not in _DELIMITERS:
            end += 1
        word = self.text[self.pos : end]
        if word not in _WORDS:
            raise self.error(f"unsupported EDN element {word or self.peek()!r}")
        self.pos = end
        return _WORDS[word]

    def _expect_delimiter(self) -> None:
        if self.pos < len(self.text) and self.text[self.pos] not in _DELIMITERS:
            raise self.error(f"unexpected {self.text[self.pos]!r}")


def _is_hashable(value: Any) -> bool:
    return not isinstance(value, (list, dict))
