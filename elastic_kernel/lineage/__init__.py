"""Lineage: the Application History Graph and how cells are observed to read and write it."""

from __future__ import annotations

from elastic_kernel.lineage.graph import (
    FLAG_ERROR,
    FLAG_NONDETERMINISTIC,
    FLAG_SIDE_EFFECT,
    FLAG_UNKNOWN_LINEAGE,
    PRE_HISTORY,
    Execution,
    HistoryGraph,
    VariableVersion,
)

__all__ = [
    "FLAG_ERROR",
    "FLAG_NONDETERMINISTIC",
    "FLAG_SIDE_EFFECT",
    "FLAG_UNKNOWN_LINEAGE",
    "PRE_HISTORY",
    "Execution",
    "HistoryGraph",
    "VariableVersion",
]
