"""The README's quick start runs as written (against a cluster of the test's own)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.jepsen.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]


def quickstart_block() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- quickstart -->\s*```bash\n(.*?)```\s*<!-- /quickstart -->", text, re.S)
    assert match, "README has no quick start block"
    return match.group(1)


def test_the_readme_quick_start_runs(shared_cluster: Cluster) -> None:
    script = quickstart_block().replace("127.0.0.1:3000", ",".join(shared_cluster.hosts))
    assert ".venv/bin/raftstore put" in script
    venv = Path(__import__("sys").executable).parent.parent
    script = script.replace(".venv/", f"{venv}/")
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, f"stdout:\n{out.stdout}\nstderr:\n{out.stderr}\nscript:\n{script}"
    assert '"name": "Alice"' in out.stdout
    assert "leader=" in out.stdout
    assert "stale compare-and-set refused" in out.stdout
    assert "deleted" in out.stdout
