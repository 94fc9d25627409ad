"""ElasticKernel: the stock IPython kernel plus lineage recording, checkpoint and restore.

This module only wires things together: the algorithms live in ``lineage``, ``planner``,
``store`` and ``restore``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from ipykernel.ipkernel import IPythonKernel
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets import Bool, Float, Int, TraitError, Unicode, default, observe, validate

from elastic_kernel import __version__, config
from elastic_kernel.autosave import Autosaver
from elastic_kernel.comm import ElasticComm
from elastic_kernel.errors import ElasticError
from elastic_kernel.lineage.analysis import is_tooling_cell
from elastic_kernel.lineage.recorder import CellRecorder, PendingExecution
from elastic_kernel.magics import ElasticMagics
from elastic_kernel.session import ElasticSession, SessionSettings

__all__ = ["ElasticKernel"]

# Time for the execute reply and the idle status to leave before the process exits.
EXIT_DELAY_SECONDS = 0.5


class ElasticKernel(IPythonKernel):  # type: ignore[misc]
    """IPython kernel that records the Application History Graph of every cell."""

    store = Unicode(
        help=(
            "Where checkpoints go: a directory or an fsspec URL (s3://bucket/prefix, memory://x). "
            f"Default: ${config.ENV_STORE}, else <jupyter data dir>/elastic/checkpoints."
        )
    ).tag(config=True)

    session_key = Unicode(
        help=(
            "Key naming this notebook's checkpoints in the store. Default: "
            f"${config.ENV_SESSION}, else ${config.JPY_SESSION_NAME} (the notebook path), else "
            "the connection file name."
        )
    ).tag(config=True)

    alpha = Float(
        help=(
            "Weight of checkpoint time against restore time in the replication plan (1 = both "
            f"equally; large = fast checkpoint; small = fast restore). Default: ${config.ENV_ALPHA}"
            ", else 1."
        )
    ).tag(config=True)

    autosave = Int(
        help=(
            "Checkpoint in the background after every N recorded cells (0 = off). The cell "
            "boundary only pays for a fork; the checkpoint is written by the child process. "
            f"Default: ${config.ENV_AUTOSAVE} (on, off or N), else 1."
        )
    ).tag(config=True)

    autorestore = Bool(
        help=(
            "When the previous process of this session ended without a restart with state "
            "(crash, OOM kill), restore its last checkpoint before the first cell instead of "
            f"only saying it exists. Default: ${config.ENV_AUTORESTORE}=1, else False."
        )
    ).tag(config=True)

    @default("autosave")
    def _default_autosave(self) -> int:
        import os

        raw = os.environ.get(config.ENV_AUTOSAVE)
        if raw is None:
            return 1
        try:
            return config.parse_autosave(raw)
        except ValueError as exc:
            raise TraitError(f"{config.ENV_AUTOSAVE}: {exc}") from None

    @default("autorestore")
    def _default_autorestore(self) -> bool:
        import os

        return os.environ.get(config.ENV_AUTORESTORE, "").strip().lower() in ("1", "true", "on")

    @default("store")
    def _default_store(self) -> str:
        return config.default_store()

    @default("session_key")
    def _default_session_key(self) -> str:
        connection_file = getattr(self.parent, "abs_connection_file", None)
        return config.default_session_key(connection_file)

    @default("alpha")
    def _default_alpha(self) -> float:
        import os

        raw = os.environ.get(config.ENV_ALPHA)
        if raw is None or raw == "":
            return 1.0
        try:
            return float(raw)
        except ValueError:
            raise TraitError(f"{config.ENV_ALPHA}={raw!r} is not a number") from None

    @validate("alpha")
    def _validate_alpha(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not value > 0:
            raise TraitError(f"alpha must be a positive number, got {value!r}")
        return value

    @observe("autosave")
    def _autosave_changed(self, change: dict[str, Any]) -> None:
        saver = getattr(self, "autosaver", None)
        if saver is not None:
            saver.enabled = change["new"] > 0
            saver.every = max(1, change["new"])

    @observe("store", "session_key", "alpha")
    def _settings_changed(self, change: dict[str, Any]) -> None:
        # `%config ElasticKernel.store = ...` takes effect at once.
        session = getattr(self, "elastic", None)
        if session is not None:
            setattr(session.settings, change["name"], change["new"])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        shell = self.ipython
        self.recorder = CellRecorder(shell.user_ns, shell.user_ns_hidden)
        self.elastic = ElasticSession(
            self.recorder,
            SessionSettings(store=self.store, session_key=self.session_key, alpha=self.alpha),
            run_cell=self._rerun_cell,
        )
        shell.register_magics(ElasticMagics(shell=shell, kernel=self))
        ElasticComm(self).register(self.comm_manager)
        # Restart with state: the previous process left a checkpoint to restore. Restoring
        # waits for the first execute request, so kernel_info is answered at once.
        self.pending_restore: str | None = self.elastic.take_pending_restore()
        self.exit_after_reply = False
        self.autosaver = Autosaver(
            self.elastic.autosave_checkpoint,
            every=max(1, self.autosave),
            enabled=self.autosave > 0,
            warm_up=self.elastic.warm_up,
        )
        self._checked_previous_process = self.pending_restore is not None
        self.elastic.on_explicit = self._resume_autosave
        self._autosave_paused = False

    def _rerun_cell(self, code: str, index: int) -> BaseException | None:
        """Re-run a recorded cell in the user namespace, silently (restore)."""
        shell = self.ipython
        with capture_output():
            try:
                # The shell's own __future__ flags, not this module's (``annotations``).
                compiled = compile(
                    code,
                    f"<elastic re-run of execution #{index}>",
                    "exec",
                    flags=shell.compile.flags,
                    dont_inherit=True,
                )
            except SyntaxError:
                # Top-level await and the like: let IPython run it.
                result = shell.run_cell(code, store_history=False, silent=True)
                error = result.error_before_exec or result.error_in_exec
                return error if isinstance(error, BaseException) else None
            try:
                exec(compiled, shell.user_ns)
            except Exception as exc:
                return exc
        return None

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
        try:
            self.autosaver.wait_until_warm()
            transformed = self._transform(code)
            is_tooling = is_tooling_cell(transformed)
            if not self._checked_previous_process:
                self._checked_previous_process = True
                # A first `%restore` or `%checkpoint` already says what the user wants.
                if not is_tooling:
                    self._look_for_previous_process()
            if self.pending_restore is not None:
                self._restore_pending()
            # Completions, widgets, frontend helpers and the kernel's own magics are not part
            # of the notebook's history.
            is_recorded = not (silent or not store_history or is_tooling)
            pending = self._start_recording(transformed, cell_id) if is_recorded else None
        except KeyboardInterrupt:
            # An interrupt meant for the cell arrived before it started: every execute request
            # must still get its reply, so run it unrecorded (IPython handles the interrupt).
            self.log.warning("elastic: interrupted before the cell; it is not recorded")
            if pending is not None:
                self.recorder.abandon(pending)
            is_recorded, pending = False, None
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
        if self.exit_after_reply:
            self._exit_soon()
        return reply

    def _look_for_previous_process(self) -> None:
        """A checkpoint of this session left by an earlier process (it crashed or was killed):
        restore it (``autorestore``) or say that ``%restore`` brings it back."""
        if self.elastic.local_session_dir() is None and not self.autorestore:
            return
        try:
            latest = self.elastic.latest_checkpoint_url()
        except Exception:
            self.log.warning("elastic: could not look for earlier checkpoints", exc_info=True)
            return
        if latest is None:
            return
        if self.autorestore:
            self.pending_restore = latest
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
        if self._autosave_paused:
            self._autosave_paused = False
            self.autosaver.enabled = self.autosave > 0

    def _restore_pending(self) -> None:
        """Restore the checkpoint a restart with state left, before the first cell runs."""
        url, self.pending_restore = self.pending_restore, None
        assert url is not None
        try:
            report = self.elastic.restore(url)
        except ElasticError as exc:
            print(f"elastic: could not restore the session after restart: {exc}", file=sys.stderr)
            return
        except Exception as exc:
            self.log.error("elastic: restore after restart failed", exc_info=True)
            print(f"elastic: restore after restart failed: {exc!r}", file=sys.stderr)
            return
        if report.ok:
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
