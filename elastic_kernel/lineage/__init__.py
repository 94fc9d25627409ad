"""Lineage: the Application History Graph and how cells are observed to read and write it."""

from __future__ import annotations

from elastic_kernel.lineage.analysis import CellAnalysis, analyze_cell
from elastic_kernel.lineage.display import format_graph_text
from elastic_kernel.lineage.effects import (
    CellEffects,
    EffectWatcher,
    FileInput,
    Recording,
    check_file_inputs,
    nondeterminism_reasons,
)
from elastic_kernel.lineage.fingerprint import DEFAULT_MAX_BYTES, fingerprint, fingerprint_many
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
from elastic_kernel.lineage.links import LinkResult, linked_groups
from elastic_kernel.lineage.recorder import CellRecorder, PendingExecution, is_system_name
from elastic_kernel.lineage.rng import (
    RngState,
    capture_rng_state,
    restore_rng_state,
    uses_global_rng,
)
from elastic_kernel.lineage.sizing import estimate_size

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FLAG_ERROR",
    "FLAG_NONDETERMINISTIC",
    "FLAG_SIDE_EFFECT",
    "FLAG_UNKNOWN_LINEAGE",
    "PRE_HISTORY",
    "CellAnalysis",
    "CellEffects",
    "CellRecorder",
    "EffectWatcher",
    "Execution",
    "FileInput",
    "HistoryGraph",
    "LinkResult",
    "PendingExecution",
    "Recording",
    "RngState",
    "VariableVersion",
    "analyze_cell",
    "capture_rng_state",
    "check_file_inputs",
    "estimate_size",
    "fingerprint",
    "fingerprint_many",
    "format_graph_text",
    "is_system_name",
    "linked_groups",
    "nondeterminism_reasons",
    "restore_rng_state",
    "uses_global_rng",
]
