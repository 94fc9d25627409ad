"""Property: the writes a real elastic kernel records for a cell include every variable whose
value truly changed, found by a brute-force full-namespace deep diff (issue 4, "Done when").

Hypothesis generates cell sequences over a small pool of variables: assignments, in-place
mutations of lists, dicts and arrays, aliasing, views, deletes, and functions that mutate or
rebind globals. Around each recorded cell, unrecorded requests (``store_history=False``) pickle
every pool variable inside the kernel, before and after; a variable changed when its object
identity or its pickled content differs.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.utils import execute, last_execution, version_names

POOL = 4
VARS = [f"v{i}" for i in range(POOL)]

# Snapshot helpers live on the `sys` module so that they never enter the user namespace.
HELPERS = """
import sys as _ek_sys
def _ek_state(prefix):
    import pickle
    ns = get_ipython().user_ns
    state = {}
    for name, value in list(ns.items()):
        if not name.startswith(prefix):
            continue
        try:
            content = pickle.dumps(value, protocol=5)
        except Exception:
            content = repr(value).encode()
        state[name] = (id(value), content)
    return state
def _ek_diff(prefix):
    before = __import__("sys")._ek_before
    after = __import__("sys")._ek_state(prefix)
    return sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
_ek_sys._ek_state = _ek_state
_ek_sys._ek_diff = _ek_diff
del _ek_state, _ek_diff, _ek_sys
"""

var = st.sampled_from(VARS)
value = st.sampled_from(
    ["[1, 2]", "[[0], 1]", "{'k': [1]}", "np.arange(6)", "np.zeros((2, 3))", "7", "'s'", "(1, [2])"]
)


def _guarded(name: str, kind: str, body: str) -> str:
    return f"if isinstance({name}, {kind}):\n    {body}"


operation = st.one_of(
    st.builds(lambda a, v: f"{a} = {v}", var, value),
    st.builds(lambda a, b: f"{a} = {b}", var, var),
    st.builds(lambda a, b: f"{a} = [{b}, 0]", var, var),
    st.builds(lambda a, b: f"{a} = {{'x': {b}}}", var, var),
    st.builds(lambda a: _guarded(a, "list", f"{a}.append(len({a}))"), var),
    st.builds(lambda a: _guarded(a, "list", f"{a}[:1] = []"), var),
    st.builds(
        lambda a: (
            f"if isinstance({a}, list) and {a} and isinstance({a}[0], list):\n    {a}[0].append(9)"
        ),
        var,
    ),
    st.builds(lambda a: _guarded(a, "dict", f"{a}['n'] = len({a})"), var),
    st.builds(
        lambda a: (
            f"if isinstance({a}, dict) and isinstance({a}.get('x'), list):\n    {a}['x'].append(5)"
        ),
        var,
    ),
    st.builds(lambda a: _guarded(a, "np.ndarray", f"{a} += 1"), var),
    st.builds(lambda a: _guarded(a, "np.ndarray", f"{a}.reshape(-1)[0] = -1"), var),
    st.builds(lambda a, b: f"{a} = {b}[1:] if isinstance({b}, np.ndarray) else {a}", var, var),
    st.builds(lambda a: _guarded(a, "int", f"{a} += 1"), var),
    st.builds(lambda a: f"del {a}", var),
    st.builds(lambda a: f"def f():\n    global {a}\n    {a} = [0]", var),
    st.builds(lambda a: f"def f():\n    if isinstance({a}, list):\n        {a}.append(1)", var),
    st.just("f()"),
    st.builds(lambda a: f"eval('{a}.append(3) if isinstance({a}, list) else None')", var),
)

_examples = itertools.count()


def _run_sequence(kc: BlockingKernelClient, cells: list[str]) -> None:
    prefix = f"hp{next(_examples)}_"

    def named(code: str) -> str:
        for name in VARS:
            code = code.replace(name, prefix + name)
        return code.replace("f()", f"{prefix}f()").replace("def f(", f"def {prefix}f(")

    setup = "\n".join(f"{prefix}{name} = [{i}]" for i, name in enumerate(VARS))
    setup += f"\ndef {prefix}f():\n    pass"
    cells_run = [setup, *map(named, cells)]
    for code in cells_run:
        snap = f"__import__('sys')._ek_before = __import__('sys')._ek_state({prefix!r})"
        assert execute(kc, snap, store_history=False).ok
        execute(kc, code)
        diff = execute(
            kc,
            f"print(__import__('json').dumps(__import__('sys')._ek_diff({prefix!r})))",
            store_history=False,
        )
        assert diff.ok, diff.error
        truly_changed = set(json.loads(diff.stdout))
        execution = last_execution(kc)
        assert execution["code"].rstrip("\n") == code.rstrip("\n")
        recorded = version_names(execution["writes"]) | set(execution["deletes"])
        missed = truly_changed - recorded
        assert not missed, f"missed {missed} in cell {code!r} (sequence {cells_run!r})"


@settings(
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(cells=st.lists(operation, min_size=1, max_size=8))
def test_recorded_writes_cover_true_changes(
    kernel_pair: tuple[KernelManager, BlockingKernelClient], cells: list[str]
) -> None:
    _, kc = kernel_pair
    _install_helpers(kc)
    _run_sequence(kc, cells)


def _install_helpers(kc: BlockingKernelClient) -> None:
    check = execute(kc, "print(hasattr(__import__('sys'), '_ek_diff'))", store_history=False)
    if check.stdout.strip() == "True":
        return
    assert execute(kc, "import numpy as np").ok
    result = execute(kc, HELPERS, store_history=False)
    assert result.ok, result.error


def test_brute_force_diff_sees_changes(
    kernel_pair: tuple[KernelManager, BlockingKernelClient],
) -> None:
    """The oracle itself: it must report an in-place change, a rebind and a delete."""
    _, kc = kernel_pair
    _install_helpers(kc)
    execute(kc, "or_a = [1]\nor_b = 1\nor_c = 2")
    execute(
        kc, "__import__('sys')._ek_before = __import__('sys')._ek_state('or_')", store_history=False
    )
    execute(kc, "or_a.append(2)\nor_b = 3\ndel or_c")
    diff = execute(
        kc,
        "print(__import__('json').dumps(__import__('sys')._ek_diff('or_')))",
        store_history=False,
    )
    assert set(json.loads(diff.stdout)) == {"or_a", "or_b", "or_c"}
