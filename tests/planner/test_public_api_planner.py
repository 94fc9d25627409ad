"""The planner's exported names are pinned."""

from __future__ import annotations

import elastic_kernel.planner as planner


def test_exported_names() -> None:
    assert sorted(planner.__all__) == sorted(
        [
            "DEFAULT_FORBIDDEN_FLAGS",
            "LOST",
            "MODE_BALANCED",
            "MODE_FAST_MIGRATE",
            "MODE_FAST_RESTORE",
            "MODE_RERUN_ALL",
            "MODE_STORE_ALL",
            "PLAN_MODES",
            "RECOMPUTE",
            "STORE",
            "CostModel",
            "LostGroup",
            "PlanTotals",
            "ReplicationPlan",
            "VariableDecision",
            "VariableInfo",
            "format_plan_html",
            "format_plan_text",
            "mode_alpha",
            "parse_mode",
            "solve_plan",
        ]
    )
    for name in planner.__all__:
        assert hasattr(planner, name)
