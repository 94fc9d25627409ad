"""Property tests: on random AHGs the min-cut plan is feasible and as cheap as brute force."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elastic_kernel.lineage.graph import (
    FLAG_ERROR,
    FLAG_NONDETERMINISTIC,
    FLAG_SIDE_EFFECT,
    FLAG_UNKNOWN_LINEAGE,
    HistoryGraph,
)
from elastic_kernel.planner import (
    DEFAULT_FORBIDDEN_FLAGS,
    LOST,
    RECOMPUTE,
    STORE,
    CostModel,
    ReplicationPlan,
    VariableInfo,
    solve_plan,
)
from tests.planner.helpers import (
    MB,
    OracleGroup,
    Session,
    assignment_cost,
    brute_force_optimum,
    closure,
    oracle_groups,
)

ALL_FLAGS = (FLAG_SIDE_EFFECT, FLAG_NONDETERMINISTIC, FLAG_UNKNOWN_LINEAGE, FLAG_ERROR, "custom")
# Each capacity is rounded to a microsecond; a cut has at most ~24 of them.
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Case:
    graph: HistoryGraph
    variables: dict[str, VariableInfo]
    groups: list[frozenset[str]]
    costs: CostModel
    forbidden: frozenset[str]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    names = [f"v{i}" for i in range(draw(st.integers(3, 12)))]
    pre = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
    session = Session(pre)
    for _ in range(draw(st.integers(1, 12))):
        live = sorted(session.graph.live())
        reads = draw(st.lists(st.sampled_from(live), unique=True, max_size=4)) if live else []
        writes = draw(st.lists(st.sampled_from(names), unique=True, min_size=1, max_size=4))
        candidates = [n for n in live if n not in writes]
        deletes = (
            draw(st.lists(st.sampled_from(candidates), unique=True, max_size=1))
            if candidates
            else []
        )
        is_flagged = draw(st.integers(0, 9)) == 0
        flags = draw(st.frozensets(st.sampled_from(ALL_FLAGS), max_size=2)) if is_flagged else ()
        # Tenths of a second keep runtimes exact enough to compare sums, and spread out.
        duration = draw(st.integers(0, 50)) / 10
        session.run(duration, reads, writes, flags=flags, deletes=deletes)
    live_names = sorted(session.graph.live())
    variables = {
        name: VariableInfo(
            name,
            draw(st.integers(0, 50)) * 10 * MB + draw(st.integers(0, 999)),
            draw(st.sampled_from([None, None, None, None, "generator"])),
        )
        for name in live_names
    }
    labels = draw(st.lists(st.integers(0, 11), min_size=len(live_names), max_size=len(live_names)))
    by_label: dict[int, set[str]] = {}
    for name, label in zip(live_names, labels, strict=True):
        by_label.setdefault(label, set()).add(name)
    groups = [frozenset(members) for members in by_label.values()]
    # Leave some groups out (their members are singletons) and mention names that are not live.
    groups = [g for g in groups if draw(st.booleans()) or len(g) > 1]
    if draw(st.booleans()):
        groups.append(frozenset({"not_live"}))
    costs = CostModel(
        write_bytes_per_s=draw(st.sampled_from([50 * MB, 100 * MB, 1000 * MB])),
        read_bytes_per_s=draw(st.sampled_from([100 * MB, 500 * MB])),
        alpha=draw(st.sampled_from([0.0, 0.1, 1.0, 3.0, 10.0])),
    )
    forbidden = draw(
        st.one_of(
            st.just(DEFAULT_FORBIDDEN_FLAGS),
            st.frozensets(st.sampled_from(ALL_FLAGS)),
        )
    )
    return Case(session.graph, variables, groups, costs, forbidden)


def _plan(case: Case, mode: str = "balanced") -> ReplicationPlan:
    return solve_plan(
        case.graph,
        case.variables,
        case.groups,
        case.costs,
        mode=mode,
        forbidden_flags=case.forbidden,
    )


def _assignment(plan: ReplicationPlan, groups: list[OracleGroup]) -> list[bool]:
    plannable = [g for g in groups if g.can_store or g.needs is not None]
    return [plan.decision(g.names[0]).action == RECOMPUTE for g in plannable]


def _check_feasible(case: Case, plan: ReplicationPlan, groups: list[OracleGroup]) -> None:
    live = case.graph.live()
    assert sorted(d.name for d in plan.decisions) == sorted(live)
    rerun = set(plan.rerun)
    assert list(plan.rerun) == sorted(rerun)
    needed: set[int] = set()
    for group in groups:
        actions = {plan.decision(name).action for name in group.names}
        assert len(actions) == 1, f"linked group {group.names} split across {actions}"
        (action,) = actions
        if action == STORE:
            assert group.can_store
        elif action == RECOMPUTE:
            assert group.needs is not None
            needed |= group.needs
            for name in group.names:
                needs = closure(case.graph, live[name], case.forbidden)
                assert needs is not None and needs <= rerun
        else:
            assert action == LOST
            assert not group.can_store and group.needs is None
            assert any(set(group.names) == set(lost.names) for lost in plan.lost)
    # Nothing is re-run that no recomputed variable needs, and no forbidden execution is.
    assert rerun == needed
    for index in rerun:
        assert not case.graph.executions[index].flags & case.forbidden
    stored = {n for g in plan.stored_groups for n in g}
    assert stored == set(plan.names(STORE))
    assert {n for g in plan.recomputed_groups for n in g} == set(plan.names(RECOMPUTE))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_min_cut_plan_is_feasible_and_optimal(case: Case) -> None:
    plan = _plan(case)
    groups = oracle_groups(case.graph, case.variables, case.groups, case.forbidden)
    _check_feasible(case, plan, groups)
    best = brute_force_optimum(case.graph, groups, case.costs, case.costs.alpha)
    plannable = [g for g in groups if g.can_store or g.needs is not None]
    cost = assignment_cost(case.graph, plannable, _assignment(plan, groups), case.costs, plan.alpha)
    assert cost == pytest.approx(best, abs=TOLERANCE)
    assert plan.totals.objective == pytest.approx(best, abs=TOLERANCE)
    assert plan.totals.objective <= plan.store_all.objective + TOLERANCE
    assert plan.totals.objective <= plan.rerun_all.objective + TOLERANCE


@pytest.mark.parametrize("mode", ["store-all", "rerun-all", "fast-migrate", "fast-restore"])
@settings(max_examples=60, deadline=None)
@given(case=cases())
def test_every_mode_gives_a_feasible_plan(mode: str, case: Case) -> None:
    plan = _plan(case, mode)
    groups = oracle_groups(case.graph, case.variables, case.groups, case.forbidden)
    _check_feasible(case, plan, groups)
    assignment = _assignment(plan, groups)
    plannable = [g for g in groups if g.can_store or g.needs is not None]
    if mode == "store-all":
        assert assignment == [not g.can_store for g in plannable]
        assert plan.totals == plan.store_all
    elif mode == "rerun-all":
        assert assignment == [g.needs is not None for g in plannable]
        assert plan.totals == plan.rerun_all
    else:
        best = brute_force_optimum(case.graph, groups, case.costs, plan.alpha)
        assert plan.totals.objective == pytest.approx(best, abs=TOLERANCE)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_plan_json_round_trip(case: Case) -> None:
    plan = _plan(case)
    assert ReplicationPlan.from_json(plan.to_json()) == plan
