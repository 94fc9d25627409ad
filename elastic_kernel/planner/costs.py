"""What the planner knows about each variable and what storing or re-running costs.

Storing a linked group costs ``alpha * size / write_bw + size / read_bw`` seconds (paper §5.1:
migration time = checkpoint time weighted by alpha + restore time); recomputing costs the
recorded runtimes of the executions it needs, which the min-cut counts once when shared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from elastic_kernel.errors import PlanError

__all__ = ["CostModel", "VariableInfo"]


@dataclass(frozen=True, slots=True)
class VariableInfo:
    """The planner's view of one live variable.

    Parameters
    ----------
    name
        The variable's name in the namespace.
    size_bytes
        Estimated serialized size (the size of its linked group is the sum over members).
    unserializable
        Why the value cannot be stored (e.g. ``"generator"``), or None when it can.
    stored_is_stale
        Why a stored copy would not be the value (a module whose settings a cell changed comes
        back re-imported without them): the variable is then recomputed whenever it can be, and
        stored only when it cannot.
    """

    name: str
    size_bytes: int
    unserializable: str | None = None
    stored_is_stale: str | None = None

    def __post_init__(self) -> None:
        if self.size_bytes < 0:
            raise PlanError(
                f"variable {self.name!r} has a negative estimated size ({self.size_bytes} bytes); "
                "pass the estimated serialized size, 0 or more"
            )


@dataclass(frozen=True, slots=True)
class CostModel:
    """Bandwidths of the target store and the weight of checkpoint time against restore time.

    Parameters
    ----------
    write_bytes_per_s, read_bytes_per_s
        Measured (or probed) throughput of writing to and reading from the store.
    alpha
        Weight of checkpoint (write) time against restore time: 1 minimises both equally, a
        large alpha favours a fast checkpoint (migration), a small one a fast restore.

    Raises
    ------
    PlanError
        When a bandwidth is not a positive finite number or alpha is negative or not finite.
    """

    write_bytes_per_s: float
    read_bytes_per_s: float
    alpha: float = 1.0

    def __post_init__(self) -> None:
        for label, value in (
            ("write_bytes_per_s", self.write_bytes_per_s),
            ("read_bytes_per_s", self.read_bytes_per_s),
        ):
            if not (math.isfinite(value) and value > 0):
                raise PlanError(
                    f"CostModel.{label}={value!r} is not a positive bandwidth; "
                    "probe the store again or pass bytes per second > 0"
                )
        if not (math.isfinite(self.alpha) and self.alpha >= 0):
            raise PlanError(f"CostModel.alpha={self.alpha!r} must be a finite number >= 0")

    def write_seconds(self, size_bytes: int) -> float:
        """Time to write ``size_bytes`` to the store (the checkpoint's share)."""
        return size_bytes / self.write_bytes_per_s

    def read_seconds(self, size_bytes: int) -> float:
        """Time to read ``size_bytes`` back from the store (the restore's share)."""
        return size_bytes / self.read_bytes_per_s

    def store_cost(self, size_bytes: int, alpha: float | None = None) -> float:
        """Weighted cost of storing ``size_bytes``: ``alpha * write + read`` seconds.

        Parameters
        ----------
        size_bytes
            Total size of the linked group.
        alpha
            Overrides the model's alpha (the named modes fix their own).
        """
        weight = self.alpha if alpha is None else alpha
        return weight * self.write_seconds(size_bytes) + self.read_seconds(size_bytes)
