"""What a background restore must bring first: the names a cell can read (it waits for exactly
those), and the order in which stored groups load (what the next cells most likely need first)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol, TypeVar

from elastic_kernel.lineage.analysis import analyze_cell
from elastic_kernel.lineage.globals_used import GlobalsResolver
from elastic_kernel.lineage.graph import HistoryGraph
from elastic_kernel.lineage.recorder import local_imports

__all__ = ["RECENT_CELLS", "names_cell_reads", "priority_order"]

# Groups read by this many of the last recorded cells load first: the next cells most likely
# continue where the session stopped.
RECENT_CELLS = 5


class _Loadable(Protocol):
    @property
    def names(self) -> tuple[str, ...]: ...

    @property
    def size(self) -> int: ...


G = TypeVar("G", bound=_Loadable)


class _WithPending(Mapping[str, object]):
    """The namespace plus the names still loading (as ``None``), for the globals resolver."""

    def __init__(self, ns: Mapping[str, object], pending: set[str]) -> None:
        self._ns, self._pending = ns, pending

    def __getitem__(self, key: str) -> object:
        if key in self._ns:
            return self._ns[key]
        if key in self._pending:
            return None
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._ns or key in self._pending

    def __iter__(self) -> Iterator[str]:
        yield from self._ns
        yield from (k for k in self._pending if k not in self._ns)

    def __len__(self) -> int:
        return len(self._ns) + len(self._pending - self._ns.keys())


def names_cell_reads(code: str, ns: Mapping[str, object], pending: set[str]) -> set[str] | None:
    """The names a cell can read: its static loads and deletes plus the globals of the user
    functions it reaches, transitively; ``None`` (everything) when the cell is dynamic
    (``eval``, ``globals()``, ``get_ipython().user_ns``, unknown magics, importing a local
    module...).

    Parameters
    ----------
    code
        The transformed cell (``shell.transform_cell``).
    ns
        The namespace as it is now.
    pending
        Names not in ``ns`` yet that the cell may still reach (they count as present).
    """
    analysis = analyze_cell(code)
    # A local module's code runs on import and may read anything from ``__main__``.
    if analysis.is_dynamic or local_imports(analysis.imports):
        return None
    roots = analysis.loads | analysis.deletes
    return GlobalsResolver(_WithPending(ns, pending)).names_used_by(roots)


def priority_order(graph: HistoryGraph, groups: Iterable[G]) -> list[G]:
    """Groups read by the last few recorded cells first, then the groups read earlier, then the
    rest; small before big within each tier."""
    last_read: dict[str, int] = {}
    for execution in graph.executions:
        for version in execution.reads:
            last_read[version.name] = execution.index
    recent = len(graph.executions) - RECENT_CELLS

    def key(group: G) -> tuple[int, int]:
        read = max((last_read.get(n, -1) for n in group.names), default=-1)
        tier = 0 if read >= max(recent, 0) else 1 if read >= 0 else 2
        return tier, group.size

    return sorted(groups, key=key)
