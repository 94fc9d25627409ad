"""Restoring a checkpoint: re-run the planned cells, load the stored groups, verify.

Takes a namespace and a ``run_cell`` callable, never a shell, so it runs the same under the
kernel, the CLI and tests. Re-runs happen first, in their original order and with the random
generators as they were; stored values are loaded afterwards and so take precedence. The steps
are public so that ``background_restore`` runs the same ones, spread over time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass

from elastic_kernel.errors import ElasticError, RestoreError
from elastic_kernel.lineage import (
    HistoryGraph,
    RngState,
    fingerprint,
    restore_rng_state,
)
from elastic_kernel.lineage.effects import recorded_input_changes
from elastic_kernel.lineage.fingerprint import FINGERPRINT_VERSION
from elastic_kernel.lineage.graph import Execution
from elastic_kernel.lineage.module_state import recorded_magics, recorded_settings, replay
from elastic_kernel.lineage.working_dir import CELL_DIR, current_dir, resolve_dir
from elastic_kernel.planner import (
    MODE_STORE_ALL,
    STORE,
    CostModel,
    ReplicationPlan,
    VariableInfo,
    solve_plan,
)
from elastic_kernel.store import CheckpointStore, Manifest, deserialize_group

__all__ = [
    "RestoreReport",
    "RunCell",
    "SessionDirs",
    "log_report",
    "lost_after_reruns",
    "read_session",
    "recompute_notes",
    "replan_without",
    "replay_magics",
    "rerun_cells",
    "restore_checkpoint",
    "restore_final_rng",
    "verify_values",
]

log = logging.getLogger(__name__)

RunCell = Callable[[str, int], BaseException | None]
"""Runs one cell's code in the namespace; returns the exception it raised, if any."""

VERIFY_MAX_BYTES = 1 << 62


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """The outcome of a restore. ``ok`` only when every variable came back verified."""

    checkpoint_id: str
    graph: HistoryGraph
    plan: ReplicationPlan
    loaded: tuple[str, ...]
    recomputed: tuple[str, ...]
    rerun_cells: tuple[int, ...]
    lost: tuple[tuple[str, str], ...]
    mismatched: tuple[str, ...]
    drifted: tuple[str, ...]
    unverified: tuple[str, ...]
    seconds: float
    load_seconds: float
    rerun_seconds: float
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.lost and not self.mismatched

    def problems(self) -> list[str]:
        lines = [f"{name}: lost ({why})" for name, why in self.lost]
        lines += [
            f"{name}: restored value differs from the checkpointed one (recomputed cells are "
            "not deterministic, or an input file changed)"
            for name in self.mismatched
        ]
        return lines


@dataclass(frozen=True, slots=True)
class SessionDirs:
    """The session's working directories as found here: where a restore re-runs each cell (the
    directory it started in) and where it leaves the kernel (where the session was). Both are
    recorded relative to the kernel's start directory and looked up under this kernel's, so a
    moved project works too. Older checkpoints record one directory (``legacy``), for every
    cell, and no final one."""

    start_dir: str
    final: str | None
    legacy: str | None

    @classmethod
    def of(cls, manifest: Manifest, start_dir: str | None = None) -> SessionDirs:
        """``start_dir``: this kernel's start directory (default: the current one)."""
        final, legacy = manifest.metadata.get("cwd_relative"), manifest.metadata.get("cwd")
        return cls(
            start_dir or current_dir() or os.sep,
            final if isinstance(final, str) else None,
            legacy if isinstance(legacy, str) else None,
        )

    def of_cell(self, execution: Execution) -> str | None:
        if self.final is None:
            return self.legacy
        recorded = execution.extra.get(CELL_DIR, ".")
        return resolve_dir(recorded, self.start_dir) if isinstance(recorded, str) else None

    def enter(self) -> str | None:
        """Change to the directory the session was in when checkpointed (``%cd``,
        ``os.chdir``); a note when it is not here."""
        if self.final is None:
            return None
        target = resolve_dir(self.final, self.start_dir)
        if target is None:
            return (
                f"the session's working directory {self.final} (it was {self.legacy}) is not "
                f"under {self.start_dir}: staying in {current_dir()}"
            )
        if target != current_dir():
            os.chdir(target)
        return None


