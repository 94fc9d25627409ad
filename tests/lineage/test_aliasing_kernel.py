"""No lost link: when variables share objects, mutating one records every sharer as written,
and the variables form one linked group (issue 4, "Done when": at least 15 aliasing patterns).

Runs on a real elastic kernel shared by the module; ``Q_`` becomes a prefix unique to a case.
Negative cases check that sharing immutable values (small ints, strings, frozensets) is not a
link.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.utils import execute, last_execution, version_names

GROUPS = (
    "print(__import__('json').dumps([sorted(g) for g in __import__("
    "'elastic_kernel.lineage.links', fromlist=['linked_groups']).linked_groups("
    "get_ipython().user_ns, {names!r}).groups]))"
)


@dataclass(frozen=True)
class Alias:
    name: str
    setup: str
    mutate: str
    written: frozenset[str]
    # Variables that must NOT be written: the mutation does not reach them.
    untouched: frozenset[str] = frozenset()
    # Whether the untouched ones are still in the same linked group (linked transitively).
    untouched_linked: bool = False


def alias(
    name: str,
    setup: str,
    mutate: str,
    written: str,
    untouched: str = "",
    *,
    untouched_linked: bool = False,
) -> Alias:
    return Alias(
        name,
        setup,
        mutate,
        frozenset(written.split()),
        frozenset(untouched.split()),
        untouched_linked,
    )


USER = "class Q_C:\n    pass\nQ_o = Q_C()\n"
ALIASES = [
    alias("same_object", "Q_a = [1]\nQ_b = Q_a", "Q_a.append(2)", "Q_a Q_b"),
    alias("same_object_other_side", "Q_a = {}\nQ_b = Q_a", "Q_b['k'] = 1", "Q_a Q_b"),
    alias("dict_value_is_list", "Q_l = [1]\nQ_d = {'k': Q_l}", "Q_l.append(2)", "Q_l Q_d"),
    alias("dict_value_mutated", "Q_l = [1]\nQ_d = {'k': Q_l}", "Q_d['k'].append(2)", "Q_l Q_d"),
    alias(
        "list_holds_array",
        "Q_arr = np.zeros(3)\nQ_l = [Q_arr, 1]",
        "Q_arr[0] = 1",
        "Q_arr Q_l",
    ),
    alias(
        "list_holds_array_mutated_through_list",
        "Q_arr = np.zeros(3)\nQ_l = [Q_arr]",
        "Q_l[0][1] += 2",
        "Q_arr Q_l",
    ),
    alias(
        "view_and_base", "Q_base = np.arange(10)\nQ_v = Q_base[2:5]", "Q_v[0] = -1", "Q_base Q_v"
    ),
    alias(
        "base_and_view", "Q_base = np.arange(10)\nQ_v = Q_base[2:5]", "Q_base[3] = -1", "Q_base Q_v"
    ),
    alias(
        "two_views_of_unnamed_base",
        "Q_v1 = np.arange(10)[:6]\nQ_v2 = Q_v1.base[4:]",
        "Q_v1[5] = -1",
        "Q_v1 Q_v2",
    ),
    alias(
        "two_views_of_named_base",
        "Q_base = np.arange(12.0)\nQ_v1 = Q_base.reshape(3, 4)\nQ_v2 = Q_base[::3]",
        "Q_v1[1, 2] = -1",
        "Q_base Q_v1 Q_v2",
    ),
    alias(
        "view_in_dict",
        "Q_base = np.ones(8)\nQ_d = {'even': Q_base[::2]}",
        "Q_base[0] = 5",
        "Q_base Q_d",
    ),
    alias(
        "split_parts",
        "Q_arr = np.arange(8)\nQ_parts = np.split(Q_arr, 2)",
        "Q_arr[5] = 0",
        "Q_arr Q_parts",
    ),
    alias(
        "frombuffer",
        "Q_buf = bytearray(8)\nQ_a = np.frombuffer(Q_buf, dtype='u1')",
        "Q_buf[0] = 7",
        "Q_buf Q_a",
    ),
    alias(
        "ndarray_on_buffer",
        "Q_a = np.zeros(10)\nQ_b = np.ndarray((5,), buffer=Q_a.data, dtype=Q_a.dtype)",
        "Q_a[0] = 1",
        "Q_a Q_b",
    ),
    alias(
        "memoryview", "Q_buf = bytearray(4)\nQ_m = memoryview(Q_buf)", "Q_buf[0] = 3", "Q_buf Q_m"
    ),
    alias(
        "load_digits_images",
        "from sklearn.datasets import load_digits\nQ_dg = load_digits()\n"
        "Q_data = Q_dg.data\nQ_images = Q_dg.images",
        "Q_images[0, 0, 1] = 99",
        "Q_dg Q_data Q_images",
    ),
    alias(
        "load_digits_data",
        "from sklearn.datasets import load_digits\nQ_dg = load_digits()\n"
        "Q_data = Q_dg.data\nQ_images = Q_dg.images",
        "Q_data[1, 1] = 99",
        "Q_dg Q_data Q_images",
    ),
    alias("attribute", USER + "Q_l = []\nQ_o.ref = Q_l", "Q_l.append(1)", "Q_l Q_o"),
    alias("attribute_mutated", USER + "Q_l = []\nQ_o.ref = Q_l", "Q_o.ref.append(1)", "Q_l Q_o"),
    alias("private_attribute", USER + "Q_l = []\nQ_o._ref = Q_l", "Q_l.append(1)", "Q_l Q_o"),
    alias(
        "mangled_attribute",
        "class Q_M:\n    def __init__(self, l):\n        self.__l = l\nQ_l = []\nQ_o = Q_M(Q_l)",
        "Q_l.append(1)",
        "Q_l Q_o",
    ),
    alias(
        "slots_attribute",
        "class Q_S:\n    __slots__ = ('_ref',)\nQ_l = []\nQ_o = Q_S()\nQ_o._ref = Q_l",
        "Q_l.append(1)",
        "Q_l Q_o",
    ),
    alias(
        "closure_captures_list",
        "Q_l = []\ndef Q_make(acc):\n    def g():\n        return len(acc)\n    return g\n"
        "Q_g = Q_make(Q_l)",
        "Q_l.append(1)",
        "Q_l Q_g",
    ),
    alias(
        "default_argument",
        "Q_l = []\ndef Q_f(x=Q_l):\n    return x",
        "Q_l.append(1)",
        "Q_l Q_f",
    ),
    alias("bound_method", "Q_l = []\nQ_app = Q_l.append", "Q_app(1)", "Q_l Q_app"),
    alias("tuple_holds_list", "Q_l = [1]\nQ_t = (Q_l, 2)", "Q_l.append(3)", "Q_l Q_t"),
    alias(
        "unnamed_shared_value",
        "Q_inner = [[0]]\nQ_d1 = {'k': Q_inner[0]}\nQ_d2 = {'k': Q_inner[0]}\ndel Q_inner",
        "Q_d1['k'].append(1)",
        "Q_d1 Q_d2",
    ),
    alias(
        "transitive_chain",
        "Q_x = []\nQ_y = []\nQ_a = [Q_x]\nQ_b = [Q_x, Q_y]\nQ_c = [Q_y]",
        "Q_a[0].append(1)",
        "Q_a Q_b Q_x",
        "Q_c Q_y",
        untouched_linked=True,
    ),
    alias(
        "cycle",
        "Q_n1 = {}\nQ_n2 = {'p': Q_n1}\nQ_n1['c'] = Q_n2",
        "Q_n2['v'] = 1",
        "Q_n1 Q_n2",
    ),
    alias(
        "sklearn_fitted_attribute",
        "from sklearn.linear_model import LinearRegression\nQ_X = np.arange(6.0).reshape(-1, 1)\n"
        "Q_m = LinearRegression().fit(Q_X, Q_X.ravel())\nQ_coef = Q_m.coef_",
        "Q_coef[0] = 9",
        "Q_m Q_coef",
    ),
    alias(
        "dataframe_same_object",
        "Q_df = pd.DataFrame({'a': [1, 2]})\nQ_df2 = Q_df",
        "Q_df.loc[0, 'a'] = 5",
        "Q_df Q_df2",
    ),
    alias(
        "dataframe_in_dict",
        "Q_df = pd.DataFrame({'a': [1, 2]})\nQ_d = {'frame': Q_df}",
        "Q_df['b'] = 1",
        "Q_df Q_d",
    ),
    # not links
    alias(
        "set_of_frozensets",
        "Q_fs = frozenset({1, 2})\nQ_s = {Q_fs}",
        "Q_s.add(frozenset({3}))",
        "Q_s",
        "Q_fs",
    ),
    alias("same_small_int", "Q_i = 5\nQ_j = 5", "Q_i += 1", "Q_i", "Q_j"),
    alias(
        "same_str", "Q_s1 = 'abc'\nQ_s2 = 'abc'\nQ_l = [Q_s1]", "Q_l.append(1)", "Q_l", "Q_s1 Q_s2"
    ),
    alias("same_tuple_of_atoms", "Q_t = (1, 'x')\nQ_l = [Q_t]", "Q_l.append(2)", "Q_l", "Q_t"),
]


def prefixed(text: str, prefix: str) -> str:
    return text.replace("Q_", prefix)


@pytest.fixture
def kc(kernel: BlockingKernelClient) -> BlockingKernelClient:
    result = execute(kernel, "import numpy as np\nimport pandas as pd")
    assert result.ok, result.error
    return kernel


def run(kc: BlockingKernelClient, code: str, *, ok: bool = True) -> dict[str, object]:
    result = execute(kc, code)
    assert result.ok is ok, (code, result.error)
    return last_execution(kc)


def groups(kc: BlockingKernelClient, names: list[str]) -> list[set[str]]:
    """Linked groups computed inside the kernel, by a request that is not recorded."""
    result = execute(kc, GROUPS.format(names=names), store_history=False)
    assert result.ok, result.error
    return [set(g) for g in json.loads(result.stdout)]


def test_enough_patterns() -> None:
    linked = [a for a in ALIASES if len(a.written) > 1]
    assert len(linked) >= 15


@pytest.mark.parametrize("item", ALIASES, ids=[a.name for a in ALIASES])
def test_alias_written_and_linked(kc: BlockingKernelClient, item: Alias) -> None:
    prefix = f"al{ALIASES.index(item)}_"
    run(kc, prefixed(item.setup, prefix))
    written = {prefixed(n, prefix) for n in item.written}
    untouched = {prefixed(n, prefix) for n in item.untouched}
    before = groups(kc, sorted(written | untouched))
    execution = run(kc, prefixed(item.mutate, prefix))
    writes = version_names(execution["writes"])  # type: ignore[arg-type]
    assert written <= writes, f"lost link: {written - writes} not written"
    assert not untouched & writes, f"{untouched & writes} share nothing mutable but were written"
    # Variables written together by sharing must be one linked group (stored together).
    if len(written) > 1:
        assert any(written <= g for g in before), before
    if item.untouched_linked:
        # a~b through x and b~c through y: one group, or a restore splits b from a or c.
        assert any((written | untouched) <= g for g in before), before
    else:
        for name in untouched:
            assert {name} in before, f"{name} must not be linked: {before}"


def test_series_from_dataframe_column_under_copy_on_write(kc: BlockingKernelClient) -> None:
    """pandas 3 copy-on-write: a column Series shares memory until one side is written; then
    the written side copies, so the other one does not change and need not be written."""
    run(kc, "cow_df = pd.DataFrame({'a': [1, 2, 3], 'b': [1.0, 2.0, 3.0]})\ncow_s = cow_df['a']")
    shared = execute(
        kc, "print(np.shares_memory(cow_s.to_numpy(), cow_df['a'].to_numpy()))", store_history=False
    )
    assert shared.stdout.strip() == "True"
    assert any({"cow_df", "cow_s"} <= g for g in groups(kc, ["cow_df", "cow_s"]))
    execution = run(kc, "cow_df.loc[0, 'a'] = 99")
    assert "cow_df" in version_names(execution["writes"])  # type: ignore[arg-type]
    values = execute(kc, "print(cow_s.tolist(), cow_df['a'].tolist())", store_history=False)
    assert values.stdout.strip() == "[1, 2, 3] [99, 2, 3]"
    # Now apart: writing the Series leaves the frame alone.
    execution = run(kc, "cow_s[1] = -5")
    writes = version_names(execution["writes"])  # type: ignore[arg-type]
    assert "cow_s" in writes and "cow_df" not in writes


def test_dataframe_from_array_follows_real_sharing(kc: BlockingKernelClient) -> None:
    """Whether ``pd.DataFrame(arr)`` keeps the buffer depends on pandas; assert the truth."""
    run(kc, "fa_arr = np.zeros((3, 2))\nfa_df = pd.DataFrame(fa_arr)")
    probe = "print(np.shares_memory(fa_arr, fa_df.to_numpy()))"
    shares = execute(kc, probe, store_history=False).stdout.strip() == "True"
    execution = run(kc, "fa_arr[0, 0] = 1.0")
    writes = version_names(execution["writes"])  # type: ignore[arg-type]
    changed = execute(kc, "print(fa_df.iloc[0, 0])", store_history=False).stdout.strip()
    assert "fa_arr" in writes
    assert (changed == "1.0") == shares
    if shares:
        assert "fa_df" in writes
