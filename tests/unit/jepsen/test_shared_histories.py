"""The checker reproduces the published verdicts of the shared histories (Porcupine's data).

``histories/`` is a copy of ``../shared/histories`` (MIT, see its LICENSE-porcupine.md), kept
in the repository so that a clean checkout tests it wherever it is cloned.

The expected verdicts are copied from that directory's README. The files are listed here,
not globbed, so a missing directory or file fails the test instead of skipping it.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.jepsen.checkers import Verdict, check_history
from tests.jepsen.checkers.models import MODELS
from tests.jepsen.formats import read_history

HISTORIES = Path(__file__).resolve().parent / "histories"

LINEARIZABLE_ETCD = {2, 5, 7, 18, 25, 31, 38, 45, 48, 49, 51, 53, 56}
EXPECTED = {
    **{
        f"etcd_{i:03d}.log": Verdict.VALID if i in LINEARIZABLE_ETCD else Verdict.INVALID
        for i in range(60)
    },
    "kv_c01-ok.txt": Verdict.VALID,
    "kv_c01-bad.txt": Verdict.INVALID,
    "kv_c10-ok.txt": Verdict.VALID,
    "kv_c10-bad.txt": Verdict.INVALID,
}
SECONDS_PER_FILE = 1.0  # the README asks for "well under a second on one core"


def test_every_shared_history_file_has_an_expected_verdict():
    present = {p.name for p in HISTORIES.iterdir() if p.suffix in (".log", ".txt")}
    assert present == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_checker_reproduces_published_verdict_in_under_a_second(name):
    result = check_history(read_history(HISTORIES / name), time_limit=10 * SECONDS_PER_FILE)
    assert result.verdict is EXPECTED[name]
    assert result.elapsed < SECONDS_PER_FILE


@pytest.mark.parametrize("name", sorted(n for n, v in EXPECTED.items() if v is Verdict.INVALID))
def test_violation_prefix_is_a_legal_real_time_respecting_execution(name):
    result = check_history(read_history(HISTORIES / name))
    violation = result.violation
    assert violation is not None and violation.stuck is not None
    prefix = violation.longest_prefix
    assert violation.stuck not in prefix
    model = MODELS[result.model]
    state = model.init()
    for op in prefix:
        legal, state = model.step(state, model.prepare(op))
        assert legal, op
    for i, earlier in enumerate(prefix):
        assert all(_end(later) > earlier.invoke_index for later in prefix[i + 1 :])
    stuck = violation.stuck
    for op in violation.concurrent:
        assert op.invoke_index < _end(stuck) and _end(op) > stuck.invoke_index


def _end(op):
    """When an operation's effect must have happened by: its ok completion, else never."""
    return op.complete_index if op.type.value == "ok" else math.inf
