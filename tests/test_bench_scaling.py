"""Smoke test of the scaling benchmark (benchmarks/scaling.py) on a tiny state and history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import scaling


@pytest.mark.slow
def test_scaling_smoke_writes_tables_and_plots(tmp_path: Path) -> None:
    assert scaling.main(["--sizes-mb", "1", "--history", "5", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "scaling.json").read_text())
    assert [p["size_mb"] for p in data["state"]] == [1.0]
    assert [p["cells"] for p in data["history"]] == [5]
    for point in (*data["state"], *data["history"]):
        assert set(point["modes"]) == {"store-all", "balanced"}
        # every restored kernel read back the same values as the original one
        assert all(mode["same"] for mode in point["modes"].values()), point["modes"]
    assert data["history"][0]["modes"]["balanced"]["graph_executions"] == 5
    assert "## State size" in (tmp_path / "scaling.md").read_text()
    assert (tmp_path / "scaling_state.png").stat().st_size > 0
    assert (tmp_path / "scaling_history.png").stat().st_size > 0
