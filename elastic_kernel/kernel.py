"""ElasticKernel: the stock IPython kernel plus lineage recording, checkpoint and restore.

This module only wires things together: the algorithms live in ``lineage``, ``planner``,
``store`` and ``restore``.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ipykernel.ipkernel import IPythonKernel
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets import Bool, Float, Int, TraitError, Unicode, default, observe, validate

from elastic_kernel import __version__, config
from elastic_kernel.autosave import Autosaver
from elastic_kernel.comm import ElasticComm
from elastic_kernel.errors import ElasticError
from elastic_kernel.lineage.analysis import is_tooling_cell
from elastic_kernel.lineage.effects import interrupt_outside_audit_hook
from elastic_kernel.lineage.recorder import CellRecorder, PendingExecution
from elastic_kernel.magics import ElasticMagics
from elastic_kernel.session import ElasticSession, SessionSettings

if TYPE_CHECKING:
    # Imported when a restore starts: they pull in the planner and the store.
    from elastic_kernel.background_restore import BackgroundRestore
    from elastic_kernel.restore import RestoreReport

__all__ = ["ElasticKernel"]

# Magics that checkpoint or restore (`%elastic status` and `graph` need none of that machinery,
# which costs ~40 MB of imports).
NEEDS_MACHINERY = re.compile(
    r"run_line_magic\(['\"](checkpoint|restore)['\"]"
    r"|run_line_magic\(['\"]elastic['\"], ['\"]\s*(plan|restart)"
)
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

    autosave_max_memory = Int(
        help=(
            "Extra memory (bytes) a background checkpoint may cost: the copy-on-write pages of "
            "the forked writer. Past it the writer is killed and that autosave skipped (see "
            f"%elastic status). 0 = no cap. Default: ${config.ENV_AUTOSAVE_MAX_MEMORY} (2G, "
            "512M or bytes), else a quarter of the machine's RAM."
        )
    ).tag(config=True)

    autosave_max_disk = Int(
        help=(
            "Disk (bytes) this session's autosaves may occupy in the store; an autosave that "
            "would exceed it, or not fit in a local store's free space, is skipped. The two "
            f"newest autosaves are kept. 0 = no budget. Default: ${config.ENV_AUTOSAVE_MAX_DISK} "
            "(10G, 512M or bytes), else 0."
        )
    ).tag(config=True)

    @default("autosave_max_memory")
    def _default_autosave_max_memory(self) -> int:
        # A quarter of RAM: room for a cell that rewrites a large share of the state while its
        # previous version is being written, without inviting the OOM killer.
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return _env_bytes(config.ENV_AUTOSAVE_MAX_MEMORY, ram // 4)

    @default("autosave_max_disk")
    def _default_autosave_max_disk(self) -> int:
        return _env_bytes(config.ENV_AUTOSAVE_MAX_DISK, 0)

    restore_mode = Unicode(
        help=(
            "How %restore, the comm restore op and restart with state restore: 'background' "
            "returns at once and loads on a thread, each cell waiting only for the variables "
            "it reads; 'blocking' returns when everything is back. Default: "
            f"${config.ENV_RESTORE}, else background."
        )
    ).tag(config=True)

    @default("restore_mode")
    def _default_restore_mode(self) -> str:
        raw = os.environ.get(config.ENV_RESTORE)
        if not raw:
            return "background"
        try:
            return config.parse_restore_mode(raw)
        except ValueError as exc:
            raise TraitError(f"{config.ENV_RESTORE}: {exc}") from None

    @validate("restore_mode")
    def _validate_restore_mode(self, proposal: dict[str, Any]) -> str:
        try:
            return config.parse_restore_mode(str(proposal["value"]))
        except ValueError as exc:
            raise TraitError(str(exc)) from None

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

    @observe("autosave_max_memory")
    def _autosave_max_memory_changed(self, change: dict[str, Any]) -> None:
        saver = getattr(self, "autosaver", None)
        if saver is not None:
            saver.max_memory = change["new"] or None

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
            lambda: self.elastic.autosave_checkpoint(max_disk=self.autosave_max_disk or None),
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

    async def execute_request(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        """ipykernel's handler, plus a reply when an interrupt escapes it.

        ipykernel lets a KeyboardInterrupt that lands in its own code around the cell (publishing
        the input, before ``do_execute`` runs) escape the handler, and then never replies: the
        frontend waits forever. Cells that start with a slow magic make that window wide.
        """
        msg_id = parent.get("header", {}).get("msg_id")
        try:
            await super().execute_request(stream, ident, parent)
        except KeyboardInterrupt:
            if self._replying_to == msg_id:
                raise
            self.log.warning("elastic: interrupted outside the cell; replying with the error")
            self._reply_interrupted(stream, ident, parent)

    def pre_handler_hook(self) -> None:
        # ipykernel installs Python's default SIGINT handler around every shell message; ours
        # differs only inside the change-detection audit hook (see its docstring).
        self.saved_sigint_handler = signal.signal(signal.SIGINT, interrupt_outside_audit_hook)

    def post_handler_hook(self) -> None:
        super().post_handler_hook()
        # The reply is sent: an autosave forked at the end of the cell may start writing now.
        self.autosaver.release()

    def finish_metadata(
        self, parent: dict[str, Any], metadata: dict[str, Any], reply_content: dict[str, Any]
    ) -> dict[str, Any]:
        # Called right before the reply is sent: from here on the reply is ipykernel's.
        self._replying_to = parent.get("header", {}).get("msg_id")
        result: dict[str, Any] = super().finish_metadata(parent, metadata, reply_content)
        return result

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

    def _reply_interrupted(self, stream: Any, ident: Any, parent: dict[str, Any]) -> None:
        session = self.session
        assert session is not None
        content = parent.get("content", {})
        error = {"ename": "KeyboardInterrupt", "evalue": "", "traceback": []}
        if not content.get("silent", False):
            session.send(self.iopub_socket, "error", error, parent, ident=self._topic("error"))
        reply = {
            "status": "error",
            "execution_count": self.execution_count,
            "user_expressions": {},
            "payload": [],
            **error,
        }
        session.send(stream, "execute_reply", reply, parent, metadata={}, ident=ident)

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
                return self._interrupted_reply()
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

    def start_restore(
        self, url: str | None = None, *, trust: bool = False
    ) -> RestoreReport | BackgroundRestore:
        """Restore as ``restore_mode`` says: a report (blocking) or the running restore."""
        if self.restore_mode == "blocking":
            return self.elastic.restore(url, trust=trust)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Tornado's IOLoop wraps the asyncio loop that runs the shell handlers.
            loop = self.io_loop.asyncio_loop  # type: ignore[attr-defined]
        return self.elastic.start_restore(
            url,
            trust=trust,
            wake=lambda: self._wake_restore(loop),
            on_applied=self._restore_applied,
            on_failure=self._restore_failed,
            on_done=self._restore_done,
            load_delay=config.load_delay_for_tests(),
        )

    def _restore_applied(self, names: list[str]) -> None:
        """Names the restore bound between cells: not the next cell's doing, and indexed for
        alias detection like names a cell wrote."""
        self.recorder.namespace_touched(names)

    def _wait_for_restore(
        self, transformed: str, is_tooling: bool, everything: bool, silent: bool
    ) -> bool:
        """Before a cell: wait for the restoring variables it can read (all of them for
        silent requests and user expressions). False when interrupted while waiting."""
        background = self.elastic.background
        # The kernel's own magics wait themselves where they must (%checkpoint, plan, graph).
        if background is not None and not is_tooling:
            try:
                if everything:
                    background.finish()
                else:
                    background.prepare_cell(transformed)
            except KeyboardInterrupt:
                return False
            except Exception as exc:
                self.log.error("elastic: background restore failed", exc_info=True)
                self._restore_messages.append(f"elastic: background restore failed: {exc!r}")
        if not silent:
            for line in self._restore_messages:
                print(line, file=sys.stderr)
            self._restore_messages.clear()
        return True

    def _interrupted_reply(self) -> dict[str, Any]:
        """The reply of a cell interrupted while it waited for the restore (it did not run)."""
        error = {
            "ename": "KeyboardInterrupt",
            "evalue": "interrupted while waiting for variables being restored; the restore "
            "goes on in the background",
            "traceback": [],
        }
        self.send_response(self.iopub_socket, "error", error)
        return {
            "status": "error",
            "execution_count": self.ipython.execution_count,
            "user_expressions": {},
            "payload": [],
            **error,
        }

    def _wake_restore(self, loop: asyncio.AbstractEventLoop) -> None:
        """From the loading thread: apply what is ready once the kernel is idle."""
        try:
            loop.call_soon_threadsafe(self._restore_step)
        except RuntimeError:
            # The loop is closed: the kernel is shutting down.
            pass

    def _schedule_restore_step(self) -> None:
        if self.elastic.background is not None:
            asyncio.get_running_loop().call_soon(self._restore_step)

    def _restore_step(self) -> None:
        background = self.elastic.background
        if background is None or self._in_cell:
            return
        try:
            background.step()
        except Exception as exc:
            self.log.error("elastic: background restore failed", exc_info=True)
            self._restore_messages.append(f"elastic: background restore failed: {exc!r}")

    def _restore_failed(self, failed: dict[str, str], message: str) -> None:
        from elastic_kernel.comm import notify

        self._restore_messages.append(message)
        background = self.elastic.background
        notify(
            "restore",
            state="failed",
            checkpoint_id=None if background is None else background.checkpoint_id,
            names=sorted(failed),
            errors=failed,
            message=message,
        )

    def _restore_done(self, report: RestoreReport) -> None:
        from elastic_kernel.comm import notify, restore_result

        if not report.ok:
            self._restore_messages.append(
                f"elastic: the background restore of {report.checkpoint_id} is INCOMPLETE:\n  "
                + "\n  ".join(report.problems())
            )
        notify("restore", state="done", **restore_result(report))

    def do_complete(self, code: str, cursor_pos: int | None) -> Any:
        """IPython's completions, plus the variables a background restore is still loading."""
        reply = super().do_complete(code, cursor_pos)
        background = self.elastic.background
        if background is None or not isinstance(reply, dict):
            return reply
        from elastic_kernel.background_restore import complete_pending

        position = len(code) if cursor_pos is None else cursor_pos
        return complete_pending(reply, code, position, background.pending_names())

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


def _env_bytes(name: str, fallback: int) -> int:
    raw = os.environ.get(name)
    try:
        return fallback if raw is None else config.parse_bytes(raw)
    except ValueError as exc:
        raise TraitError(f"{name}: {exc}") from None


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
