"""Solve a replication plan for the live variables of an AHG."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from elastic_kernel.errors import PlanError
from elastic_kernel.lineage.graph import HistoryGraph, VariableVersion
from elastic_kernel.planner._history import DEFAULT_FORBIDDEN_FLAGS, Blocker, History
from elastic_kernel.planner.costs import CostModel, VariableInfo
from elastic_kernel.planner.mincut import FlowNetwork, build_network, solve_min_cut
from elastic_kernel.planner.modes import (
    MODE_BALANCED,
    MODE_RERUN_ALL,
    MODE_STORE_ALL,
    mode_alpha,
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

__all__ = ["DEFAULT_FORBIDDEN_FLAGS", "build_plan_network", "solve_plan"]

CHEAPER_TO_STORE = "cheaper to store"
CHEAPER_TO_RECOMPUTE = "cheaper to recompute"


@dataclass(frozen=True, slots=True)
class _Group:
    names: tuple[str, ...]
    size_bytes: int
    writers: tuple[int, ...]
    culprit: str | None  # the first unserializable member
    why: str | None  # why the culprit cannot be serialized
    blocker: Blocker | None

    @property
    def can_store(self) -> bool:
        return self.culprit is None

    def unserializable(self, name: str) -> str:
        """Why ``name`` cannot be stored: itself, or linked to a member that cannot."""
        if name == self.culprit:
            return f"unserializable: {self.why}"
        return f"linked to {self.culprit!r}, which is unserializable: {self.why}"

    @property
    def can_recompute(self) -> bool:
        return self.blocker is None


def _normalise_groups(
    live_names: Iterable[str], groups: Sequence[frozenset[str]]
) -> list[tuple[str, ...]]:
    live = set(live_names)
    owner: dict[str, int] = {}
    result: list[tuple[str, ...]] = []
    for number, group in enumerate(groups):
        members = tuple(sorted(name for name in group if name in live))
        for name in members:
            if name in owner:
                raise PlanError(
                    f"variable {name!r} is in linked groups {owner[name]} and {number}; "
                    "merge groups that share a variable before planning"
                )
            owner[name] = number
        if members:
            result.append(members)
    result.extend((name,) for name in live if name not in owner)
    result.sort()
    return result


def _describe_groups(
    graph: HistoryGraph,
    history: History,
    variables: Mapping[str, VariableInfo],
    members_list: list[tuple[str, ...]],
) -> list[_Group]:
    live = graph.live()
    described: list[_Group] = []
    for members in members_list:
        size = 0
        culprit: str | None = None
        why: str | None = None
        blocker: Blocker | None = None
        writers: set[int] = set()
        for name in members:
            info = variables[name]
            size += info.size_bytes
            if culprit is None and info.unserializable is not None:
                culprit, why = name, info.unserializable
            version = live[name]
            found = history.version_blocker(version)
            if found is None:
                writers.add(version.version)
            elif blocker is None:
                blocker = found
        if culprit is None and blocker is None:
            # Recomputable: a member whose stored copy would be stale makes storing impossible.
            stale = [(n, variables[n].stored_is_stale) for n in members]
            culprit, why = next(((n, r) for n, r in stale if r is not None), (None, None))
        described.append(_Group(members, size, tuple(sorted(writers)), culprit, why, blocker))
    return described


def _totals(
    groups: Sequence[_Group],
    recompute: Sequence[bool],
    history: History,
    costs: CostModel,
    alpha: float,
) -> tuple[PlanTotals, list[int]]:
    stored_bytes = sum(g.size_bytes for g, r in zip(groups, recompute, strict=True) if not r)
    roots = [w for g, r in zip(groups, recompute, strict=True) if r for w in g.writers]
    rerun = history.closure_union(roots)
    rerun_seconds = history.runtime(rerun)
    checkpoint = costs.write_seconds(stored_bytes)
    restore = costs.read_seconds(stored_bytes) + rerun_seconds
    totals = PlanTotals(
        checkpoint_seconds=checkpoint,
        restore_seconds=restore,
        stored_bytes=stored_bytes,
        rerun_seconds=rerun_seconds,
        objective=alpha * checkpoint + restore,
    )
    return totals, rerun


def _baseline(groups: Sequence[_Group], mode: str) -> list[bool]:
    """Each group on the baseline's side, or on the other side when that one is impossible."""
    if mode == MODE_STORE_ALL:
        return [not g.can_store for g in groups]
    return [g.can_recompute for g in groups]


