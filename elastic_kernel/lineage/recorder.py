"""Per-cell capture: turns one cell execution into an :class:`Execution` of the AHG.

Before the cell: static analysis, the id of every user variable, fingerprints of the candidates
(the variables the cell can reach). After it: a namespace diff (created, rebound, deleted) plus a
fingerprint comparison of the candidates (modified in place). Writes may be over-reported,
never missed: a variable whose fingerprint cannot be computed within budget counts as modified.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import sysconfig
import time
import warnings
from collections.abc import Callable, Container, Iterable, Mapping, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from elastic_kernel.lineage.aliases import AliasIndex
from elastic_kernel.lineage.analysis import CellAnalysis, analyze_cell
from elastic_kernel.lineage.effects import CellEffects, EffectWatcher, Recording
from elastic_kernel.lineage.fingerprint import fingerprint
from elastic_kernel.lineage.globals_used import GlobalsResolver
from elastic_kernel.lineage.graph import (
    FLAG_ERROR,
    FLAG_NONDETERMINISTIC,
    FLAG_SIDE_EFFECT,
    FLAG_UNKNOWN_LINEAGE,
    Execution,
    HistoryGraph,
    VariableVersion,
)
from elastic_kernel.lineage.identity import identity
from elastic_kernel.lineage.known_names import GENERATOR_CONSTRUCTORS
from elastic_kernel.lineage.module_state import is_module, settings_extras
from elastic_kernel.lineage.nondeterminism import measured_time_reasons, nondeterminism_reasons
from elastic_kernel.lineage.rng import RngState, capture_rng_state, uses_global_rng
from elastic_kernel.lineage.snapshot import IdSnapshot, SnapshotTaker
from elastic_kernel.lineage.working_dir import CELL_DIR, current_dir, relative_dir

__all__ = ["CellRecorder", "PendingExecution", "is_system_name"]

log = logging.getLogger(__name__)

# IPython's output cache and input history (`_`, `__`, `_3`, `_i`, `_ii3`...) and dunders.
SYSTEM_NAME = re.compile(r"^(_{1,3}|_i{1,3}|_i?\d+|_(ih|oh|dh|sh)|__\w+__)$")
# Hashing throughput assumed when turning a time budget into a byte budget (xxh3 runs at
# several GB/s; erring low only makes more variables "assumed modified").
HASH_BYTES_PER_S = 4e9
# Bytes hashed per variable before a cell when its fingerprint is not cached, and after it at
# least: larger values are checked only when 5% of the cell's runtime pays for it, and are
# otherwise assumed modified (issue 4's rule; they are usually cached from the cell that
# wrote them, so only cells that touch big data without changing it pay with a false write).
PRE_CELL_BUDGET_BYTES = 4 * 2**20
POST_CELL_MIN_BUDGET_BYTES = 4 * 2**20
# Describing one Python object (a list element, a dict key) costs about as much time as
# hashing this many bytes of a buffer (~0.3 us against 4 GB/s): the budget in objects.
ITEM_COST_BYTES = 1_000
# Share of a cell's own runtime that change detection may add (issue: < 5%).
OVERHEAD_SHARE = 0.05
# Installed code: importing it cannot reach the notebook's namespace.
LIBRARY_ROOTS = tuple(
    {
        os.path.join(sysconfig.get_paths()[key], "")
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
    }
)


def is_system_name(name: str) -> bool:
    """True for IPython's bookkeeping names, which are never user variables."""
    return SYSTEM_NAME.match(name) is not None


@dataclass(slots=True)
class PendingExecution:
    """State captured before a cell runs, consumed by :meth:`CellRecorder.finish`."""

    code: str
    execution_count: int | None
    cell_id: str | None
    started: float
    perf_start: float
    analysis: CellAnalysis
    ids_before: IdSnapshot
    candidates: set[str]
    reads: list[VariableVersion]
    fingerprints_before: dict[str, bytes | None]
    notes: list[str] = field(default_factory=list)
    rng_before: RngState | None = None
    # Names called by the user functions the cell can reach (clocks, uuid4 inside helpers).
    function_calls: frozenset[str] = frozenset()
    watch: AbstractContextManager[Recording] | None = None
    recording: Recording | None = None
    generation: int = 0
    # Where the cell started, relative to the kernel's start directory.
    cwd: str = "."


def local_imports(imports: Iterable[str]) -> list[str]:
    """Top-level modules, not imported yet, found outside the stdlib and site-packages."""
    local: list[str] = []
    for name in imports:
        top = name.split(".")[0]
        if not top or top in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        places = [spec.origin] if spec.has_location else []
        places.extend(spec.submodule_search_locations or ())
        if any(isinstance(p, str) and not p.startswith(LIBRARY_ROOTS) for p in places):
            local.append(top)
    return local


