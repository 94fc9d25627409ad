"""Render a replication plan for people: a text table (``%elastic plan``) and an HTML table."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence

from elastic_kernel.lineage.graph import HistoryGraph
from elastic_kernel.planner._history import History
from elastic_kernel.planner.plan import PlanTotals, ReplicationPlan, VariableDecision
from elastic_kernel.units import format_bytes

__all__ = ["format_bytes", "format_cells", "format_plan_html", "format_plan_text"]

_MAX_RUNS = 6
_TEXT_WIDTH = 120
_COLUMN_CAP = 40  # longer names and cell lists wrap inside their column; the last fills the line
_MIN_LAST = 24
_GAP = 2
_NUMERIC_COLUMNS = frozenset({2, 3})


def _seconds(value: float) -> str:
    if value < 0.001:
        if value <= 0:
            return "0 s"
        return f"{value * 1e6:.0f} µs" if value >= 1e-6 else "<1 µs"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def format_cells(indices: Sequence[int], graph: HistoryGraph) -> str:
    """Executions as the prompt numbers users know, with runs collapsed: ``[1-4, 7]``.

    Executions without a prompt number show as ``#index``; long lists are cut after a few runs.
    """
    return _format_cells(indices, [e.execution_count for e in graph.executions])


def _format_cells(indices: Sequence[int], counts: Sequence[int | None]) -> str:
    if not indices:
        return ""
    runs: list[str] = []
    start: int | str | None = None
    previous: int | str | None = None
    for index in indices:
        count = counts[index] if 0 <= index < len(counts) else None
        label: int | str = count if count is not None else f"#{index}"
        if isinstance(label, int) and isinstance(previous, int) and label == previous + 1:
            previous = label
            continue
        if start is not None:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
            if len(runs) > _MAX_RUNS:
                break
        start = previous = label
    else:
        runs.append(str(start) if start == previous else f"{start}-{previous}")
    shown = ", ".join(runs[:_MAX_RUNS])
    if len(runs) > _MAX_RUNS:
        shown += f", … ({len(indices)} cells)"
    return f"[{shown}]"


def _rows(plan: ReplicationPlan, graph: HistoryGraph) -> list[tuple[str, ...]]:
    # Flags do not matter here: the plan already chose, and recomputed closures hold no
    # forbidden execution; the history only serves to list each closure.
    history = History(graph, frozenset())
    counts = [e.execution_count for e in history.executions]

    def row(d: VariableDecision) -> tuple[str, ...]:
        seconds = "" if d.action == "lost" else _seconds(d.seconds)
        cells = ""
        if d.action == "recompute" and d.writer is not None and d.writer < len(history.executions):
            cells = _format_cells(history.closure_of(d.writer), counts)
        return (d.name, d.action, format_bytes(d.size_bytes), seconds, cells, d.reason)

    # Lost variables first: the plan must say up front what a checkpoint cannot bring back.
    order = {"lost": 0, "store": 1, "recompute": 2}
    return [row(d) for d in sorted(plan.decisions, key=lambda d: (order[d.action], d.name))]


def _total_rows(plan: ReplicationPlan) -> list[tuple[str, ...]]:
    def row(label: str, totals: PlanTotals) -> tuple[str, ...]:
        return (
            label,
            _seconds(totals.checkpoint_seconds),
            _seconds(totals.restore_seconds),
            format_bytes(totals.stored_bytes),
            _seconds(totals.rerun_seconds),
        )

    return [
        row(f"this plan ({plan.mode}, alpha={plan.alpha:g})", plan.totals),
        row("store-all", plan.store_all),
        row("rerun-all", plan.rerun_all),
    ]


_VARIABLE_HEADERS = ("variable", "decision", "size", "seconds", "cells to re-run", "reason")
_TOTAL_HEADERS = ("plan", "checkpoint", "restore", "stored", "re-run")


def _label(index: int, graph: HistoryGraph) -> str:
    executions = graph.executions
    if 0 <= index < len(executions):
        return executions[index].label
    return f"execution #{index}"


def _lost_lines(plan: ReplicationPlan, graph: HistoryGraph) -> list[str]:
    lines = []
    for group in plan.lost:
        where = ""
        if group.execution is not None:
            where = f" (at {_label(group.execution, graph)})"
        lines.append(f"cannot checkpoint {', '.join(group.names)}{where}: {group.reason}")
    return lines


def format_plan_text(plan: ReplicationPlan, graph: HistoryGraph) -> str:
    """The plan as a plain-text table, then its totals next to store-all and rerun-all.

    Parameters
    ----------
    plan
        The plan to show.
    graph
        The graph it was solved on (for prompt numbers of the cells to re-run).

    Returns
    -------
    str
        Text without colour codes, at most 120 columns wide.
    """
    lines = [
        wrapped
        for line in _lost_lines(plan, graph)
        for wrapped in textwrap.wrap(f"WARNING: {line}", _TEXT_WIDTH, subsequent_indent="  ")
    ]
    if plan.decisions:
        lines += _text_table(_VARIABLE_HEADERS, _rows(plan, graph), _NUMERIC_COLUMNS)
    else:
        lines.append("no live variables: nothing to checkpoint")
    lines.append("")
    lines += _text_table(_TOTAL_HEADERS, _total_rows(plan), frozenset(range(1, 5)))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int]
) -> list[str]:
    """Columns as wide as their content (capped), the last one wrapped to fit the page."""
    widths = [
        max(len(cell) for cell in (header, *(row[i] for row in rows)))
        for i, header in enumerate(headers)
    ]
    widths[:-1] = [min(_COLUMN_CAP, width) for width in widths[:-1]]
    fixed = sum(widths[:-1]) + _GAP * (len(widths) - 1)
    widths[-1] = min(widths[-1], max(_TEXT_WIDTH - fixed, _MIN_LAST))
    lines = [_text_row(headers, widths, numeric), "-" * min(_TEXT_WIDTH, fixed + widths[-1])]
    lines.extend(_text_row(row, widths, numeric) for row in rows)
    return lines


def _text_row(cells: Sequence[str], widths: Sequence[int], numeric: frozenset[int]) -> str:
    columns = [
        textwrap.wrap(cell, width) or [""] for cell, width in zip(cells, widths, strict=True)
    ]
    height = max(len(column) for column in columns)
    out = []
    for line in range(height):
        parts = []
        for i, (column, width) in enumerate(zip(columns, widths, strict=True)):
            text = column[line] if line < len(column) else ""
            parts.append(text.rjust(width) if i in numeric else text.ljust(width))
        out.append((" " * _GAP).join(parts).rstrip())
    return "\n".join(out)


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def format_plan_html(plan: ReplicationPlan, graph: HistoryGraph) -> str:
    """The plan as HTML tables (variables, then totals), every value escaped.

    Parameters
    ----------
    plan
        The plan to show.
    graph
        The graph it was solved on.

    Returns
    -------
    str
        An HTML fragment for a ``text/html`` display.
    """
    parts = [
        f'<p class="elastic-plan-lost"><strong>Warning:</strong> {html.escape(line)}</p>'
        for line in _lost_lines(plan, graph)
    ]
    parts.append(_html_table(_VARIABLE_HEADERS, _rows(plan, graph), "elastic-plan"))
    parts.append(_html_table(_TOTAL_HEADERS, _total_rows(plan), "elastic-plan-totals"))
    return '<div class="elastic-plan">' + "".join(parts) + "</div>"
