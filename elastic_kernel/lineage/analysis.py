"""Static analysis of one cell: which names it can read, write or delete, and whether it escapes
analysis (``eval``, ``globals()``, unknown magics) so that every variable must be considered.

It works on the *transformed* cell (IPython's ``transform_cell`` output), where ``%time x = f()``
is ``get_ipython().run_line_magic('time', 'x = f()')``: the code inside such magics is parsed too.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

from elastic_kernel.lineage.known_names import (
    CODE_MAGICS,
    DYNAMIC_ATTRIBUTES,
    DYNAMIC_CALLS,
    GENERATOR_CONSTRUCTORS,
    MUTATING_METHODS,
    NEUTRAL_MAGICS,
    SETTINGS_CALLS,
    SETTINGS_GETTERS,
    SETTINGS_MAGICS,
    SHELL_CALLS,
    SIDE_EFFECT_MAGICS,
    TOOLING_MAGICS,
)

__all__ = ["TOOLING_MAGICS", "CellAnalysis", "analyze_cell", "is_tooling_cell"]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# `%timeit -n 100 ...`: a fixed number of loops (otherwise it times how many to run).
TIMEIT_LOOPS = re.compile(r"(^|\s)-n\s*\d")


@dataclass(slots=True)
class CellAnalysis:
    """What the static analysis of a cell found.

    ``names`` is every name the cell's code mentions (loads, stores, deletes, ``global``
    declarations, names interpolated into shell commands): the candidates it may read or modify.
    ``settings_magics`` are the IPython settings magics it runs, as ``(name, argument)``.
    ``changed_through`` holds the names whose attributes or items the cell assigns or deletes
    (``pd.options.display.max_rows = 7``, ``plt.rcParams['a'] = b``), changes with a mutating
    method (``sys.path.append(p)``) or reconfigures (``pd.set_option(...)``): for a module,
    whose fingerprint is only its name, these are the only writes that can be seen.
    """

    loads: set[str] = field(default_factory=set)
    stores: set[str] = field(default_factory=set)
    deletes: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)
    changed_through: set[str] = field(default_factory=set)
    settings_magics: list[tuple[str, str]] = field(default_factory=list)
    is_seeded: bool = True
    is_dynamic: bool = False
    dynamic_reasons: list[str] = field(default_factory=list)
    side_effects: list[str] = field(default_factory=list)
    syntax_error: str | None = None

    @property
    def names(self) -> set[str]:
        return self.loads | self.stores | self.deletes

    def mark_dynamic(self, reason: str) -> None:
        self.is_dynamic = True
        if reason not in self.dynamic_reasons:
            self.dynamic_reasons.append(reason)


def analyze_cell(code: str) -> CellAnalysis:
    """Analyse transformed cell code.

    Parameters
    ----------
    code
        Python source as IPython will run it.

    Returns
    -------
    CellAnalysis
        Never raises: a cell that does not parse is marked dynamic with the reason.
    """
    result = CellAnalysis()
    _analyze_into(code, result, depth=0)
    return result


def _parse(code: str) -> ast.Module:
    """``ast.parse`` without its warnings: IPython compiles the cell too and shows them once;
    ours would print each one twice more in the user's output (``warnings.simplefilter
    ("always")`` and an invalid escape like ``"\\d"``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(code)


def is_tooling_cell(code: str) -> bool:
    """True when every statement of ``code`` is a call of one of the kernel's own magics."""
    try:
        tree = _parse(code)
    except (SyntaxError, ValueError):
        return False
    if not tree.body:
        return False
    for statement in tree.body:
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
            return False
        call = statement.value
        if not (_is_ipython_call(call.func) and isinstance(call.func, ast.Attribute)):
            return False
        first = call.args[0] if call.args else None
        if call.func.attr != "run_line_magic" or not isinstance(first, ast.Constant):
            return False
        if first.value not in TOOLING_MAGICS:
            return False
    return True


def _analyze_into(code: str, result: CellAnalysis, depth: int) -> None:
    try:
        tree = _parse(code)
    except (SyntaxError, ValueError) as exc:
        if depth == 0:
            result.syntax_error = str(exc)
        # The cell fails before running anything, or a magic's argument is not Python: either
        # way we cannot see its names, so everything is a candidate.
        result.mark_dynamic(f"code does not parse: {exc}")
        return
    _Visitor(result, depth).visit(tree)


