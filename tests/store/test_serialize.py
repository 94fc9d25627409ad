"""Grouped pickling: values and aliasing survive, unserializable values are named."""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import zstandard

from elastic_kernel.errors import SerializationError
from elastic_kernel.store import (
    deserialize_group,
    find_unserializable,
    serialize_group,
)

from .helpers import roundtrip

MAIN_CODE = """
import dataclasses

@dataclasses.dataclass
class Point:
    x: int
    y: int

class Counter:
    def __init__(self):
        self.n = 0
    def inc(self):
        self.n += 1
        return self.n

def make_adder(k):
    def add(x):
        return x + k
    return add

add3 = make_adder(3)
square = lambda x: x * x
point = Point(1, 2)
counter = Counter()
counter.inc()
"""


def test_buffers_go_out_of_band() -> None:
    arr = np.arange(1_000_000, dtype=np.float64)
    group = serialize_group({"arr": arr})
    assert group.stream.nbytes < 1000
    assert [b.nbytes for b in group.buffers] == [arr.nbytes]
    # Zero copy: the buffer is the array's own memory.
    assert np.shares_memory(np.frombuffer(group.buffers[0], dtype=np.float64), arr)


def test_numpy_zoo_and_views_share_memory() -> None:
    base = np.arange(60.0).reshape(6, 10)
    structured = np.array([(1, 2.5, b"ab"), (3, 4.5, b"cd")], dtype="i4,f8,S2")
    obj = np.array([1, "two", None, [3]], dtype=object)
    values: dict[str, object] = {
        "base": base,
        "rows": base[1:4],
        "strided": base[::2, ::3],
        "transposed": base.T,
        "reversed": base[::-1],
        "in_dict": {"col": base[:, 2]},
        "structured": structured,
        "field": structured["f1"],
        "objects": obj,
        "fortran": np.asfortranarray(np.arange(12).reshape(3, 4)),
        "scalar0d": np.array(7.5),
        "dates": np.array(["2024-01-01", "2025-06-30"], dtype="datetime64[D]"),
    }
    out = roundtrip(values)
    for name, value in values.items():
        if name == "in_dict":
            np.testing.assert_array_equal(out[name]["col"], base[:, 2])  # type: ignore[index]
        elif name == "objects":
            assert list(out[name]) == list(obj)  # type: ignore[call-overload]
        else:
            np.testing.assert_array_equal(out[name], value)  # type: ignore[arg-type]
    loaded_base = out["base"]
    for name in ("rows", "strided", "transposed", "reversed", "field"):
        root = loaded_base if name != "field" else out["structured"]
        assert np.shares_memory(out[name], root), name  # type: ignore[arg-type]
    assert np.shares_memory(out["in_dict"]["col"], loaded_base)  # type: ignore[index]
    assert out["fortran"].flags.f_contiguous  # type: ignore[attr-defined]
    # Writes through a view show in the base, as before the checkpoint.
    out["rows"][0, 0] = -1.0  # type: ignore[index]
    assert loaded_base[1, 0] == -1.0  # type: ignore[index]


def test_views_of_a_loaded_array_stay_views_over_more_round_trips() -> None:
    """A loaded array views the bytes read (a memoryview), not an array: its views must still
    be pickled as views of it, checkpoint after checkpoint."""
    base = np.arange(40.0)
    values: dict[str, object] = {"base": base, "alias": base, "even": base[::2], "tail": base[30:]}
    for _ in range(3):
        values = roundtrip(values)
        assert values["alias"] is values["base"]
        for name in ("even", "tail"):
            assert np.shares_memory(values[name], values["base"]), name  # type: ignore[arg-type]
    np.testing.assert_array_equal(values["even"], np.arange(0.0, 40.0, 2))  # type: ignore[arg-type]
    values["base"][0] = -1.0  # type: ignore[index]
    assert values["even"][0] == -1.0  # type: ignore[index]


def test_small_view_of_large_array_is_not_stored_whole() -> None:
    big = np.zeros(1_000_000)
    out = roundtrip({"head": big[:10]})
    np.testing.assert_array_equal(out["head"], np.zeros(10))  # type: ignore[arg-type]
    assert sum(b.nbytes for b in serialize_group({"head": big[:10]}).buffers) <= 80


def test_overlapping_views_of_an_unstored_root_still_share_memory() -> None:
    """``e = d[1:3]; a = e[1:]`` with ``d`` rebound: neither view is worth the whole root,
    but they overlap, so the bytes they cover are stored once and both rebuilt on them."""
    big = np.arange(1000.0)
    values = {
        "e": big[1:3],
        "a": big[1:3][1:],
        "reversed": big[::-1][:2],
        "tail": big[998:],
        "apart": big[500:501],
    }
    out = roundtrip(dict(values))
    for name, value in values.items():
        np.testing.assert_array_equal(out[name], value)  # type: ignore[arg-type]
    assert np.shares_memory(out["a"], out["e"])  # type: ignore[arg-type]
    assert np.shares_memory(out["reversed"], out["tail"])  # type: ignore[arg-type]
    assert not np.shares_memory(out["apart"], out["e"])  # type: ignore[arg-type]
    out["e"][1] = -1.0  # type: ignore[index]
    assert out["a"][0] == -1.0  # type: ignore[index]
    assert sum(b.nbytes for b in serialize_group(values).buffers) <= 64


