"""The store-or-recompute choice as an s-t min-cut, solved with OR-Tools max-flow.

Network (paper §5.2, with executions chained instead of per-variable closure arcs)::

    source -> group          capacity: store cost (infinite if unserializable)
    group  -> writer         infinite, for each live version of the group
    exec   -> exec it read   infinite, once per distinct prerequisite
    exec   -> sink           capacity: its runtime

A finite cut never crosses an infinite arc, so a group on the source side drags its whole
prerequisite closure to the source side (re-run), and each execution's runtime is cut once however
many groups need it: the cut's capacity is exactly store costs of sink-side groups plus runtimes of
the union of the recomputed closures. The chained arcs keep the network linear in the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import numpy.typing as npt

from elastic_kernel.errors import PlanError

__all__ = [
    "MICROSECONDS",
    "FlowNetwork",
    "build_network",
    "load_solver",
    "solve_min_cut",
    "to_microseconds",
]

MICROSECONDS = 1_000_000


def to_microseconds(seconds: float) -> int:
    """Integer capacity for a cost in seconds (max-flow capacities are int64)."""
    return round(seconds * MICROSECONDS) if seconds > 0 else 0


@dataclass(frozen=True, slots=True)
class FlowNetwork:
    """The arcs of the min-cut network, ready for a max-flow solver.

    Nodes: ``source`` (0), ``sink`` (1), groups from ``group_base`` (``group_count`` of them),
    then one node per execution. Capacities are integer microseconds; ``infinity`` exceeds
    every finite cut.
    """

    tails: npt.NDArray[np.int64]
    heads: npt.NDArray[np.int64]
    capacities: npt.NDArray[np.int64]
    group_count: int
    node_count: int
    infinity: int
    source: int = 0
    sink: int = 1
    group_base: int = 2


def build_network(
    store_costs: Sequence[float | None],
    group_writers: Sequence[Sequence[int]],
    preds: Sequence[Sequence[int]],
    durations: Sequence[float],
) -> FlowNetwork:
    """Build the min-cut network, linear in groups + executions + prerequisite arcs.

    Parameters
    ----------
    store_costs
        Weighted store cost of each group in seconds; None when the group cannot be stored.
    group_writers
        For each group, the executions that wrote its live versions (all re-runnable).
    preds
        For each execution, the executions that wrote what it read. Only executions reachable
        from ``group_writers`` matter, and they must all be re-runnable.
    durations
        Recorded runtime of each execution in seconds.
    """
    groups = len(store_costs)
    source, sink, base = 0, 1, 2
    exec_base = base + groups
    tails: list[int] = []
    heads: list[int] = []
    caps: list[int] = []
    infinite_tails: list[int] = []
    infinite_heads: list[int] = []

    finite_total = 0
    for group, cost in enumerate(store_costs):
        node = base + group
        if cost is None:
            infinite_tails.append(source)
            infinite_heads.append(node)
        else:
            capacity = to_microseconds(cost)
            finite_total += capacity
            tails.append(source)
            heads.append(node)
            caps.append(capacity)
        for writer in group_writers[group]:
            infinite_tails.append(node)
            infinite_heads.append(exec_base + writer)

    for index, duration in enumerate(durations):
        capacity = to_microseconds(duration)
        finite_total += capacity
        node = exec_base + index
        tails.append(node)
        heads.append(sink)
        caps.append(capacity)
        for pred in preds[index]:
            infinite_tails.append(node)
            infinite_heads.append(exec_base + pred)

    # One more than every finite capacity together: no finite cut can reach it, and it stays far
    # from int64 overflow (2**62 overflowed inside the solver).
    infinity = finite_total + 1
    capacities = np.empty(len(caps) + len(infinite_tails), dtype=np.int64)
    capacities[: len(caps)] = caps
    capacities[len(caps) :] = infinity
    return FlowNetwork(
        tails=np.array(tails + infinite_tails, dtype=np.int64),
        heads=np.array(heads + infinite_heads, dtype=np.int64),
        capacities=capacities,
        group_count=groups,
        node_count=exec_base + len(durations),
        infinity=infinity,
    )


def solve_min_cut(network: FlowNetwork) -> list[bool]:
    """Choose, for each group of the network, to recompute it (True) or store it (False).

    Parameters
    ----------
    network
        From :func:`build_network`.

    Returns
    -------
    list of bool
        Whether each group lies on the source side of the minimum cut (recompute).

    Raises
    ------
    PlanError
        When the solver does not reach a finite optimum (only possible when a group that can be
        neither stored nor recomputed was passed in).
    """
    if network.group_count == 0:
        return []
    smf = load_solver().SimpleMaxFlow()
    smf.add_arcs_with_capacity(network.tails, network.heads, network.capacities)
    status = smf.solve(network.source, network.sink)
    if status != smf.OPTIMAL:
        raise PlanError(
            f"the min-cut solver stopped with status {status} on {network.group_count} groups; "
            "report this with the session's graph (%elastic graph)"
        )
    if smf.optimal_flow() >= network.infinity:
        raise PlanError(
            "every plan needs an unserializable group whose cells cannot be re-run; "
            "this is a planner bug, such groups must be reported as lost before solving"
        )
    source_side = np.asarray(smf.get_source_side_min_cut(), dtype=np.int64)
    base = network.group_base
    chosen = np.zeros(network.group_count, dtype=bool)
    in_groups = (source_side >= base) & (source_side < base + network.group_count)
    chosen[source_side[in_groups] - base] = True
    return [bool(flag) for flag in chosen]


def load_solver() -> ModuleType:
    """OR-Tools' max-flow module, imported on first use: it maps ~550 shared-object segments
    and 18 MB into the process, which a kernel that never plans need not carry."""
    from ortools.graph.python import max_flow

    module: ModuleType = max_flow
    return module
