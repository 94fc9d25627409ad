"""Linked groups: aliasing patterns are found, transitively; unrelated values stay apart."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from elastic_kernel.lineage.identity import identity
from elastic_kernel.lineage.links import linked_groups


class Holder:
    def __init__(self, value: object) -> None:
        self._value = value


class SlotHolder:
    __slots__ = ("__hidden",)

    def __init__(self, value: object) -> None:
        self.__hidden = value


def _closure_over(value: object) -> Callable[[], object]:
    def inner() -> object:
        return value

    return inner


def _same() -> dict[str, object]:
    a = [1, 2]
    return {"a": a, "b": a}


def _dict_value() -> dict[str, object]:
    df = pd.DataFrame({"x": [1, 2]})
    return {"a": df, "b": {"k": df}}


def _list_holds_array() -> dict[str, object]:
    arr = np.arange(4)
    return {"a": arr, "b": [arr, 1]}


def _view_and_base() -> dict[str, object]:
    base = np.arange(10)
    return {"a": base, "b": base[2:5]}


def _two_views() -> dict[str, object]:
    base = np.arange(10)
    return {"a": base[::2], "b": base[1:3]}


def _reshape_view() -> dict[str, object]:
    base = np.arange(12.0)
    return {"a": base.reshape(3, 4), "b": base.reshape(4, 3).T}


def _private_attribute() -> dict[str, object]:
    data = {"k": 1}
    return {"a": Holder(data), "b": data}


def _slots_attribute() -> dict[str, object]:
    data = [3]
    return {"a": SlotHolder(data), "b": data}


def _closure() -> dict[str, object]:
    data = [3]
    return {"a": _closure_over(data), "b": data}


def _pandas_shares_array() -> dict[str, object]:
    arr = np.arange(6.0).reshape(3, 2)
    return {"a": pd.DataFrame(arr, copy=False), "b": arr}


def _series_values() -> dict[str, object]:
    series = pd.Series(np.arange(5.0))
    return {"a": series, "b": series.to_numpy()}


def _tuple_of_mutables() -> dict[str, object]:
    inner: list[int] = []
    return {"a": (1, inner), "b": {"x": (inner,)}}


def _set_of_objects() -> dict[str, object]:
    holder = Holder(1)
    return {"a": {holder}, "b": [holder]}


def _bound_method() -> dict[str, object]:
    data: list[int] = []
    return {"a": data.append, "b": data}


def _partial() -> dict[str, object]:
    data: list[int] = []
    return {"a": functools.partial(len, data), "b": data}


def _object_array() -> dict[str, object]:
    data = [1]
    arr = np.empty(1, dtype=object)
    arr[0] = data
    return {"a": arr, "b": data}


def _deep_nesting() -> dict[str, object]:
    data: list[int] = []
    return {"a": {"x": [{"y": Holder([data])}]}, "b": data}


def _cycle() -> dict[str, object]:
    a: list[Any] = []
    b = [a]
    a.append(b)
    return {"a": a, "b": b}


def _function_default() -> dict[str, object]:
    data: list[int] = []

    def uses(x: list[int] = data) -> list[int]:
        return x

    return {"a": uses, "b": data}


def _categorical() -> dict[str, object]:
    codes = pd.Categorical(["a", "b", "a"])
    return {"a": pd.Series(codes, copy=False), "b": codes}


PATTERNS: dict[str, Callable[[], dict[str, object]]] = {
    "a is b": _same,
    "dict value is a dataframe": _dict_value,
    "list holds an array": _list_holds_array,
    "numpy view and base": _view_and_base,
    "two views of one base": _two_views,
    "reshaped and transposed views": _reshape_view,
    "private attribute": _private_attribute,
    "mangled slot attribute": _slots_attribute,
    "closure cell": _closure,
    "dataframe over a numpy array": _pandas_shares_array,
    "series and its values": _series_values,
    "tuple holding a list": _tuple_of_mutables,
    "set member": _set_of_objects,
    "bound method": _bound_method,
    "functools.partial": _partial,
    "object array element": _object_array,
    "nested five levels": _deep_nesting,
    "cycle": _cycle,
    "function default": _function_default,
    "categorical in a series": _categorical,
}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_alias_is_linked(name: str) -> None:
    ns = PATTERNS[name]()
    ns["unrelated"] = [1, 2]
    result = linked_groups(ns, ns)
    assert result.group_of("a") == {"a", "b"}
    assert result.group_of("unrelated") == {"unrelated"}
    assert result.incomplete == frozenset()


def test_at_least_fifteen_patterns() -> None:
    assert len(PATTERNS) >= 15


def test_load_digits_shares_one_buffer() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    ns = {"data": digits.data, "images": digits.images, "target": digits.target}
    result = linked_groups(ns, ns)
    assert result.group_of("data") == {"data", "images"}


def test_links_are_transitive() -> None:
    shared_ab, shared_bc = [1], [2]
    ns = {"a": [shared_ab], "b": [shared_ab, shared_bc], "c": {"k": shared_bc}, "d": [3]}
    result = linked_groups(ns, ns)
    assert result.group_of("a") == {"a", "b", "c"}
    assert {"d"} in result.groups


def test_shared_atoms_do_not_link() -> None:
    text = "a shared string that is not interned " * 3
    big = 10**30
    ns = {
        "a": [1, 2, text, big, None, (1, "x")],
        "b": {"k": text, "n": big, "t": (1, "x")},
        "c": (1, "x"),
        "d": (1, "x"),
        "e": np.float64(1.5),
        "f": [np.float64(1.5), ()],
        "g": [()],
    }
    ns["h"] = ns["c"]
    result = linked_groups(ns, ns)
    assert all(len(group) == 1 for group in result.groups)


def test_modules_and_builtins_do_not_link() -> None:
    ns = {"a": [np, len], "b": {"m": np, "f": len}}
    assert len(linked_groups(ns, ns).groups) == 2


def test_budget_marks_incomplete_and_linked_names() -> None:
    chain: list[Any] = []
    node = chain
    for _ in range(100):
        node.append([])
        node = node[0]
    ns = {"deep": chain, "alias": chain, "other": [1]}
    result = linked_groups(ns, ["deep", "alias", "other"], max_objects=10)
    assert result.incomplete == {"deep", "alias"}
    assert result.group_of("deep") == {"deep", "alias"}


def test_reach_lists_mutable_objects() -> None:
    inner = [1]
    outer = [inner, 5, "s"]
    result = linked_groups({"x": outer}, ["x", "missing"])
    assert result.reach["x"] == {identity(outer), identity(inner)}
    assert "missing" not in result.reach
    assert result.groups == (frozenset({"x"}),)
