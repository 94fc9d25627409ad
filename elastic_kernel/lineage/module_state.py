"""Library settings that cells change, and how a restore gets them back.

A module is stored by reference: loading it imports it afresh, without what cells did to it
(``pd.set_option(...)``, ``plt.rcParams[...] = ...``, ``sys.path.append(...)``). So when a cell
changes a module, the recorder keeps the statements that did it, when they can be replayed on
their own (top level, binding no name, reading nothing but modules and builtins): a restore
runs them again before loading anything, in a scratch namespace. A change made otherwise (in a
loop, from a variable) makes a stored copy of the module stale: the plan then recomputes it by
re-running its cells whenever it can.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import warnings
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any, TypeGuard

from elastic_kernel.lineage.analysis import CellAnalysis, analyze_cell
from elastic_kernel.lineage.graph import HistoryGraph
from elastic_kernel.lineage.modules import imported, retrying_import_deadlocks

__all__ = [
    "SETTINGS",
    "SETTINGS_NOT_REPLAYED",
    "SHELL_SETTINGS",
    "Setting",
    "changed_modules",
    "import_modules",
    "is_imported",
    "is_module",
    "module_settings",
    "recorded_magics",
    "recorded_settings",
    "replay",
    "settings_extras",
]

SETTINGS = "settings"
"""Execution extra: ``[[statement, {name: module}], ...]``, replayable on their own."""

SHELL_SETTINGS = "shell_settings"
"""Execution extra: ``[[magic, argument], ...]``, IPython settings (``%load_ext autoreload``)."""

SETTINGS_NOT_REPLAYED = "settings_not_replayed"
"""Execution extra: names of modules the cell changed in ways that cannot be replayed."""

_BUILTINS = frozenset(vars(builtins))


def is_module(value: object) -> TypeGuard[ModuleType]:
    """By type: ``isinstance`` would consult the object's own ``__class__``."""
    return issubclass(type(value), ModuleType)


def settings_extras(
    code: str,
    magics: Iterable[tuple[str, str]],
    ns: Mapping[str, object],
    changed: Iterable[str],
    *,
    ok: bool,
) -> dict[str, Any]:
    """The execution extras for the settings a cell changed: the modules ``changed`` (names in
    ``ns``) and the IPython settings ``magics`` it ran, as ``(name, argument)``.

    A cell that raised replays nothing, as it may have stopped before some of them: the modules
    it changed are stale instead.
    """
    modules = sorted(changed)
    if not ok:
        return {SETTINGS_NOT_REPLAYED: modules} if modules else {}
    extras = module_settings(code, ns, modules)
    replayed = [[name, argument] for name, argument in magics if _magic_replays(name, argument)]
    if replayed:
        extras[SHELL_SETTINGS] = replayed
    return extras


def module_settings(code: str, ns: Mapping[str, object], changed: Iterable[str]) -> dict[str, Any]:
    """The execution extras for a cell that changed the modules ``changed`` (names in ``ns``).

    Returns
    -------
    dict
        ``SETTINGS`` and/or ``SETTINGS_NOT_REPLAYED`` entries; empty when ``changed`` is.
    """
    modules = {n: ns[n] for n in changed if n in ns and is_module(ns[n])}
    if not modules:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            body = ast.parse(code).body
        except (SyntaxError, ValueError):
            return {SETTINGS_NOT_REPLAYED: sorted(modules)}
    replayable: list[list[object]] = []
    replayed: set[str] = set()
    missed: set[str] = set()
    for statement in body:
        source = ast.unparse(statement)
        found = analyze_cell(source)
        touched = found.changed_through & modules.keys()
        if not touched:
            continue
        bindings = _replay_bindings(found, ns)
        if bindings is None:
            missed |= touched
        else:
            replayable.append([source, bindings])
            replayed |= touched
    extras: dict[str, Any] = {}
    if replayable:
        extras[SETTINGS] = replayable
    # A module is stale unless every change the cell made to it replays.
    stale = (modules.keys() - replayed) | missed
    if stale:
        extras[SETTINGS_NOT_REPLAYED] = sorted(stale)
    return extras


