"""The Application History Graph (AHG): cell executions and the variable versions they touch.

The graph is bipartite: an :class:`Execution` reads and writes :class:`VariableVersion` nodes.
A version is named by the index of the execution that wrote it, so the graph's memory grows
with the number of executions and the names they touch, never with the size of the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FLAG_ERROR",
    "FLAG_NONDETERMINISTIC",
    "FLAG_SIDE_EFFECT",
    "FLAG_UNKNOWN_LINEAGE",
    "PRE_HISTORY",
    "Execution",
    "HistoryGraph",
    "VariableVersion",
]

PRE_HISTORY = -1
"""Version of a variable that existed before the first recorded execution (startup files, injected
names). Nothing can recompute it, so it must be stored."""

FLAG_UNKNOWN_LINEAGE = "unknown_lineage"
FLAG_SIDE_EFFECT = "side_effect"
FLAG_NONDETERMINISTIC = "nondeterministic"
FLAG_ERROR = "error"


@dataclass(frozen=True, slots=True, order=True)
class VariableVersion:
    """One value a name held: ``name`` as written by execution number ``version``."""

    name: str
    version: int

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True, slots=True)
class Execution:
    """One run of a cell.

    Parameters
    ----------
    index
        Position in the history, from 0; also the version number of everything it wrote.
    execution_count
        IPython's prompt number (``In [n]``).
    cell_id
        The frontend's cell id, when the execute request carried one.
    code
        The Python that ran (``transform_cell`` output: magics are calls).
    started, duration
        Wall-clock start (epoch seconds) and duration in seconds.
    ok
        False when the cell raised.
    reads, writes
        Variable versions read, and versions created (assigned, rebound or modified in place).
    deletes
        Names the cell removed from the namespace.
    flags
        Marks that constrain re-running the cell (``side_effect``, ``nondeterministic``,
        ``unknown_lineage``, ``error``), with reasons in ``notes``.
    """

    index: int
    execution_count: int | None
    cell_id: str | None
    code: str
    started: float
    duration: float
    ok: bool
    reads: tuple[VariableVersion, ...] = ()
    writes: tuple[VariableVersion, ...] = ()
    deletes: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How people know the execution: its prompt number, else its position in the history."""
        if self.execution_count is not None:
            return f"cell {self.execution_count}"
        return f"execution #{self.index}"

    @property
    def first_line(self) -> str:
        for line in self.code.splitlines():
            if line.strip():
                return line.strip()
        return ""

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "execution_count": self.execution_count,
            "cell_id": self.cell_id,
            "code": self.code,
            "started": self.started,
            "duration": self.duration,
            "ok": self.ok,
            "reads": [[v.name, v.version] for v in self.reads],
            "writes": [[v.name, v.version] for v in self.writes],
            "deletes": list(self.deletes),
            "flags": sorted(self.flags),
            "notes": list(self.notes),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Execution:
        return cls(
            index=int(data["index"]),
            execution_count=data.get("execution_count"),
            cell_id=data.get("cell_id"),
            code=str(data["code"]),
            started=float(data["started"]),
            duration=float(data["duration"]),
            ok=bool(data["ok"]),
            reads=tuple(VariableVersion(str(n), int(v)) for n, v in data.get("reads", ())),
            writes=tuple(VariableVersion(str(n), int(v)) for n, v in data.get("writes", ())),
            deletes=tuple(str(n) for n in data.get("deletes", ())),
            flags=frozenset(str(f) for f in data.get("flags", ())),
            notes=tuple(str(n) for n in data.get("notes", ())),
            extra=dict(data.get("extra", {})),
        )


class HistoryGraph:
    """The AHG of one session: executions in order plus the live version of every variable."""

    FORMAT = 1

    def __init__(self) -> None:
        self._executions: list[Execution] = []
        self._live: dict[str, VariableVersion] = {}

    @property
    def executions(self) -> tuple[Execution, ...]:
        return tuple(self._executions)

    def __len__(self) -> int:
        return len(self._executions)

    def __iter__(self) -> Iterator[Execution]:
        return iter(self._executions)

    @property
    def next_index(self) -> int:
        return len(self._executions)

    def live(self) -> dict[str, VariableVersion]:
        """Each variable now in the namespace, with the version it holds."""
        return dict(self._live)

    def live_version(self, name: str) -> VariableVersion:
        """The version ``name`` holds now; a name never seen is pre-history."""
        return self._live.get(name, VariableVersion(name, PRE_HISTORY))

    def adopt(self, names: Iterable[str]) -> None:
        """Record names present before tracking started (pre-history versions)."""
        for name in names:
            self._live.setdefault(name, VariableVersion(name, PRE_HISTORY))

    def append(self, execution: Execution) -> None:
        """Add an execution; its writes become live and its deletes leave the namespace."""
        if execution.index != len(self._executions):
            raise ValueError(
                f"execution index {execution.index} out of order (expected {len(self._executions)})"
            )
        self._executions.append(execution)
        for name in execution.deletes:
            self._live.pop(name, None)
        for version in execution.writes:
            self._live[version.name] = version

    def writer(self, version: VariableVersion) -> Execution | None:
        """The execution that created ``version`` (None for pre-history versions)."""
        if version.version == PRE_HISTORY:
            return None
        return self._executions[version.version]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.FORMAT,
            "executions": [e.to_json() for e in self._executions],
            "live": sorted([v.name, v.version] for v in self._live.values()),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryGraph:
        graph = cls()
        graph._executions = [Execution.from_json(e) for e in data.get("executions", ())]
        graph._live = {str(n): VariableVersion(str(n), int(v)) for n, v in data.get("live", ())}
        return graph
