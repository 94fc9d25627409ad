"""Hand-made sessions with known best plans."""

from __future__ import annotations

import pytest

from elastic_kernel.errors import PlanError
from elastic_kernel.lineage.graph import FLAG_NONDETERMINISTIC, FLAG_SIDE_EFFECT
from elastic_kernel.planner import (
    LOST,
    RECOMPUTE,
    STORE,
    CostModel,
    VariableInfo,
    solve_plan,
)
from tests.planner.helpers import MB, Session

# 100 MB/s both ways: storing 100 MB costs alpha * 1 s + 1 s.
COSTS = CostModel(write_bytes_per_s=100 * MB, read_bytes_per_s=100 * MB)


def sizes(**named: int) -> dict[str, VariableInfo]:
    return {name: VariableInfo(name, size) for name, size in named.items()}


def test_slow_cell_with_small_result_is_stored() -> None:
    s = Session()
    s.run(30.0, writes=["model"])
    plan = solve_plan(s.graph, sizes(model=10_000), [], COSTS)
    decision = plan.decision("model")
    assert decision.action == STORE
    assert decision.reason == "cheaper to store"
    assert plan.rerun == ()
    assert plan.totals.stored_bytes == 10_000


def test_fast_cell_with_big_array_is_recomputed() -> None:
    s = Session()
    s.run(0.2, writes=["big"])
    plan = solve_plan(s.graph, sizes(big=2_000 * MB), [], COSTS)
    decision = plan.decision("big")
    assert decision.action == RECOMPUTE
    assert decision.reason == "cheaper to recompute"
    assert decision.writer == 0
    assert decision.seconds == pytest.approx(0.2)
    assert plan.rerun == (0,)
    assert plan.totals.restore_seconds == pytest.approx(0.2)
    assert plan.totals.checkpoint_seconds == 0


@pytest.mark.parametrize(
    ("duration", "mode", "action"),
    [
        # store: alpha * 1 s + 1 s against re-running the cell.
        (5.0, "balanced", STORE),  # 2 < 5
        (5.0, "fast-migrate", RECOMPUTE),  # 11 > 5
        (5.0, "fast-restore", STORE),  # 1.1 < 5
        (1.5, "balanced", RECOMPUTE),  # 2 > 1.5
        (1.5, "fast-restore", STORE),  # 1.1 < 1.5
        (1.5, "fast-migrate", RECOMPUTE),
    ],
)
def test_alpha_flips_a_borderline_choice(duration: float, mode: str, action: str) -> None:
    s = Session()
    s.run(duration, writes=["x"])
    plan = solve_plan(s.graph, sizes(x=100 * MB), [], COSTS, mode=mode)
    assert plan.decision("x").action == action
    assert plan.mode == mode


def test_balanced_mode_uses_the_cost_models_alpha() -> None:
    s = Session()
    s.run(5.0, writes=["x"])
    costs = CostModel(100 * MB, 100 * MB, alpha=10.0)
    plan = solve_plan(s.graph, sizes(x=100 * MB), [], costs)
    assert plan.alpha == 10.0
    assert plan.decision("x").action == RECOMPUTE


def test_unserializable_variable_is_recomputed() -> None:
    s = Session()
    s.run(60.0, writes=["gen"])
    variables = {"gen": VariableInfo("gen", 10, unserializable="generator")}
    plan = solve_plan(s.graph, variables, [], COSTS)
    decision = plan.decision("gen")
    assert decision.action == RECOMPUTE
    assert decision.reason == "unserializable: generator"
    assert plan.rerun == (0,)


def test_unserializable_variable_linked_to_a_cheap_one_drags_it_along() -> None:
    s = Session()
    s.run(60.0, writes=["gen"])
    s.run(0.1, writes=["rows"])
    variables = {
        "gen": VariableInfo("gen", 10, unserializable="generator"),
        "rows": VariableInfo("rows", 10),
    }
    plan = solve_plan(s.graph, variables, [frozenset({"gen", "rows"})], COSTS)
    assert plan.decision("rows").action == RECOMPUTE
    assert plan.decision("rows").reason == "linked to 'gen', which is unserializable: generator"
    assert plan.recomputed_groups == (("gen", "rows"),)
    assert plan.rerun == (0, 1)


