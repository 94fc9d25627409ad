"""The store's reducers for what the coverage matrix found restored wrongly (in-process, fast).

pandas frames sharing data under copy-on-write, numpy views deep inside objects (statsmodels
results) and torch optimizers (their scheduler wrapper, flags and hooks).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.store.helpers import roundtrip

SHARING = {
    "column_of_two": "df = pd.DataFrame({'a': [1.0, 2.0], 'b': [3.0, 4.0]})\nother = df['a']",
    "renamed": "df = pd.DataFrame({'a': [1.0, 2.0], 'b': [3.0, 4.0]})\nother = df.rename(columns={'b': 'z'})",
    "subset": "df = pd.DataFrame({'a': [1.0, 2.0], 'b': [3.0, 4.0]})\nother = df[['a']]",
    "extension": "df = pd.DataFrame({'a': pd.array([1, 2], dtype='Int64')})\nother = df['a']",
    "reset_index": "df = pd.DataFrame({'a': [1.0, 2.0], 'b': ['x', 'y']})\nother = df.reset_index()",
}


@pytest.mark.parametrize("code", SHARING.values(), ids=list(SHARING))
def test_pandas_objects_sharing_data_stay_independent(code: str) -> None:
    ns: dict[str, Any] = {"pd": pd}
    exec(code, ns)
    df, other = ns["df"], ns["other"]
    expected_df, expected_other = df.copy(deep=True), other.copy(deep=True)
    loaded = roundtrip({"df": df, "other": other})
    df2, other2 = loaded["df"], loaded["other"]
    assert df2.equals(expected_df) and other2.equals(expected_other)
    df2.iloc[0, 0] = 100
    assert other2.equals(expected_other)
    df2.iloc[0, 0] = expected_df.iloc[0, 0]
    if isinstance(other2, pd.Series):
        other2.iloc[-1] = 7
    else:
        other2.iloc[-1, 0] = 7
    assert df2.equals(expected_df)


class _Results:
    """Like statsmodels' results: small views of an array, deep inside an object."""

    def __init__(self) -> None:
        self.params = np.arange(3.0)
        self.first = self.params[:1]
        self.rest = self.params[1:]


def test_small_views_of_a_stored_root_stay_views() -> None:
    results = _Results()
    loaded = roundtrip({"results": {"fit": results}})["results"]["fit"]
    assert np.shares_memory(loaded.first, loaded.params)
    assert np.shares_memory(loaded.rest, loaded.params)
    loaded.params[0] = -1.0
    assert loaded.first[0] == -1.0


def test_a_small_view_of_an_unstored_large_root_is_a_copy() -> None:
    big = np.arange(1000.0)
    loaded = roundtrip({"part": {"x": big[:3]}})["part"]["x"]
    assert loaded.base is None or loaded.base.nbytes < big.nbytes
    assert loaded.tolist() == [0.0, 1.0, 2.0]


# In a child process: importing torch here would add its generator to the global RNG state that
# other tests (tests/lineage/test_rng.py) capture in this process.
_OPTIMIZER = """
import torch
from tests.store.helpers import roundtrip
net = torch.nn.Linear(2, 1)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
calls = []
opt.register_step_post_hook(lambda *_: calls.append(1))
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
net(torch.ones(1, 2)).sum().backward()
opt.step()
sched.step()
loaded = roundtrip({"opt": opt, "sched": sched, "net": net})
opt2, sched2 = loaded["opt"], loaded["sched"]
assert sched2.optimizer is opt2
assert opt2._opt_called is True
assert len(opt2._optimizer_step_post_hooks) == 1
del opt2._opt_called
opt2.step()
# The scheduler's wrapper marks the restored optimizer, not the original.
assert opt2._opt_called is True and opt._opt_called is True
sched2.step()
assert abs(opt2.param_groups[0]["lr"] - 0.025) < 1e-12
print("ok")
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_optimizer_keeps_scheduler_wrapper_flags_and_hooks() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", _OPTIMIZER],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
