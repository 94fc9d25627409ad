"""Fingerprints change on every in-place mutation and stay equal when nothing changed."""

from __future__ import annotations

import collections
import functools
import subprocess
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from elastic_kernel.lineage.fingerprint import fingerprint, fingerprint_many


class Plain:
    def __init__(self) -> None:
        self.x = [1, 2]
        self._private = {"k": 1}
        self.__mangled = 3

    def bump_mangled(self) -> None:
        self.__mangled += 1


class Slotted:
    __slots__ = ("_hidden", "a")

    def __init__(self) -> None:
        self.a = 1
        self._hidden = [0]


class SlottedChild(Slotted):
    __slots__ = ("b",)

    def __init__(self) -> None:
        super().__init__()
        self.b = 2


class ListSub(list[int]):
    pass


class WithGetstate:
    """A custom __getstate__ hides ``_cache``; the fingerprint must still see it."""

    def __init__(self) -> None:
        self.value = 1
        self._cache: dict[str, int] = {}

    def __getstate__(self) -> dict[str, int]:
        return {"value": self.value}


def make_closure() -> Callable[[], list[int]]:
    captured = [1, 2]

    def inner() -> list[int]:
        return captured

    return inner


def make_counter() -> Callable[[], int]:
    count = 0

    def increment() -> int:
        nonlocal count
        count += 1
        return count

    return increment


def make_identity() -> Callable[[int], int]:
    def identity(x: int) -> int:
        return x

    return identity


def _plus_one(x: int) -> int:
    return x + 1


def with_default(x: int, acc: list[int] = []) -> list[int]:  # noqa: B006 - the mutable default is the point
    return acc


def df_setitem_loc(df: Any) -> None:
    df.loc[0, "a"] = 100


def nested() -> dict[str, Any]:
    return {"level1": {"level2": {"level3": [1, 2, 3]}}}


def _set_attr(obj: Any, name: str, value: object) -> None:
    setattr(obj, name, value)


def _fit(est: Any) -> None:
    est.fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))


def _sklearn_estimator() -> Any:
    linear_model = pytest.importorskip("sklearn.linear_model")
    model = linear_model.LinearRegression()
    model.fit(np.ones((4, 2)), np.ones(4))
    return model


def _inplace(method: str, *args: Any, **kwargs: Any) -> Callable[[Any], None]:
    def run(obj: Any) -> None:
        # pandas 3 deprecates some inplace= keywords; they still mutate in place.
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(obj, method)(*args, inplace=True, **kwargs)

    return run


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [3, 1, 2], "b": [0.5, 1.5, 2.5], "s": ["x", "y", "z"]})


def _augmented_list(obj: Any) -> None:
    obj += [9]


def _augmented_array(obj: Any) -> None:
    obj *= 2


def _augmented_set(obj: Any) -> None:
    obj |= {99}


def _ellipsis_add(obj: Any) -> None:
    obj[...] += 1


def _slice_assign(obj: Any) -> None:
    obj[1:2] = [7, 8, 9]


def _array_slice_assign(obj: Any) -> None:
    obj[2:4] = -1


def _closure_cell(fn: Any) -> None:
    fn.__closure__[0].cell_contents.append(3)


def _mutate_cycle(obj: Any) -> None:
    obj[0].append(1)


def _cyclic() -> list[Any]:
    a: list[Any] = []
    b: list[Any] = [a]
    a.append(b)
    return [a, b]


def _shared_pair() -> list[Any]:
    inner = [1]
    return [inner, inner]


def _object_array() -> Any:
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = [1], {"a": 2}
    return arr


def _unshare(obj: Any) -> None:
    obj[1] = [1]