@contextlib.contextmanager
def _working_directory(path: str | None) -> Iterator[None]:
    """Run a re-executed cell where it first ran, so relative paths mean the same files."""
    previous = current_dir()
    if not path or previous is None or not os.path.isdir(path) or os.path.abspath(path) == previous:
        yield
        return
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def restore_checkpoint(
    store: CheckpointStore,
    manifest: Manifest,
    ns: MutableMapping[str, object],
    run_cell: RunCell,
    *,
    is_user_name: Callable[[str], bool] = lambda name: not name.startswith("_"),
    progress: Callable[[str], None] | None = None,
    start_dir: str | None = None,
) -> RestoreReport:
    """Bring the checkpointed session back into ``ns``.

    Parameters
    ----------
    store
        The store the manifest was opened from.
    manifest
        An opened (signature-checked) manifest.
    ns
        The namespace to restore into (the kernel's ``user_ns``).
    run_cell
        Runs a recorded cell's code in ``ns``: ``run_cell(code, index)``.
    is_user_name
        Tells user variables from interpreter bookkeeping (names that re-runs may leave).
    progress
        Receives one line per step.
    start_dir
        The directory this kernel started in (the notebook's): the session's working
        directories are found under it. Default: the current directory.

    Returns
    -------
    RestoreReport
        ``ok`` is False when any variable is lost or differs; the rest is restored anyway.

    Raises
    ------
    RestoreError
        The manifest does not describe a session (no graph or plan in it).
    """
    started = time.perf_counter()
    say = progress or (lambda _line: None)
    graph, plan = read_session(manifest)
    live = graph.live()
    names_before = set(ns)
    dirs = SessionDirs.of(manifest, start_dir)
    # Where the session was first, then library settings: a relative sys.path entry means what
    # it meant there, and sys.path must be extended before what lives on it is unpickled.
    moved = dirs.enter()
    notes = [moved] if moved is not None else []
    notes += replay(recorded_settings(graph)) + replay_magics(graph, run_cell)

    # Load first, apply last: stored values must win over what re-runs produce, and knowing
    # which groups failed to load lets the plan recompute them instead.
    load_started = time.perf_counter()
    loaded_values: dict[str, object] = {}
    failed: dict[str, str] = {}
    with store.prefetch(manifest, range(len(manifest.groups))) as reads:
        for index, group in enumerate(manifest.groups):
            say(f"loading {', '.join(group.names)} ({group.size} bytes)")
            try:
                loaded_values.update(deserialize_group(reads.take(index)))
            except ElasticError as exc:
                for name in group.names:
                    failed[name] = f"{type(exc).__name__}: {exc}"
    load_seconds = time.perf_counter() - load_started
    if failed:
        plan = replan_without(graph, plan, failed)
        notes.extend(recompute_notes(plan, failed))
    lost: dict[str, str] = {name: group.reason for group in plan.lost for name in group.names}
    recompute = set(plan.names("recompute"))

    rerun_started = time.perf_counter()
    failed_cells = rerun_cells(graph, plan.rerun, run_cell, dirs=dirs, say=say)
    rerun_seconds = time.perf_counter() - rerun_started
    lost.update(lost_after_reruns(graph, recompute - lost.keys(), failed_cells))
    ns.update(loaded_values)
    loaded = sorted(loaded_values)
    note = restore_final_rng(manifest)
    if note is not None:
        notes.append(note)

    # Re-runs recreate intermediate names the original session later deleted.
    for name in set(ns) - names_before - live.keys():
        if is_user_name(name):
            del ns[name]
    for name in lost:
        if name in ns and name not in names_before:
            del ns[name]

    mismatched, unverified = verify_values(ns, manifest, [n for n in live if n not in lost])
    # A loaded value's bytes are checksummed; a fingerprint that differs after unpickling
    # means its class's own pickling leaves some state out (sklearn's Bunch drops a private
    # cache). Recomputed values that differ are real failures (nondeterminism, changed input).
    drifted = [n for n in mismatched if n in loaded]
    mismatched = [n for n in mismatched if n not in loaded]
    report = RestoreReport(
        checkpoint_id=manifest.checkpoint_id,
        graph=graph,
        plan=plan,
        loaded=tuple(sorted(loaded)),
        recomputed=tuple(sorted(recompute - lost.keys())),
        rerun_cells=plan.rerun,
        lost=tuple(sorted(lost.items())),
        mismatched=tuple(mismatched),
        drifted=tuple(drifted),
        unverified=tuple(unverified),
        seconds=time.perf_counter() - started,
        load_seconds=load_seconds,
        rerun_seconds=rerun_seconds,
        notes=tuple(notes),
    )
    log_report(report)
    return report


def log_report(report: RestoreReport) -> None:
    """One INFO summary line per restore, and its notes as warnings."""
    for note in report.notes:
        log.warning("restore %s: %s", report.checkpoint_id, note)
    log.info(
        "restore %s: %d loaded, %d recomputed, %d lost, %d mismatched, %.3f s",
        report.checkpoint_id,
        len(report.loaded),
        len(report.recomputed),
        len(report.lost),
        len(report.mismatched),
        report.seconds,
    )


