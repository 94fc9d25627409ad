"""Continuous checkpoints that never make the user wait: after a cell, the kernel forks; the
child holds a copy-on-write snapshot of the session exactly at that cell boundary, plans and
writes the checkpoint, and exits. The parent only pays for ``fork()``, before the cell's reply
(forking after the reply was measured to lose one more cell to a crash right after it; see
benchmarks/results/autosave.md). The child then waits for :meth:`Autosaver.release` (the kernel
calls it once the reply is sent) before working: on a machine with few cores a child busy at
once takes the CPU from the parent's reply, which measured as 10-20 ms at the boundary.

Budgets: a watchdog thread of the parent kills a child whose private memory (the copy-on-write
growth: pages either process wrote since the fork, plus the child's own buffers) exceeds
``max_memory``; :class:`DiskBudget` makes the child give up, before publishing anything, on an
autosave that would take the store over its budget or past its free space. Either way the
autosave counts as skipped, with the reason in the status, and no half-written checkpoint is
ever visible (the manifest is written last).

Why fork and not a worker thread: a thread would serialize objects the user's next cell is
already mutating (a torn state), or need the cell to wait. The child never touches the kernel's
sockets or threads: it silences stdout/stderr, ignores SIGINT, disables the garbage collector
(so no finalizer can close a shared socket) and leaves with ``os._exit``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from elastic_kernel.autosave_budget import BudgetExceeded, mib, private_memory

__all__ = ["AutosaveStats", "Autosaver"]

log = logging.getLogger(__name__)

MAX_RESULT_BYTES = 1 << 16
# A child starts anyway if not released by then (or at once if the parent dies: the gate's write
# end closes with it).
GATE_TIMEOUT_SECONDS = 2.0
# How often the watchdog reads the child's memory: smaps_rollup walks the child's page tables
# (~1 ms per GB of 4 KiB pages), so a few reads a second cost the machine almost nothing.
WATCH_INTERVAL_SECONDS = 0.1


@dataclass(slots=True)
class AutosaveStats:
    """What autosave did so far (``%elastic status``)."""

    started: int = 0
    written: int = 0
    failed: int = 0
    coalesced: int = 0
    skipped: int = 0
    last_skip: str | None = None
    peak_extra_memory: int = 0
    bytes_written: int = 0
    write_seconds: float = 0.0
    boundary_seconds: list[float] = field(default_factory=list)
    last_checkpoint: str | None = None
    last_cell: int | None = None
    last_error: str | None = None


@dataclass(slots=True)
class _Child:
    pid: int
    pipe: int
    cell: int
    started: float
    # Write end of the pipe the child waits on before working (closed = go).
    gate: int | None = None
    killed: str | None = None


class Autosaver:
    """Takes a background checkpoint at cell boundaries, one at a time.

    Parameters
    ----------
    checkpoint
        Runs in the forked child with the moment of the fork: writes a checkpoint of that
        state and returns a JSON-able summary with at least ``checkpoint_id``, ``url`` and
        ``bytes``.
    every
        Autosave after every N recorded cells.
    enabled
        Whether cell boundaries trigger autosaves.
    warm_up
        Run once in a thread before the first fork (imports, store probe).
    max_memory
        Extra memory (bytes) a running autosave may cost before it is killed and skipped;
        ``None``: no cap.
    """

    def __init__(
        self,
        checkpoint: Callable[[datetime], dict[str, Any]],
        *,
        every: int = 1,
        enabled: bool = True,
        warm_up: Callable[[], None] | None = None,
        max_memory: int | None = None,
    ) -> None:
        self._checkpoint = checkpoint
        self.every = max(1, every)
        self.enabled = enabled
        self.stats = AutosaveStats()
        self._child: _Child | None = None
        self._pending_cell: int | None = None
        self._since = 0
        self._warm_up = warm_up
        self._warm: threading.Event | None = None
        self.max_memory = max_memory
        # Reaping (main thread) and killing (watchdog) must not race: a reaped pid can be reused.
        self._lock = threading.Lock()
        if enabled:
            self.start_warm_up()

    def start_warm_up(self) -> None:
        """Import the planner and store and probe the store once, in a thread, so that each
        child does not pay for it (a child starts from the parent's memory)."""
        if self._warm is not None:
            return
        self._warm = threading.Event()
        warm = self._warm

        def run() -> None:
            try:
                if self._warm_up is not None:
                    self._warm_up()
            except Exception:
                log.warning("elastic: autosave warm-up failed", exc_info=True)
            finally:
                warm.set()

        threading.Thread(target=run, name="elastic-autosave-warm-up", daemon=True).start()

    def wait_until_warm(self, timeout: float = 60.0) -> None:
        """Let a running warm-up finish before user code runs: two threads importing modules at
        once can make Python's import locks raise a deadlock error in the user's cell."""
        if self._warm is not None:
            self._warm.wait(timeout)

    @property
    def is_running(self) -> bool:
        self.poll()
        return self._child is not None

    def after_cell(self, cell: int) -> None:
        """A recorded cell finished (its index in the AHG): start an autosave if one is due.

        Never waits: if an autosave is still being written, this one is coalesced into the
        next (which will hold the newest state).
        """
        self.poll()
        if not self.enabled:
            return
        self._since += 1
        if self._since < self.every:
            return
        # Never fork while the warm-up thread may hold an import lock: the child would inherit
        # it held and deadlock on its first import.
        if self._child is not None or self._warm is None or not self._warm.is_set():
            if self._pending_cell is not None:
                self.stats.coalesced += 1
            self._pending_cell = cell
            if self._warm is None:
                self.start_warm_up()
            return
        self._start(cell)

    def poll(self) -> None:
        """Reap a finished child and start the coalesced autosave, if any."""
        child = self._child
        if child is None:
            if (
                self._pending_cell is not None
                and self.enabled
                and self._warm is not None
                and self._warm.is_set()
            ):
                cell, self._pending_cell = self._pending_cell, None
                self._start(cell)
            return
        with self._lock:
            try:
                pid, status = os.waitpid(child.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = child.pid, 1 << 8
            if pid == 0:
                return
            self._child = None
        self._collect(child, status)
        if self._pending_cell is not None and self.enabled:
            cell, self._pending_cell = self._pending_cell, None
            self._start(cell)

    def wait(self, timeout: float = 60.0) -> None:
        """Block until no autosave is running (tests, shutdown, explicit checkpoints)."""
        deadline = time.monotonic() + timeout
        while self.is_running and time.monotonic() < deadline:
            time.sleep(0.01)

    def _start(self, cell: int) -> None:
        started = time.perf_counter()
        read_end, write_end = os.pipe()
        gate_read, gate_write = os.pipe()
        taken_at = datetime.now(timezone.utc)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
            os.close(read_end)
            os.close(gate_write)
            _run_child(functools.partial(self._checkpoint, taken_at), write_end, gate_read)
        os.close(write_end)
        os.close(gate_read)
        self._since = 0
        child = _Child(
            pid=pid, pipe=read_end, cell=cell, started=time.perf_counter(), gate=gate_write
        )
        self._child = child
        self.stats.started += 1
        self.stats.boundary_seconds.append(time.perf_counter() - started)
        if self.max_memory is not None:
            threading.Thread(
                target=self._watch, args=(child,), name="elastic-autosave-watchdog", daemon=True
            ).start()

    def release(self) -> None:
        """Let a child that is waiting at its gate start writing (the reply is out)."""
        child = self._child
        if child is not None and child.gate is not None:
            os.close(child.gate)
            child.gate = None

    def _watch(self, child: _Child) -> None:
        """Kill ``child`` once its private memory exceeds ``max_memory`` (runs in a thread)."""
        cap = self.max_memory
        assert cap is not None
        while True:
            extra = private_memory(child.pid)
            with self._lock:
                if self._child is not child:
                    return
                if extra is not None:
                    self.stats.peak_extra_memory = max(self.stats.peak_extra_memory, extra)
                if extra is not None and extra > cap:
                    child.killed = (
                        f"memory: the background checkpoint took {mib(extra)} extra memory "
                        f"(copy-on-write), over the {mib(cap)} budget"
                    )
                    os.kill(child.pid, signal.SIGKILL)
                    return
            time.sleep(WATCH_INTERVAL_SECONDS)

    def _collect(self, child: _Child, status: int) -> None:
        if child.gate is not None:
            os.close(child.gate)
            child.gate = None
        with contextlib.closing(os.fdopen(child.pipe, "rb")) as pipe:
            raw = pipe.read(MAX_RESULT_BYTES)
        try:
            result = json.loads(raw.decode()) if raw else {}
        except ValueError:
            result = {}
        ok = os.waitstatus_to_exitcode(status) == 0 and "error" not in result and result
        skipped = child.killed or (str(result["skipped"]) if "skipped" in result else None)
        if skipped:
            self.stats.skipped += 1
            self.stats.last_skip = f"after cell #{child.cell}: {skipped}"
            log.info("elastic: autosave after execution %d skipped: %s", child.cell, skipped)
        elif ok:
            self.stats.written += 1
            self.stats.bytes_written += int(result.get("bytes", 0))
            # The child's own time: the parent may reap it long after it finished.
            seconds = result.get("seconds")
            self.stats.write_seconds += (
                float(seconds)
                if isinstance(seconds, (int, float))
                else time.perf_counter() - child.started
            )
            self.stats.last_checkpoint = str(result.get("url"))
            self.stats.last_cell = child.cell
        else:
            self.stats.failed += 1
            self.stats.last_error = str(result.get("error") or f"autosave exited with {status}")
            log.warning("elastic: autosave after execution %d failed: %s", child.cell, result)

    def status(self) -> dict[str, Any]:
        self.poll()
        times = sorted(self.stats.boundary_seconds)
        median = times[len(times) // 2] if times else None
        return {
            "enabled": self.enabled,
            "every": self.every,
            "running": self._child is not None,
            "started": self.stats.started,
            "written": self.stats.written,
            "failed": self.stats.failed,
            "coalesced": self.stats.coalesced,
            "skipped": self.stats.skipped,
            "last_skip": self.stats.last_skip,
            "max_memory": self.max_memory,
            "peak_extra_memory": self.stats.peak_extra_memory,
            "bytes_written": self.stats.bytes_written,
            "write_seconds": self.stats.write_seconds,
            "median_boundary_seconds": median,
            "last_checkpoint": self.stats.last_checkpoint,
            "last_cell": self.stats.last_cell,
            "last_error": self.stats.last_error,
        }


def _run_child(
    checkpoint: Callable[[], dict[str, Any]], pipe: int, gate: int
) -> None:  # pragma: no cover
    """The forked child: wait at ``gate``, write the checkpoint, report on ``pipe``, never
    return."""
    code = 1
    try:
        # Blocks (without using CPU) until the parent closes the gate or dies.
        select.select([gate], [], [], GATE_TIMEOUT_SECONDS)
        os.close(gate)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        gc.disable()
        # The kernel's stdout/stderr forward to the frontend through the parent's threads;
        # nothing the child prints may reach them (Python or C level).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        sys.stdout = sys.stderr = open(os.devnull, "w")
        _reset_async_io()
        result = checkpoint()
        code = 0
    except BudgetExceeded as exc:
        result, code = {"skipped": str(exc)}, 0
    except BaseException as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        os.write(pipe, json.dumps(result, default=str).encode()[:MAX_RESULT_BYTES])
    finally:
        os._exit(code)


def _reset_async_io() -> None:  # pragma: no cover - child only
    """fsspec's async filesystems (s3fs) run on an event-loop thread the child does not have."""
    asyn = sys.modules.get("fsspec.asyn")
    if asyn is not None:
        with contextlib.suppress(Exception):
            asyn.reset_lock()
    spec = sys.modules.get("fsspec.spec")
    if spec is not None:
        with contextlib.suppress(Exception):
            spec.AbstractFileSystem.clear_instance_cache()
