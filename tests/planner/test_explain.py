"""The plan as people read it: text and HTML tables."""

from __future__ import annotations

import pytest

from elastic_kernel.lineage.graph import FLAG_SIDE_EFFECT
from elastic_kernel.planner import (
    CostModel,
    ReplicationPlan,
    VariableInfo,
    format_plan_html,
    format_plan_text,
    solve_plan,
)
from elastic_kernel.planner.explain import format_bytes, format_cells
from tests.planner.helpers import MB, Session

COSTS = CostModel(write_bytes_per_s=100 * MB, read_bytes_per_s=100 * MB)


@pytest.fixture
def session_and_plan() -> tuple[Session, ReplicationPlan]:
    s = Session()
    s.run(30.0, writes=["model"])
    s.run(0.1, writes=["seed"])
    s.run(0.2, reads=["seed"], writes=["big"])
    s.run(0.1, writes=["<gen>"], flags=[FLAG_SIDE_EFFECT], notes=["writes out.csv"])
    variables = {
        "model": VariableInfo("model", 2_000),
        "seed": VariableInfo("seed", 8),
        "big": VariableInfo("big", 800 * MB),
        "<gen>": VariableInfo("<gen>", 10, unserializable="generator & co"),
    }
    return s, solve_plan(s.graph, variables, [], COSTS)


def test_text_table_lists_decisions_cells_and_totals(
    session_and_plan: tuple[Session, ReplicationPlan],
) -> None:
    s, plan = session_and_plan
    text = format_plan_text(plan, s.graph)
    assert "\x1b[" not in text  # no colour codes
    assert all(len(line) <= 120 for line in text.splitlines())
    assert all(line == line.rstrip() for line in text.splitlines())
    first, *_ = text.splitlines()
    # What cannot be checkpointed comes first.
    assert first.startswith("WARNING: cannot checkpoint <gen> (at cell 4)")
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "store" in lines["model"] and "cheaper to store" in lines["model"]
    assert "recompute" in lines["big"] and "[2-3]" in lines["big"]
    assert "762.9 MiB" in lines["big"]
    assert "lost" in lines["<gen>"]
    for label in ("this plan (balanced, alpha=1)", "store-all", "rerun-all"):
        assert label in text


def test_html_table_is_escaped(session_and_plan: tuple[Session, ReplicationPlan]) -> None:
    s, plan = session_and_plan
    page = format_plan_html(plan, s.graph)
    assert "&lt;gen&gt;" in page
    assert "generator &amp; co" in page
    assert "<gen>" not in page
    assert page.count("<table") == 2
    assert "<td>recompute</td>" in page


def test_empty_plan_renders() -> None:
    s = Session()
    plan = solve_plan(s.graph, {}, [], COSTS)
    assert "nothing to checkpoint" in format_plan_text(plan, s.graph)
    assert "<table" in format_plan_html(plan, s.graph)


def test_format_cells_collapses_runs_and_cuts_long_lists() -> None:
    s = Session()
    for _ in range(40):
        s.run(0.1, writes=["x"])
    assert format_cells([0, 1, 2, 5, 7, 8], s.graph) == "[1-3, 6, 8-9]"
    assert format_cells([], s.graph) == ""
    long = format_cells(list(range(0, 40, 2)), s.graph)
    assert long.endswith("… (20 cells)]")


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 * 2**30, "3.0 GiB")]
)
def test_format_bytes(size: int, text: str) -> None:
    assert format_bytes(size) == text
