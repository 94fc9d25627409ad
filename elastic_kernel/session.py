"""One kernel's elastic state: the recorder, the stores it talks to and the caches that make
repeated checkpoints cheap, with the entry points the magics, the comm and the CLI share."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from elastic_kernel import config
from elastic_kernel.errors import CheckpointNotFound

if TYPE_CHECKING:
    from elastic_kernel.background_restore import BackgroundRestore

    # The planner (OR-Tools) and the store (pickling, fsspec) weigh ~60 MB and 0.5 s: a kernel
    # that never checkpoints never imports them (issue: memory overhead vs the stock kernel).
    from elastic_kernel.checkpoint import (
        CheckpointResult,
        PlannedSession,
        SerializabilityCache,
    )
    from elastic_kernel.lineage import CellRecorder
    from elastic_kernel.planner import CostModel
    from elastic_kernel.restore import RestoreReport, RunCell
    from elastic_kernel.store import CheckpointRef, CheckpointStore, Manifest, ProgressEvent

__all__ = ["ElasticSession", "SessionSettings"]

log = logging.getLogger(__name__)

# Autosaves of session K are kept under session key K + this suffix.
AUTOSAVE_SUFFIX = ".auto"
AUTOSAVES_KEPT = 2
# Unreferenced autosave blobs younger than this are spared by the autosave's own pruning.
AUTOSAVE_BLOB_AGE = 60.0
# Checkpoints smaller than this say little about the store's bandwidth.
LEARN_MIN_BYTES = 8 * 2**20


@dataclass(slots=True)
class SessionSettings:
    """The user-facing settings (mirrors of the kernel's traits)."""

    store: str
    session_key: str
    alpha: float = 1.0


def _autosave_key(session_key: str) -> str:
    # Session keys are at most 128 characters; the suffix must still fit.
    return f"{session_key[:120]}{AUTOSAVE_SUFFIX}"


def _parse(mode: str) -> tuple[str, float | None]:
    """A mode name or a number; plain ``balanced`` keeps the configured alpha."""
    from elastic_kernel.planner import parse_mode

    name, alpha = parse_mode(mode)
    if mode.strip().lower() == "balanced":
        return name, None
    return name, alpha


class ElasticSession:
    """Checkpoint, restore and plan for one namespace.

    Parameters
    ----------
    recorder
        The namespace's recorder (owns the AHG).
    settings
        Store URL, session key and alpha.
    run_cell
        Re-runs recorded code in the namespace (used by restore).
    """

    def __init__(
        self, recorder: CellRecorder, settings: SessionSettings, run_cell: RunCell
    ) -> None:
        self.recorder = recorder
        self.settings = settings
        self._run_cell = run_cell
        self._stores: dict[str, CheckpointStore] = {}
        self._bandwidths: dict[str, tuple[float, float]] = {}
        self._verdicts: SerializabilityCache | None = None
        self._actual_sizes: dict[frozenset[str], int] = {}
        # fsync every write; autosave children skip it (see autosave_checkpoint).
        self._durable = True
        self.last_checkpoint: CheckpointResult | None = None
        # Called after every explicit checkpoint or restore (the kernel resumes autosave).
        self.on_explicit: Callable[[], None] | None = None
        self.last_restore: RestoreReport | None = None
        # A restore running in the background (``start_restore``), until it completes.
        self.background: BackgroundRestore | None = None
        self.last_background: BackgroundRestore | None = None

    @property
    def ns(self) -> MutableMapping[str, object]:
        return self.recorder.ns

    def open_store(self, url: str | None = None) -> CheckpointStore:
        target = url or self.settings.store
        store = self._stores.get(target)
        if store is None:
            from elastic_kernel.store import CheckpointStore, load_or_create_key

            store = CheckpointStore(
                target, key=load_or_create_key(config.default_key_path()), fsync=self._durable
            )
            self._stores[target] = store
        return store

    def cost_model(self, store: CheckpointStore, alpha: float | None = None) -> CostModel:
        from elastic_kernel.planner import CostModel
        from elastic_kernel.store import probe_bandwidth

        bandwidth = self._bandwidths.get(store.url)
        if bandwidth is None:
            bandwidth = probe_bandwidth(store)
            self._bandwidths[store.url] = bandwidth
        write, read = bandwidth
        return CostModel(write, read, self.settings.alpha if alpha is None else alpha)

    def plan(self, *, url: str | None = None, mode: str = "balanced") -> PlannedSession:
        """The plan a checkpoint would use now (``mode`` may be ``alpha=0.5``-style too)."""
        from elastic_kernel.checkpoint import plan_session

        self.wait_for_restore()
        mode_name, alpha = _parse(mode)
        store = self.open_store(url)
        costs = self.cost_model(store, alpha)
        return plan_session(
            self.ns, self.recorder.graph, costs, mode=mode_name, verdicts=self.verdicts
        )

    def _learn_from(self, result: CheckpointResult, store: CheckpointStore) -> None:
        """Refine the cost model with what the checkpoint really took: each group's actual
        size, and the write bandwidth actually seen (once enough bytes went out to mean it)."""
        self._actual_sizes = {frozenset(g.names): g.size for g in result.manifest.groups}
        written = result.bytes_stored
        if written >= LEARN_MIN_BYTES and result.seconds > 0 and store.url in self._bandwidths:
            old_write, read = self._bandwidths[store.url]
            seen = written / result.seconds  # includes planning: a lower bound
            self._bandwidths[store.url] = ((old_write + seen) / 2, read)

    @property
    def verdicts(self) -> SerializabilityCache:
        if self._verdicts is None:
            from elastic_kernel.checkpoint import SerializabilityCache

            self._verdicts = SerializabilityCache()
        return self._verdicts

    def checkpoint(
        self,
        *,
        url: str | None = None,
        mode: str = "balanced",
        progress: Callable[[ProgressEvent], None] | None = None,
        session_key: str | None = None,
        taken_at: datetime | None = None,
    ) -> CheckpointResult:
        """Plan and write a checkpoint of the namespace to ``url`` (default: the store)."""
        from elastic_kernel.checkpoint import take_checkpoint

        self.wait_for_restore()
        mode_name, alpha = _parse(mode)
        store = self.open_store(url)
        result = take_checkpoint(
            self.ns,
            self.recorder.graph,
            store,
            session_key or self.settings.session_key,
            self.cost_model(store, alpha),
            mode=mode_name,
            verdicts=self.verdicts,
            progress=progress,
            actual_sizes=self._actual_sizes,
            taken_at=taken_at,
            start_dir=self.recorder.start_dir,
        )
        self.last_checkpoint = result
        self._learn_from(result, store)
        if self._durable and self.on_explicit is not None:
            self.on_explicit()
        return result

    def mark_pending_restore(self, checkpoint_url: str) -> None:
        """Make the next process of this kernel restore ``checkpoint_url`` before its first cell."""
        path = config.pending_restore_path(self.settings.session_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"checkpoint": checkpoint_url, "pid": os.getpid()}))
        os.replace(tmp, path)

    def take_pending_restore(self) -> str | None:
        """The checkpoint a restart with state left for this process, if any (consumed)."""
        path = config.pending_restore_path(self.settings.session_key)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        with contextlib.suppress(OSError):
            path.unlink()
        if data.get("pid") == os.getpid():
            return None
        checkpoint = data.get("checkpoint")
        return checkpoint if isinstance(checkpoint, str) else None

    def status(self) -> dict[str, Any]:
        from elastic_kernel.lineage.effects import audit_hook_kind

        recorder = self.recorder
        cells = len(recorder.graph)
        last = self.last_checkpoint
        latest_background = self.background or self.last_background
        return {
            "store": self.settings.store,
            "session_key": self.settings.session_key,
            "alpha": self.settings.alpha,
            "cells": cells,
            "live_variables": len(recorder.graph.live()),
            "overhead_seconds": recorder.overhead_seconds,
            "audit_hook": audit_hook_kind(),
            "last_checkpoint": None
            if last is None
            else {
                "checkpoint_id": last.manifest.checkpoint_id,
                "url": last.manifest.url,
                "bytes": last.bytes_stored,
                "seconds": last.seconds,
                "created": last.manifest.created,
                "estimated_restore_seconds": last.plan.totals.restore_seconds,
            },
            "last_restore": None
            if self.last_restore is None
            else {
                "checkpoint_id": self.last_restore.checkpoint_id,
                "ok": self.last_restore.ok,
                "seconds": self.last_restore.seconds,
                "load_seconds": self.last_restore.load_seconds,
                "rerun_seconds": self.last_restore.rerun_seconds,
            },
            # The running background restore, else the last one (its event log stays readable).
            "restore": None if latest_background is None else latest_background.progress(),
        }

    def warm_up(self) -> None:
        """Import the checkpoint machinery (OR-Tools included: an autosave child would
        otherwise spend 0.1 s and 18 MB importing it, every time) and probe the configured
        store's bandwidth."""
        import elastic_kernel.checkpoint  # noqa: F401
        from elastic_kernel.planner.mincut import load_solver

        load_solver()

        self.cost_model(self.open_store())

    def autosave_checkpoint(
        self, taken_at: datetime, max_disk: int | None = None
    ) -> dict[str, Any]:
        """The checkpoint an autosave child writes: fresh store objects (the parent's hold
        connections and event loops the forked child must not use), and a JSON summary.

        Only the two newest complete autosaves are kept. ``max_disk`` caps what the session's
        autosaves occupy; a checkpoint that would break it (or not fit in the free space of a
        local store) raises ``BudgetExceeded`` before anything is published.
        """
        from elastic_kernel.autosave_budget import DiskBudget

        self._stores.clear()
        # An autosave protects against the kernel process dying, which the OS page cache
        # survives: no fsync, so autosaves keep up with the cells. Explicit checkpoints and
        # restarts with state do fsync.
        self._durable = False
        store_url = self.settings.store
        local = "://" not in store_url or store_url.startswith("file://")
        budget = DiskBudget(
            max_disk,
            os.path.join(store_url.removeprefix("file://"), self.autosave_key) if local else None,
        )
        budget.check()
        store = self.open_store()
        # Older autosaves go once this one is published: the disk holds about two states, not
        # one per cell, and a process restoring the previous autosave still finds it whole.
        store.keep = AUTOSAVES_KEPT
        # Autosaves have a session key of their own, so they never prune the checkpoints the
        # user took on purpose.
        # Named for the cell boundary the state is from, not for when this child got to write
        # it: a later explicit checkpoint must sort after it.
        result = self.checkpoint(
            session_key=self.autosave_key, progress=budget.progress, taken_at=taken_at
        )
        if max_disk is not None:
            with contextlib.suppress(Exception):
                # Under a budget, free the blobs only dropped autosaves used within a minute,
                # not the store's usual ten (younger ones may belong to an autosave child that
                # outlived an earlier kernel process). It delays this child's exit, and so the
                # next autosave: only worth it when disk is counted.
                store.gc(self.autosave_key, keep=AUTOSAVES_KEPT, min_blob_age=AUTOSAVE_BLOB_AGE)
        return {
            "checkpoint_id": result.manifest.checkpoint_id,
            "url": result.manifest.url,
            "bytes": result.bytes_stored,
            "seconds": result.seconds,
        }

    @property
    def autosave_key(self) -> str:
        return _autosave_key(self.settings.session_key)

    def local_session_dir(self) -> str | None:
        """This session's folder in a local store, if it exists (a cheap check: no imports)."""
        store = self.settings.store
        if "://" in store and not store.startswith("file://"):
            return None
        for key in (self.settings.session_key, self.autosave_key):
            path = os.path.join(store.removeprefix("file://"), key)
            if os.path.isdir(path):
                return path
        return None

    @staticmethod
    def _latest_ref(store: CheckpointStore, session_key: str) -> CheckpointRef | None:
        """The newest of a session's checkpoints, explicit or autosaved (ids sort by time)."""
        refs = [store.latest(key) for key in (session_key, _autosave_key(session_key))]
        found = [ref for ref in refs if ref is not None]
        return max(found, key=lambda ref: ref.checkpoint_id) if found else None

    def latest_checkpoint_url(self) -> str | None:
        """The newest complete checkpoint of this session in the configured store."""
        ref = self._latest_ref(self.open_store(), self.settings.session_key)
        return None if ref is None else ref.url

    def find_checkpoint(self, url: str | None = None, *, trust: bool = False) -> Manifest:
        """The manifest ``%restore [URL]`` means.

        ``URL`` may be a store (this session's latest checkpoint there; if the store holds a
        single session, that one's) or one checkpoint's directory.
        """
        store = self.open_store(url)
        key = self.settings.session_key
        ref = self._latest_ref(store, key)
        if ref is not None:
            return store.open(ref, trust=trust)
        if url is not None:
            try:
                return store.open(url, trust=trust)
            except CheckpointNotFound:
                pass
        sessions = store.list_sessions()
        # One notebook's explicit and autosaved checkpoints count as one session.
        sessions = sorted({name.removesuffix(AUTOSAVE_SUFFIX) for name in sessions})
        if len(sessions) == 1:
            only = self._latest_ref(store, sessions[0])
            if only is not None:
                return store.open(only, trust=trust)
        where = url or self.settings.store
        if not sessions:
            raise CheckpointNotFound(f"no checkpoint in {where} (run %checkpoint first)")
        raise CheckpointNotFound(
            f"no checkpoint of session {key!r} in {where}; it holds sessions "
            f"{', '.join(sorted(sessions))}: restore one with %restore {where}/<session>"
        )

    def restore(
        self,
        url: str | None = None,
        *,
        trust: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> RestoreReport:
        """Restore a checkpoint into the namespace and continue its AHG (blocking)."""
        from elastic_kernel.restore import restore_checkpoint

        self.wait_for_restore()
        manifest = self.find_checkpoint(url, trust=trust)
        store = self.open_store(url)
        report = restore_checkpoint(
            store,
            manifest,
            self.ns,
            self._run_cell,
            is_user_name=self.recorder.is_user_name,
            progress=progress,
            start_dir=self.recorder.start_dir,
        )
        self.recorder.replace_graph(report.graph)
        self._restored(report, store, manifest)
        return report

    def start_restore(
        self,
        url: str | None = None,
        *,
        trust: bool = False,
        wake: Callable[[], None] = lambda: None,
        on_applied: Callable[[list[str]], None] = lambda _names: None,
        on_failure: Callable[[dict[str, str], str], None] = lambda _failed, _message: None,
        on_done: Callable[[RestoreReport], None] = lambda _report: None,
        load_delay: float = 0.0,
    ) -> BackgroundRestore:
        """Start restoring a checkpoint in the background and return at once.

        The checkpoint is found, its signature checked and its plan read before this returns
        (errors there raise as for :meth:`restore`); loading continues on a thread. A restore
        still running is finished first. See :class:`BackgroundRestore` for the callbacks.
        """
        from elastic_kernel.background_restore import BackgroundRestore

        self.wait_for_restore()
        manifest = self.find_checkpoint(url, trust=trust)
        store = self.open_store(url)

        def done(report: RestoreReport) -> None:
            self.background, self.last_background = None, background
            self._restored(report, store, manifest)
            on_done(report)

        background = BackgroundRestore(
            store,
            manifest,
            self.ns,
            self._run_cell,
            is_user_name=self.recorder.is_user_name,
            wake=wake,
            on_applied=on_applied,
            on_failure=on_failure,
            on_done=done,
            load_delay=load_delay,
            start_dir=self.recorder.start_dir,
        )
        # The restored graph describes the session from now on; the variables still loading
        # are live in it already.
        self.recorder.replace_graph(background.graph)
        self.background = background
        background.start()
        return background

    def wait_for_restore(self) -> RestoreReport | None:
        """Finish a background restore, if one is running (its report, else None)."""
        background = self.background
        if background is None:
            return None
        return background.finish()

    def _restored(self, report: RestoreReport, store: CheckpointStore, manifest: Manifest) -> None:
        self.last_restore = report
        loaded_bytes = sum(g.size for g in manifest.groups)
        if loaded_bytes >= LEARN_MIN_BYTES and report.load_seconds > 0:
            if store.url in self._bandwidths:
                write, old_read = self._bandwidths[store.url]
                seen = loaded_bytes / report.load_seconds
                self._bandwidths[store.url] = (write, (old_read + seen) / 2)
        if self.on_explicit is not None:
            self.on_explicit()
