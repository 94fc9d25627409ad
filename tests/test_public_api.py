"""The public names of each package are pinned: changing them is a decision, not an accident."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "elastic_kernel.lineage": {
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
    },
    "elastic_kernel.errors": {
        "CheckpointNotFound",
        "CorruptCheckpoint",
        "ElasticError",
        "FormatVersionError",
        "PlanError",
        "RestoreError",
        "SerializationError",
        "SignatureError",
        "StoreError",
    },
}


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_exported_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == EXPECTED[module]
    for name in mod.__all__:
        assert hasattr(mod, name), name


def test_error_tree() -> None:
    from elastic_kernel import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ElasticError)