def test_load_digits_data_and_images_stay_one_buffer() -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    out = roundtrip({"data": digits.data, "images": digits.images})
    assert np.shares_memory(out["data"], out["images"])  # type: ignore[arg-type]
    np.testing.assert_array_equal(out["images"], digits.images)  # type: ignore[arg-type]


def test_pandas_zoo() -> None:
    index = pd.MultiIndex.from_product([["a", "b"], [1, 2, 3]], names=["letter", "n"])
    frame = pd.DataFrame(
        {
            "f": np.linspace(0, 1, 6),
            "i": np.arange(6),
            "s": list("uvwxyz"),
            "c": pd.Categorical(["lo", "hi", "lo", "hi", "mid", "lo"]),
            "t": pd.date_range("2024-03-01", periods=6, freq="h", tz="Europe/Paris"),
        },
        index=index,
    )
    series = frame["f"]
    out = roundtrip({"frame": frame, "series": series, "empty": pd.DataFrame()})
    pd.testing.assert_frame_equal(out["frame"], frame)  # type: ignore[arg-type]
    pd.testing.assert_series_equal(out["series"], series)  # type: ignore[arg-type]
    assert str(out["frame"]["t"].dt.tz) == "Europe/Paris"  # type: ignore[index]


def test_fitted_sklearn_pipeline() -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_iris(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    out = roundtrip({"model": model, "x": x})
    np.testing.assert_array_equal(out["model"].predict(x), model.predict(x))  # type: ignore[attr-defined]


def test_main_module_objects_by_value() -> None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(MAIN_CODE, namespace)
    names = ("Point", "point", "counter", "add3", "square", "make_adder")
    out = roundtrip({n: namespace[n] for n in names})
    assert out["add3"](1) == 4  # type: ignore[operator]
    assert out["square"](5) == 25  # type: ignore[operator]
    assert out["counter"].inc() == 2  # type: ignore[attr-defined]
    assert dataclasses.asdict(out["point"]) == {"x": 1, "y": 2}  # type: ignore[call-overload]
    assert isinstance(out["point"], out["Point"])  # type: ignore[arg-type]


def test_shared_references_and_cycles() -> None:
    shared = [1, 2, 3]
    cyclic: list[object] = ["head"]
    cyclic.append(cyclic)
    tree: dict[str, object] = {"left": shared, "right": shared, "self": None}
    tree["self"] = tree
    out = roundtrip({"shared": shared, "tree": tree, "cyclic": cyclic, "pair": (shared, shared)})
    assert out["tree"]["left"] is out["shared"]  # type: ignore[index]
    assert out["tree"]["right"] is out["shared"]  # type: ignore[index]
    assert out["tree"]["self"] is out["tree"]  # type: ignore[index]
    assert out["cyclic"][1] is out["cyclic"]  # type: ignore[index]
    assert out["pair"][0] is out["shared"]  # type: ignore[index]


def _generator() -> Any:
    yield 1


@pytest.mark.parametrize(
    ("factory", "fragment"),
    [
        (lambda: _generator(), "generator"),
        (lambda: threading.Lock(), "synchronisation"),
        (lambda: open(os.devnull), "open file"),
        (lambda: sqlite3.connect(":memory:"), "sqlite3 connection"),
        (lambda: socket.socket(), "socket"),
        (lambda: [1, {"deep": _generator()}], "generator"),
        (lambda: zstandard.ZstdCompressor(), "cannot pickle 'zstandard"),
    ],
    ids=["generator", "lock", "file", "sqlite", "socket", "nested", "c-object"],
)
def test_find_unserializable_gives_reason(factory: Any, fragment: str) -> None:
    value = factory()
    try:
        reason = find_unserializable(value)
        assert reason is not None and fragment in reason
        with pytest.raises(SerializationError, match=r"variable 'bad'.*linked group: ok, bad"):
            serialize_group({"ok": [1, 2], "bad": value})
    finally:
        close = getattr(value, "close", None)
        if close is not None:
            close()


@pytest.mark.parametrize(
    "value",
    [1, "text", np.arange(3), {"a": [1.0]}, lambda x: x, pd.Series([1, 2]), io.BytesIO(b"x")],
)
def test_find_unserializable_accepts_ordinary_values(value: object) -> None:
    assert find_unserializable(value) is None


class Referent:
    """A module-level class, so both picklers can find it by name."""


def test_dill_fallback_when_cloudpickle_fails() -> None:
    # cloudpickle refuses weak references; dill saves them along with their referent.
    obj = Referent()
    values: dict[str, object] = {"obj": obj, "ref": weakref.ref(obj)}
    group = serialize_group(values)
    assert group.pickler == "dill"
    out = roundtrip(values)
    assert out["ref"]() is out["obj"]  # type: ignore[operator]


def test_closed_file_handles_come_back_closed_without_touching_the_file(tmp_path: Path) -> None:
    """``with open(...) as fh`` leaves a closed handle behind; restoring it must not reopen
    (and so truncate) the file, unlike dill."""
    path = tmp_path / "data.txt"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("keep me")
    with open(path, "rb") as fb:
        pass
    assert find_unserializable(fh) is None
    loaded = deserialize_group(serialize_group({"fh": fh, "fb": fb}))
    assert loaded["fh"].closed and loaded["fb"].closed
    assert loaded["fh"].name == str(path) and loaded["fh"].mode == "w"
    assert loaded["fb"].name == str(path) and loaded["fb"].mode == "rb"
    assert path.read_text() == "keep me"
    with open(path, encoding="utf-8") as still_open:
        assert find_unserializable(still_open) is not None


def test_torch_tensors_sharing_storage_stay_shared() -> None:
    torch = pytest.importorskip("torch")
    base = torch.arange(24.0).reshape(4, 6)
    row, transposed = base[1], base.t()
    weight = torch.nn.Parameter(torch.ones(2, 2))
    weight.grad = torch.full((2, 2), 3.0)
    loaded = deserialize_group(
        serialize_group({"base": base, "row": row, "t": transposed, "weight": weight})
    )
    loaded["row"][0] = 100.0
    assert loaded["base"][1, 0] == 100.0
    assert loaded["t"][0, 1] == 100.0
    assert type(loaded["weight"]) is torch.nn.Parameter
    assert loaded["weight"].requires_grad
    assert torch.equal(loaded["weight"].grad, weight.grad)


def test_matplotlib_callback_counters_are_neither_advanced_nor_lost() -> None:
    """matplotlib's own __getstate__ consumes a callback id each time a registry pickles: the
    session after a checkpoint, and its loaded copy, would each be one id off."""
    colors = pytest.importorskip("matplotlib.colors")
    norm = colors.Normalize(0, 2)
    norm.callbacks.connect("changed", print)
    before = repr(norm.callbacks._cid_gen)
    assert find_unserializable(norm) is None
    loaded = roundtrip({"norm": norm})["norm"]
    assert repr(norm.callbacks._cid_gen) == before
    assert repr(loaded.callbacks._cid_gen) == before  # type: ignore[attr-defined]
    assert (loaded.vmin, loaded.vmax) == (0, 2)  # type: ignore[attr-defined]


def test_strided_windows_stay_views_of_their_array() -> None:
    """``as_strided`` (behind ``sliding_window_view``) hangs its result on a small holder of
    the array interface, not on the array: the store follows it to the array."""
    from numpy.lib.stride_tricks import as_strided, sliding_window_view

    base = np.arange(20.0)
    values = {
        "base": base,
        "windows": sliding_window_view(base, 4),
        "pairs": as_strided(base, shape=(10, 2), strides=(16, 8)),
    }
    out = roundtrip(dict(values))
    for name, value in values.items():
        np.testing.assert_array_equal(out[name], value)  # type: ignore[arg-type]
    assert np.shares_memory(out["base"], out["windows"])  # type: ignore[arg-type]
    assert np.shares_memory(out["base"], out["pairs"])  # type: ignore[arg-type]
    assert not out["windows"].flags.writeable  # type: ignore[union-attr]
    out["base"][5] = -1.0  # type: ignore[index]
    assert out["windows"][2, 3] == -1.0 and out["pairs"][2, 1] == -1.0  # type: ignore[index]


def test_global_generators_load_as_the_global_generators() -> None:
    """A bound method of the global generator, the generator itself, or an object holding it
    (a scipy frozen distribution) loads holding this process's global generator: seeding it
    must still reach them. Its state is restored from the checkpoint's metadata instead."""
    import random

    import scipy.stats as st

    values = {
        "draw": random.random,
        "inst": random._inst,  # type: ignore[attr-defined]  # random's global generator
        "rand": np.random.rand,
        "legacy": np.random.mtrand._rand,
        "dist": st.norm(loc=1, scale=2),
        "own": np.random.RandomState(5),
    }
    out: Any = roundtrip(values)
    assert out["draw"].__self__ is random._inst  # type: ignore[attr-defined]
    assert out["inst"] is random._inst  # type: ignore[attr-defined]
    assert out["rand"].__self__ is np.random.mtrand._rand
    assert out["legacy"] is np.random.mtrand._rand
    assert out["dist"].dist._random_state is np.random.mtrand._rand
    assert out["own"] is not values["own"]
    assert out["own"].rand() == np.random.RandomState(5).rand()


def test_loggers_load_as_the_named_logger_with_their_level() -> None:
    """A logger pickles by name: the level a notebook set through a variable came back unset."""
    import logging

    logger = logging.getLogger("elastic.test.level")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    group = serialize_group({"log": logger, "root": logging.getLogger()})
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
    out: Any = deserialize_group(group)
    assert out["log"] is logger and out["root"] is logging.getLogger()
    assert logger.level == logging.DEBUG and logger.propagate is False
