"""A hypothesis strategy for random notebooks over a small pool of variables.

Cells assign, alias, mutate in place (lists, dicts, numpy arrays and views, DataFrames, user
objects), delete, define functions that write globals, raise half-way, draw random numbers with
and without seeds, and hold unserializable objects. A model of each name's kind keeps most
statements meaningful; statements that still fail are part of the test (cells that raise).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

NAMES = ("a", "b", "c", "d", "e", "f")
FUNCTIONS = ("fn0", "fn1")
MODES = ("balanced", "fast-migrate", "fast-restore", "store-all", "rerun-all")
REFERENCE_KINDS = frozenset({"list", "dict", "array", "view", "frame", "box", "tuple"})

SETUP = """import random
import numpy as np
import pandas as pd


class Box:
    def __init__(self, n):
        self.n = n
        self._items = []

    def bump(self):
        self.n += 1
        self._items.append(self.n)
        return self.n"""


@dataclass(frozen=True, slots=True)
class Notebook:
    """Cells to run after ``SETUP``, where to checkpoint, and with which modes."""

    cells: tuple[str, ...]
    checkpoint_after: int
    first_mode: str
    final_mode: str

    def script(self) -> str:
        """The notebook as text, for failure messages and regression tests."""
        parts = [f"# --- cell {i}\n{cell}" for i, cell in enumerate(self.cells, 1)]
        parts.insert(self.checkpoint_after, f"# --- %checkpoint --mode {self.first_mode}")
        parts.append(f"# --- %checkpoint --mode {self.final_mode}")
        return "\n".join(parts)


def _pick(draw: st.DrawFn, names: list[str]) -> str:
    return draw(st.sampled_from(sorted(names)))


small = st.integers(min_value=-5, max_value=20)
seeds = st.integers(min_value=0, max_value=9)


@st.composite
def statement(draw: st.DrawFn, kinds: dict[str, str], functions: dict[str, str]) -> str:
    """One statement; updates ``kinds`` (name -> kind) and ``functions`` as the code would."""
    target = draw(st.sampled_from(NAMES))
    refs = [n for n, k in kinds.items() if k in REFERENCE_KINDS]
    choices = ["new", "new", "new", "random", "unserializable", "magic"]
    if kinds:
        choices += ["alias", "mutate", "mutate", "mutate", "delete", "contain", "function"]
    if functions:
        choices += ["call"]
    choice = draw(st.sampled_from(choices))
    n = draw(small)
    if choice == "new":
        kind = draw(st.sampled_from(["int", "str", "list", "dict", "array", "frame", "box"]))
        code = {
            "int": f"{target} = {n}",
            "str": f"{target} = 'text{n}'",
            "list": f"{target} = [{n}, {n + 1}, {n * 2}]",
            "dict": f"{target} = {{'k': {n}, 'l': [{n}]}}",
            "array": f"{target} = np.arange({abs(n) + 3}, dtype=float)",
            "frame": f"{target} = pd.DataFrame({{'a': [{n}, 2, 3], 'b': ['x', 'y', 'z']}})",
            "box": f"{target} = Box({n})",
        }[kind]
        kinds[target] = kind
        return code
    if choice == "alias":
        source = _pick(draw, list(kinds))
        kinds[target] = kinds[source]
        return f"{target} = {source}"
    if choice == "contain" and refs:
        first, second = _pick(draw, refs), _pick(draw, refs)
        form = draw(st.sampled_from(["dict", "list", "tuple", "view"]))
        if form == "view" and kinds[first] in ("array", "view"):
            kinds[target] = "view"
            return f"{target} = {first}[1::2]"
        kinds[target] = "tuple" if form == "tuple" else form if form != "view" else "list"
        return {
            "dict": f"{target} = {{'ref': {first}, 'n': {n}}}",
            "list": f"{target} = [{first}, {second}]",
            "tuple": f"{target} = ({first}, {second})",
            "view": f"{target} = [{first}, {second}]",
        }[form]
    if choice == "mutate":
        name = _pick(draw, list(kinds))
        return _mutation(draw, name, kinds, n)
    if choice == "delete":
        name = _pick(draw, list(kinds))
        del kinds[name]
        return f"del {name}"
    if choice == "function":
        name = draw(st.sampled_from(FUNCTIONS))
        victim = _pick(draw, list(kinds))
        form = draw(st.sampled_from(["global", "globals", "mutate"]))
        functions[name] = victim
        if form == "global":
            kinds[victim] = "int"
            return (
                f"def {name}(step={n}):\n    global {victim}\n    {victim} = step\n    return step"
            )
        if form == "globals":
            kinds[victim] = "list"
            return f"def {name}():\n    globals()['{victim}'] = [{n}]"
        return f"def {name}():\n    {_mutation(draw, victim, kinds, n)}"
    if choice == "call" and functions:
        name = _pick(draw, list(functions))
        return f"{name}()"
    if choice == "random":
        form = draw(st.sampled_from(["py", "py-seeded", "np", "np-seeded", "gen", "gen-seeded"]))
        seed = draw(seeds)
        kinds[target] = "float" if form.startswith("py") else "array"
        return {
            "py": f"{target} = random.random()",
            "py-seeded": f"random.seed({seed})\n{target} = random.random()",
            "np": f"{target} = np.random.rand(3)",
            "np-seeded": f"np.random.seed({seed})\n{target} = np.random.rand(3)",
            "gen": f"{target} = np.random.default_rng().normal(size=3)",
            "gen-seeded": f"{target} = np.random.default_rng({seed}).normal(size=3)",
        }[form]
    if choice == "unserializable":
        form = draw(st.sampled_from(["generator", "lock", "lambda"]))
        kinds[target] = {"generator": "gen", "lock": "lock", "lambda": "func"}[form]
        return {
            "generator": f"{target} = (i * 2 for i in range({abs(n) + 2}))",
            "lock": f"{target} = __import__('threading').Lock()",
            "lambda": f"{target} = lambda v: v + {n}",
        }[form]
    if choice == "magic":
        kinds[target] = "int"
        form = draw(st.sampled_from(["time", "exec", "globals"]))
        return {
            "time": f"%time {target} = {n}",
            "exec": f"exec('{target} = {n}')",
            "globals": f"globals()['{target}'] = {n}",
        }[form]
    kinds[target] = "int"
    return f"{target} = {n}"


def _mutation(draw: st.DrawFn, name: str, kinds: dict[str, str], n: int) -> str:
    kind = kinds[name]
    forms = {
        "int": [f"{name} += {n}"],
        "float": [f"{name} *= 2"],
        "str": [f"{name} += 'z'"],
        "list": [f"{name}.append({n})", f"{name}[0] = {n}", f"{name}.sort(key=repr)"],
        "dict": [f"{name}['k{n}'] = {n}", f"{name}['l'].append({n})", f"{name}.pop('k', None)"],
        "array": [f"{name}[0] += {n}", f"{name} *= 2", f"{name}.sort()"],
        "view": [f"{name}[0] = {n}", f"{name} += 1"],
        "frame": [
            f"{name}.loc[0, 'a'] = {n}",
            f"{name}['c'] = {name}['a'] * 2",
            f"{name}.sort_values('a', inplace=True)",
            f"{name}.drop(columns=['b'], inplace=True)",
        ],
        "box": [f"{name}.bump()", f"{name}.tag = {n}", f"{name}._items.append({name}.n)"],
        "gen": [f"next({name}, None)"],
        "tuple": [f"{name}[0].append({n})"],
        "lock": [f"{name}.acquire()"],
        "func": [f"{name}({n})"],
    }.get(kind, [f"{name} = {n}"])
    return draw(st.sampled_from(forms))


@st.composite
def cell(draw: st.DrawFn, kinds: dict[str, str], functions: dict[str, str]) -> str:
    count = draw(st.integers(min_value=1, max_value=3))
    lines = [draw(statement(kinds, functions)) for _ in range(count)]
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        # A cell that raises half-way: what ran before the exception stays.
        lines.insert(draw(st.integers(min_value=0, max_value=len(lines))), "raise ValueError(1)")
    if any(line.startswith(("%", "def ")) for line in lines) and len(lines) > 1:
        # A line magic must start the cell's line; a def ends at dedent: one per cell.
        lines = [lines[0]]
    return "\n".join(lines)


@st.composite
def notebooks(draw: st.DrawFn, max_cells: int = 8) -> Notebook:
    """A random notebook of 1..``max_cells`` cells and a checkpoint position in it."""
    kinds: dict[str, str] = {}
    functions: dict[str, str] = {}
    count = draw(st.integers(min_value=1, max_value=max_cells))
    cells = tuple(draw(cell(kinds, functions)) for _ in range(count))
    return Notebook(
        cells=cells,
        checkpoint_after=draw(st.integers(min_value=1, max_value=count)),
        first_mode=draw(st.sampled_from(MODES)),
        final_mode=draw(st.sampled_from(MODES)),
    )
