"""Taking a checkpoint: plan the session (min-cut over the AHG), then store what the plan says.

Plain code over a namespace, a graph and a store: no IPython here. The kernel, the magics and
the CLI call :func:`take_checkpoint` and :func:`plan_session`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import xxhash

from elastic_kernel import __version__
from elastic_kernel.errors import SerializationError
from elastic_kernel.lineage import (
    HistoryGraph,
    capture_rng_state,
    estimate_size,
    fingerprint,
    linked_groups,
)
from elastic_kernel.lineage.effects import recorded_input_changes
from elastic_kernel.lineage.fingerprint import FINGERPRINT_VERSION
from elastic_kernel.lineage.module_state import changed_modules
from elastic_kernel.lineage.working_dir import relative_dir
from elastic_kernel.planner import CostModel, ReplicationPlan, VariableInfo, solve_plan
from elastic_kernel.store import (
    CheckpointStore,
    GroupSpec,
    Manifest,
    ProgressEvent,
    find_unserializable,
)

__all__ = [
    "CheckpointResult",
    "PlannedSession",
    "SerializabilityCache",
    "changed_inputs",
    "plan_session",
    "take_checkpoint",
]

log = logging.getLogger(__name__)

# Fingerprints recorded for post-restore verification: hash everything (memory speed).
VERIFY_MAX_BYTES = 1 << 62
MAX_REPLANS = 8
# How long finding out whether one object pickles may take.
VERDICT_SECONDS = 10.0


class _TimeLimit(BaseException):
    """Raised by the alarm of :func:`_time_limit`; a BaseException so that the broad
    ``except Exception`` of pickling fallbacks cannot swallow it and try again."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt Python code running longer than ``seconds`` with :class:`_TimeLimit`.

    Only in the main thread and when nobody else uses SIGALRM; elsewhere it does nothing.
    """
    usable = threading.current_thread() is threading.main_thread() and signal.getsignal(
        signal.SIGALRM
    ) in (signal.SIG_DFL, signal.SIG_IGN, None)
    if not usable:
        yield
        return

    def alarm(signum: int, frame: object) -> None:
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class SerializabilityCache:
    """Remembers each object's "unserializable" verdict so it is not retried every checkpoint.

    Keyed by the object's id and content fingerprint: a changed object is judged again.
    """

    def __init__(self) -> None:
        self._verdicts: dict[tuple[int, bytes | None], str | None] = {}

    def verdict(self, obj: object, digest: bytes | None) -> str | None:
        key = (id(obj), digest)
        if digest is None or key not in self._verdicts:
            try:
                with _time_limit(VERDICT_SECONDS):
                    self._verdicts[key] = find_unserializable(obj)
            except _TimeLimit:
                self._verdicts[key] = (
                    f"pickling it did not finish within {VERDICT_SECONDS:g} s (a __reduce__ "
                    "that hangs or an enormous object graph)"
                )
        return self._verdicts[key]

    def mark(self, obj: object, digest: bytes | None, reason: str) -> None:
        self._verdicts[(id(obj), digest)] = reason


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """Everything a checkpoint needs, computed from the live namespace."""

    plan: ReplicationPlan
    groups: tuple[frozenset[str], ...]
    variables: Mapping[str, VariableInfo]
    digests: Mapping[str, bytes | None]


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    """What a checkpoint wrote and how long it took."""

    manifest: Manifest
    plan: ReplicationPlan
    seconds: float
    bytes_stored: int
    stored: tuple[str, ...]
    recomputed: tuple[str, ...]
    lost: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())


def _live_names(ns: Mapping[str, object], graph: HistoryGraph) -> list[str]:
    return sorted(name for name in graph.live() if name in ns)


def plan_session(
    ns: Mapping[str, object],
    graph: HistoryGraph,
    costs: CostModel,
    *,
    mode: str = "balanced",
    verdicts: SerializabilityCache | None = None,
    forced_unserializable: Mapping[str, str] | None = None,
    actual_sizes: Mapping[frozenset[str], int] | None = None,
) -> PlannedSession:
    """Plan a checkpoint of ``ns`` now.

    Parameters
    ----------
    ns
        The user namespace.
    graph
        The session's AHG; its live variables are planned.
    costs
        Bandwidths and alpha.
    mode
        A planner mode (``balanced``, ``fast-migrate``, ``fast-restore``, ``store-all``,
        ``rerun-all``).
    verdicts
        Cache of unserializable verdicts kept by the caller between checkpoints.
    forced_unserializable
        Variables found unserializable by an earlier attempt, with the reason.
    actual_sizes
        Bytes each group really took in the previous checkpoint: estimates of the same
        groups are scaled to match.
    """
    verdicts = verdicts if verdicts is not None else SerializabilityCache()
    forced = dict(forced_unserializable or {})
    names = _live_names(ns, graph)
    links = linked_groups(ns, names)
    groups = [g for g in links.groups if not g & links.incomplete]
    if links.incomplete:
        # Links of these could not be walked in full: keep them together, never apart.
        groups.append(frozenset(links.incomplete))
    digests: dict[str, bytes | None] = {}
    variables: dict[str, VariableInfo] = {}
    stale = changed_modules(ns, graph, names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            obj = ns[name]
            try:
                with _time_limit(VERDICT_SECONDS):
                    size = estimate_size(obj)
                    digest = fingerprint(obj, max_bytes=VERIFY_MAX_BYTES)
            except _TimeLimit:
                # Sizing a library object may run its own pickling: one that hangs makes the
                # variable unserializable rather than the checkpoint endless.
                digests[name] = None
                late = f"sizing it did not finish within {VERDICT_SECONDS:g} s"
                variables[name] = VariableInfo(name, 0, forced.get(name) or late)
                continue
            except Exception as exc:
                # An object whose own attribute access raises (a hostile __getattribute__)
                # cannot be stored; it must not fail the whole checkpoint either.
                digests[name] = None
                failed = f"inspecting it raised {type(exc).__name__}: {exc}"
                variables[name] = VariableInfo(name, 0, forced.get(name) or failed)
                continue
            digests[name] = digest
            verdict = forced.get(name) or verdicts.verdict(obj, digest)
            variables[name] = VariableInfo(name, size, verdict, stale.get(name))
    for group in groups:
        actual = (actual_sizes or {}).get(group)
        estimated = sum(variables[n].size_bytes for n in group if n in variables)
        if actual is not None and estimated > 0:
            factor = actual / estimated
            for name in group & variables.keys():
                info = variables[name]
                variables[name] = replace(info, size_bytes=max(0, round(info.size_bytes * factor)))
    plan = solve_plan(graph, variables, groups, costs, mode=mode, forbidden=changed_inputs(graph))
    return PlannedSession(plan, tuple(groups), variables, digests)


def changed_inputs(graph: HistoryGraph) -> dict[int, str]:
    """Executions whose input files changed or vanished since they ran: re-running them would
    not give the same values, so what depends on them must be stored."""
    forbidden: dict[int, str] = {}
    for execution in graph:
        reasons = recorded_input_changes(execution.extra.get("file_inputs"))
        if reasons:
            forbidden[execution.index] = "; ".join(reasons)
    return forbidden


def _group_digest(names: tuple[str, ...], digests: Mapping[str, bytes | None]) -> str | None:
    hasher = xxhash.xxh3_128()
    for name in names:
        digest = digests.get(name)
        if digest is None:
            return None
        hasher.update(name.encode())
        hasher.update(digest)
    return hasher.hexdigest()


def take_checkpoint(
    ns: MutableMapping[str, object],
    graph: HistoryGraph,
    store: CheckpointStore,
    session_key: str,
    costs: CostModel,
    *,
    mode: str = "balanced",
    verdicts: SerializabilityCache | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
    progress: Callable[[ProgressEvent], None] | None = None,
    actual_sizes: Mapping[frozenset[str], int] | None = None,
    taken_at: datetime | None = None,
    start_dir: str | None = None,
) -> CheckpointResult:
    """Plan and write a checkpoint of the session (``taken_at``: when the namespace was
    captured, if not now; see :meth:`CheckpointStore.write_checkpoint`; ``start_dir``: the
    directory the kernel started in, which the working directory is recorded relative to).

    A variable that turns out not to pickle although it looked serializable is marked
    unserializable and the session is planned again (it is then recomputed, or reported lost).

    Raises
    ------
    StoreError, SerializationError, PlanError
        When the checkpoint cannot be written; the previous checkpoint is left intact.
    """
    started = time.perf_counter()
    verdicts = verdicts if verdicts is not None else SerializabilityCache()
    cwd = os.getcwd()
    forced: dict[str, str] = {}
    notes: list[str] = []
    for _ in range(MAX_REPLANS):
        session = plan_session(
            ns,
            graph,
            costs,
            mode=mode,
            verdicts=verdicts,
            forced_unserializable=forced,
            actual_sizes=actual_sizes,
        )
        plan = session.plan
        specs = [
            GroupSpec(
                names=tuple(sorted(names)),
                values={n: ns[n] for n in names},
                fingerprint=_group_digest(tuple(sorted(names)), session.digests),
            )
            for names in plan.stored_groups
        ]
        metadata = {
            "graph": graph.to_json(),
            "plan": plan.to_json(),
            "fingerprints": {
                n: (d.hex() if d is not None else None) for n, d in session.digests.items()
            },
            "fingerprint_version": FINGERPRINT_VERSION,
            "cwd": cwd,
            **({"cwd_relative": relative_dir(cwd, start_dir)} if start_dir is not None else {}),
            # Where the global random generators stand now: after a restore, the next draw
            # is the one the original session would have made.
            "rng": capture_rng_state().to_json(),
            "elastic_kernel": __version__,
            **dict(extra_metadata or {}),
        }
        try:
            manifest = store.write_checkpoint(
                session_key, specs, metadata, progress=progress, taken_at=taken_at
            )
        except SerializationError as exc:
            if exc.variable is None or exc.variable in forced or exc.variable not in ns:
                raise
            reason = str(exc)
            forced[exc.variable] = reason
            verdicts.mark(ns[exc.variable], session.digests.get(exc.variable), reason)
            notes.append(f"{exc.variable}: does not pickle, planned again ({reason})")
            log.info("checkpoint: %s is not serializable; planning again", exc.variable)
            continue
        seconds = time.perf_counter() - started
        lost = tuple(n for group in plan.lost for n in group.names)
        log.info(
            "checkpoint %s: %d bytes, %d stored, %d recomputed, %d lost, %.3f s",
            manifest.checkpoint_id,
            manifest.stored_size,
            len(plan.names("store")),
            len(plan.names("recompute")),
            len(lost),
            seconds,
        )
        return CheckpointResult(
            manifest=manifest,
            plan=plan,
            seconds=seconds,
            bytes_stored=manifest.stored_size,
            stored=plan.names("store"),
            recomputed=plan.names("recompute"),
            lost=lost,
            notes=tuple(notes),
        )
    raise SerializationError(
        f"gave up after {MAX_REPLANS} attempts: variables kept failing to pickle "
        f"({', '.join(sorted(forced))})"
    )
