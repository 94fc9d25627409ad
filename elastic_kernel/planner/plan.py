"""The replication plan: per-variable decisions with reasons, what to re-run, and its costs.

A plan is a value: it is written into the checkpoint manifest with :meth:`ReplicationPlan.to_json`
and read back with :meth:`ReplicationPlan.from_json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elastic_kernel.errors import PlanError

__all__ = [
    "LOST",
    "RECOMPUTE",
    "STORE",
    "LostGroup",
    "PlanTotals",
    "ReplicationPlan",
    "VariableDecision",
]

STORE = "store"
RECOMPUTE = "recompute"
LOST = "lost"
_ACTIONS = (STORE, RECOMPUTE, LOST)

PLAN_FORMAT = 1


@dataclass(frozen=True, slots=True)
class VariableDecision:
    """What happens to one live variable.

    Parameters
    ----------
    name
        The variable.
    action
        ``"store"``, ``"recompute"`` or ``"lost"``.
    reason
        Why, for people: ``"cheaper to store"``, ``"unserializable: generator"``,
        ``"depends on cell 3 with side effects"``, ...
    size_bytes
        Estimated serialized size of this variable alone.
    seconds
        Stored: its write + read time; recomputed: the runtime of everything it needs
        (alone, before sharing with other variables); lost: 0.
    group
        The names of its linked group (itself included), sorted.
    writer
        Index of the execution that wrote its live value (None when it existed before tracking
        started). A recomputed variable needs that execution's prerequisite closure, which
        ``format_plan_text`` lists; closures are not stored per variable because in long
        sessions they overlap almost entirely (``ReplicationPlan.rerun`` is their union).
    """

    name: str
    action: str
    reason: str
    size_bytes: int
    seconds: float
    group: tuple[str, ...]
    writer: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "reason": self.reason,
            "size_bytes": self.size_bytes,
            "seconds": self.seconds,
            "group": list(self.group),
            "writer": self.writer,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VariableDecision:
        action = str(data["action"])
        if action not in _ACTIONS:
            raise PlanError(f"plan decision for {data.get('name')!r} has unknown action {action!r}")
        return cls(
            name=str(data["name"]),
            action=action,
            reason=str(data["reason"]),
            size_bytes=int(data["size_bytes"]),
            seconds=float(data["seconds"]),
            group=tuple(str(n) for n in data["group"]),
            writer=None if data.get("writer") is None else int(data["writer"]),
        )


@dataclass(frozen=True, slots=True)
class LostGroup:
    """A linked group that can be neither stored nor recomputed.

    Parameters
    ----------
    names
        The variables of the group, sorted.
    execution
        Index of the execution that prevents recomputation, or None when a value existed before
        tracking started.
    reason
        Both halves of the why: ``"unserializable: ...; depends on cell 3 with side effects"``.
    """

    names: tuple[str, ...]
    execution: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "execution": self.execution, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LostGroup:
        execution = data.get("execution")
        return cls(
            names=tuple(str(n) for n in data["names"]),
            execution=None if execution is None else int(execution),
            reason=str(data["reason"]),
        )


@dataclass(frozen=True, slots=True)
class PlanTotals:
    """Estimated costs of one way of checkpointing the session.

    Parameters
    ----------
    checkpoint_seconds
        Time to write the stored groups.
    restore_seconds
        Time to read them back plus the runtimes of the executions to re-run.
    stored_bytes
        Total estimated size written.
    rerun_seconds
        The re-run part of ``restore_seconds``.
    objective
        What the plan minimises: ``alpha * checkpoint_seconds + restore_seconds``.
    """

    checkpoint_seconds: float
    restore_seconds: float
    stored_bytes: int
    rerun_seconds: float
    objective: float

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint_seconds": self.checkpoint_seconds,
            "restore_seconds": self.restore_seconds,
            "stored_bytes": self.stored_bytes,
            "rerun_seconds": self.rerun_seconds,
            "objective": self.objective,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanTotals:
        return cls(
            checkpoint_seconds=float(data["checkpoint_seconds"]),
            restore_seconds=float(data["restore_seconds"]),
            stored_bytes=int(data["stored_bytes"]),
            rerun_seconds=float(data["rerun_seconds"]),
            objective=float(data["objective"]),
        )


@dataclass(frozen=True, slots=True)
class ReplicationPlan:
    """Which linked groups to store, which executions to re-run, and why.

    Parameters
    ----------
    mode, alpha
        The mode solved (see :mod:`elastic_kernel.planner.modes`) and the alpha used.
    decisions
        One per live variable, sorted by name.
    lost
        Groups that can be neither stored nor recomputed; the rest is planned without them.
    stored_groups, recomputed_groups
        Linked groups (sorted names) by side; every group is wholly on one side.
    rerun
        Sorted indices of the executions to re-run on restore.
    totals, store_all, rerun_all
        Estimated costs of this plan and of the two baselines on the same session.
    """

    mode: str
    alpha: float
    decisions: tuple[VariableDecision, ...]
    lost: tuple[LostGroup, ...]
    stored_groups: tuple[tuple[str, ...], ...]
    recomputed_groups: tuple[tuple[str, ...], ...]
    rerun: tuple[int, ...]
    totals: PlanTotals
    store_all: PlanTotals
    rerun_all: PlanTotals

    def decision(self, name: str) -> VariableDecision:
        """The decision about ``name``.

        Raises
        ------
        PlanError
            When ``name`` is not a live variable of the planned session.
        """
        for decision in self.decisions:
            if decision.name == name:
                return decision
        raise PlanError(f"the plan has no variable {name!r}; it covers only live variables")

    def names(self, action: str) -> tuple[str, ...]:
        """The variables with the given action (``"store"``, ``"recompute"``, ``"lost"``)."""
        return tuple(d.name for d in self.decisions if d.action == action)

    def to_json(self) -> dict[str, Any]:
        """The plan as plain JSON data (for the manifest and comm replies)."""
        return {
            "format": PLAN_FORMAT,
            "mode": self.mode,
            "alpha": self.alpha,
            "decisions": [d.to_json() for d in self.decisions],
            "lost": [g.to_json() for g in self.lost],
            "stored_groups": [list(g) for g in self.stored_groups],
            "recomputed_groups": [list(g) for g in self.recomputed_groups],
            "rerun": list(self.rerun),
            "totals": self.totals.to_json(),
            "store_all": self.store_all.to_json(),
            "rerun_all": self.rerun_all.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReplicationPlan:
        """Read a plan written by :meth:`to_json`.

        Raises
        ------
        PlanError
            When the data is not a plan of a known format.
        """
        try:
            if data.get("format") != PLAN_FORMAT:
                raise PlanError(
                    f"replication plan format {data.get('format')!r} is not {PLAN_FORMAT}; "
                    "the checkpoint was written by another version of elastic_kernel"
                )
            return cls(
                mode=str(data["mode"]),
                alpha=float(data["alpha"]),
                decisions=tuple(VariableDecision.from_json(d) for d in data["decisions"]),
                lost=tuple(LostGroup.from_json(g) for g in data["lost"]),
                stored_groups=tuple(tuple(str(n) for n in g) for g in data["stored_groups"]),
                recomputed_groups=tuple(
                    tuple(str(n) for n in g) for g in data["recomputed_groups"]
                ),
                rerun=tuple(int(i) for i in data["rerun"]),
                totals=PlanTotals.from_json(data["totals"]),
                store_all=PlanTotals.from_json(data["store_all"]),
                rerun_all=PlanTotals.from_json(data["rerun_all"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanError(
                f"replication plan data is malformed ({exc!r}); it cannot be read"
            ) from exc