def read_session(manifest: Manifest) -> tuple[HistoryGraph, ReplicationPlan]:
    """The graph and plan a checkpoint's manifest records.

    Raises
    ------
    RestoreError
        The manifest does not describe a session (no graph or plan in it).
    """
    try:
        graph = HistoryGraph.from_json(manifest.metadata["graph"])
        plan = ReplicationPlan.from_json(manifest.metadata["plan"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RestoreError(
            f"checkpoint {manifest.url} holds no session graph/plan ({exc}); was it written by "
            "the elastic kernel?"
        ) from exc
    return graph, plan


def replay_magics(graph: HistoryGraph, run_cell: RunCell) -> list[str]:
    """Run the IPython settings magics the session ran (``%load_ext autoreload``,
    ``%config ...``) in the user's shell, in order; a note for each that failed."""
    notes: list[str] = []
    for index, code in recorded_magics(graph):
        error = run_cell(code, index)
        if error is not None:
            notes.append(f"could not replay {code}: {type(error).__name__}: {error}")
    return notes


def rerun_cells(
    graph: HistoryGraph,
    indices: Iterable[int],
    run_cell: RunCell,
    *,
    dirs: SessionDirs | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> dict[int, str]:
    """Re-run recorded cells in order, each with the random generators as they were before it
    first ran, in the directory it ran in (``dirs``; default: here); the cells that failed,
    with why."""
    failed_cells: dict[int, str] = {}
    for index in indices:
        execution = graph.executions[index]
        with _working_directory(dirs.of_cell(execution) if dirs is not None else None):
            changed = recorded_input_changes(execution.extra.get("file_inputs"))
            if changed:
                # Another machine, or the files moved on: the cell would compute other values.
                failed_cells[index] = f"refused to re-run: {'; '.join(changed)}"
                continue
            say(f"re-running cell [{execution.execution_count}] {execution.first_line}")
            state = execution.extra.get("rng")
            if isinstance(state, str):
                restore_rng_state(RngState.from_json(state))
            error = run_cell(execution.code, index)
        if error is not None and execution.ok:
            failed_cells[index] = f"{type(error).__name__}: {error}"
    return failed_cells


def lost_after_reruns(
    graph: HistoryGraph, recompute: set[str], failed_cells: Mapping[int, str]
) -> dict[str, str]:
    """The variables to recompute that failed re-runs leave lost, with why."""
    if not failed_cells:
        return {}
    live = graph.live()
    lost: dict[str, str] = {}
    for name in recompute:
        writer = live[name].version if name in live else None
        if writer is not None and writer in failed_cells:
            lost[name] = f"re-running its cell failed: {failed_cells[writer]}"
    first = min(failed_cells)
    for name in recompute - lost.keys():
        lost[name] = f"cell #{first} failed on re-run: {failed_cells[first]}"
    return lost


def restore_final_rng(manifest: Manifest) -> str | None:
    """Put the random generators where the session left them; a note when that fails."""
    final_rng = manifest.metadata.get("rng")
    if isinstance(final_rng, str):
        try:
            restore_rng_state(RngState.from_json(final_rng))
        except (ValueError, ImportError) as exc:
            return f"random generators not restored: {exc}"
    return None


def recompute_notes(plan: ReplicationPlan, failed: Mapping[str, str]) -> list[str]:
    """What a re-plan after failed loads says about each failed variable it recomputes."""
    recomputed = set(plan.names("recompute"))
    return [
        f"{name}: its stored group failed to load; recomputed instead"
        for name in sorted(failed)
        if name in recomputed
    ]


def replan_without(
    graph: HistoryGraph, plan: ReplicationPlan, failed: Mapping[str, str]
) -> ReplicationPlan:
    """The plan again, with every variable that is not in a loaded group to be recomputed
    (when its cells can be re-run) or reported lost."""
    variables = {}
    for decision in plan.decisions:
        loaded = decision.action == STORE and decision.name not in failed
        reason = None if loaded else failed.get(decision.name, "not in the checkpoint")
        variables[decision.name] = VariableInfo(decision.name, decision.size_bytes, reason)
    groups = [frozenset(g) for g in (*plan.stored_groups, *plan.recomputed_groups)]
    groups += [frozenset(g.names) for g in plan.lost]
    # Bandwidths do not matter: store-all keeps every loaded group and recomputes the rest.
    costs = CostModel(1e9, 1e9, 1.0)
    return solve_plan(graph, variables, groups, costs, mode=MODE_STORE_ALL)


def verify_values(
    ns: Mapping[str, object], manifest: Manifest, names: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Compare restored values with the fingerprints taken at checkpoint time: the names that
    differ (or are missing from ``ns``) and the names that cannot be checked."""
    expected = manifest.metadata.get("fingerprints", {})
    if manifest.metadata.get("fingerprint_version") != FINGERPRINT_VERSION:
        # Written by a version that describes values differently: digests cannot be compared.
        expected = {}
    mismatched: list[str] = []
    unverified: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(names):
            want = expected.get(name)
            if name not in ns:
                mismatched.append(name)
                continue
            if want is None:
                unverified.append(name)
                continue
            got = fingerprint(ns[name], max_bytes=VERIFY_MAX_BYTES)
            if got is None:
                unverified.append(name)
            elif got.hex() != want:
                mismatched.append(name)
    return mismatched, unverified
