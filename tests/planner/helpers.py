"""Hand-built sessions and an independent brute-force planner to check the min-cut against."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from elastic_kernel.lineage.graph import (
    PRE_HISTORY,
    Execution,
    HistoryGraph,
    VariableVersion,
)
from elastic_kernel.planner import CostModel, VariableInfo

MB = 1_000_000


class Session:
    """Builds a HistoryGraph cell by cell: reads name the versions that are live at the time."""

    def __init__(self, pre_history: Iterable[str] = ()) -> None:
        self.graph = HistoryGraph()
        self.graph.adopt(pre_history)

    def run(
        self,
        duration: float,
        reads: Iterable[str] = (),
        writes: Iterable[str] = (),
        *,
        flags: Iterable[str] = (),
        notes: Sequence[str] = (),
        deletes: Iterable[str] = (),
    ) -> int:
        index = self.graph.next_index
        self.graph.append(
            Execution(
                index=index,
                execution_count=index + 1,
                cell_id=None,
                code=f"# cell {index + 1}",
                started=0.0,
                duration=duration,
                ok=True,
                reads=tuple(self.graph.live_version(name) for name in reads),
                writes=tuple(VariableVersion(name, index) for name in writes),
                deletes=tuple(deletes),
                flags=frozenset(flags),
                notes=tuple(notes),
            )
        )
        return index


def closure(
    graph: HistoryGraph, version: VariableVersion, forbidden: frozenset[str]
) -> frozenset[int] | None:
    """Executions needed to recompute ``version``, by plain recursion; None if impossible."""
    if version.version == PRE_HISTORY:
        return None
    execution = graph.executions[version.version]
    if execution.flags & forbidden:
        return None
    needed = {execution.index}
    for read in execution.reads:
        if read.version == execution.index:
            continue
        sub = closure(graph, read, forbidden)
        if sub is None:
            return None
        needed |= sub
    return frozenset(needed)


@dataclass(frozen=True)
class OracleGroup:
    names: tuple[str, ...]
    size: int
    can_store: bool
    needs: frozenset[int] | None  # None: cannot be recomputed


def oracle_groups(
    graph: HistoryGraph,
    variables: Mapping[str, VariableInfo],
    groups: Sequence[frozenset[str]],
    forbidden: frozenset[str],
) -> list[OracleGroup]:
    live = graph.live()
    listed: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for group in groups:
        members = tuple(sorted(n for n in group if n in live))
        if members:
            listed.append(members)
            seen.update(members)
    listed.extend((n,) for n in live if n not in seen)
    result = []
    for members in listed:
        needs: frozenset[int] | None = frozenset()
        for name in members:
            sub = closure(graph, live[name], forbidden)
            needs = None if sub is None or needs is None else needs | sub
        result.append(
            OracleGroup(
                members,
                sum(variables[n].size_bytes for n in members),
                all(variables[n].unserializable is None for n in members),
                needs,
            )
        )
    return result


def assignment_cost(
    graph: HistoryGraph,
    groups: Sequence[OracleGroup],
    recompute: Sequence[bool],
    costs: CostModel,
    alpha: float,
) -> float:
    """``alpha * write + read`` of stored groups plus runtimes of the union of closures."""
    store = sum(
        alpha * g.size / costs.write_bytes_per_s + g.size / costs.read_bytes_per_s
        for g, r in zip(groups, recompute, strict=True)
        if not r
    )
    rerun: set[int] = set()
    for g, r in zip(groups, recompute, strict=True):
        if r:
            assert g.needs is not None
            rerun |= g.needs
    return store + sum(graph.executions[i].duration for i in rerun)


def brute_force_optimum(
    graph: HistoryGraph, groups: Sequence[OracleGroup], costs: CostModel, alpha: float
) -> float:
    """The least cost over every feasible store/recompute choice of the plannable groups."""
    plannable = [g for g in groups if g.can_store or g.needs is not None]
    best = float("inf")
    for choice in itertools.product((False, True), repeat=len(plannable)):
        feasible = all(
            (g.needs is not None) if r else g.can_store
            for g, r in zip(plannable, choice, strict=True)
        )
        if feasible:
            best = min(best, assignment_cost(graph, plannable, choice, costs, alpha))
    return best