def test_unserializable_variable_depending_on_side_effects_is_lost() -> None:
    s = Session()
    s.run(1.0, writes=["conn"], flags=[FLAG_SIDE_EFFECT], notes=["opens a socket"])
    s.run(0.5, reads=["conn"], writes=["cursor"])
    s.run(2.0, writes=["table"])
    variables = {
        "conn": VariableInfo("conn", 100),
        "cursor": VariableInfo("cursor", 100, unserializable="sqlite3.Cursor"),
        "table": VariableInfo("table", 1_000 * MB),
    }
    plan = solve_plan(s.graph, variables, [], COSTS)
    assert [lost.names for lost in plan.lost] == [("cursor",)]
    assert plan.lost[0].execution == 0
    assert plan.lost[0].reason == (
        "unserializable: sqlite3.Cursor; cannot recompute: depends on cell 1 with side effects "
        "(opens a socket)"
    )
    assert plan.decision("cursor").action == LOST
    # Everything else is planned normally.
    assert plan.decision("conn").action == STORE
    assert plan.decision("conn").reason == "depends on cell 1 with side effects (opens a socket)"
    assert plan.decision("table").action == RECOMPUTE
    assert plan.rerun == (2,)
    assert 0 not in plan.rerun


def test_stale_stored_copy_is_recomputed_when_possible_and_stored_otherwise() -> None:
    s = Session()
    s.run(3.0, writes=["pd"])
    s.run(0.01, reads=["pd"], writes=["pd"])
    s.run(1.0, writes=["os"], flags=[FLAG_SIDE_EFFECT])
    stale = "a module whose settings changed"
    variables = {
        "pd": VariableInfo("pd", 100, stored_is_stale=stale),
        "os": VariableInfo("os", 100, stored_is_stale=stale),
    }
    plan = solve_plan(s.graph, variables, [], COSTS)
    # Storing pd would be far cheaper than re-running its 3 s import, but would lose the change.
    assert plan.decision("pd").action == RECOMPUTE
    assert plan.decision("pd").reason == f"unserializable: {stale}"
    assert plan.rerun == (0, 1)
    # os cannot be recomputed: a stale copy is better than none.
    assert plan.decision("os").action == STORE
    assert plan.lost == ()


def test_nondeterministic_cell_forces_store_and_flags_are_configurable() -> None:
    s = Session()
    s.run(0.01, writes=["sample"], flags=[FLAG_NONDETERMINISTIC])
    variables = sizes(sample=1_000 * MB)
    plan = solve_plan(s.graph, variables, [], COSTS)
    assert plan.decision("sample").action == STORE
    assert plan.decision("sample").reason == "depends on cell 1 that is nondeterministic"
    relaxed = solve_plan(s.graph, variables, [], COSTS, forbidden_flags=frozenset())
    assert relaxed.decision("sample").action == RECOMPUTE


def test_pre_history_variable_is_stored() -> None:
    s = Session(pre_history=["injected"])
    s.run(0.01, reads=["injected"], writes=["derived"])
    plan = solve_plan(s.graph, sizes(injected=1_000 * MB, derived=1_000 * MB), [], COSTS)
    assert plan.decision("injected").action == STORE
    assert plan.decision("injected").reason == "existed before tracking started"
    assert plan.decision("injected").writer is None
    # Re-running cell 1 would need 'injected' as it was then, which nothing can recompute.
    assert plan.decision("derived").action == STORE
    assert "which existed before tracking started" in plan.decision("derived").reason


def test_pre_history_unserializable_is_lost_without_execution() -> None:
    s = Session(pre_history=["handle"])
    variables = {"handle": VariableInfo("handle", 1, unserializable="file handle")}
    plan = solve_plan(s.graph, variables, [], COSTS)
    assert plan.lost[0].names == ("handle",)
    assert plan.lost[0].execution is None
    assert "existed before tracking started" in plan.lost[0].reason


def test_shared_upstream_cell_is_paid_once() -> None:
    s = Session()
    s.run(10.0, writes=["data"])  # slow load, huge result
    s.run(0.1, reads=["data"], writes=["a"])
    s.run(0.1, reads=["data"], writes=["b"])
    variables = sizes(data=5_000 * MB, a=400 * MB, b=400 * MB)
    # Alone, 'a' costs 10.1 s to recompute and 8 s to store; with 'b' (and 'data') the load is
    # shared, so recomputing all three (10.2 s) beats storing the two results (16 s).
    plan = solve_plan(s.graph, variables, [], COSTS)
    assert set(plan.names(RECOMPUTE)) == {"a", "b", "data"}
    assert plan.rerun == (0, 1, 2)
    assert plan.totals.rerun_seconds == pytest.approx(10.2)
    assert plan.totals.objective == pytest.approx(10.2)
    assert plan.decision("a").seconds == pytest.approx(10.1)


