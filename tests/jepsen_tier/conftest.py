"""The Jepsen tier: every test here is marked ``jepsen`` (``test_long.py`` also ``slow``)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/jepsen_tier" in str(item.fspath):
            item.add_marker(pytest.mark.jepsen)
