"""A flat view of the AHG for planning: which executions each one needs, and which cannot re-run.

Everything here is linear in the number of executions plus reads: prerequisite closures are never
materialised per variable except as bitsets, on demand, for the plan's explanation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from elastic_kernel.lineage.graph import (
    FLAG_ERROR,
    FLAG_NONDETERMINISTIC,
    FLAG_SIDE_EFFECT,
    FLAG_UNKNOWN_LINEAGE,
    PRE_HISTORY,
    Execution,
    HistoryGraph,
    VariableVersion,
)

__all__ = ["DEFAULT_FORBIDDEN_FLAGS", "Blocker", "History"]

DEFAULT_FORBIDDEN_FLAGS: frozenset[str] = frozenset(
    {FLAG_SIDE_EFFECT, FLAG_NONDETERMINISTIC, FLAG_UNKNOWN_LINEAGE, FLAG_ERROR}
)

_FLAG_WORDS = {
    FLAG_SIDE_EFFECT: "with side effects",
    FLAG_NONDETERMINISTIC: "that is nondeterministic",
    FLAG_UNKNOWN_LINEAGE: "with unknown lineage",
    FLAG_ERROR: "that raised an error",
}


@dataclass(frozen=True, slots=True)
class Blocker:
    """Why a value cannot be recomputed: the execution at fault (None: pre-history) and a reason."""

    execution: int | None
    reason: str


def _forbidden_reason(execution: Execution, flags: Iterable[str]) -> str:
    words = " and ".join(_FLAG_WORDS.get(flag, f"flagged {flag!r}") for flag in sorted(flags))
    reason = f"depends on {execution.label} {words}"
    if execution.notes:
        reason += f" ({'; '.join(execution.notes)})"
    return reason


class History:
    """Per-execution prerequisites, runtimes and blockers of one graph.

    Parameters
    ----------
    graph
        The AHG.
    forbidden_flags
        Execution flags that forbid re-running an execution.
    """

    def __init__(
        self,
        graph: HistoryGraph,
        forbidden_flags: frozenset[str],
        forbidden: Mapping[int, str] | None = None,
    ) -> None:
        executions = graph.executions
        self.executions = executions
        count = len(executions)
        self.durations: list[float] = [0.0] * count
        self.preds: list[tuple[int, ...]] = [()] * count
        self.blocked: list[Blocker | None] = [None] * count
        self._forbidden = forbidden or {}
        for execution in executions:
            self._add(execution, forbidden_flags)
        self._bits: list[int] | None = None
        self._runtimes: dict[int, float] = {}
        self._durations: npt.NDArray[np.float64] | None = None

    def _add(self, execution: Execution, forbidden_flags: frozenset[str]) -> None:
        index = execution.index
        duration = execution.duration
        # NaN or negative durations come from clock trouble; they must not make re-running free.
        self.durations[index] = duration if duration > 0 else 0.0
        if index in self._forbidden:
            reason = f"depends on {execution.label}: {self._forbidden[index]}"
            self.blocked[index] = Blocker(index, reason)
            return
        bad_flags = execution.flags & forbidden_flags
        if bad_flags:
            self.blocked[index] = Blocker(index, _forbidden_reason(execution, bad_flags))
            return
        preds: set[int] = set()
        for read in execution.reads:
            writer = read.version
            if writer == index:
                continue  # the cell read what it had just written itself
            if writer == PRE_HISTORY:
                self.blocked[index] = Blocker(
                    index,
                    f"{execution.label} reads {read.name!r}, which existed before tracking started",
                )
                return
            if not 0 <= writer < index:
                self.blocked[index] = Blocker(
                    index,
                    f"{execution.label} reads {read}, which no earlier execution wrote "
                    "(inconsistent lineage)",
                )
                return
            upstream = self.blocked[writer]
            if upstream is not None:
                self.blocked[index] = upstream
                return
            preds.add(writer)
        self.preds[index] = tuple(sorted(preds))

    def version_blocker(self, version: VariableVersion) -> Blocker | None:
        """Why ``version`` cannot be recomputed, or None when re-running its closure would."""
        if version.version == PRE_HISTORY:
            return Blocker(None, "existed before tracking started")
        if not 0 <= version.version < len(self.executions):
            return Blocker(None, f"version {version} was never recorded (inconsistent lineage)")
        return self.blocked[version.version]

    def closure_union(self, roots: Iterable[int]) -> list[int]:
        """Sorted indices of every execution needed to recompute the outputs of ``roots``."""
        bits = self._closure_bits()
        union = 0
        for root in roots:
            union |= bits[root]
        found: list[int] = self._decode(union).tolist()
        return found

    def closure_of(self, root: int) -> tuple[int, ...]:
        """Sorted indices of the executions needed to recompute what ``root`` wrote."""
        return tuple(self._decode(self._closure_bits()[root]).tolist())

    def closure_runtime(self, root: int) -> float:
        """Recorded runtime of everything needed to recompute what ``root`` wrote."""
        cached = self._runtimes.get(root)
        if cached is None:
            mask = self._mask(self._closure_bits()[root])
            cached = float(self._padded_durations()[: len(mask)] @ mask)
            self._runtimes[root] = cached
        return cached

    def runtime(self, indices: Sequence[int]) -> float:
        """Total recorded runtime of the given executions."""
        durations = self.durations
        return sum(durations[i] for i in indices)

    def _closure_bits(self) -> list[int]:
        # Bitsets make every closure one OR per prerequisite arc, in history order, and a union
        # of closures one OR per root; the decoding below is vectorised.
        if self._bits is None:
            bits = [0] * len(self.executions)
            for index, preds in enumerate(self.preds):
                value = 1 << index
                for pred in preds:
                    value |= bits[pred]
                bits[index] = value
            self._bits = bits
        return self._bits

    @staticmethod
    def _mask(bits: int) -> npt.NDArray[np.uint8]:
        raw = np.frombuffer(bits.to_bytes((bits.bit_length() + 7) // 8, "little"), np.uint8)
        return np.unpackbits(raw, bitorder="little")

    def _decode(self, bits: int) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self._mask(bits))

    def _padded_durations(self) -> npt.NDArray[np.float64]:
        if self._durations is None:
            padded = np.zeros(len(self.durations) + 8, dtype=np.float64)
            padded[: len(self.durations)] = self.durations
            self._durations = padded
        return self._durations
