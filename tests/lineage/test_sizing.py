"""Size estimates are within ~2x of the pickled size and do not scan large containers."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from elastic_kernel.lineage.sizing import estimate_size


class Record:
    def __init__(self, i: int) -> None:
        self.name = f"record-{i}"
        self.values = [float(i)] * 10


@pytest.mark.parametrize(
    "value",
    [
        np.zeros((300, 300)),
        list(range(100_000)),
        [float(i) for i in range(100_000)],
        [f"item-{i}" for i in range(50_000)],
        {f"k{i}": [i, i + 1] for i in range(20_000)},
        [Record(i) for i in range(2_000)],
        pd.DataFrame({"a": np.arange(100_000), "b": np.random.default_rng(0).random(100_000)}),
        pd.Series([f"s{i}" for i in range(50_000)]),
        {"array": np.ones(100_000), "small": [1, 2, 3]},
    ],
    ids=["array", "ints", "floats", "strs", "dict", "objects", "frame", "str-series", "mixed"],
)
def test_estimate_within_factor_of_pickle(value: object) -> None:
    actual = len(pickle.dumps(value, protocol=5))
    estimate = estimate_size(value)
    assert actual / 2.5 <= estimate <= actual * 2.5


def test_view_of_counted_base_is_free() -> None:
    base = np.zeros(10_000)
    assert estimate_size([base, base[:5000]]) < estimate_size([base, base.copy()])


def test_shared_objects_counted_once() -> None:
    inner = list(range(10_000))
    assert estimate_size([inner, inner]) < 1.2 * estimate_size([inner])
