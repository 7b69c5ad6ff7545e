"""Unit tests of the Jepsen-style suite's history formats, checkers and CLI."""
