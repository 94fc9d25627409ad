"""ElasticKernel: the stock IPython kernel plus lineage recording, checkpoint and restore.

This module wires things together around each cell; its layers live beside it
(``kernel_settings``: traits, ``kernel_interrupts``: replies whatever the interrupt hits,
``kernel_restore``: serving a background restore) and the algorithms in ``lineage``,
``planner``, ``store`` and ``restore``.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from elastic_kernel import __version__
from elastic_kernel.autosave import Autosaver
from elastic_kernel.comm import ElasticComm
from elastic_kernel.config import library_cache_roots
from elastic_kernel.errors import ElasticError
from elastic_kernel.kernel_interrupts import InterruptSafeKernel
from elastic_kernel.kernel_restore import INTERRUPTED_BEFORE, INTERRUPTED_WAITING, RestoringKernel
from elastic_kernel.kernel_settings import SettingsKernel
from elastic_kernel.lineage.analysis import is_tooling_cell
from elastic_kernel.lineage.recorder import CellRecorder, PendingExecution
from elastic_kernel.magics import ElasticMagics
from elastic_kernel.rerun import run_code
from elastic_kernel.session import ElasticSession, SessionSettings

__all__ = ["ElasticKernel"]

# Magics that checkpoint or restore (`%elastic status` and `graph` need none of that machinery,
# which costs ~40 MB of imports).
NEEDS_MACHINERY = re.compile(
    r"run_line_magic\(['\"](checkpoint|restore)['\"]"
    r"|run_line_magic\(['\"]elastic['\"], ['\"]\s*(plan|restart)"
)
# Time for the execute reply and the idle status to leave before the process exits.
EXIT_DELAY_SECONDS = 0.5


class ElasticKernel(RestoringKernel, InterruptSafeKernel, SettingsKernel):
    """IPython kernel that records the Application History Graph of every cell."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        shell = self.ipython
        self.recorder = CellRecorder(
            shell.user_ns, shell.user_ns_hidden, cache_roots=library_cache_roots()
        )
        self.elastic = ElasticSession(
            self.recorder,
            SessionSettings(store=self.store, session_key=self.session_key, alpha=self.alpha),
            run_cell=self._rerun_cell,
        )
        shell.register_magics(ElasticMagics(shell=shell, kernel=self))
        # `%config ElasticKernel.store = ...` in a cell reaches only the shell's configurables.
        shell.configurables.append(self)  # type: ignore[arg-type]  # typed too narrowly
        ElasticComm(self).register(self.comm_manager)
        for msg_type in ("comm_open", "comm_msg", "comm_close"):
            handler = self.shell_handlers.get(msg_type)
            if handler is not None:
                self.shell_handlers[msg_type] = self._touching_namespace(handler)
        # Restart with state: the previous process left a checkpoint to restore. Restoring
        # waits for the first execute request, so kernel_info is answered at once.
        self.pending_restore: str | None = self.elastic.take_pending_restore()
        self.exit_after_reply = False
        # A checkpoint an earlier process of this session left (crash): what the frontend
        # is told (comm event ``recoverable`` and the status op) until a restore or checkpoint.
        self.recoverable: dict[str, Any] | None = None
        self._checked_previous_process = self.pending_restore is not None
        self._found_previous: str | None = None
        self._looked_for_previous = self._checked_previous_process
        self.autosaver = Autosaver(
            lambda taken_at: self.elastic.autosave_checkpoint(
                taken_at, max_disk=self.autosave_max_disk or None
            ),
            every=max(1, self.autosave),
            enabled=self.autosave > 0,
            warm_up=self._warm_up,
            max_memory=self.autosave_max_memory or None,
        )
        self.elastic.on_explicit = self._resume_autosave
        self._autosave_paused = False
        self._replying_to: str | None = None
        self._machinery: threading.Thread | None = None
        # Background restore: whether a cell is running (loaded groups are applied only
        # between cells) and what the next cell must tell the user about it.
        self._in_cell = False
        self._restore_messages: list[str] = []

    def _rerun_cell(self, code: str, index: int) -> BaseException | None:
        """Re-run a recorded cell in the user namespace, silently (restore)."""
        shell = self.ipython
        with capture_output():
            # What IPython does around a silent cell, so its hooks leave the state they left
            # the first time (matplotlib-inline draws and closes the cell's figures).
            shell.events.trigger("pre_execute")
            # The shell's own compiler and __future__ flags, not this module's (``annotations``).
            error = run_code(
                code,
                shell.user_ns,
                compiler=shell.compile,
                filename=f"<elastic re-run of execution #{index}>",
            )
            shell.events.trigger("post_execute")
        return error

    @property
    def ipython(self) -> InteractiveShell:
        """The kernel's shell (never None once ``IPythonKernel.__init__`` has run)."""
        shell: InteractiveShell | None = self.shell
        assert shell is not None
        return shell

    @property
    def kernel_info(self) -> dict[str, Any]:
        info: dict[str, Any] = dict(super().kernel_info)
        info["elastic"] = {"version": __version__}
        return info

    def post_handler_hook(self) -> None:
        super().post_handler_hook()
        # The reply is sent: an autosave forked at the end of the cell may start writing now.
        self.autosaver.release()

    def _touching_namespace(self, handler: Any) -> Any:
        """``handler`` preceded by telling the recorder that names may change outside a cell
        (widget callbacks and comm ops run user-visible code between cells)."""

        def run(*args: Any, **kwargs: Any) -> Any:
            self.recorder.namespace_touched()
            return handler(*args, **kwargs)

        return run

    def _import_machinery(self) -> None:
        """Import the checkpoint machinery on a thread, where no interrupt can land: an import
        interrupted half-way leaves a broken package behind for the rest of the process (and
        a C++ extension interrupted in its init aborts it)."""
        if self._machinery is None:
            self._machinery = threading.Thread(
                target=_import_checkpointing, name="elastic-import", daemon=True
            )
            self._machinery.start()
        self._machinery.join()

    async def do_execute(
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: dict[str, Any] | None = None,
        cell_id: str | None = None,
    ) -> dict[str, Any]:
        is_recorded = False
        pending: PendingExecution | None = None
        transformed = code
        self._in_cell = True
        try:
            self.autosaver.wait_until_warm()
            if self._machinery is not None:
                # Two threads importing at once can deadlock on Python's import locks.
                self._machinery.join()
            transformed = self._transform(code)
            is_tooling = is_tooling_cell(transformed)
            if is_tooling and NEEDS_MACHINERY.search(transformed):
                self._import_machinery()
            if not self._checked_previous_process:
                self._checked_previous_process = True
                # A first `%restore` or `%checkpoint` already says what the user wants.
                if not is_tooling:
                    self._look_for_previous_process()
            if self.pending_restore is not None:
                self._restore_pending()
            everything = silent or not store_history or bool(user_expressions)
            if not self._wait_for_restore(transformed, is_tooling, everything, silent):
                self._in_cell = False
                return self._interrupted_reply(INTERRUPTED_WAITING)
            # Completions, widgets, frontend helpers and the kernel's own magics are not part
            # of the notebook's history.
            is_recorded = not (silent or not store_history or is_tooling)
            pending = self._start_recording(transformed, cell_id) if is_recorded else None
        except KeyboardInterrupt:
            # An interrupt meant for the cell arrived before it started (while the kernel let
            # its warm-up imports finish, say): the cell does not run, as if the interrupt had
            # landed on its first line, and it gets its reply. Running it anyway would also
            # skip the wait for variables a background restore is still loading.
            self.log.warning("elastic: interrupted before the cell started; it did not run")
            if pending is not None:
                self.recorder.abandon(pending)
            self.recorder.namespace_touched()
            self._in_cell = False
            return self._interrupted_reply(INTERRUPTED_BEFORE)
        if not is_recorded:
            self.recorder.namespace_touched()
        started = time.perf_counter()
        reply: dict[str, Any] = await super().do_execute(
            code,
            silent,
            store_history,
            user_expressions,
            allow_stdin,
            cell_meta=cell_meta,
            cell_id=cell_id,
        )
        if is_recorded:
            duration = time.perf_counter() - started
            try:
                self._finish_recording(pending, code, cell_id, reply, duration)
                if self.elastic.background is None:
                    self.autosaver.after_cell(len(self.recorder.graph) - 1)
            except KeyboardInterrupt:
                self.log.warning("elastic: interrupted while recording a finished cell")
                if pending is not None:
                    self.recorder.abandon(pending)
                self.recorder.record_unknown(
                    transformed, ok=False, duration=duration, reason="interrupted"
                )
            except Exception:
                # Durability is best effort; the user's cell already ran.
                self.log.warning("elastic: autosave could not start", exc_info=True)
        self._in_cell = False
        self._schedule_restore_step()
        if self.exit_after_reply:
            self._exit_soon()
        return reply

    def _warm_up(self) -> None:
        """Before the first cell (a thread): load the checkpoint machinery, then tell the
        frontend at once if an earlier process left a checkpoint, before the user runs
        anything."""
        self.elastic.warm_up()
        if not self._looked_for_previous:
            self.find_previous_checkpoint()

    def find_previous_checkpoint(self) -> str | None:
        """The newest checkpoint of this session, looked up once per process (it can only be
        an earlier process's before this one autosaves); sets ``recoverable`` and sends the
        ``recoverable`` event."""
        if self._looked_for_previous:
            return self._found_previous
        self._looked_for_previous = True
        if self.elastic.local_session_dir() is None and not self.autorestore:
            return None
        try:
            latest = self.elastic.latest_checkpoint_url()
        except Exception:
            self.log.warning("elastic: could not look for earlier checkpoints", exc_info=True)
            return None
        self._found_previous = latest
        if latest is None or self.autorestore:
            return latest
        checkpoint_id = latest.rstrip("/").rsplit("/", 1)[-1]
        self.recoverable = {
            "checkpoint_id": checkpoint_id,
            "url": latest,
            "created": _created_from_id(checkpoint_id),
        }
        from elastic_kernel.comm import notify

        notify("recoverable", **self.recoverable)
        return latest

    def _look_for_previous_process(self) -> None:
        """A checkpoint of this session left by an earlier process (it crashed or was killed):
        restore it (``autorestore``) or say that ``%restore`` brings it back."""
        latest = self.find_previous_checkpoint()
        if latest is None:
            return
        if self.autorestore:
            self.pending_restore = latest
            return
        if self.recoverable is None:
            # Already restored or superseded (the extension's Restore, a %checkpoint).
            return
        # Autosaving this new, empty session would bury the checkpoint the user may want.
        self._autosave_paused = self.autosaver.enabled
        self.autosaver.enabled = False
        paused = (
            " (autosave paused until you %restore or %checkpoint)" if self._autosave_paused else ""
        )
        print(
            f"elastic: this session has a checkpoint from an earlier kernel process "
            f"({latest.rstrip('/').rsplit('/', 1)[-1]}); run %restore to bring it back{paused}",
            file=sys.stderr,
        )

    def _resume_autosave(self) -> None:
        self.recoverable = None
        if self._autosave_paused:
            self._autosave_paused = False
            self.autosaver.enabled = self.autosave > 0

    def _restore_pending(self) -> None:
        """Restore the checkpoint a restart with state left, before the first cell runs."""
        url, self.pending_restore = self.pending_restore, None
        assert url is not None
        try:
            report = self.start_restore(url)
        except ElasticError as exc:
            print(f"elastic: could not restore the session after restart: {exc}", file=sys.stderr)
            return
        except Exception as exc:
            self.log.error("elastic: restore after restart failed", exc_info=True)
            print(f"elastic: restore after restart failed: {exc!r}", file=sys.stderr)
            return
        from elastic_kernel.background_restore import BackgroundRestore, describe_start

        if isinstance(report, BackgroundRestore):
            print(f"elastic: {describe_start(report)}")
        elif report.ok:
            print(
                f"elastic: session restored from checkpoint {report.checkpoint_id} in "
                f"{report.seconds:.2f} s ({len(report.loaded)} loaded, "
                f"{len(report.recomputed)} recomputed)"
            )
        else:
            print(
                "elastic: session restored INCOMPLETELY after restart:\n  "
                + "\n  ".join(report.problems()),
                file=sys.stderr,
            )

    def _exit_soon(self) -> None:
        """Leave the process once the reply is out; the server's auto-restarter starts a new
        one, which restores the checkpoint the restart left (``%elastic restart``)."""
        self.exit_after_reply = False
        # A timer thread, not the event loop: ipykernel may run cells on a loop other than
        # the one that sends replies.
        timer = threading.Timer(EXIT_DELAY_SECONDS, os._exit, args=(0,))
        timer.daemon = True
        timer.start()

    def _transform(self, code: str) -> str:
        try:
            return str(self.ipython.transform_cell(code))
        except Exception:
            # IPython reports the error itself when it runs the cell.
            return code

    def _start_recording(self, transformed: str, cell_id: str | None) -> PendingExecution | None:
        try:
            return self.recorder.start(
                transformed, execution_count=self.ipython.execution_count, cell_id=cell_id
            )
        except Exception:
            # Monitoring must never break a cell: record the cell as unknown afterwards.
            self.log.warning("elastic: lineage capture failed before the cell", exc_info=True)
            return None

    def _finish_recording(
        self,
        pending: PendingExecution | None,
        code: str,
        cell_id: str | None,
        reply: dict[str, Any],
        duration: float,
    ) -> None:
        ok = reply.get("status") == "ok"
        count = reply.get("execution_count")
        if pending is not None:
            try:
                self.recorder.finish(pending, ok=ok)
                return
            except Exception:
                self.log.warning("elastic: lineage capture failed after the cell", exc_info=True)
                self.recorder.abandon(pending)
        try:
            self.recorder.record_unknown(
                pending.code if pending is not None else code,
                ok=ok,
                duration=duration,
                reason="see the kernel log",
                execution_count=count,
                cell_id=cell_id,
            )
        except Exception:
            self.log.error("elastic: could not record the cell at all", exc_info=True)


def _created_from_id(checkpoint_id: str) -> str | None:
    """ISO time a checkpoint id encodes (ids start with their UTC creation time)."""
    try:
        moment = datetime.strptime(checkpoint_id.split("-", 1)[0], "%Y%m%dT%H%M%S.%fZ")
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc).isoformat()


def _import_checkpointing() -> None:
    import elastic_kernel.checkpoint
    import elastic_kernel.restore  # noqa: F401
