"""Planner: which variables to store and which cells to re-run, as a min-cut over the AHG."""

from __future__ import annotations

from elastic_kernel.planner._history import DEFAULT_FORBIDDEN_FLAGS
from elastic_kernel.planner.costs import CostModel, VariableInfo
from elastic_kernel.planner.explain import format_plan_html, format_plan_text
from elastic_kernel.planner.modes import (
    MODE_BALANCED,
    MODE_FAST_MIGRATE,
    MODE_FAST_RESTORE,
    MODE_RERUN_ALL,
    MODE_STORE_ALL,
    PLAN_MODES,
    mode_alpha,
    parse_mode,
)
from elastic_kernel.planner.plan import (
    LOST,
    RECOMPUTE,
    STORE,
    LostGroup,
    PlanTotals,
    ReplicationPlan,
    VariableDecision,
)
from elastic_kernel.planner.solve import solve_plan

__all__ = [
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