class CellRecorder:
    """Records every cell execution of one namespace into a :class:`HistoryGraph`.

    Parameters
    ----------
    ns
        The user namespace (``shell.user_ns``).
    hidden
        Names that are not user variables (``shell.user_ns_hidden``); system names such as
        ``_i3`` are excluded as well.
    graph
        The graph to extend (a restored session continues its old graph).
    cache_roots
        Directories of library caches: what cells do there is not an external effect (see
        :class:`EffectWatcher`).
    """

    def __init__(
        self,
        ns: MutableMapping[str, object],
        hidden: Container[str],
        graph: HistoryGraph | None = None,
        *,
        clock: Callable[[], float] = time.perf_counter,
        cache_roots: Iterable[str] = (),
        start_dir: str | None = None,
    ) -> None:
        self.ns = ns
        # The kernel's working directory before any cell (the notebook's directory): cells'
        # directories are recorded relative to it.
        self.start_dir = start_dir or current_dir() or os.sep
        self.hidden = hidden
        self.graph = graph if graph is not None else HistoryGraph()
        self._clock = clock
        # Refreshed for every name a cell writes, so aliases are found without walking the
        # whole namespace each cell.
        self._aliases = AliasIndex(ns)
        self._resolver = GlobalsResolver(ns, held=self._aliases.held_code)
        self._watcher = EffectWatcher(cache_roots=cache_roots)
        # name -> (id of the object, fingerprint): valid while no cell that could modify the
        # object has run, because every such cell re-fingerprints its candidates afterwards.
        self._cache: dict[str, tuple[int, bytes]] = {}
        self._adopted = False
        # Bumped when a restore replaces the graph: a cell that started before (the cell that
        # ran the restore, when it was not a tooling cell) is not recorded.
        self._generation = 0
        self._name_is_user: dict[str, bool] = {}
        self.overhead_seconds = 0.0
        self._snapshots = SnapshotTaker(ns, self._is_user)
        # Ids after the last recorded cell: the next cell's "before" while nothing else ran.
        self._last_ids: IdSnapshot | None = None
        # The generators' state after the last recorded cell, reused with its ids.
        self._last_rng: RngState | None = None

    def user_names(self) -> list[str]:
        return [n for n in self.ns if self._is_user(n)]

    def is_user_name(self, name: str) -> bool:
        """True for user variables (not IPython bookkeeping, not names hidden by the shell)."""
        return self._is_user(name)

    def namespace_touched(self, names: Iterable[str] = ()) -> None:
        """Names may have been rebound outside a recorded cell (an unrecorded execution, a comm
        handler, a restore): the next cell takes a fresh snapshot instead of reusing the last
        cell's, so such changes are never attributed to it. ``names``, when known, are indexed
        for alias detection as if a cell had written them."""
        self._last_ids = None
        self._aliases.refresh(names)

    def replace_graph(self, graph: HistoryGraph) -> None:
        """Continue a restored session's graph; the cell running now (the restore) is not
        recorded, and names that were here before the restore count as pre-history."""
        self.graph = graph
        self._cache.clear()
        self._aliases.forget_all()
        names = self.user_names()
        graph.adopt(names)
        self._aliases.refresh(names)
        self._adopted = True
        self._generation += 1
        self._last_ids = None

    def _is_user(self, name: str) -> bool:
        known = self._name_is_user.get(name)
        if known is None:
            known = name not in self.hidden and not is_system_name(name)
            self._name_is_user[name] = known
        return known

    def start(
        self, code: str, *, execution_count: int | None = None, cell_id: str | None = None
    ) -> PendingExecution:
        """Capture what is needed before ``code`` runs."""
        t0 = self._clock()
        if not self._adopted:
            names = self.user_names()
            self.graph.adopt(names)
            self._aliases.refresh(names)
            self._adopted = True
        # The previous cell's final ids, unless something may have rebound names since.
        ids_before = self._last_ids if self._last_ids is not None else self._snapshots.take()
        rng_before = self._last_rng if self._last_ids is not None else None
        self._last_ids = self._last_rng = None
        analysis = analyze_cell(code)
        for module in local_imports(analysis.imports):
            # Module code runs on import and may write `__main__` (issue 4's fallback list).
            analysis.mark_dynamic(f"imports local module {module}")
        if analysis.is_dynamic:
            reachable = set(self.user_names())
            candidates = set(reachable)
        else:
            named = {n for n in analysis.names if n in ids_before}
            reachable = {n for n in self._resolver.names_used_by(named) if self._is_user(n)}
            candidates = self._aliases.with_aliases(reachable, ids_before, analysis.attributes)
        reads = [self.graph.live_version(n) for n in sorted(reachable)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            before = {n: self._cached_fingerprint(n, PRE_CELL_BUDGET_BYTES) for n in candidates}
        pending = PendingExecution(
            code=code,
            execution_count=execution_count,
            cell_id=cell_id,
            started=time.time(),
            perf_start=0.0,
            analysis=analysis,
            ids_before=ids_before,
            candidates=candidates,
            reads=reads,
            fingerprints_before=before,
            generation=self._generation,
        )
        if analysis.is_dynamic:
            pending.notes.extend(analysis.dynamic_reasons)
        cwd = current_dir()
        if cwd is not None:
            pending.cwd = relative_dir(cwd, self.start_dir)
        pending.function_calls = frozenset(self._resolver.called_names(reachable))
        # Known for every cell (~90 us to capture, so the previous cell's final state is
        # reused when nothing ran in between): library code draws from the global generators
        # without naming them (scikit-learn without random_state).
        pending.rng_before = rng_before if rng_before is not None else capture_rng_state()
        pending.watch = self._watcher.watch()
        pending.recording = pending.watch.__enter__()
        self.overhead_seconds += self._clock() - t0
        pending.perf_start = self._clock()
        return pending

    def finish(self, pending: PendingExecution, *, ok: bool) -> Execution | None:
        """Compare the namespace with what :meth:`start` saw and append the execution.

        Returns None for the cell that restored a checkpoint: the restored graph already
        describes the namespace.
        """
        duration = self._clock() - pending.perf_start
        if pending.generation != self._generation:
            self._stop_watch(pending)
            return None
        t0 = self._clock()
        effects = self._stop_watch(pending)
        ids_after = self._snapshots.take()
        self._last_ids = ids_after
        before = pending.ids_before
        deleted = sorted(before.missing_from(ids_after))
        changed = set(ids_after.rebound_since(before))
        budget = max(POST_CELL_MIN_BUDGET_BYTES, int(OVERHEAD_SHARE * duration * HASH_BYTES_PER_S))
        unchecked: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in pending.candidates:
                if name in changed or name not in ids_after:
                    continue
                old = pending.fingerprints_before.get(name)
                new = self._fresh_fingerprint(name, budget)
                if old is None or new is None:
                    unchecked.append(name)
                    changed.add(name)
                elif old != new:
                    changed.add(name)
            for name in changed:
                if name not in pending.candidates:
                    self._fresh_fingerprint(name, budget)
        # A module fingerprints as its name: its own changes are seen only in the code.
        modules = [n for n in pending.analysis.changed_through if is_module(self.ns.get(n))]
        changed.update(n for n in modules if n in ids_after)
        settings = settings_extras(
            pending.code, pending.analysis.settings_magics, self.ns, modules, ok=ok
        )
        for name in deleted:
            self._cache.pop(name, None)
            self._aliases.forget(name)
        self._aliases.refresh(sorted(changed))
        if unchecked:
            # A false positive by design (issue 4): an exact check would cost more than the
            # cell's overhead budget, or the value cannot be fingerprinted at all.
            pending.notes.append(
                "assumed modified (too large to check within the cell's budget, or not "
                f"fingerprintable): {', '.join(sorted(unchecked))}"
            )
        execution = self._build(pending, ok, duration, changed, deleted, effects, settings)
        self.graph.append(execution)
        self.overhead_seconds += self._clock() - t0
        return execution

    def record_unknown(
        self,
        code: str,
        *,
        ok: bool,
        duration: float,
        reason: str,
        execution_count: int | None = None,
        cell_id: str | None = None,
    ) -> Execution:
        """Append an execution whose effects could not be observed.

        Every live variable is taken as written by it, and it may never be re-run: what it
        touched will be stored, never recomputed.
        """
        self._cache.clear()
        self._last_ids = None
        index = self.graph.next_index
        names = self.user_names()
        live = self.graph.live()
        execution = Execution(
            index=index,
            execution_count=execution_count,
            cell_id=cell_id,
            code=code,
            started=time.time() - duration,
            duration=duration,
            ok=ok,
            reads=tuple(sorted(live.values())),
            writes=tuple(VariableVersion(n, index) for n in sorted(names)),
            deletes=tuple(sorted(n for n in live if n not in self.ns)),
            flags=frozenset({FLAG_UNKNOWN_LINEAGE} | (set() if ok else {FLAG_ERROR})),
            notes=(f"lineage capture failed: {reason}",),
        )
        self.graph.append(execution)
        return execution

    @staticmethod
    def _stop_watch(pending: PendingExecution) -> CellEffects | None:
        if pending.watch is None or pending.recording is None:
            return None
        watch, pending.watch = pending.watch, None
        watch.__exit__(None, None, None)
        return pending.recording.effects

    def abandon(self, pending: PendingExecution) -> None:
        """Stop watching effects for a cell that will not be finished normally."""
        self._last_ids = None
        self._stop_watch(pending)

    def _cached_fingerprint(self, name: str, budget: int) -> bytes | None:
        obj = self.ns[name]
        hit = self._cache.get(name)
        if hit is not None and hit[0] == identity(obj):
            return hit[1]
        return self._fresh_fingerprint(name, budget)

    def _fresh_fingerprint(self, name: str, budget: int) -> bytes | None:
        obj = self.ns[name]
        try:
            value = fingerprint(obj, max_bytes=budget, max_items=budget // ITEM_COST_BYTES)
        except Exception:
            # A value whose own attribute access raises: unhashable, so assumed modified.
            value = None
        if value is None:
            self._cache.pop(name, None)
        else:
            self._cache[name] = (identity(obj), value)
        return value

    def _reads_with_updates(
        self, pending: PendingExecution, changed: Iterable[str]
    ) -> list[VariableVersion]:
        """The cell's reads plus the previous version of every variable it changed in place:
        a modified value is derived from the value before, so re-creating it needs that."""
        reads = {v.name: v for v in pending.reads}
        ids_after = self.ns
        for name in changed:
            if name in reads or name not in pending.ids_before or name not in ids_after:
                continue
            if identity(ids_after[name]) == pending.ids_before[name]:
                reads[name] = self.graph.live_version(name)
        return sorted(reads.values())

    def _build(
        self,
        pending: PendingExecution,
        ok: bool,
        duration: float,
        changed: Iterable[str],
        deleted: list[str],
        effects: CellEffects | None,
        settings: Mapping[str, object],
    ) -> Execution:
        index = self.graph.next_index
        flags: set[str] = set()
        notes = list(pending.notes)
        side_effects = list(pending.analysis.side_effects)
        if effects is not None:
            side_effects.extend(effects.side_effects)
        if side_effects:
            flags.add(FLAG_SIDE_EFFECT)
            notes.extend(dict.fromkeys(side_effects))
        # A generator built inside a called function: its seed is not visible, assume none.
        seeded = pending.analysis.is_seeded and not (
            pending.function_calls & GENERATOR_CONSTRUCTORS
        )
        nondeterministic = nondeterminism_reasons(
            pending.analysis.calls | pending.function_calls, seeded=seeded
        ) + measured_time_reasons(self.ns, changed)
        if nondeterministic:
            flags.add(FLAG_NONDETERMINISTIC)
            notes.extend(nondeterministic)
        if not ok:
            flags.add(FLAG_ERROR)
            notes.append("the cell raised an exception")
        extra: dict[str, object] = dict(settings)
        if pending.cwd != ".":
            extra[CELL_DIR] = pending.cwd
        rng_after = self._last_rng = capture_rng_state()
        if pending.rng_before is not None and rng_after != pending.rng_before:
            # The cell drew from a global generator: a re-run restores this state first.
            extra["rng"] = pending.rng_before.to_json()
            calls = pending.analysis.calls
            if (
                pending.rng_before.numpy is None
                and rng_after.numpy is not None
                and uses_global_rng(calls)
                and "seed" not in calls
            ):
                # numpy was imported by this very cell: its generator's state before the draw
                # could not be captured, so a re-run would draw other numbers.
                flags.add(FLAG_NONDETERMINISTIC)
                notes.append("drew from numpy's global generator in the cell that imported numpy")
        if effects is not None and effects.file_inputs:
            extra["file_inputs"] = [
                {"path": i.path, "size": i.size, "mtime_ns": i.mtime_ns, "digest": i.digest}
                | ({} if i.relative is None else {"relative": i.relative})
                for i in effects.file_inputs
            ]
        return Execution(
            index=index,
            execution_count=pending.execution_count,
            cell_id=pending.cell_id,
            code=pending.code,
            started=pending.started,
            duration=duration,
            ok=ok,
            reads=tuple(self._reads_with_updates(pending, changed)),
            writes=tuple(VariableVersion(n, index) for n in sorted(changed)),
            deletes=tuple(deleted),
            flags=frozenset(flags),
            notes=tuple(notes),
            extra=extra,
        )
