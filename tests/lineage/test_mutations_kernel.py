"""No false negatives: every in-place mutation pattern is recorded as a write of the mutated
variable by a real elastic kernel (issue 4, "Done when": at least 40 patterns).

Each case runs a setup cell, then the mutating cell, and checks the mutating cell's recorded
writes. Cases share one kernel; ``Q_`` in a case's code becomes a prefix unique to the case.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.utils import execute, last_execution, version_names


@dataclass(frozen=True)
class Case:
    name: str
    setup: str
    mutate: str
    written: frozenset[str]
    ok: bool = True


def case(name: str, setup: str, mutate: str, *written: str, ok: bool = True) -> Case:
    return Case(name, setup, mutate, frozenset(written), ok)


LIST = "Q_x = [3, 1, 2]"
DICT = "Q_d = {'k': 1, 'j': [0]}"
SET = "Q_s = {1, 2}"
ARR = "Q_a = np.array([3.0, 1.0, 2.0])"
FRAME = "Q_df = pd.DataFrame({'a': [1, 2, 3], 'b': [4.0, 5.0, 6.0]})"
USER_CLASS = """
class Q_C:
    def __init__(self):
        self.items = []
        self._hidden = 0
        self.__mangled = 0

    def add(self, v):
        self.items.append(v)

    def bump(self):
        self.__mangled += 1
Q_o = Q_C()
"""
SLOTS = """
class Q_S:
    __slots__ = ('v', '_w')
    def __init__(self):
        self.v = 1
        self._w = [1]
