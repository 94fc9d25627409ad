"""The ``elastic`` comm target: frontends and scripts ask for checkpoint, restore, plan, status
and restart; every reply goes back on the same comm as ``{"op", "id", "ok", ...}``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from elastic_kernel.errors import ElasticError, RestoreError

if TYPE_CHECKING:
    from elastic_kernel.kernel import ElasticKernel

__all__ = ["COMM_TARGET", "EVENTS_TARGET", "ElasticComm", "notify", "restore_result"]

COMM_TARGET = "elastic"
EVENTS_TARGET = "elastic.events"
log = logging.getLogger(__name__)

Handler = Callable[[Mapping[str, Any]], dict[str, Any]]


class ElasticComm:
    """Routes requests arriving on ``elastic`` comms to the kernel's session, one handler per op."""

    def __init__(self, kernel: ElasticKernel) -> None:
        self.kernel = kernel
        self.handlers: dict[str, Handler] = {
            "checkpoint": self._checkpoint,
            "restore": self._restore,
            "plan": self._plan,
            "status": self._status,
            "restart": self._restart,
        }

    def register(self, comm_manager: Any) -> None:
        comm_manager.register_target(COMM_TARGET, self._on_open)

    def _on_open(self, comm: Any, msg: dict[str, Any]) -> None:
        comm.on_msg(lambda message: self._dispatch(comm, message))
        data = msg.get("content", {}).get("data") or {}
        if "op" in data:
            self._dispatch(comm, msg)

    def _dispatch(self, comm: Any, msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data") or {}
        op, request_id = data.get("op"), data.get("id")
        reply: dict[str, Any] = {"op": op, "id": request_id}
        handler = self.handlers.get(op) if isinstance(op, str) else None
        if handler is None:
            reply.update(
                ok=False,
                error={
                    "type": "UnknownOp",
                    "message": f"unknown op {op!r}; expected one of {sorted(self.handlers)}",
                },
            )
            comm.send(reply)
            return
        try:
            reply.update(ok=True, result=handler(data))
        except RestoreError as exc:
            report = self.kernel.elastic.last_restore
            reply.update(ok=False, error={"type": type(exc).__name__, "message": str(exc)})
            if report is not None:
                reply["result"] = restore_result(report)
        except ElasticError as exc:
            reply.update(ok=False, error={"type": type(exc).__name__, "message": str(exc)})
        except Exception as exc:
            log.error("elastic comm op %r failed", op, exc_info=True)
            reply.update(ok=False, error={"type": type(exc).__name__, "message": str(exc)})
        comm.send(reply)

    def _checkpoint(self, data: Mapping[str, Any]) -> dict[str, Any]:
        result = self.kernel.elastic.checkpoint(
            url=data.get("url"), mode=str(data.get("mode", "balanced"))
        )
        plan = result.plan
        return {
            "checkpoint_id": result.manifest.checkpoint_id,
            "url": result.manifest.url,
            "bytes": result.bytes_stored,
            "seconds": result.seconds,
            "stored": list(result.stored),
            "recomputed": list(result.recomputed),
            "lost": [{"names": list(g.names), "reason": g.reason} for g in plan.lost],
            "rerun": list(plan.rerun),
            "estimated_restore_seconds": plan.totals.restore_seconds,
        }

    def _restore(self, data: Mapping[str, Any]) -> dict[str, Any]:
        from elastic_kernel.background_restore import BackgroundRestore

        report = self.kernel.start_restore(data.get("url"), trust=bool(data.get("trust")))
        if isinstance(report, BackgroundRestore):
            if report.plan.lost:
                # Known before anything loads; the rest goes on restoring.
                lost = [f"{n}: lost ({g.reason})" for g in report.plan.lost for n in g.names]
                raise RestoreError("restore incomplete: " + "; ".join(lost))
            # Started: the outcome comes as a ``restore`` event (``state`` done or failed).
            return {
                "checkpoint_id": report.checkpoint_id,
                "ok": True,
                "state": "running",
                "loading": report.pending_names(),
                "recomputed": list(report.plan.names("recompute")),
                "lost": [
                    {"name": n, "reason": g.reason} for g in report.plan.lost for n in g.names
                ],
                "rerun": list(report.plan.rerun),
            }
        if not report.ok:
            raise RestoreError("restore incomplete: " + "; ".join(report.problems()))
        return restore_result(report)

    def _plan(self, data: Mapping[str, Any]) -> dict[str, Any]:
        from elastic_kernel.planner import format_plan_html, format_plan_text

        planned = self.kernel.elastic.plan(
            url=data.get("url"), mode=str(data.get("mode", "balanced"))
        )
        graph = self.kernel.recorder.graph
        return {
            "plan": planned.plan.to_json(),
            "text": format_plan_text(planned.plan, graph),
            "html": format_plan_html(planned.plan, graph),
        }

    def _status(self, data: Mapping[str, Any]) -> dict[str, Any]:
        kernel = self.kernel
        result = kernel.elastic.status()
        result["autosave"] = kernel.autosaver.status()
        # A frontend that connects after the ``recoverable`` event still learns about it; the
        # lookup runs in the warm-up thread, so a status asked at once waits for it.
        kernel.autosaver.wait_until_warm()
        kernel.find_previous_checkpoint()
        result["recoverable"] = kernel.recoverable
        return result

    def _restart(self, data: Mapping[str, Any]) -> dict[str, Any]:
        result = self._checkpoint(data)
        self.kernel.elastic.mark_pending_restore(result["url"])
        result["pending_restore"] = True
        return result


def notify(event: str, **data: Any) -> None:
    """Tell every frontend that something happened without being asked (a restore finished in
    the background, a crash left an autosave): the kernel opens a comm to target
    ``elastic.events`` with ``{"event": event, ...data}`` and closes it at once.

    A frontend without that target simply closes the comm; nothing waits for an answer, and a
    failure to send is logged, never raised, because events are a courtesy.
    """
    try:
        from comm import create_comm

        channel = create_comm(target_name=EVENTS_TARGET, data={"event": event, **data})
        channel.close()
    except Exception:
        log.warning("elastic: could not send the %r event", event, exc_info=True)


def restore_result(report: Any) -> dict[str, Any]:
    """What the restore op returns (and the ``restore`` event with ``state="done"`` carries)."""
    return {
        "checkpoint_id": report.checkpoint_id,
        "ok": report.ok,
        "loaded": list(report.loaded),
        "recomputed": list(report.recomputed),
        "lost": [{"name": n, "reason": r} for n, r in report.lost],
        "mismatched": list(report.mismatched),
        "seconds": report.seconds,
    }
