"""Migration between machines: checkpoint to S3 (moto) from one kernel, restore in another
process with a different working directory, user home and session key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.oracle import compare
from tests.utils import describe_session, execute, start_kernel, stop_kernel

CELLS = [
    "import numpy as np\nimport pandas as pd\nbase = np.arange(12.0).reshape(3, 4)\nrow = base[1]",
    "frame = pd.DataFrame(base, columns=list('abcd'))\nframe.loc[0, 'a'] = -5.0",
    "class Point:\n    def __init__(self, x):\n        self.x = x\npts = [Point(i) for i in range(3)]\nalias = pts[0]",
    "gen = (p.x for p in pts)",
]


def s3_env(endpoint: str, home: Path) -> dict[str, str]:
    return dict(
        os.environ,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        FSSPEC_S3_ENDPOINT_URL=endpoint,
        NO_PROXY="127.0.0.1,localhost",
        HOME=str(home),
    )


@pytest.mark.slow
def test_restore_from_s3_on_another_machine(s3_endpoint: str, tmp_path: Path) -> None:
    url = "s3://bucket/migration"
    machine_a, machine_b = tmp_path / "a", tmp_path / "b"
    machine_a.mkdir()
    machine_b.mkdir()
    km, kc = start_kernel(cwd=str(machine_a), env=s3_env(s3_endpoint, machine_a))
    try:
        for cell in CELLS:
            assert execute(kc, cell).ok
        saved = execute(kc, f"%checkpoint {url}")
        assert saved.ok, saved.stderr
        before = describe_session(kc)
    finally:
        stop_kernel(km, kc)
    # Another process, cwd and home; its session key (from its connection file) differs too.
    km, kc = start_kernel(cwd=str(machine_b), env=s3_env(s3_endpoint, machine_b))
    try:
        restored = execute(kc, f"%restore {url}")
        assert restored.ok, (restored.stdout, restored.stderr)
        after = describe_session(kc)
        assert compare(before, after) == []
        # The restored session's graph continues: a later checkpoint needs nothing old.
        assert execute(kc, "row[0] = 100.0").ok
        again = execute(kc, f"%checkpoint {url}")
        assert again.ok, again.stderr
    finally:
        stop_kernel(km, kc)


@pytest.mark.slow
def test_plan_follows_costs_and_alpha(tmp_path: Path) -> None:
    """A slow cell with a small result is stored, a fast cell with a big array recomputed, and
    alpha flips a borderline choice."""
    env = dict(os.environ, ELASTIC_STORE=str(tmp_path / "store"))
    km, kc = start_kernel(env=env)
    try:
        assert execute(kc, "import time\nimport numpy as np").ok
        assert execute(kc, "time.sleep(1.5)\nsmall = [1, 2, 3]").ok
        assert execute(kc, "big = np.zeros(50_000_000)").ok
        assert execute(kc, "time.sleep(0.5)\nmid = np.ones(2_000_000)").ok

        def decisions(mode: str) -> dict[str, str]:
            result = execute(kc, f"%elastic plan --mode {mode} --json")
            assert result.ok, result.stderr
            plan = json.loads(result.stdout)
            return {d["name"]: d["action"] for d in plan["decisions"]}

        balanced = decisions("balanced")
        assert balanced["small"] == "store"
        assert balanced["big"] == "recompute"
        # Checkpoint time weighs 1000x: storing 16 MB now costs more than the 0.5 s cell.
        assert decisions("1000")["mid"] == "recompute"
        # Checkpoint time is nearly free: reading 16 MB back beats re-running the cell.
        assert decisions("0.001")["mid"] == "store"
        assert decisions("store-all")["big"] == "store"
        assert set(decisions("rerun-all").values()) == {"recompute"}
    finally:
        stop_kernel(km, kc)
