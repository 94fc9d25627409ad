"""Human-readable rendering of the AHG (``%elastic graph``)."""

from __future__ import annotations

import io

from elastic_kernel.lineage.graph import PRE_HISTORY, HistoryGraph, VariableVersion

__all__ = ["format_graph_text"]

FIRST_LINE_WIDTH = 48


def _versions(versions: tuple[VariableVersion, ...] | list[VariableVersion]) -> str:
    return ", ".join(
        f"{v.name}@pre" if v.version == PRE_HISTORY else f"{v.name}@{v.version}" for v in versions
    )


def format_graph_text(graph: HistoryGraph, *, width: int = 140) -> str:
    """One row per cell execution: what it read, wrote and deleted, and why it is constrained.

    A version ``x@3`` is the value of ``x`` written by execution 3 (the ``#`` column);
    ``x@pre`` existed before recording started.
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Application History Graph: {len(graph)} cell executions", expand=False)
    for column in ("#", "In", "cell id"):
        table.add_column(column, overflow="fold")
    table.add_column("code", min_width=16, overflow="fold")
    for column in ("seconds", "ok", "reads", "writes", "deletes"):
        table.add_column(column, overflow="fold")
    table.add_column("flags", max_width=36, overflow="fold")
    for e in graph:
        first = e.first_line
        if len(first) > FIRST_LINE_WIDTH:
            first = first[: FIRST_LINE_WIDTH - 1] + "…"
        flags = ", ".join(sorted(e.flags))
        if e.notes:
            flags = f"{flags} ({'; '.join(e.notes)})" if flags else "; ".join(e.notes)
        table.add_row(
            str(e.index),
            "" if e.execution_count is None else str(e.execution_count),
            e.cell_id or "",
            first,
            f"{e.duration:.3f}",
            "ok" if e.ok else "error",
            _versions(e.reads),
            _versions(e.writes),
            ", ".join(e.deletes),
            flags,
        )
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        no_color=True,
        highlight=False,
        soft_wrap=False,
        force_jupyter=False,
        force_terminal=False,
    )
    console.print(table)
    live = sorted(graph.live().values())
    console.print(f"Live variables: {_versions(live) or '(none)'}", soft_wrap=True)
    return buffer.getvalue()