class _Visitor(ast.NodeVisitor):
    def __init__(self, result: CellAnalysis, depth: int) -> None:
        self.result = result
        self.depth = depth

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.result.stores.add(node.id)
        elif isinstance(node.ctx, ast.Del):
            self.result.deletes.add(node.id)
        else:
            self.result.loads.add(node.id)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        # `x += 1` reads x before writing it, but ast marks the target as a store only.
        if isinstance(node.target, ast.Name):
            self.result.loads.add(node.target.id)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        # A function declaring `global x` writes x whenever it is called.
        self.result.stores.update(node.names)
        self.result.loads.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.result.loads.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.result.imports.add(alias.name)
            self.result.stores.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        self.result.imports.add(module)
        for alias in node.names:
            if alias.name == "*":
                self.result.mark_dynamic(f"from {module} import *")
            else:
                self.result.stores.add(alias.asname or alias.name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.result.stores.add(node.name)
        self.generic_visit(node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.result.stores.add(node.name)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.visit(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        # The body runs when the function is called: its calls (clocks, generators) belong to
        # the calling cell, which finds them in the bytecode; its names stay candidates here.
        calls, seeded = set(self.result.calls), self.result.is_seeded
        for statement in node.body:
            self.visit(statement)
        self.result.calls, self.result.is_seeded = calls, seeded

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.result.attributes.add(node.attr)
        if node.attr in DYNAMIC_ATTRIBUTES:
            self.result.mark_dynamic(f"uses .{node.attr}")
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._changed_through(node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._changed_through(node)
        self.generic_visit(node)

    def _changed_through(self, node: ast.expr, depth: int = 0) -> None:
        """Record the name at the root of ``node`` (``a`` in ``a.b[0].c``) when it is at least
        ``depth`` attribute or item steps above that root."""
        steps = 0
        while True:
            if isinstance(node, (ast.Attribute, ast.Subscript)):
                node = node.value
            elif _is_settings_getter(node):
                assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                node = node.func.value
            else:
                break
            steps += 1
        if isinstance(node, ast.Name) and steps >= depth:
            self.result.changed_through.add(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if called is not None:
            self.result.calls.add(called)
            if called in GENERATOR_CONSTRUCTORS and not _has_literal_seed(node):
                self.result.is_seeded = False
        if isinstance(func, ast.Name) and func.id in DYNAMIC_CALLS:
            self.result.mark_dynamic(f"calls {func.id}()")
        if isinstance(func, ast.Attribute):
            if func.attr in SETTINGS_CALLS:
                self._changed_through(func.value)
            elif func.attr in MUTATING_METHODS:
                self._changed_through(func.value, depth=1)
        if _is_ipython_call(func):
            self._visit_ipython_call(node)
            return
        self.generic_visit(node)

    def _visit_ipython_call(self, node: ast.Call) -> None:
        assert isinstance(node.func, ast.Attribute)
        method = node.func.attr
        args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        if method == "run_line_magic" and len(args) >= 2 and isinstance(args[0], str):
            if args[0] in SETTINGS_MAGICS and isinstance(args[1], str) and self.depth == 0:
                self.result.settings_magics.append((args[0], args[1]))
            self._visit_magic(args[0], [args[1]])
        elif method == "run_cell_magic" and len(args) >= 3 and isinstance(args[0], str):
            self._visit_magic(args[0], [args[1], args[2]])
        elif method in SHELL_CALLS and args and isinstance(args[0], str):
            self.result.side_effects.append(f"runs shell command: {args[0]}")
            self.result.loads.update(IDENTIFIER.findall(args[0]))
        else:
            self.result.mark_dynamic(f"calls get_ipython().{method}()")
        for arg in node.args:
            if not isinstance(arg, ast.Constant):
                self.visit(arg)

    def _visit_magic(self, name: str, sources: Iterable[object]) -> None:
        if name in NEUTRAL_MAGICS:
            return
        if name in SIDE_EFFECT_MAGICS:
            self.result.side_effects.append(f"runs magic %{name}")
            return
        if name not in CODE_MAGICS:
            self.result.mark_dynamic(f"runs magic %{name}")
            return
        options = next((s for s in sources if isinstance(s, str)), "")
        if name == "timeit" and not TIMEIT_LOOPS.search(options):
            # It repeats the code as many times as fit in its time budget: what the code
            # changes depends on the clock.
            self.result.calls.add("timeit")
        for source in sources:
            if isinstance(source, str) and source.strip():
                _analyze_into(_strip_magic_options(name, source), self.result, self.depth + 1)


def _has_literal_seed(node: ast.Call) -> bool:
    seeds = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "seed")]
    return any(isinstance(s, ast.Constant) and s.value is not None for s in seeds)


def _is_ipython_call(func: ast.expr) -> bool:
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
    )


def _strip_magic_options(name: str, source: str) -> str:
    """The Python inside a code magic's argument, without its leading ``-x value`` options."""
    if name == "capture" and "\n" not in source:
        # `%%capture [--no-stderr] out` names a variable that receives the captured output.
        targets = [t for t in source.split() if not t.startswith("-")]
        return f"{targets[-1]} = None" if targets else ""
    tokens = source.strip().split(" ")
    for start in range(len(tokens)):
        candidate = " ".join(tokens[start:])
        if candidate.startswith("-"):
            continue
        try:
            _parse(candidate)
        except SyntaxError:
            continue
        return candidate
    return ""


def _is_settings_getter(node: ast.expr) -> bool:
    """``decimal.getcontext()``: a call on a name's attribute returning its settings object."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SETTINGS_GETTERS
    )
