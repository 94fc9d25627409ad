"""Fingerprint shortcuts: scalars hashed without a pickler, and arrays or pandas objects whose
buffers exceed the budget given up at once, with the same answer the pickler would give."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from elastic_kernel.lineage.fingerprint import fingerprint

ROWS = 1000


def _frames() -> dict[str, object]:
    base = np.arange(3.0 * ROWS).reshape(3, ROWS)
    frame = pd.DataFrame({"a": np.arange(ROWS), "b": np.random.rand(ROWS), "c": np.arange(ROWS)})
    frame["d"] = frame["a"] * 2
    frame.loc[0, "b"] = 0.5
    return {
        "numeric frame": frame,
        "frame with strings": pd.DataFrame(
            {"a": np.arange(ROWS), "s": [str(i) for i in range(ROWS)]}
        ),
        "frame over a 2-d array": pd.DataFrame(base.T, copy=False),
        "categorical column": pd.DataFrame({"k": pd.Categorical(np.arange(ROWS) % 3), "x": 1.0}),
        "series": pd.Series(np.random.rand(ROWS)),
        "column view": pd.DataFrame(base.T, copy=False)[1],
        "strided array": base[:, ::2],
    }


NUMERIC_BYTES = {
    "numeric frame": 32 * ROWS,
    "frame with strings": 8 * ROWS,
    "frame over a 2-d array": 24 * ROWS,
    "categorical column": 8 * ROWS,
    "series": 8 * ROWS,
    "column view": 8 * ROWS,
    "strided array": 12 * ROWS,
}


@pytest.mark.parametrize("name", sorted(NUMERIC_BYTES))
def test_over_budget_gives_none_and_within_budget_a_digest(name: str) -> None:
    value = _frames()[name]
    assert fingerprint(value, max_bytes=NUMERIC_BYTES[name] - 1) is None
    assert fingerprint(value, max_bytes=16 * NUMERIC_BYTES[name]) is not None


def test_in_place_write_changes_the_fingerprint_within_budget() -> None:
    frame = _frames()["numeric frame"]
    assert isinstance(frame, pd.DataFrame)
    before = fingerprint(frame)
    frame.loc[5, "c"] = -1
    assert fingerprint(frame) != before


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (1, True),
        (0.0, -0.0),
        (1, 1.0),
        ("ab", b"ab"),
        ("", None),
        (np.int64(1), np.int32(1)),
        (np.int64(1), 1),
        (np.float64(0.5), 0.5),
        (np.datetime64(1, "s"), np.datetime64(1, "ms")),
        (10**40, 10**40 + 1),
    ],
)
def test_scalars_of_different_values_or_types_differ(left: object, right: object) -> None:
    assert fingerprint(left) is not None
    assert fingerprint(left) != fingerprint(right)


def test_equal_scalars_are_equal_and_long_text_respects_the_budget() -> None:
    text = "x" * 100
    assert fingerprint(text) == fingerprint("".join(["x"] * 100))
    assert fingerprint(np.float32(2.5)) == fingerprint(np.float32(2.5))
    assert fingerprint(text, max_bytes=50) is None
    assert fingerprint(text.encode(), max_bytes=50) is None
    assert fingerprint("\udc80") is not None  # a lone surrogate (from surrogateescape)


def _edits() -> dict[str, tuple[object, Any]]:
    """Name -> (a pandas value, an in-place edit of it that a restore must not lose)."""

    def frame() -> pd.DataFrame:
        return pd.DataFrame({"a": np.arange(20), "s": [f"s{i}" for i in range(20)], "b": 0.5})

    def series() -> pd.Series:
        return pd.Series([f"w{i}" for i in range(20)], name="words")

    def rename_index(value: Any) -> None:
        value.index.name = "row"

    def set_flag(value: Any) -> None:
        value.flags.allows_duplicate_labels = False

    def set_attr(value: Any) -> None:
        value.attrs["source"] = "file.csv"

    def set_name(value: Any) -> None:
        value.name = "other"

    def set_string(value: Any) -> None:
        value.iloc[3] = "changed"

    def set_missing(value: Any) -> None:
        value.iloc[4] = None

    def set_cell(value: Any) -> None:
        value.loc[2, "s"] = "changed"

    def set_number(value: Any) -> None:
        value.loc[2, "a"] = -1

    def add_column(value: Any) -> None:
        value["c"] = 1

    def drop_column(value: Any) -> None:
        del value["b"]

    def rename_columns(value: Any) -> None:
        value.columns = ["x", "y", "z"]

    def fill_in_place(value: Any) -> None:
        value.iloc[1:3, 2] = np.nan
        value.fillna({"b": 2.0}, inplace=True)

    def category(value: Any) -> None:
        value["s"] = value["s"].astype("category")

    def nullable(value: Any) -> None:
        value["a"] = value["a"].astype("Int64")
        value.loc[0, "a"] = pd.NA

    return {
        "frame: index name": (frame(), rename_index),
        "frame: flags": (frame(), set_flag),
        "frame: attrs": (frame(), set_attr),
        "frame: string cell": (frame(), set_cell),
        "frame: number cell": (frame(), set_number),
        "frame: new column": (frame(), add_column),
        "frame: deleted column": (frame(), drop_column),
        "frame: renamed columns": (frame(), rename_columns),
        "frame: filled in place": (frame(), fill_in_place),
        "frame: categorical column": (frame(), category),
        "frame: nullable column": (frame(), nullable),
        "series: name": (series(), set_name),
        "series: string": (series(), set_string),
        "series: missing": (series(), set_missing),
        "series: attrs": (series(), set_attr),
    }


@pytest.mark.parametrize("name", sorted(_edits()))
def test_in_place_pandas_edit_changes_the_fingerprint(name: str) -> None:
    value, edit = _edits()[name]
    before = fingerprint(value)
    assert before is not None
    assert fingerprint(value) == before
    edit(value)
    assert fingerprint(value) != before


def test_arrow_strings_hash_their_content_not_their_chunking() -> None:
    pa = pytest.importorskip("pyarrow")
    words = [f"w{i}" for i in range(10)]
    one = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([words])))
    same = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([words])))
    sliced = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([[*words, "x"]])[:10]))
    assert fingerprint(one) == fingerprint(same)
    assert fingerprint(sliced) is not None
    other = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([[*words[:9], "w0"]])))
    assert fingerprint(other) != fingerprint(one)


@pytest.mark.parametrize(
    ("value", "objects"),
    [
        ([[f"w{i}", "x"] for i in range(50)], 1 + 50 + 100),
        ([(i, i + 1) for i in range(50)], 1 + 50 + 100),
        ({f"k{i}": i for i in range(50)}, 1 + 100),
        ([[1, 2]] * 50, 1 + 50 + 2),
        (list(range(5000)), 1 + 5000),
        (["text " * 10] * 20, 20 * 50),
    ],
)
def test_containers_over_budget_give_none(value: object, objects: int) -> None:
    if _is_text(value):  # hashed as text: the byte budget applies, not the object budget
        assert fingerprint(value, max_bytes=objects - 1) is None
        assert fingerprint(value, max_bytes=objects * 4) is not None
        return
    assert fingerprint(value, max_items=objects - 1) is None
    assert fingerprint(value, max_items=objects * 4) is not None
    assert fingerprint(value, max_items=None) == fingerprint(value, max_items=objects * 4)


def _is_text(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
