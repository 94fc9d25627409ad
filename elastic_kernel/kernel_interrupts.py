"""Interrupts that never cost a reply or the process.

ipykernel lets a KeyboardInterrupt that lands in its own code around a cell escape the execute
handler, and then never replies; and a KeyboardInterrupt raised inside the change-detection
audit hook propagates into whatever native code emitted the audit event (C++ extensions then
abort the process). This layer closes both gaps.
"""

from __future__ import annotations

import signal
from typing import Any

from ipykernel.ipkernel import IPythonKernel

from elastic_kernel.lineage.effects import interrupt_outside_audit_hook

__all__ = ["InterruptSafeKernel"]


class InterruptSafeKernel(IPythonKernel):  # type: ignore[misc]
    """Every execute request gets its reply, whenever the interrupt lands."""

    # The request whose reply ipykernel is sending (set right before it is sent).
    _replying_to: str | None = None

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

    def finish_metadata(
        self, parent: dict[str, Any], metadata: dict[str, Any], reply_content: dict[str, Any]
    ) -> dict[str, Any]:
        # Called right before the reply is sent: from here on the reply is ipykernel's.
        self._replying_to = parent.get("header", {}).get("msg_id")
        result: dict[str, Any] = super().finish_metadata(parent, metadata, reply_content)
        return result

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