def _replay_bindings(found: CellAnalysis, ns: Mapping[str, object]) -> dict[str, str] | None:
    """The modules a statement names, if it can replay on its own: it binds and deletes no
    name and reads nothing but importable modules and builtins the user has not rebound."""
    named = {n: ns[n] for n in found.loads if n in ns and is_module(ns[n])}
    others = found.loads - named.keys()
    if found.stores or found.deletes or found.is_dynamic or others - _BUILTINS:
        return None
    if others & ns.keys():
        return None
    bindings = {n: _importable_name(m) for n, m in named.items()}
    if any(module is None for module in bindings.values()):
        return None
    return {n: m for n, m in bindings.items() if m is not None}


def _importable_name(module: object) -> str | None:
    name = getattr(module, "__name__", None)
    spec = getattr(module, "__spec__", None)
    # A module built in a cell (types.ModuleType("m")) has no spec: importing it again fails.
    return name if isinstance(name, str) and spec is not None else None


def changed_modules(
    ns: Mapping[str, object], graph: HistoryGraph, names: Iterable[str]
) -> dict[str, str]:
    """The module variables among ``names`` that a cell changed in a way a restore cannot
    replay: stored, they would come back without the change.

    Returns
    -------
    dict
        name -> why a stored copy would be stale, naming the cell.
    """
    wanted = {n for n in names if is_module(ns.get(n))}
    found: dict[str, str] = {}
    for execution in graph.executions:
        for name in wanted.intersection(execution.extra.get(SETTINGS_NOT_REPLAYED, ())):
            found[name] = (
                f"a module whose settings {execution.label} changed; stored, it would be imported "
                "again without them"
            )
    return found


Setting = tuple[str, dict[str, str]]
"""A settings statement and the modules it names: ``(source, {name: module})``."""


def recorded_settings(graph: HistoryGraph) -> list[Setting]:
    """The settings statements recorded in ``graph``, in history order."""
    return [
        (str(source), dict(bindings))
        for execution in graph.executions
        for source, bindings in execution.extra.get(SETTINGS, ())
    ]


def recorded_magics(graph: HistoryGraph) -> list[tuple[int, str]]:
    """The IPython settings magics recorded in ``graph``, in history order, as code to run in
    the user's shell: ``(execution index, code)``."""
    return [
        (execution.index, f"get_ipython().run_line_magic({str(name)!r}, {str(argument)!r})")
        for execution in graph.executions
        for name, argument in execution.extra.get(SHELL_SETTINGS, ())
    ]


def _magic_replays(magic: str, argument: str) -> bool:
    """Whether a settings magic changes anything a restored kernel lacks: ``%matplotlib
    inline`` is the kernel's default (replaying it would only import matplotlib early)."""
    return not (magic == "matplotlib" and argument.strip() in ("", "inline"))


def is_imported(setting: Setting) -> bool:
    """Whether every module ``setting`` names is imported already (replaying it is instant)."""
    return all(imported(module) is not None for module in setting[1].values())


def import_modules(settings: Iterable[Setting]) -> list[str]:
    """Import the modules ``settings`` name, without replaying them: on a loading thread, so
    that the thread that runs cells can replay them at once later (some settings live in
    thread-local state: torch's grad mode, scikit-learn's config).

    Returns
    -------
    list of str
        One note per module that could not be imported.
    """
    notes: list[str] = []
    for module in dict.fromkeys(m for _, bindings in settings for m in bindings.values()):
        try:
            retrying_import_deadlocks(functools.partial(importlib.import_module, module))
        except Exception as exc:
            notes.append(f"could not import {module} to replay its settings: {exc!r}")
    return notes


def _run_setting(source: str, bindings: Mapping[str, str]) -> None:
    scratch: dict[str, object] = {
        name: importlib.import_module(module) for name, module in bindings.items()
    }
    # The statement itself may import (a lazily loaded submodule).
    exec(compile(source, "<elastic settings replay>", "exec"), scratch)


def replay(settings: Iterable[Setting]) -> list[str]:
    """Run ``settings`` again, in order.

    Each runs in a scratch namespace holding the modules it names, imported if need be: never
    in the user's namespace. A restore does this before loading anything that may need it
    (``sys.path.append`` must precede unpickling what lives on that path).

    Returns
    -------
    list of str
        One note per statement that failed (the restore goes on without it).
    """
    notes: list[str] = []
    for source, bindings in settings:
        try:
            retrying_import_deadlocks(functools.partial(_run_setting, source, bindings))
        except Exception as exc:
            notes.append(f"could not replay {source!r}: {type(exc).__name__}: {exc}")
    return notes