def _decide(
    group: _Group,
    is_recomputed: bool,
    mode: str,
    history: History,
    writers: Mapping[str, int],
    variables: Mapping[str, VariableInfo],
    costs: CostModel,
) -> list[VariableDecision]:
    decisions: list[VariableDecision] = []
    for name in group.names:
        size = variables[name].size_bytes
        if is_recomputed:
            if not group.can_store:
                reason = group.unserializable(name)
            elif mode == MODE_RERUN_ALL:
                reason = "rerun-all mode"
            else:
                reason = CHEAPER_TO_RECOMPUTE
            writer = writers[name]
            seconds = history.closure_runtime(writer)
            decisions.append(
                VariableDecision(name, RECOMPUTE, reason, size, seconds, group.names, writer)
            )
            continue
        if group.blocker is not None:
            reason = group.blocker.reason
        elif mode == MODE_STORE_ALL:
            reason = "store-all mode"
        else:
            reason = CHEAPER_TO_STORE
        seconds = costs.write_seconds(size) + costs.read_seconds(size)
        decisions.append(
            VariableDecision(name, STORE, reason, size, seconds, group.names, writers.get(name))
        )
    return decisions


def _lost(group: _Group) -> LostGroup:
    assert group.blocker is not None and group.culprit is not None
    return LostGroup(
        group.names,
        group.blocker.execution,
        f"{group.unserializable(group.culprit)}; cannot recompute: {group.blocker.reason}",
    )


def _lost_decisions(
    group: _Group, variables: Mapping[str, VariableInfo], writers: Mapping[str, int]
) -> list[VariableDecision]:
    assert group.blocker is not None
    return [
        VariableDecision(
            name,
            LOST,
            f"{group.unserializable(name)}; cannot recompute: {group.blocker.reason}",
            variables[name].size_bytes,
            0.0,
            group.names,
            writers.get(name),
        )
        for name in group.names
    ]


def _prepare(
    graph: HistoryGraph,
    variables: Mapping[str, VariableInfo],
    groups: Sequence[frozenset[str]],
    costs: CostModel,
    mode: str,
    forbidden_flags: frozenset[str],
    forbidden: Mapping[int, str] | None = None,
) -> tuple[float, dict[str, VariableVersion], History, list[_Group]]:
    preset = mode_alpha(mode)
    alpha = costs.alpha if preset is None or mode == MODE_BALANCED else preset
    live = graph.live()
    missing = sorted(name for name in live if name not in variables)
    if missing:
        raise PlanError(
            f"no size estimate for live variable(s) {', '.join(map(repr, missing[:5]))}; "
            "pass a VariableInfo for every name in graph.live()"
        )
    history = History(graph, frozenset(forbidden_flags), forbidden)
    described = _describe_groups(graph, history, variables, _normalise_groups(live, groups))
    return alpha, live, history, described


def _network(
    planned: Sequence[_Group],
    members: Sequence[int],
    history: History,
    costs: CostModel,
    alpha: float,
) -> FlowNetwork:
    return build_network(
        [
            costs.store_cost(planned[i].size_bytes, alpha) if planned[i].can_store else None
            for i in members
        ],
        [planned[i].writers for i in members],
        history.preds,
        history.durations,
    )


def build_plan_network(
    graph: HistoryGraph,
    variables: Mapping[str, VariableInfo],
    groups: Sequence[frozenset[str]],
    costs: CostModel,
    *,
    mode: str = MODE_BALANCED,
    forbidden_flags: frozenset[str] = DEFAULT_FORBIDDEN_FLAGS,
) -> FlowNetwork:
    """The min-cut network :func:`solve_plan` would solve (for benchmarks and inspection).

    Parameters are those of :func:`solve_plan`; groups that are lost or cannot be recomputed
    are left out of the network, as in the plan.
    """
    alpha, _, history, described = _prepare(graph, variables, groups, costs, mode, forbidden_flags)
    members = [i for i, g in enumerate(described) if g.can_recompute]
    return _network(described, members, history, costs, alpha)


