"""Cost model validation and mode parsing."""

from __future__ import annotations

import math

import pytest

from elastic_kernel.errors import PlanError
from elastic_kernel.planner import (
    PLAN_MODES,
    CostModel,
    ReplicationPlan,
    VariableInfo,
    mode_alpha,
    parse_mode,
)


def test_store_cost_weighs_write_by_alpha() -> None:
    costs = CostModel(write_bytes_per_s=100.0, read_bytes_per_s=200.0, alpha=3.0)
    assert costs.store_cost(1000) == pytest.approx(3 * 10 + 5)
    assert costs.store_cost(1000, alpha=0.0) == pytest.approx(5)


@pytest.mark.parametrize(
    ("write", "read", "alpha"),
    [(0.0, 1.0, 1.0), (1.0, -1.0, 1.0), (math.inf, 1.0, 1.0), (1.0, 1.0, -0.5), (1, 1, math.nan)],
)
def test_bad_cost_model_is_rejected(write: float, read: float, alpha: float) -> None:
    with pytest.raises(PlanError):
        CostModel(write, read, alpha)


def test_negative_size_is_rejected() -> None:
    with pytest.raises(PlanError, match="'x' has a negative estimated size"):
        VariableInfo("x", -1)


def test_mode_presets() -> None:
    assert mode_alpha("balanced") == 1.0
    assert mode_alpha("fast-migrate") > 1.0 > mode_alpha("fast-restore")  # type: ignore[operator]
    assert mode_alpha("store-all") is None
    assert mode_alpha("rerun-all") is None
    assert set(PLAN_MODES) == {"balanced", "fast-migrate", "fast-restore", "store-all", "rerun-all"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.5", ("balanced", 2.5)),
        (" 0 ", ("balanced", 0.0)),
        ("Fast-Migrate", ("fast-migrate", 10.0)),
        ("rerun-all", ("rerun-all", None)),
    ],
)
def test_parse_mode(text: str, expected: tuple[str, float | None]) -> None:
    assert parse_mode(text) == expected


@pytest.mark.parametrize("text", ["fast", "-1", "inf", "nan", ""])
def test_parse_mode_rejects_nonsense(text: str) -> None:
    with pytest.raises(PlanError):
        parse_mode(text)


def test_plan_from_bad_json_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="format"):
        ReplicationPlan.from_json({"format": 99})
    with pytest.raises(PlanError, match="malformed"):
        ReplicationPlan.from_json({"format": 1, "mode": "balanced"})