MUTATIONS: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
    "list.append": (lambda: [1, 2], lambda o: o.append(3)),
    "list.extend": (lambda: [1, 2], lambda o: o.extend([3])),
    "list.insert": (lambda: [1, 2], lambda o: o.insert(0, 0)),
    "list.pop": (lambda: [1, 2], lambda o: o.pop()),
    "list.remove": (lambda: [1, 2], lambda o: o.remove(1)),
    "list.sort": (lambda: [2, 1], lambda o: o.sort()),
    "list.reverse": (lambda: [2, 1], lambda o: o.reverse()),
    "list.clear": (lambda: [2, 1], lambda o: o.clear()),
    "list setitem": (lambda: [1, 2], lambda o: o.__setitem__(0, 1.0)),
    "list delitem": (lambda: [1, 2], lambda o: o.__delitem__(0)),
    "list +=": (lambda: [1, 2], _augmented_list),
    "list slice assignment": (lambda: [1, 2, 3], _slice_assign),
    "dict setitem": (lambda: {"a": 1}, lambda o: o.__setitem__("b", 2)),
    "dict update": (lambda: {"a": 1}, lambda o: o.update(a=2)),
    "dict pop": (lambda: {"a": 1, "b": 2}, lambda o: o.pop("a")),
    "dict setdefault": (lambda: {"a": 1}, lambda o: o.setdefault("c", [])),
    "dict reorder": (lambda: {"a": 1, "b": 2}, lambda o: o.__setitem__("a", o.pop("a"))),
    "set.add": (lambda: {1, 2}, lambda o: o.add(3)),
    "set.discard": (lambda: {1, 2}, lambda o: o.discard(1)),
    "set |=": (lambda: {1, 2}, _augmented_set),
    "bytearray": (lambda: bytearray(b"abc"), lambda o: o.__setitem__(0, 0)),
    "deque.appendleft": (lambda: collections.deque([1]), lambda o: o.appendleft(0)),
    "defaultdict access": (lambda: collections.defaultdict(list), lambda o: o["new"]),
    "list subclass append": (lambda: ListSub([1]), lambda o: o.append(2)),
    "nested 3 levels": (nested, lambda o: o["level1"]["level2"]["level3"].append(4)),
    "cyclic list": (_cyclic, _mutate_cycle),
    "identity structure": (_shared_pair, _unshare),
    "ndarray setitem": (lambda: np.zeros(5), lambda o: o.__setitem__(0, 1.0)),
    "ndarray *=": (lambda: np.ones(5), _augmented_array),
    "ndarray [...] += 1": (lambda: np.zeros((2, 3)), _ellipsis_add),
    "ndarray ufunc out=": (lambda: np.ones(4), lambda o: np.add(o, 1, out=o)),
    "ndarray slice assignment": (lambda: np.arange(6), _array_slice_assign),
    "ndarray sort": (lambda: np.array([3, 1, 2]), lambda o: o.sort()),
    "ndarray reshape in place": (lambda: np.arange(6), lambda o: setattr(o, "shape", (2, 3))),
    "ndarray fill strided": (lambda: np.zeros((4, 4))[:, ::2], lambda o: o.fill(3)),
    "fortran ndarray": (lambda: np.asfortranarray(np.ones((3, 2))), lambda o: o.fill(2)),
    "object ndarray element": (_object_array, lambda o: o[0].append(5)),
    "datetime64 ndarray": (
        lambda: np.array(["2020-01-01"], dtype="datetime64[D]"),
        lambda o: o.__setitem__(0, np.datetime64("2021-01-01")),
    ),
    "df.loc setitem": (_frame, df_setitem_loc),
    "df new column": (_frame, lambda o: o.__setitem__("c", 1)),
    "df replace column": (_frame, lambda o: o.__setitem__("a", [0, 0, 0])),
    "df string cell": (_frame, lambda o: o.__setitem__("s", ["x", "y", "q"])),
    "df.iloc setitem": (_frame, lambda o: o.iloc.__setitem__((1, 1), 9.0)),
    "df.drop inplace": (_frame, _inplace("drop", index=1)),
    "df.sort_values inplace": (_frame, _inplace("sort_values", "a")),
    "df.fillna inplace": (
        lambda: pd.DataFrame({"a": [1.0, None]}),
        _inplace("fillna", 0.0),
    ),
    "df.rename columns inplace": (_frame, _inplace("rename", columns={"a": "z"})),
    "df index name": (_frame, lambda o: setattr(o.index, "name", "idx")),
    "df attrs": (_frame, lambda o: o.attrs.update(source="x")),
    "series setitem": (lambda: pd.Series([1, 2, 3]), lambda o: o.__setitem__(1, 5)),
    "categorical series": (
        lambda: pd.Series(["a", "b"], dtype="category"),
        lambda o: o.__setitem__(0, "b"),
    ),
    "user object attribute": (Plain, lambda o: o.x.append(3)),
    "user object new attribute": (Plain, lambda o: _set_attr(o, "y", 1)),
    "user object private attribute": (Plain, lambda o: o._private.update(k=2)),
    "user object mangled attribute": (Plain, lambda o: o.bump_mangled()),
    "user object delattr": (Plain, lambda o: delattr(o, "x")),
    "user object class swap": (Plain, lambda o: setattr(o, "__class__", WithGetstate)),
    "slots attribute": (Slotted, lambda o: setattr(o, "a", 2)),
    "slots private mutable": (Slotted, lambda o: o._hidden.append(1)),
    "inherited slots": (SlottedChild, lambda o: setattr(o, "_hidden", None)),
    "custom __getstate__ hides attr": (WithGetstate, lambda o: o._cache.update(a=1)),
    "closure cell content": (make_closure, _closure_cell),
    "nonlocal counter": (make_counter, lambda o: o()),
    "function mutable default": (lambda: with_default, lambda o: o(1).append(1)),
    "function attribute": (make_closure, lambda o: _set_attr(o, "tag", 1)),
    "function code swap": (make_identity, lambda o: setattr(o, "__code__", _plus_one.__code__)),
    "sklearn fit on fitted estimator": (_sklearn_estimator, _fit),
    "user class attribute": (
        # As if defined in a notebook cell: library classes are fingerprinted by name only.
        lambda: type("Dynamic", (), {"count": 0, "__module__": "__main__"}),
        lambda o: setattr(o, "count", 1),
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_changes_fingerprint(name: str) -> None:
    make, mutate = MUTATIONS[name]
    obj = make()
    if isinstance(obj, types.FunctionType):
        # As if defined in a notebook cell: library functions are fingerprinted by name only.
        obj.__module__ = "__main__"
    before = fingerprint(obj)
    assert before is not None
    assert fingerprint(obj) == before, "fingerprint must be stable when nothing changed"
    mutate(obj)
    after = fingerprint(obj)
    assert after is not None
    assert after != before


def test_at_least_forty_patterns() -> None:
    assert len(MUTATIONS) >= 40


def test_copy_on_write_inplace_ops() -> None:
    if int(pd.__version__.split(".")[0]) < 3:
        pd.set_option("mode.copy_on_write", True)
    try:
        df = _frame()
        view = df[["a"]]
        base = fingerprint(df)
        view.loc[0, "a"] = -5  # copy-on-write: df itself must not change
        assert fingerprint(df) == base
        df.loc[0, "a"] = -5
        assert fingerprint(df) != base
    finally:
        if int(pd.__version__.split(".")[0]) < 3:
            pd.set_option("mode.copy_on_write", False)


@pytest.mark.parametrize(
    "make",
    [
        lambda: [1, "a", 2.5, None, b"x", (1, 2), frozenset({1})],
        _cyclic,
        lambda: {"df": _frame(), "arr": np.arange(3)},
        Plain,
        SlottedChild,
        make_closure,
        lambda: sys,
        lambda: np.zeros((3, 3))[::2, ::2],
    ],
)
def test_equal_values_give_equal_fingerprints(make: Callable[[], Any]) -> None:
    assert fingerprint(make()) == fingerprint(make())


def test_type_is_part_of_the_fingerprint() -> None:
    assert fingerprint([1, 2]) != fingerprint((1, 2))
    assert fingerprint(1) != fingerprint(1.0)
    assert fingerprint(np.zeros(2, "f8")) != fingerprint(np.zeros(2, "i8"))
    assert fingerprint(np.zeros(4)) != fingerprint(np.zeros((2, 2)))
    assert fingerprint(["a", "bc"]) != fingerprint(["ab", "c"])


def test_unhashable_gives_none() -> None:
    assert fingerprint(threading.Lock()) is None
    assert fingerprint(x for x in range(3)) is None
    assert fingerprint({"handle": threading.Lock()}) is None


def test_budget_gives_none() -> None:
    arr = np.zeros(1000)
    assert fingerprint(arr, max_bytes=100) is None
    assert fingerprint(arr, max_bytes=10_000) is not None
    assert fingerprint([Plain() for _ in range(20)], max_objects=10) is None


def test_modules_are_named_not_walked() -> None:
    assert fingerprint(np) == fingerprint(np)
    assert fingerprint(np) != fingerprint(pd)


def test_fingerprint_does_not_import_pandas() -> None:
    code = (
        "import sys; from elastic_kernel.lineage.fingerprint import fingerprint;"
        "fingerprint({'a': [1]}); assert 'pandas' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_fingerprint_many_skips_absent_names() -> None:
    ns = {"a": [1], "lock": threading.Lock()}
    result = fingerprint_many(ns, ["a", "lock", "missing"])
    assert set(result) == {"a", "lock"}
    assert result["a"] == fingerprint([1])
    assert result["lock"] is None


def test_partial_fingerprint_ignores_whether_its_dict_was_read() -> None:
    clicks: list[int] = []
    callback = functools.partial(clicks.append, 1)
    before = fingerprint(callback)
    assert vars(callback) == {}  # creates the empty __dict__ its __reduce__ then reports
    assert fingerprint(callback) == before
    callback.keywords["extra"] = 2  # type: ignore[index]  # partial keywords is a dict
    assert fingerprint(callback) != before


def assert_same_output_in_two_processes(code: str) -> None:
    """``code`` prints the same (non-empty) text in two fresh processes."""
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert runs[0].stdout == runs[1].stdout != ""


FIGURE = (
    "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
    "from elastic_kernel.lineage.fingerprint import fingerprint\n"
    "fig, ax = plt.subplots()\nax.plot([1, 2])\nax.set_title('t')\nfig.canvas.draw()\n"
)


def test_figure_fingerprints_do_not_change_the_figure_and_repeat_across_processes() -> None:
    """matplotlib keys transform parents by id() and advances a callback counter in
    __getstate__: a figure built the same way must still fingerprint the same, and
    fingerprinting must not touch it."""
    code = FIGURE + (
        "counters = [fig._callbacks._cid_gen, fig._canvas_callbacks._cid_gen]\n"
        "before = [repr(c) for c in counters]\n"
        "first = fingerprint(fig)\n"
        "assert fingerprint(fig) == first\n"
        "assert [repr(c) for c in counters] == before, before\n"
        "ax.set_title('other')\n"
        "assert fingerprint(fig) != first\n"
        "print(first.hex())"
    )
    assert_same_output_in_two_processes(code)


def _masked() -> Any:
    return np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o.__setitem__(2, 9.0),
        lambda o: o.__setitem__(0, np.ma.masked),
        lambda o: setattr(o, "fill_value", 7.0),
    ],
    ids=["data", "mask", "fill value"],
)
def test_masked_arrays_are_hashed_with_their_mask(mutate: Callable[[Any], None]) -> None:
    arr = _masked()
    before = fingerprint(arr)
    assert before is not None and before == fingerprint(_masked())
    mutate(arr)
    assert fingerprint(arr) != before


