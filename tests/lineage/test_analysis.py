"""Static analysis of transformed cells."""

from __future__ import annotations

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from elastic_kernel.lineage.analysis import analyze_cell
from elastic_kernel.lineage.nondeterminism import nondeterminism_reasons

TRANSFORM = TransformerManager()


def analyze(cell: str):  # type: ignore[no-untyped-def]
    return analyze_cell(TRANSFORM.transform_cell(cell))


@pytest.mark.parametrize(
    ("cell", "loads", "stores"),
    [
        ("y = x + 1", {"x"}, {"y"}),
        ("x += 1", {"x"}, {"x"}),
        ("a.b.c = d", {"a", "d"}, set()),
        ("a[i] = v", {"a", "i", "v"}, set()),
        ("[k * s for k in r]", {"k", "s", "r"}, {"k"}),
        ("f'{name!r} {value:>{width}}'", {"name", "value", "width"}, set()),
        ("import numpy as np", set(), {"np"}),
        ("from os import path as p, sep", set(), {"p", "sep"}),
        ("def g():\n    global gv\n    gv = other", {"gv", "other"}, {"g", "gv"}),
        ("class K(Base):\n    attr = val", {"Base", "val"}, {"K", "attr"}),
        ("%time out = f(x)", {"f", "x"}, {"out"}),
        ("%%time\nq = w", {"w"}, {"q"}),
        ("%timeit -n 2 -r 1 g(h)", {"g", "h"}, set()),
        ("%%capture cap\nprint(z)", {"print", "z"}, {"cap"}),
        ("lst = !ls {folder}", {"ls", "folder"}, {"lst"}),
        ("with open(fn) as fh:\n    data = fh.read()", {"open", "fn", "fh"}, {"fh", "data"}),
        ("lambda t: t + u", {"t", "u"}, set()),
        ("(w := 3)", set(), {"w"}),
    ],
)
def test_names(cell: str, loads: set[str], stores: set[str]) -> None:
    result = analyze(cell)
    assert loads <= result.loads, result.loads
    assert stores <= result.stores, result.stores
    assert not result.is_dynamic


def test_delete() -> None:
    assert analyze("del a, b[0]").deletes == {"a"}


@pytest.mark.parametrize(
    "cell",
    [
        "eval('x')",
        "exec('y = 1')",
        "globals()['z'] = 1",
        "vars()",
        "locals()",
        "setattr(mod, 'x', 1)",
        "get_ipython().user_ns['a'] = 1",
        "%run script.py",
        "from helpers import *",
        "def broken(:",
        "sys.modules['__main__'].x = 1",
    ],
)
def test_dynamic_cells(cell: str) -> None:
    result = analyze(cell)
    assert result.is_dynamic
    assert result.dynamic_reasons


@pytest.mark.parametrize("cell", ["!ls", "%pip install x", "%%writefile f.txt\nabc", "%%bash\nls"])
def test_side_effect_cells(cell: str) -> None:
    result = analyze(cell)
    assert result.side_effects
    assert not result.is_dynamic


@pytest.mark.parametrize(
    "cell", ["%matplotlib inline", "%config X.y = 1", "%elastic graph", "%env A=1"]
)
def test_neutral_magics(cell: str) -> None:
    result = analyze(cell)
    assert not result.is_dynamic
    assert not result.side_effects


def test_syntax_error_is_reported() -> None:
    result = analyze("x = (")
    assert result.syntax_error is not None


@pytest.mark.parametrize(
    ("cell", "changed"),
    [
        ("pd.options.display.max_rows = 7", {"pd"}),
        ("plt.rcParams['figure.dpi'] = 50", {"plt"}),
        ("mod.x += 1\ndel other.y", {"mod", "other"}),
        ("(m.a, n.b) = 1, 2", {"m", "n"}),
        ("sys.path.append('../src')", {"sys"}),
        ("os.environ.update(A='1')", {"os"}),
        ("pd.set_option('display.max_rows', 7)", {"pd"}),
        ("plt.style.use('ggplot')\nnp.set_printoptions(precision=2)", {"plt", "np"}),
        ("%time sklearn.set_config(display='text')", {"sklearn"}),
        # Through a module's settings object.
        ("decimal.getcontext().prec = 5", {"decimal"}),
        ("logging.getLogger('x').setLevel(10)", {"logging"}),
        ("plt.gca().set(title='t')\nplt.figure().dpi = 3", set()),
        # Functions that return new values, and plain reads, change nothing.
        ("np.append(a, 1)\nnp.sort(a)", set()),
        ("lst.append(1)\nx = pd.options.display.max_rows", set()),
        ("f().x = 1", set()),
    ],
)
def test_names_changed_through_attributes_items_and_settings_calls(
    cell: str, changed: set[str]
) -> None:
    assert analyze(cell).changed_through == changed


def test_settings_magics_are_collected() -> None:
    cell = "%load_ext autoreload\n%autoreload 2\n%config InlineBackend.figure_format = 'svg'\n%who"
    assert analyze(cell).settings_magics == [
        ("load_ext", "autoreload"),
        ("autoreload", "2"),
        ("config", "InlineBackend.figure_format = 'svg'"),
    ]


@pytest.mark.parametrize(
    ("code", "clocked"),
    [
        ("get_ipython().run_line_magic('timeit', 'acc.append(1)')", True),
        ("get_ipython().run_cell_magic('timeit', '', 'acc.append(1)\\n')", True),
        ("get_ipython().run_line_magic('timeit', '-n 3 -r 1 acc.append(1)')", False),
        ("get_ipython().run_cell_magic('timeit', '-r 2 -n 5', 'acc.append(1)\\n')", False),
    ],
)
def test_timeit_without_a_loop_count_depends_on_the_clock(code: str, clocked: bool) -> None:
    analysis = analyze_cell(code)
    assert "acc" in analysis.loads
    assert bool(nondeterminism_reasons(analysis.calls)) is clocked
