"""Continuous checkpoints that never make the user wait: after a cell, the kernel forks; the
child holds a copy-on-write snapshot of the session exactly at that cell boundary, plans and
writes the checkpoint, and exits. The parent only pays for ``fork()``.

Why fork and not a worker thread: a thread would serialize objects the user's next cell is
already mutating (a torn state), or need the cell to wait. The child never touches the kernel's
sockets or threads: it silences stdout/stderr, ignores SIGINT, disables the garbage collector
(so no finalizer can close a shared socket) and leaves with ``os._exit``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AutosaveStats", "Autosaver"]

log = logging.getLogger(__name__)

MAX_RESULT_BYTES = 1 << 16


@dataclass(slots=True)
class AutosaveStats:
    """What autosave did so far (``%elastic status``)."""

    started: int = 0
    written: int = 0
    failed: int = 0
    coalesced: int = 0
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


class Autosaver:
    """Takes a background checkpoint at cell boundaries, one at a time.

    Parameters
    ----------
    checkpoint
        Runs in the forked child: writes a checkpoint and returns a JSON-able summary with
        at least ``checkpoint_id``, ``url`` and ``bytes``.
    every
        Autosave after every N recorded cells.
    enabled
        Whether cell boundaries trigger autosaves.
    """

    def __init__(
        self,
        checkpoint: Callable[[], dict[str, Any]],
        *,
        every: int = 1,
        enabled: bool = True,
        warm_up: Callable[[], None] | None = None,
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
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
            os.close(read_end)
            _run_child(self._checkpoint, write_end)
        os.close(write_end)
        self._since = 0
        self._child = _Child(pid=pid, pipe=read_end, cell=cell, started=time.perf_counter())
        self.stats.started += 1
        self.stats.boundary_seconds.append(time.perf_counter() - started)

    def _collect(self, child: _Child, status: int) -> None:
        with contextlib.closing(os.fdopen(child.pipe, "rb")) as pipe:
            raw = pipe.read(MAX_RESULT_BYTES)
        try:
            result = json.loads(raw.decode()) if raw else {}
        except ValueError:
            result = {}
        ok = os.waitstatus_to_exitcode(status) == 0 and "error" not in result and result
        if ok:
            self.stats.written += 1
            self.stats.bytes_written += int(result.get("bytes", 0))
            self.stats.write_seconds += time.perf_counter() - child.started
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
            "bytes_written": self.stats.bytes_written,
            "write_seconds": self.stats.write_seconds,
            "median_boundary_seconds": median,
            "last_checkpoint": self.stats.last_checkpoint,
            "last_cell": self.stats.last_cell,
            "last_error": self.stats.last_error,
        }


def _run_child(checkpoint: Callable[[], dict[str, Any]], pipe: int) -> None:  # pragma: no cover
    """The forked child: write the checkpoint, report on ``pipe``, never return."""
    code = 1
    try:
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
