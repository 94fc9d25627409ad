"""Restoring a checkpoint in the background: stored groups load on a thread while the user works,
and each cell waits only for the variables it can read.

The thread only unpickles and verifies, into a private staging area. The kernel's main thread
moves whole groups into the namespace and runs the planned re-runs, so a variable is never
visible half-loaded, linked variables appear together, and a name the user rebinds after the
restore started keeps the user's value.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from elastic_kernel.lineage.analysis import analyze_cell
from elastic_kernel.lineage.module_state import (
    Setting,
    is_imported,
    recorded_settings,
    replay,
)
from elastic_kernel.lineage.rng import capture_rng_state, restore_rng_state
from elastic_kernel.restore import (
    RestoreReport,
    RunCell,
    SessionDirs,
    log_report,
    lost_after_reruns,
    read_session,
    recompute_notes,
    replan_without,
    replay_magics,
    rerun_cells,
    restore_final_rng,
    verify_values,
)
from elastic_kernel.restore_loading import (
    APPLIED,
    DONE,
    RERUN,
    WAITED_FOR,
    GroupLoader,
    LoadingGroup,
    RestoreEvent,
)
from elastic_kernel.restore_needs import names_cell_reads, priority_order
from elastic_kernel.store import CheckpointStore, Manifest

__all__ = [
    "BackgroundRestore",
    "RestoreEvent",
    "describe_start",
]

log = logging.getLogger(__name__)

# How often a waiting main thread wakes up, so that an interrupt reaches it.
WAIT_SLICE_SECONDS = 0.05


class BackgroundRestore:
    """A checkpoint restoring itself into ``ns`` while cells run.

    Parameters
    ----------
    store
        The store the manifest was opened from.
    manifest
        An opened (signature-checked) manifest.
    ns
        The namespace to restore into; only the main thread's calls below touch it.
    run_cell
        Re-runs a recorded cell's code in ``ns``.
    is_user_name
        Tells user variables from interpreter bookkeeping.
    wake
        Called from the loading thread when there is something to apply; must be thread-safe
        (the kernel schedules :meth:`step` on its event loop).
    on_applied
        Receives the names that just appeared in (or were rebound in) ``ns``, between cells.
    on_failure
        Receives ``{name: reason}`` for variables whose stored group could not be loaded, and
        a one-line message saying what happens to them.
    on_done
        Receives the final report, once.
    load_delay
        Seconds to sleep before loading each group (tests only: makes "still loading"
        observable without mocking anything).

    Raises
    ------
    RestoreError
        The manifest does not describe a session.
    """

    def __init__(
        self,
        store: CheckpointStore,
        manifest: Manifest,
        ns: MutableMapping[str, object],
        run_cell: RunCell,
        *,
        is_user_name: Callable[[str], bool] = lambda name: not name.startswith("_"),
        wake: Callable[[], None] = lambda: None,
        on_applied: Callable[[list[str]], None] = lambda _names: None,
        on_failure: Callable[[dict[str, str], str], None] = lambda _failed, _message: None,
        on_done: Callable[[RestoreReport], None] = lambda _report: None,
        load_delay: float = 0.0,
        start_dir: str | None = None,
    ) -> None:
        self.manifest = manifest
        self._dirs = SessionDirs.of(manifest, start_dir)
        self.graph, self.plan = read_session(manifest)
        self._store, self._ns, self._run_cell = store, ns, run_cell
        self._is_user_name = is_user_name
        self._wake, self._on_applied = wake, on_applied
        self._on_failure, self._on_done = on_failure, on_done
        self._groups = [LoadingGroup(i, g.names, g.size) for i, g in enumerate(manifest.groups)]
        self._group_of = {name: g for g in self._groups for name in g.names}
        # The order is decided here: the loading thread must not read the graph the main
        # thread extends.
        # Library settings whose modules are imported already replay at start, before any
        # group loads on any thread (sys.path must be extended before what lives on it is
        # unpickled). The loading thread imports the others' modules first, and the main
        # thread replays each once its modules are in: never on the loading thread, as some
        # settings are thread-local (torch's grad mode, scikit-learn's config).
        self._instant_settings: list[Setting] = []
        importing: list[Setting] = []
        for setting in recorded_settings(self.graph):
            (self._instant_settings if is_imported(setting) else importing).append(setting)
        self._deferred_settings = list(importing)
        self._loader = GroupLoader(
            store,
            manifest,
            priority_order(self.graph, self._groups),
            wake=wake,
            delay=load_delay,
            settings=importing,
        )
        self._lock = self._loader.lock
        self._events = self._loader.events
        self._loaded_all = self._loader.loaded_all
        self._base = len(self.graph.executions)
        self._live = set(self.graph.live())
        self._names_before = set(ns)
        # What each name held when the restore last touched it: a different object (or none)
        # means the user rebound (or deleted) it since.
        self._ids = {name: id(value) for name, value in ns.items()}
        self._lost = {name: g.reason for g in self.plan.lost for name in g.names}
        self._recompute = set(self.plan.names("recompute"))
        self._pending_reruns = list(self.plan.rerun)
        self._reran: list[int] = []
        self._applied: dict[str, object] = {}
        self._failed: dict[str, str] = {}
        self._failures_handled = False
        self._notes: list[str] = []
        self._started = time.perf_counter()
        self._started_monotonic = time.monotonic()
        self._rerun_seconds = 0.0
        self.report: RestoreReport | None = None

    @property
    def checkpoint_id(self) -> str:
        return self.manifest.checkpoint_id

    @property
    def is_done(self) -> bool:
        return self.report is not None

    @property
    def events(self) -> list[RestoreEvent]:
        with self._lock:
            return list(self._events)

    def start(self) -> None:
        """Put the random generators where the session left them and start loading."""
        # Where the session was, before any user cell runs here.
        moved = self._dirs.enter()
        note = restore_final_rng(self.manifest)
        self._notes.extend(n for n in (moved, note) if n is not None)
        # On this (the main) thread: magics change the shell, which is not thread-safe; the
        # instant settings (sys.path) first, as `%aimport` may need them.
        self._notes.extend(replay(self._instant_settings))
        self._notes.extend(replay_magics(self.graph, self._run_cell))
        self._loader.start()

    # The main thread ----------------------------------------------------------------------

    def pending_names(self) -> list[str]:
        """Variables not in the namespace yet: groups still loading and re-runs not done."""
        names = {
            n
            for g in self._groups
            if not g.is_applied and (g.error is None or not self._failures_handled)
            for n in g.names
        }
        if self._pending_reruns:
            names |= self._recompute
        return sorted(names - self._lost.keys())

    def prepare_cell(self, code: str) -> None:
        """Before a cell runs: wait for and apply what it can read (everything when dynamic)."""
        self._replay_settings(wait=self._imports_unset_module(code))
        if self._pending_reruns and analyze_cell(code).stores & self._rerun_names():
            # Re-runs go before any cell that touches their names, writing ones included.
            self._run_reruns()
        seen: set[str] = set()
        while not self.is_done:
            pending = set(self.pending_names())
            names = names_cell_reads(code, self._ns, pending)
            if names is None:
                self.finish()
                return
            needed = (names & pending) - seen
            if not needed:
                break
            seen |= needed
            self._bring(needed)
        self.step(run_reruns=False)

    def _bring(self, names: set[str]) -> None:
        """Make ``names`` present: re-run what produces them, wait for their groups."""
        groups = {id(g): g for n in names if (g := self._group_of.get(n)) is not None}
        self._loader.promote(g for g in groups.values() if not g.ready.is_set())
        wanted = names.union(*(g.names for g in groups.values()))
        if self._pending_reruns and wanted & self._rerun_names():
            self._run_reruns()
        for group in groups.values():
            if group.is_applied:
                continue
            if not group.ready.is_set():
                self._record(WAITED_FOR, group.names)
                if self._loader.claim(group):
                    # Not started by the loading thread: load it now, beside that thread,
                    # rather than wait behind whatever it is loading.
                    self._loader.load_apart(group)
                self._wait(group.ready)
            if group.error is not None:
                # Which variables the fallback recomputes is known once every load is over.
                self._wait(self._loaded_all)
        self.step(run_reruns=False)
        if self._pending_reruns and wanted & self._rerun_names():
            self._run_reruns()
            self.step(run_reruns=False)

    def step(self, *, run_reruns: bool = True) -> None:
        """Do what can be done now on the main thread: failures, re-runs, ready groups."""
        if self.is_done:
            return
        if self._loaded_all.is_set() and self._failed_now() and not self._failures_handled:
            self._handle_failures()
        if run_reruns and self._pending_reruns and self._loaded_all.is_set():
            # Idle re-runs wait for the loading thread: until then the main thread stays free
            # for cells that need only loaded variables, and the two do not compete for the
            # interpreter (re-runs and unpickling both import libraries).
            self._run_reruns()
        self._apply_ready()
        if (
            self._loaded_all.is_set()
            and not self._pending_reruns
            and (self._failures_handled or not self._failed_now())
            and all(g.is_applied or g.error is not None for g in self._groups)
        ):
            self._complete()

    def finish(self) -> RestoreReport:
        """Wait for everything, apply it and return the final report."""
        waiting = [n for g in self._groups if not g.ready.is_set() for n in g.names]
        if waiting:
            self._record(WAITED_FOR, waiting)
        while self.report is None:
            self._wait(self._loaded_all)
            for group in self._groups:
                self._wait(group.ready)
            self.step()
        return self.report

    @staticmethod
    def _wait(event: threading.Event) -> None:
        # Short slices: an interrupt (SIGINT) then reaches the main thread at once.
        while not event.wait(WAIT_SLICE_SECONDS):
            pass

    def _record(self, kind: str, names: Iterable[str]) -> None:
        self._loader.record(kind, names)

    def _protected(self) -> set[str]:
        """Names the user's own cells wrote or deleted since the restore started: recorded as
        such, or bound to an object the restore did not put there."""
        names: set[str] = set()
        for execution in self.graph.executions[self._base :]:
            names.update(v.name for v in execution.writes)
            names.update(execution.deletes)
        ns, ids = self._ns, self._ids
        for name in self._group_of.keys() | self._recompute:
            if name in ns:
                if id(ns[name]) != ids.get(name):
                    names.add(name)
            elif name in ids:
                names.add(name)
        return names

    def _rerun_names(self) -> set[str]:
        executions = self.graph.executions
        return {
            v.name
            for i in self._pending_reruns
            for v in (*executions[i].reads, *executions[i].writes)
        }

    def _failed_now(self) -> dict[str, str]:
        with self._lock:
            return {n: g.error for g in self._groups if g.error is not None for n in g.names}

    def _imports_unset_module(self, code: str) -> bool:
        """Whether ``code`` imports a module whose settings are not replayed yet."""
        if not self._deferred_settings:
            return False
        tops = {
            m.split(".")[0] for _, bindings in self._deferred_settings for m in bindings.values()
        }
        return any(name.split(".")[0] in tops for name in analyze_cell(code).imports)

    def _replay_settings(self, *, wait: bool = False) -> None:
        """Replay the deferred settings whose modules are imported now (all of them, once the
        loading thread has imported them, with ``wait``), before any variable that may use
        them appears and before any cell or re-run."""
        if not self._deferred_settings:
            return
        if wait:
            self._wait(self._loader.settings_imported)
        done = self._loader.settings_imported.is_set()
        ready = [s for s in self._deferred_settings if done or is_imported(s)]
        if ready:
            self._deferred_settings = [s for s in self._deferred_settings if s not in ready]
            self._notes.extend(replay(ready))

    def _apply_ready(self) -> None:
        self._replay_settings()
        blocked = self._rerun_names() if self._pending_reruns else set()
        protected: set[str] | None = None
        for group in self._groups:
            if group.is_applied or not group.ready.is_set() or group.values is None:
                continue
            if blocked & set(group.names):
                # Stored values win over what re-runs produce: apply them after the re-runs.
                continue
            if protected is None:
                protected = self._protected()
            values = {n: v for n, v in group.values.items() if n not in protected}
            self._ns.update(values)
            self._applied.update(values)
            self._ids.update((n, id(v)) for n, v in values.items())
            group.values, group.is_applied = None, True
            self._record(APPLIED, values)
            if values:
                self._on_applied(sorted(values))

    def _run_reruns(self) -> None:
        # Cells re-run under the session's settings (a training cell under no_grad).
        self._replay_settings(wait=True)
        todo, self._pending_reruns = self._pending_reruns, []
        executions = self.graph.executions
        written = {v.name for i in todo for v in executions[i].writes}
        protected = self._protected()
        kept = {n: self._ns[n] for n in protected if n in self._ns}
        names_before = set(self._ns)
        rng = capture_rng_state()
        started = time.perf_counter()
        failed_cells = rerun_cells(self.graph, todo, self._run_cell, dirs=self._dirs)
        self._rerun_seconds += time.perf_counter() - started
        # The user's generators go on where the user left them, not where the re-runs did.
        restore_rng_state(rng)
        self._reran.extend(todo)
        recompute = self._recompute - self._lost.keys()
        self._lost.update(lost_after_reruns(self.graph, recompute, failed_cells))
        # Re-runs recreate intermediate names the original session later deleted.
        for name in set(self._ns) - names_before - self._live:
            if self._is_user_name(name):
                del self._ns[name]
        # Values loaded before a fallback re-run, and the user's own, win over re-run output.
        for name in written & self._applied.keys():
            if name not in protected:
                self._ns[name] = self._applied[name]
        self._ns.update(kept)
        self._on_applied(sorted(n for n in written if n in self._ns))
        for name in (written | (set(self._ns) - names_before)) - protected:
            if name in self._ns:
                self._ids[name] = id(self._ns[name])
        self._record(RERUN, written)

    def _handle_failures(self) -> None:
        """Re-plan without the groups that failed, as a blocking restore does, and say so."""
        self._failures_handled = True
        failed = self._failed_now()
        plan = replan_without(self.graph, self.plan, failed)
        self._notes.extend(recompute_notes(plan, failed))
        self.plan = plan
        self._lost.update({n: g.reason for g in plan.lost for n in g.names})
        self._recompute = set(plan.names("recompute"))
        self._pending_reruns = [i for i in plan.rerun if i not in self._reran]
        recomputed = sorted(set(failed) & self._recompute)
        lost = sorted(set(failed) - self._recompute)
        parts = [f"could not load {', '.join(sorted(failed))} ({next(iter(failed.values()))})"]
        if recomputed:
            parts.append(f"recomputing {', '.join(recomputed)} by re-running cells instead")
        if lost:
            parts.append(f"LOST: {', '.join(lost)}")
        message = f"elastic: background restore of {self.checkpoint_id}: " + "; ".join(parts)
        self._on_failure(failed, message)

    def _complete(self) -> None:
        self._replay_settings(wait=True)
        protected = self._protected()
        loaded = sorted(n for g in self._groups if g.is_applied for n in g.names)
        for name in self._lost:
            if name in self._ns and name not in self._names_before and name not in protected:
                del self._ns[name]
        # Loaded values were checked on the thread; what the re-runs produced is checked here.
        others = [
            n for n in self._live if n not in self._lost and n not in protected and n not in loaded
        ]
        mismatched, unverified = verify_values(self._ns, self.manifest, others)
        drifted = sorted(n for g in self._groups if g.is_applied for n in g.drifted)
        unverified += [n for g in self._groups if g.is_applied for n in g.unverified]
        report = RestoreReport(
            checkpoint_id=self.checkpoint_id,
            graph=self.graph,
            plan=self.plan,
            loaded=tuple(loaded),
            recomputed=tuple(sorted(self._recompute - self._lost.keys())),
            rerun_cells=tuple(self._reran),
            lost=tuple(sorted(self._lost.items())),
            mismatched=tuple(mismatched),
            drifted=tuple(drifted),
            unverified=tuple(sorted(unverified)),
            seconds=time.perf_counter() - self._started,
            load_seconds=self._loader.seconds,
            rerun_seconds=self._rerun_seconds,
            notes=tuple(self._loader.notes + self._notes),
        )
        self.report = report
        self._applied.clear()
        self._record(DONE, ())
        log_report(report)
        self._on_done(report)

    def progress(self) -> dict[str, Any]:
        """Where the restore stands, as JSON-ready data (``%elastic status``)."""
        with self._lock:
            events = list(self._events)
            loaded = [g for g in self._groups if g.values is not None or g.is_applied]
            errors = {n: g.error for g in self._groups if g.error is not None for n in g.names}
        origin = self._started_monotonic
        return {
            "checkpoint_id": self.checkpoint_id,
            "state": "done" if self.is_done else "running",
            "groups_total": len(self._groups),
            "groups_loaded": len(loaded),
            "bytes_total": sum(g.size for g in self._groups),
            "bytes_loaded": sum(g.size for g in loaded),
            "names_loading": self.pending_names(),
            "reruns_total": len(self._reran) + len(self._pending_reruns),
            "reruns_done": len(self._reran),
            "errors": errors,
            "lost": dict(self._lost),
            "events": [[round(e.time - origin, 6), e.kind, list(e.names)] for e in events],
        }


def describe_start(restore: BackgroundRestore) -> str:
    """One line for the user: what is loading, what will be recomputed, what is lost."""
    from elastic_kernel.units import format_bytes

    plan = restore.plan
    loading = restore.pending_names()
    size = format_bytes(sum(g.size for g in restore.manifest.groups))
    text = (
        f"restoring checkpoint {restore.checkpoint_id} in the background: loading "
        f"{len(plan.names('store'))} variables ({size})"
    )
    recompute = plan.names("recompute")
    if recompute:
        text += (
            f", recomputing {', '.join(sorted(recompute))} by re-running {len(plan.rerun)} cells"
        )
    if plan.lost:
        text += f"; LOST: {', '.join(n for g in plan.lost for n in g.names)}"
    shown = ", ".join(loading[:10]) + (", ..." if len(loading) > 10 else "")
    return (
        f"{text}. Each cell waits only for the variables it reads"
        + (f" (still loading: {shown})" if loading else "")
        + "; %elastic status shows progress."
    )
