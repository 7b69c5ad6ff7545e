"""Runs the datadriven transcripts of tests/unit/testdata/state_machine.

Each transcript reads as a session with the state machine: directives, then the Results
it must return. Regenerate expected outputs with ``REWRITE=1`` and review the diff.
"""

from pathlib import Path

import pytest

from tests.datadriven import run_file
from tests.unit.state_machine_harness import Harness

TESTDATA = Path(__file__).parent / "testdata" / "state_machine"
TRANSCRIPTS = sorted(TESTDATA.glob("*.txt"))


def test_transcripts_exist() -> None:
    assert len(TRANSCRIPTS) >= 10


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_state_machine_transcript(path: Path) -> None:
    run_file(str(path), Harness().handle)
