"""The soak (slow tier): 10 minutes at 80 % of the measured capacity with a rolling
restart in the middle (see soak.py for what it runs and its pass marks).

RAFTSTORE_SOAK_SECONDS shortens it (e.g. 120 for a quick look)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.soak.soak import soak


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_soak_memory_stays_flat_and_history_valid_across_a_rolling_restart(
    tmp_path: Path,
) -> None:
    seconds = float(os.environ.get("RAFTSTORE_SOAK_SECONDS", "600"))
    figures = soak(seconds, tmp_path / "soak", warm_s=min(60.0, seconds / 5))
    print(json.dumps(figures, indent=1))
    assert figures["jepsen"]["exit"] == "OK", figures["problems"]
    assert figures["restart_window_s"] is not None, "the rolling restart did not happen"
    assert not figures["problems"], figures["problems"]
