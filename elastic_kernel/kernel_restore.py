"""The kernel side of a background restore: waiting before cells, applying loaded groups between
cells, completions of names still loading, and telling the user and frontends how it went."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ipykernel.ipkernel import IPythonKernel

from elastic_kernel import config

if TYPE_CHECKING:
    # Imported when a restore starts: they pull in the planner and the store.
    from elastic_kernel.background_restore import BackgroundRestore
    from elastic_kernel.lineage.recorder import CellRecorder
    from elastic_kernel.restore import RestoreReport
    from elastic_kernel.session import ElasticSession

__all__ = ["INTERRUPTED_BEFORE", "INTERRUPTED_WAITING", "RestoringKernel", "complete_pending"]

# A name being typed at the end of the text before the cursor (not an attribute).
IDENTIFIER_AT_END = re.compile(r"(?<![.\w])[A-Za-z_]\w*$")


INTERRUPTED_WAITING = (
    "interrupted while waiting for variables being restored; the restore goes on in the background"
)
INTERRUPTED_BEFORE = "interrupted before the cell started; it did not run"


class RestoringKernel(IPythonKernel):  # type: ignore[misc]
    """Starts restores as ``restore_mode`` says and serves a running background restore."""

    elastic: ElasticSession
    recorder: CellRecorder
    restore_mode: str
    # Whether a cell is running (loaded groups are applied only between cells), and what the
    # next cell must tell the user about the restore.
    _in_cell: bool = False
    _restore_messages: list[str]

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

    def _interrupted_reply(self, why: str) -> dict[str, Any]:
        """The reply of a cell interrupted before its code started (it did not run)."""
        error = {"ename": "KeyboardInterrupt", "evalue": why, "traceback": []}
        self.send_response(self.iopub_socket, "error", error)
        shell = self.shell
        assert shell is not None
        return {
            "status": "error",
            "execution_count": shell.execution_count,
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
        position = len(code) if cursor_pos is None else cursor_pos
        return complete_pending(reply, code, position, background.pending_names())


def complete_pending(
    reply: dict[str, Any], code: str, cursor_pos: int, pending: Iterable[str]
) -> dict[str, Any]:
    """A completion reply extended with the still-loading names matching the word at the cursor
    (they are variables of the session, just not in the namespace yet)."""
    word = IDENTIFIER_AT_END.search(code[:cursor_pos])
    if word is None:
        return reply
    matches = list(reply.get("matches") or [])
    extra = [n for n in pending if n.startswith(word.group()) and n not in matches]
    if not extra:
        return reply
    if matches and reply.get("cursor_start") != word.start():
        # IPython completes something else here (a path, a key): leave it alone.
        return reply
    reply = dict(reply, matches=matches + extra, cursor_start=word.start(), cursor_end=cursor_pos)
    metadata = dict(reply.get("metadata") or {})
    typed = metadata.get("_jupyter_types_experimental")
    if isinstance(typed, list):
        metadata["_jupyter_types_experimental"] = typed + [
            {"start": word.start(), "end": cursor_pos, "text": n, "type": "instance"} for n in extra
        ]
        reply["metadata"] = metadata
    return reply
