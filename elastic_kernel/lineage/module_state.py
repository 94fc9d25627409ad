"""Module variables whose settings a cell changed, which a stored copy would lose.

A module is stored by reference: loading it imports it afresh, without what cells did to it
(``pd.set_option(...)``, ``plt.rcParams[...] = ...``, ``sys.path.append(...)``). Such a module
is right after a restore only if the cells that changed it run again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType

from elastic_kernel.lineage.analysis import analyze_cell
from elastic_kernel.lineage.graph import HistoryGraph

__all__ = ["changed_modules"]


def changed_modules(
    ns: Mapping[str, object], graph: HistoryGraph, names: Iterable[str]
) -> dict[str, str]:
    """The module variables among ``names`` whose live version a cell changed in place.

    Returns
    -------
    dict
        name -> why a stored copy would be stale, naming the cell.
    """
    live = graph.live()
    executions = graph.executions
    found: dict[str, str] = {}
    for name in names:
        version = live.get(name)
        if version is None or not issubclass(type(ns.get(name)), ModuleType):
            continue
        if not 0 <= version.version < len(executions):
            continue
        execution = executions[version.version]
        if name in analyze_cell(execution.code).changed_through:
            cell = (
                f"cell {execution.execution_count}"
                if execution.execution_count is not None
                else f"execution #{execution.index}"
            )
            found[name] = (
                f"a module whose settings {cell} changed; stored, it would be imported again "
                "without them"
            )
    return found