def solve_plan(
    graph: HistoryGraph,
    variables: Mapping[str, VariableInfo],
    groups: Sequence[frozenset[str]],
    costs: CostModel,
    *,
    mode: str = MODE_BALANCED,
    forbidden_flags: frozenset[str] = DEFAULT_FORBIDDEN_FLAGS,
    forbidden: Mapping[int, str] | None = None,
) -> ReplicationPlan:
    """Decide which linked groups to store and which executions to re-run on restore.

    Parameters
    ----------
    graph
        The session's AHG; its live variables are planned.
    variables
        Size and serializability of every live variable (extra names are ignored).
    groups
        Linked groups (variables sharing objects). A live variable in no group is a group alone;
        names that are not live are ignored. Each group is stored or recomputed as a whole.
    costs
        Store bandwidths and alpha.
    mode
        ``"balanced"`` (min-cut with ``costs.alpha``), ``"fast-migrate"`` / ``"fast-restore"``
        (min-cut with their preset alpha instead), ``"store-all"`` or ``"rerun-all"`` (the
        baselines: each group on that side unless impossible, then on the other).
    forbidden_flags
        Execution flags that forbid re-running (default: side effects, nondeterminism, unknown
        lineage, errors). What depends on such an execution must be stored.

    Returns
    -------
    ReplicationPlan
        A feasible plan of least ``alpha * checkpoint + restore`` time in the min-cut modes.
        Groups that can be neither stored nor recomputed are in ``plan.lost`` and the rest is
        planned without them.

    Raises
    ------
    PlanError
        On an unknown mode, a live variable missing from ``variables``, or a variable listed in
        two groups.
    """
    alpha, live, history, described = _prepare(
        graph, variables, groups, costs, mode, forbidden_flags, forbidden
    )
    lost = [_lost(g) for g in described if not g.can_store and not g.can_recompute]
    planned = [g for g in described if g.can_store or g.can_recompute]

    if mode in (MODE_STORE_ALL, MODE_RERUN_ALL):
        recompute = _baseline(planned, mode)
    else:
        recompute = [False] * len(planned)
        network = [i for i, g in enumerate(planned) if g.can_recompute]
        chosen = solve_min_cut(_network(planned, network, history, costs, alpha))
        for i, is_recomputed in zip(network, chosen, strict=True):
            recompute[i] = is_recomputed

    totals, rerun = _totals(planned, recompute, history, costs, alpha)
    store_all, _ = _totals(planned, _baseline(planned, MODE_STORE_ALL), history, costs, alpha)
    rerun_all, _ = _totals(planned, _baseline(planned, MODE_RERUN_ALL), history, costs, alpha)

    # Only versions some recorded execution wrote have a writer worth naming.
    writers = {
        name: version.version
        for name, version in live.items()
        if 0 <= version.version < len(history.executions)
    }
    decisions: list[VariableDecision] = []
    for group, is_recomputed in zip(planned, recompute, strict=True):
        decisions.extend(_decide(group, is_recomputed, mode, history, writers, variables, costs))
    for group in described:
        if not group.can_store and not group.can_recompute:
            decisions.extend(_lost_decisions(group, variables, writers))
    decisions.sort(key=lambda d: d.name)
    return ReplicationPlan(
        mode=mode,
        alpha=alpha,
        decisions=tuple(decisions),
        lost=tuple(lost),
        stored_groups=tuple(g.names for g, r in zip(planned, recompute, strict=True) if not r),
        recomputed_groups=tuple(g.names for g, r in zip(planned, recompute, strict=True) if r),
        rerun=tuple(rerun),
        totals=totals,
        store_all=store_all,
        rerun_all=rerun_all,
    )