Q_o = Q_S()
"""

CASES = [
    # list methods
    case("list_append", LIST, "Q_x.append(4)", "Q_x"),
    case("list_extend", LIST, "Q_x.extend([4, 5])", "Q_x"),
    case("list_insert", LIST, "Q_x.insert(0, 9)", "Q_x"),
    case("list_pop", LIST, "Q_x.pop()", "Q_x"),
    case("list_remove", LIST, "Q_x.remove(1)", "Q_x"),
    case("list_sort", LIST, "Q_x.sort()", "Q_x"),
    case("list_reverse", LIST, "Q_x.reverse()", "Q_x"),
    case("list_clear", LIST, "Q_x.clear()", "Q_x"),
    case("list_iadd", LIST, "Q_x += [4]", "Q_x"),
    case("list_imul", LIST, "Q_x *= 2", "Q_x"),
    case("list_slice_assign", LIST, "Q_x[1:2] = [7, 7]", "Q_x"),
    case("list_del_item", LIST, "del Q_x[0]", "Q_x"),
    case("list_del_slice", LIST, "del Q_x[::2]", "Q_x"),
    case("list_setitem_dunder", LIST, "Q_x.__setitem__(0, 5)", "Q_x"),
    case("list_in_comprehension", "Q_x = []", "[Q_x.append(i) for i in range(3)]", "Q_x"),
    # dict methods
    case("dict_setitem", DICT, "Q_d['k'] = 2", "Q_d"),
    case("dict_update", DICT, "Q_d.update(z=3)", "Q_d"),
    case("dict_setdefault", DICT, "Q_d.setdefault('new', [])", "Q_d"),
    case("dict_popitem", DICT, "Q_d.popitem()", "Q_d"),
    case("dict_pop", DICT, "Q_d.pop('k')", "Q_d"),
    case("dict_ior", DICT, "Q_d |= {'z': 1}", "Q_d"),
    case("dict_del", DICT, "del Q_d['k']", "Q_d"),
    case("dict_value_aug", DICT, "Q_d['k'] += 1", "Q_d"),
    case("dict_loop_update", DICT, "for key in Q_d:\n    Q_d[key] = 0", "Q_d"),
    # set methods
    case("set_add", SET, "Q_s.add(3)", "Q_s"),
    case("set_discard", SET, "Q_s.discard(1)", "Q_s"),
    case("set_ior", SET, "Q_s |= {5}", "Q_s"),
    case("set_remove", SET, "Q_s.remove(2)", "Q_s"),
    case("set_clear", SET, "Q_s.clear()", "Q_s"),
    # other containers
    case("bytearray_setitem", "Q_b = bytearray(b'ab')", "Q_b[0] = 0", "Q_b"),
    case(
        "deque_append", "import collections\nQ_q = collections.deque([1])", "Q_q.append(2)", "Q_q"
    ),
    case(
        "defaultdict_touch",
        "import collections\nQ_dd = collections.defaultdict(list)",
        "Q_dd['new']",
        "Q_dd",
    ),
    case(
        "counter_update",
        "import collections\nQ_c = collections.Counter('ab')",
        "Q_c.update('a')",
        "Q_c",
    ),
    case("array_append", "import array\nQ_ar = array.array('i', [1])", "Q_ar.append(2)", "Q_ar"),
    case("random_shuffle", "import random\nQ_x = list(range(20))", "random.shuffle(Q_x)", "Q_x"),
    # augmented assignment on immutable values (rebinding)
    case("int_aug", "Q_n = 1", "Q_n += 1", "Q_n"),
    case("str_aug", "Q_t = 'a'", "Q_t += 'b'", "Q_t"),
    case("tuple_aug", "Q_t = (1,)", "Q_t += (2,)", "Q_t"),
    case("tuple_holding_list", "Q_t = ([1], 2)", "Q_t[0].append(3)", "Q_t"),
    # numpy
    case("np_ufunc_out", ARR, "np.add(Q_a, 1, out=Q_a)", "Q_a"),
    case("np_ellipsis_iadd", ARR, "Q_a[...] += 1", "Q_a"),
    case("np_copyto", ARR, "np.copyto(Q_a, 7.0)", "Q_a"),
    case("np_sort", ARR, "Q_a.sort()", "Q_a"),
    case("np_iadd", ARR, "Q_a += 1", "Q_a"),
    case("np_setitem", ARR, "Q_a[0] = 5", "Q_a"),
    case("np_fill", ARR, "Q_a.fill(0)", "Q_a"),
    case("np_shape_assign", "Q_a = np.zeros(6)", "Q_a.shape = (2, 3)", "Q_a"),
    case("np_view_write", "Q_a = np.zeros((2, 3))", "Q_a.reshape(-1)[4] = 1", "Q_a"),
    case("np_random_shuffle", "Q_a = np.arange(20)", "np.random.shuffle(Q_a)", "Q_a"),
    case(
        "np_object_array", "Q_a = np.empty(2, dtype=object)\nQ_a[0] = []", "Q_a[0].append(1)", "Q_a"
    ),
    # pandas, under copy-on-write
    case("pd_loc", FRAME, "Q_df.loc[0, 'a'] = 100", "Q_df"),
    case("pd_setitem_column", FRAME, "Q_df['c'] = Q_df['a'] * 2", "Q_df"),
    case("pd_overwrite_column", FRAME, "Q_df['a'] = 0", "Q_df"),
    case("pd_drop_inplace", FRAME, "Q_df.drop(columns=['b'], inplace=True)", "Q_df"),
    case("pd_sort_inplace", FRAME, "Q_df.sort_values('a', ascending=False, inplace=True)", "Q_df"),
    case("pd_iloc", FRAME, "Q_df.iloc[0, 0] = -1", "Q_df"),
    case("pd_at", FRAME, "Q_df.at[1, 'b'] = 0.5", "Q_df"),
    case("pd_rename_inplace", FRAME, "Q_df.rename(columns={'a': 'z'}, inplace=True)", "Q_df"),
    case("pd_columns_assign", FRAME, "Q_df.columns = ['x', 'y']", "Q_df"),
    case("pd_index_name", FRAME, "Q_df.index.name = 'idx'", "Q_df"),
    case("pd_attrs", FRAME, "Q_df.attrs['source'] = 'x'", "Q_df"),
    case("pd_reset_index_inplace", FRAME, "Q_df.reset_index(inplace=True)", "Q_df"),
    case(
        "pd_fillna_inplace",
        "Q_sr = pd.Series([1.0, None, 3.0])",
        "Q_sr.fillna(0, inplace=True)",
        "Q_sr",
    ),
    case("pd_series_setitem", "Q_sr = pd.Series([1, 2, 3])", "Q_sr[0] = 10", "Q_sr"),
    case(
        "pd_string_column",
        "Q_df = pd.DataFrame({'s': ['a', 'b']})",
        "Q_df.loc[0, 's'] = 'zz'",
        "Q_df",
    ),
    # user objects
    case("attr_public", USER_CLASS, "Q_o.items = [1]", "Q_o"),
    case("attr_private", USER_CLASS, "Q_o._hidden = 5", "Q_o"),
    case("attr_mangled_by_method", USER_CLASS, "Q_o.bump()", "Q_o"),
    case("attr_new", USER_CLASS, "Q_o.extra = 1", "Q_o"),
    case("attr_del", USER_CLASS, "del Q_o._hidden", "Q_o"),
    case("method_mutates_self", USER_CLASS, "Q_o.add(1)", "Q_o"),
    case("slots_public", SLOTS, "Q_o.v = 2", "Q_o"),
    case("slots_private_nested", SLOTS, "Q_o._w.append(2)", "Q_o"),
    case("class_attribute", "class Q_K:\n    items = []", "Q_K.items.append(1)", "Q_K"),
    case(
        "object_in_list",
        "class Q_P:\n    v = 0\nQ_l = [Q_P()]",
        "Q_l[0].v = 3",
        "Q_l",
    ),
    case("nested_3_deep", "Q_x = {'a': [{'b': [1]}]}", "Q_x['a'][0]['b'].append(2)", "Q_x"),
    # through functions
    case(
        "function_global_rebind",
        "Q_n = 0\ndef Q_f():\n    global Q_n\n    Q_n += 1",
        "Q_f()",
        "Q_n",
    ),
    case("function_global_mutate", "Q_x = []\ndef Q_f():\n    Q_x.append(1)", "Q_f()", "Q_x"),
    case("function_argument", "Q_x = []\ndef Q_f(l):\n    l.append(1)", "Q_f(Q_x)", "Q_x"),
    case(
        "function_transitive",
        "Q_x = []\ndef Q_g():\n    Q_x.append(1)\ndef Q_f():\n    Q_g()",
        "Q_f()",
        "Q_x",
    ),
    case(
        "closure",
        "Q_data = []\ndef Q_make():\n    acc = Q_data\n    def g():\n        acc.append(1)\n"
        "    return g\nQ_g = Q_make()",
        "Q_g()",
        "Q_data",
    ),
    case(
        "lambda_default",
        "Q_x = []\nQ_f = lambda v, into=Q_x: into.append(v)",
        "Q_f(1)",
        "Q_x",
    ),
    case(
        "partial",
        "import functools\nQ_x = []\nQ_p = functools.partial(list.append, Q_x)",
        "Q_p(1)",
        "Q_x",
    ),
    case(
        "method_mutates_global",
        "Q_log = []\nclass Q_C:\n    def run(self):\n        Q_log.append(1)\nQ_o = Q_C()",
        "Q_o.run()",
        "Q_log",
    ),
    case(
        "function_held_in_dict",
        "Q_x = []\ndef Q_f():\n    Q_x.append(1)\nQ_ops = {'f': Q_f}",
        "Q_ops['f']()",
        "Q_x",
    ),
    case(
        "function_held_in_attribute",
        "Q_x = []\ndef Q_f():\n    Q_x.append(1)\nclass Q_H:\n    pass\nQ_h = Q_H()\nQ_h.cb = Q_f",
        "Q_h.cb()",
        "Q_x",
    ),
    case(
        "instance_held_in_dict",
        "Q_log = []\nclass Q_C:\n    def run(self):\n        Q_log.append(1)\nQ_reg = {'o': Q_C()}",
        "Q_reg['o'].run()",
        "Q_log",
    ),
    case(
        "lru_cache_function",
        "import functools\nQ_x = []\n@functools.lru_cache\ndef Q_f(v):\n    Q_x.append(v)",
        "Q_f(1)",
        "Q_x",
    ),
    case(
        "callback_in_library_object",
        "import functools\nQ_x = []\ndef Q_f(v):\n    Q_x.append(v)\n"
        "Q_cbs = [functools.partial(Q_f, 1)]",
        "for cb in Q_cbs:\n    cb()",
        "Q_x",
    ),
    # dynamic access
    case("eval", "Q_x = []", "eval('Q_x.append(1)')", "Q_x"),
    case("exec", "Q_x = []", "exec('Q_x.append(1)')", "Q_x"),
    case("exec_rebind", "Q_n = 1", "exec('Q_n = 2')", "Q_n"),
    case("globals_mutate", "Q_x = []", "globals()['Q_x'].append(1)", "Q_x"),
    case("globals_rebind", "Q_n = 1", "globals()['Q_n'] = 2", "Q_n"),
    case("setattr_builtin", USER_CLASS, "setattr(Q_o, 'items', None)", "Q_o"),
    case("vars_write", USER_CLASS, "vars(Q_o)['items'] = None", "Q_o"),
    case("dunder_dict_write", USER_CLASS, "Q_o.__dict__['items'] = None", "Q_o"),
    case("user_ns_write", "Q_n = 1", "get_ipython().user_ns['Q_n'] = 2", "Q_n"),
    # aliases
    case("alias_append", "Q_a = [1]\nQ_b = Q_a", "Q_b.append(1)", "Q_a", "Q_b"),
    case("alias_in_dict", "Q_a = [1]\nQ_d = {'k': Q_a}", "Q_a.append(2)", "Q_a", "Q_d"),
    case(
        "module_attribute_alias",
        "import sys, types\nsys.modules['Q_mod'] = types.ModuleType('Q_mod')\nimport Q_mod\n"
        "Q_mod.registry = []\nQ_h = Q_mod.registry",
        "Q_mod.registry.append(1)",
        "Q_h",
    ),
    case("sys_path_alias", "import sys\nQ_h = sys.path", "sys.path.append('')", "Q_h"),
    # scikit-learn
    case(
        "sklearn_fit",
        "from sklearn.linear_model import LinearRegression\nQ_m = LinearRegression()\n"
        "Q_X = np.arange(10.0).reshape(-1, 1)\nQ_y = 2 * Q_X.ravel()",
        "Q_m.fit(Q_X, Q_y)",
        "Q_m",
    ),
    case(
        "sklearn_refit",
        "from sklearn.linear_model import LinearRegression\n"
        "Q_X = np.arange(10.0).reshape(-1, 1)\nQ_m = LinearRegression().fit(Q_X, Q_X.ravel())",
        "Q_m.fit(Q_X, 3 * Q_X.ravel())",
        "Q_m",
    ),
    case(
        "sklearn_set_params",
        "from sklearn.linear_model import Ridge\nQ_m = Ridge()",
        "Q_m.set_params(alpha=3.0)",
        "Q_m",
    ),
    case(
        "torch_backward_fills_parameter_gradients",
        "import torch\nQ_net = torch.nn.Linear(3, 1)\nQ_w = Q_net.weight\n"
        "Q_loss = Q_net(torch.ones(2, 3)).sum()",
        "Q_loss.backward()",
        "Q_net",
        "Q_w",
    ),
    # magics and errors
    case("time_line_magic", "Q_x = []", "%time Q_x.append(1)", "Q_x"),
    case("time_cell_magic", "Q_x = []", "%%time\nQ_x.append(1)", "Q_x"),
    case("capture_cell", "Q_x = []", "%%capture\nQ_x.append(1)\nprint('hidden')", "Q_x"),
    case("capture_named", "Q_x = []", "%%capture Q_out\nQ_x.append(1)", "Q_x", "Q_out"),
    # A module fingerprints as its name: these writes are seen in the cell's code.
    case("module_attribute", "import types\nQ_m = types.ModuleType('Q_m')", "Q_m.v = 2", "Q_m"),
    case(
        "module_settings_call",
        "import pandas as Q_pd",
        "Q_pd.set_option('display.max_colwidth', 40)",
        "Q_pd",
    ),
    case("module_list_method", "import sys as Q_sys", "Q_sys.path.append('/Q_missing')", "Q_sys"),
    case(
        "raise_after_mutation",
        "Q_x = []",
        "Q_x.append(1)\nraise ValueError('after')",
        "Q_x",
        ok=False,
    ),
    case(
        "raise_inside_function",
        "Q_x = []\ndef Q_f():\n    Q_x.append(1)\n    return 1 / 0",
        "Q_f()",
        "Q_x",
        ok=False,
    ),
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


def names(execution: dict[str, object], key: str) -> set[str]:
    return version_names(execution[key])  # type: ignore[arg-type]


def test_enough_patterns() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("item", CASES, ids=[c.name for c in CASES])
def test_mutation_is_recorded(kc: BlockingKernelClient, item: Case) -> None:
    prefix = f"m{CASES.index(item)}_"
    run(kc, prefixed(item.setup, prefix))
    execution = run(kc, prefixed(item.mutate, prefix), ok=item.ok)
    expected = {prefixed(n, prefix) for n in item.written}
    writes = names(execution, "writes")
    assert expected <= writes, f"missed writes {expected - writes} in {execution['code']!r}"


def test_delete_alias_keeps_other_name(kc: BlockingKernelClient) -> None:
    run(kc, "da_a = [1]\nda_b = da_a")
    execution = run(kc, "del da_b")
    assert execution["deletes"] == ["da_b"]
    assert "da_a" not in names(execution, "writes")
    check = execute(kc, "print(da_a)")
    assert check.stdout.strip() == "[1]"
    after = run(kc, "da_a.append(2)")
    assert names(after, "writes") == {"da_a"}


def test_rebind_alias_then_mutate(kc: BlockingKernelClient) -> None:
    """After ``b`` is rebound, mutating ``a`` must no longer write ``b``, and vice versa."""
    run(kc, "ra_a = [1]\nra_b = ra_a")
    run(kc, "ra_b = [2]")
    execution = run(kc, "ra_a.append(3)")
    assert names(execution, "writes") == {"ra_a"}


NEGATIVE = [
    ("len", "Q_x = [1, 2, 3]", "print(len(Q_x))"),
    ("df_head", FRAME, "print(Q_df.head())"),
    ("df_describe", FRAME, "Q_df.describe()"),
    ("df_column_read", FRAME, "print(Q_df['a'].sum(), Q_df.loc[0, 'b'])"),
    ("series_item", "Q_sr = pd.Series([1, 2, 3])", "print(Q_sr[0], Q_sr.iloc[1])"),
    ("arr_sum", ARR, "print(Q_a.sum(), Q_a.mean(), Q_a[0])"),
    ("dict_get", DICT, "print(Q_d.get('k'), list(Q_d))"),
    ("obj_read", USER_CLASS, "print(Q_o.items, Q_o._hidden)"),
    ("sklearn_predict", None, "print(Q_m.predict(Q_X)[:2])"),
]
SKLEARN_FITTED = (
    "from sklearn.linear_model import LinearRegression\n"
    "Q_X = np.arange(10.0).reshape(-1, 1)\nQ_m = LinearRegression().fit(Q_X, Q_X.ravel())"
)


@pytest.mark.parametrize(("label", "setup", "read"), NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_pure_read_records_no_write(
    kc: BlockingKernelClient, label: str, setup: str | None, read: str
) -> None:
    prefix = f"neg_{label}_"
    run(kc, prefixed(setup or SKLEARN_FITTED, prefix))
    execution = run(kc, prefixed(read, prefix))
    assert names(execution, "writes") == set()
    assert names(execution, "reads"), "a read cell must record what it read"


def test_watching_a_non_leaf_tensor_prints_nothing(kc: BlockingKernelClient) -> None:
    """torch warns when a non-leaf tensor's .grad is read: monitoring must not read it."""
    setup = execute(kc, "import torch\nnl_w = torch.ones(2, requires_grad=True)")
    assert setup.ok, setup.error
    result = execute(kc, "nl_y = (nl_w * 2).sum()\nnl_z = nl_y")
    assert result.ok, result.error
    assert result.stderr == ""