def test_single_result_of_a_slow_cell_stays_stored() -> None:
    s = Session()
    s.run(10.0, writes=["data"])
    s.run(0.1, reads=["data"], writes=["a"], deletes=["data"])
    plan = solve_plan(s.graph, sizes(a=400 * MB), [], COSTS)
    assert plan.decision("a").action == STORE
    assert plan.totals.objective == pytest.approx(8.0)
    assert plan.rerun_all.objective == pytest.approx(10.1)


def test_in_place_modification_needs_every_earlier_version() -> None:
    s = Session()
    s.run(1.0, writes=["xs"])
    s.run(0.5, reads=["xs"], writes=["xs"])  # xs.append(...)
    s.run(0.5, reads=["xs"], writes=["xs"])
    plan = solve_plan(s.graph, sizes(xs=1_000 * MB), [], COSTS)
    assert plan.decision("xs").action == RECOMPUTE
    assert plan.rerun == (0, 1, 2)
    assert plan.decision("xs").seconds == pytest.approx(2.0)


def test_modes_store_all_and_rerun_all() -> None:
    s = Session()
    s.run(30.0, writes=["model"])
    s.run(0.2, writes=["big"])
    s.run(0.1, writes=["gen"])
    s.run(0.1, writes=["conn"], flags=[FLAG_SIDE_EFFECT])
    variables = {
        **sizes(model=1_000, big=2_000 * MB, conn=100),
        "gen": VariableInfo("gen", 10, unserializable="generator"),
    }
    store_all = solve_plan(s.graph, variables, [], COSTS, mode="store-all")
    assert store_all.names(STORE) == ("big", "conn", "model")
    assert store_all.names(RECOMPUTE) == ("gen",)  # cannot be stored
    assert store_all.decision("big").reason == "store-all mode"
    assert store_all.totals == store_all.store_all
    rerun_all = solve_plan(s.graph, variables, [], COSTS, mode="rerun-all")
    assert rerun_all.names(RECOMPUTE) == ("big", "gen", "model")
    assert rerun_all.names(STORE) == ("conn",)  # cannot be re-run
    assert rerun_all.decision("model").reason == "rerun-all mode"
    assert rerun_all.rerun == (0, 1, 2)
    assert rerun_all.totals == rerun_all.rerun_all
    balanced = solve_plan(s.graph, variables, [], COSTS)
    assert balanced.names(STORE) == ("conn", "model")
    assert balanced.totals.objective < min(store_all.totals.objective, rerun_all.totals.objective)
    assert balanced.store_all == store_all.totals
    assert balanced.rerun_all == rerun_all.totals


def test_empty_graph_gives_an_empty_plan() -> None:
    plan = solve_plan(Session().graph, {}, [], COSTS)
    assert plan.decisions == ()
    assert plan.totals.objective == 0


def test_missing_size_estimate_is_an_error() -> None:
    s = Session()
    s.run(1.0, writes=["x", "y"])
    with pytest.raises(PlanError, match=r"no size estimate for live variable.*'y'"):
        solve_plan(s.graph, sizes(x=1), [], COSTS)


def test_variable_in_two_groups_is_an_error() -> None:
    s = Session()
    s.run(1.0, writes=["x", "y", "z"])
    with pytest.raises(PlanError, match="'y' is in linked groups 0 and 1"):
        solve_plan(
            s.graph, sizes(x=1, y=1, z=1), [frozenset({"x", "y"}), frozenset({"y", "z"})], COSTS
        )


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(PlanError, match="unknown plan mode 'fastest'"):
        solve_plan(Session().graph, {}, [], COSTS, mode="fastest")


def test_read_of_a_version_written_later_blocks_recomputation() -> None:
    from elastic_kernel.lineage.graph import Execution, HistoryGraph, VariableVersion

    graph = HistoryGraph()
    graph.append(
        Execution(
            0,
            1,
            None,
            "y = x",
            0.0,
            0.1,
            True,
            reads=(VariableVersion("x", 5),),
            writes=(VariableVersion("y", 0),),
        )
    )
    plan = solve_plan(graph, sizes(y=1_000 * MB), [], COSTS)
    assert plan.decision("y").action == STORE
    assert "inconsistent lineage" in plan.decision("y").reason
