"""The long Jepsen tier (``slow``): every workload under every nemesis family.

    RAFTSTORE_JEPSEN_MINUTES=5 RAFTSTORE_JEPSEN_SEED=1 \\
        RAFTSTORE_JEPSEN_OUT=/tmp/jepsen-long .venv/bin/python -m pytest -m slow tests/jepsen_tier

Each of the 36 runs (6 workloads, set-scan and set-query included, times 6 families) has
``RAFTSTORE_JEPSEN_MINUTES`` minutes of faults (default 5). With
``RAFTSTORE_JEPSEN_OUT`` set, each run's directory (history, nemesis log, node logs,
results.json) is kept as ``$RAFTSTORE_JEPSEN_OUT/<workload>-<family>``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.jepsen.runner import run, summary
from tests.jepsen.workloads import WORKLOADS

MINUTES = float(os.environ.get("RAFTSTORE_JEPSEN_MINUTES", "5"))
SEED = int(os.environ.get("RAFTSTORE_JEPSEN_SEED", "1"))
OUT = os.environ.get("RAFTSTORE_JEPSEN_OUT")
FAMILIES = ("kill", "pause", "partition", "failpoint", "membership", "membership,kill")
OVERHEAD_S = 300  # start-up, warm-up, recovery, final reads and checking, with margin


@pytest.mark.slow
@pytest.mark.timeout(int(MINUTES * 60) + OVERHEAD_S)
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_a_long_run_passes_every_check(tmp_path: Path, workload: str, family: str) -> None:
    out = Path(OUT) / f"{workload}-{family}" if OUT else tmp_path / "run"
    result = run(workload, family, MINUTES * 60, SEED, out)
    print(summary(result))
    assert result.passed, summary(result)
    assert result.results["plan"], "the nemesis planned no fault"
