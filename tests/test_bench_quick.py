"""CI smoke run of the peer benchmark (`benchmarks/run.py --quick`): it runs end to end and our
checkpoints restore every quick notebook exactly. Times are the benchmark's job, not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_benchmark_runs_and_ours_restores_exactly(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=850,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    notebooks = json.loads(out.read_text())["notebooks"]
    assert len(notebooks) >= 3
    for name, notebook in notebooks.items():
        for mode in ("ours-balanced", "ours-store-all"):
            outcome = notebook["outcomes"][mode]
            assert outcome["status"] == "ok" and outcome["correct"] is True, (name, outcome)
    # The plots of a quick run go next to its JSON, never over the committed full results.
    assert (tmp_path / "restore_time-quick.png").stat().st_size > 0