def test_torch_tensors_hash_by_content() -> None:
    """torch pickles storages with a fresh serialization id each time: equal tensors must
    still hash alike, and in-place changes, gradients and attributes must show."""
    torch = pytest.importorskip("torch")
    for make in (
        lambda: torch.arange(6.0).reshape(2, 3),
        lambda: torch.arange(6.0).reshape(2, 3).t(),
        lambda: torch.ones(3, dtype=torch.bfloat16),
        lambda: torch.nn.Parameter(torch.ones(2)),
    ):
        assert fingerprint(make()) == fingerprint(make()) is not None
    assert fingerprint(torch.ones(2)) != fingerprint(torch.ones(2, dtype=torch.float64))
    tensor = torch.ones(2, requires_grad=True)
    for change in (
        lambda: (tensor * 2).sum().backward(),
        lambda: tensor.data.add_(1),
        lambda: setattr(tensor, "tag", "x"),
    ):
        before = fingerprint(tensor)
        change()
        assert fingerprint(tensor) != before


def test_numpy_global_generator_fingerprints_by_state_across_processes() -> None:
    """numpy seeds its global RandomState from OS entropy at import and keeps that entropy in
    its pickle: with the same state it must still fingerprint the same in another process
    (scipy's frozen distributions and ``np.random.rand`` hold it), and a draw must show."""
    code = (
        "import numpy as np, scipy.stats as st\n"
        "from elastic_kernel.lineage.fingerprint import fingerprint\n"
        "np.random.set_state(np.random.RandomState(3).get_state())  # as a restore does\n"
        "dist = st.norm(loc=1, scale=2)\n"
        "first = [fingerprint(v) for v in (np.random.mtrand._rand, np.random.rand, dist)]\n"
        "np.random.rand()\n"
        "assert fingerprint(np.random.mtrand._rand) != first[0]\n"
        "print([f.hex() for f in first])"
    )
    assert_same_output_in_two_processes(code)


def test_fitted_vectorizer_fingerprints_alike_across_processes() -> None:
    """scikit-learn's vectorizers keep id(stop_words): the same fit in another process (a
    restore's re-run) must still fingerprint the same."""
    code = (
        "from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer\n"
        "from elastic_kernel.lineage.fingerprint import fingerprint\n"
        "texts = ['ab bc cd', 'bc cd de', 'cd de ef ab']\n"
        "models = [CountVectorizer().fit(texts), TfidfVectorizer(stop_words=['ab']).fit(texts)]\n"
        "print([fingerprint(m).hex() for m in models])"
    )
    assert_same_output_in_two_processes(code)
