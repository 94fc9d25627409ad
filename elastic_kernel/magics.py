"""Line magics: ``%checkpoint``, ``%restore`` and ``%elastic graph|plan|status``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.display import display

from elastic_kernel.errors import ElasticError, RestoreError
from elastic_kernel.lineage.display import format_graph_text

if TYPE_CHECKING:
    from elastic_kernel.background_restore import BackgroundRestore
    from elastic_kernel.checkpoint import CheckpointResult
    from elastic_kernel.kernel import ElasticKernel
    from elastic_kernel.store import ProgressEvent

__all__ = ["ElasticMagics"]

USAGE = """Usage:
  %checkpoint [URL] [--mode M]   store the session (M: balanced, fast-migrate, fast-restore,
                                 store-all, rerun-all, or a number = alpha)
  %restore [URL] [--trust] [--wait]  restore the latest checkpoint of this session (or URL);
                                 it loads in the background unless --wait (or
                                 ELASTIC_RESTORE=blocking)
  %elastic plan [--mode M] [--url URL]  the plan a checkpoint would use now
  %elastic graph [--json]        the Application History Graph recorded so far
  %elastic status [--json]       store, session key, cells recorded, overhead, last checkpoint,
                                 background restore progress
  %elastic autosave on|off|every N   background checkpoints after cells
  %elastic restart [--mode M]    checkpoint, restart the kernel process, restore the state
"""

PROGRESS_AFTER_SECONDS = 1.0


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # type: ignore[override]
        raise _UsageError(message)


class _Progress:
    """Prints progress lines, but only for work that has already lasted a second."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.last = 0.0

    def line(self, text: str) -> None:
        now = time.perf_counter()
        if now - self.started >= PROGRESS_AFTER_SECONDS and now - self.last >= 0.5:
            self.last = now
            print(f"  … {text}", flush=True)

    def event(self, event: ProgressEvent) -> None:
        from elastic_kernel.units import format_bytes

        if event.stage == "write" and event.total_bytes:
            self.line(
                f"group {event.group}: {format_bytes(event.done_bytes)} of "
                f"{format_bytes(event.total_bytes)} written"
            )
        elif event.stage in ("serialize", "reuse"):
            self.line(f"group {event.group}: {event.stage}")


class _Html:
    """Shows as HTML in notebooks and as text elsewhere."""

    def __init__(self, text: str, html: str) -> None:
        self.text, self.html = text, html

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return self.html


@magics_class
class ElasticMagics(Magics):  # type: ignore[misc]
    """The elastic magics, bound to one kernel."""

    def __init__(self, shell: Any, kernel: ElasticKernel) -> None:
        super().__init__(shell=shell)
        self.kernel = kernel
        # IPython's own %whos, which ours extends with the variables still being restored.
        self._builtin_whos = shell.find_line_magic("whos")

    @line_magic  # type: ignore[misc]
    def whos(self, line: str) -> None:
        """IPython's ``%whos``, followed by the variables a background restore still loads."""
        if self._builtin_whos is not None:
            self._builtin_whos(line)
        background = self.kernel.elastic.background
        loading = background.pending_names() if background is not None else []
        if loading:
            print(f"Still being restored (appear when loaded): {', '.join(loading)}")

    @line_magic  # type: ignore[misc]
    def checkpoint(self, line: str) -> None:
        """``%checkpoint [URL] [--mode M]``: store the session."""
        self._checkpoint(line)

    def _checkpoint(self, line: str) -> CheckpointResult | None:
        from elastic_kernel.units import format_bytes

        parser = _Parser(prog="%checkpoint", add_help=False)
        parser.add_argument("url", nargs="?")
        parser.add_argument("--mode", default="balanced")
        args = self._parse(parser, line)
        if args is None:
            return None
        progress = _Progress()
        try:
            result = self.kernel.elastic.checkpoint(
                url=args.url, mode=args.mode, progress=progress.event
            )
        except ElasticError as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            raise
        plan = result.plan
        manifest = result.manifest
        print(f"Checkpoint {manifest.checkpoint_id} written to {manifest.url}")
        print(
            f"  stored     {len(result.stored)} variables, {format_bytes(result.bytes_stored)}"
            + (f": {', '.join(result.stored)}" if result.stored else "")
        )
        cells = ", ".join(f"[{self._count(i)}]" for i in plan.rerun)
        print(
            f"  recompute  {len(result.recomputed)} variables"
            + (f": {', '.join(result.recomputed)} (re-running cells {cells})" if cells else "")
        )
        if result.lost:
            print(f"  LOST       {', '.join(result.lost)}: cannot be stored nor recomputed")
            for group in plan.lost:
                print(f"             {', '.join(group.names)}: {group.reason}")
        for note in result.notes:
            print(f"  note       {note}")
        print(
            f"  took {result.seconds:.3f} s; estimated restore "
            f"{plan.totals.restore_seconds:.3f} s (re-running everything: "
            f"{plan.rerun_all.restore_seconds:.3f} s)"
        )
        return result

    @line_magic  # type: ignore[misc]
    def restore(self, line: str) -> None:
        """``%restore [URL] [--trust]``: restore the latest checkpoint of this session."""
        parser = _Parser(prog="%restore", add_help=False)
        parser.add_argument("url", nargs="?")
        parser.add_argument("--trust", action="store_true")
        parser.add_argument("--wait", action="store_true")
        args = self._parse(parser, line)
        if args is None:
            return
        progress = _Progress()
        try:
            if args.wait or self.kernel.restore_mode == "blocking":
                report = self.kernel.elastic.restore(
                    args.url, trust=args.trust, progress=progress.line
                )
            else:
                from elastic_kernel.background_restore import BackgroundRestore

                started = self.kernel.start_restore(args.url, trust=args.trust)
                if isinstance(started, BackgroundRestore):
                    self._print_started(started)
                    return
                report = started
        except ElasticError as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            raise
        print(
            f"Restored checkpoint {report.checkpoint_id} in {report.seconds:.3f} s: "
            f"{len(report.loaded)} loaded ({report.load_seconds:.3f} s), "
            f"{len(report.recomputed)} recomputed by re-running {len(report.rerun_cells)} "
            f"cells ({report.rerun_seconds:.3f} s)"
        )
        for note in report.notes:
            print(f"  note: {note}")
        if report.drifted:
            print(
                "  loaded intact, but their classes' pickling leaves some state out: "
                + ", ".join(report.drifted)
            )
        if report.unverified:
            print(f"  not verifiable (no fingerprint): {', '.join(report.unverified)}")
        if not report.ok:
            problems = report.problems()
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            raise RestoreError(
                f"restore incomplete: {len(problems)} variable(s) lost or different: "
                + ", ".join(p.split(":")[0] for p in problems)
            )
        print("  all other variables verified against their checkpoint fingerprints")

    @staticmethod
    def _print_started(started: BackgroundRestore) -> None:
        from elastic_kernel.background_restore import describe_start

        text = describe_start(started)
        print(text[0].upper() + text[1:])
        lost = [(n, g.reason) for g in started.plan.lost for n in g.names]
        for name, reason in lost:
            print(f"  {name}: lost ({reason})", file=sys.stderr)
        if lost:
            # Known before anything loads: the cell fails now, the rest goes on restoring.
            raise RestoreError(
                f"restore incomplete: {len(lost)} variable(s) lost or different: "
                + ", ".join(name for name, _ in lost)
            )

    @line_magic  # type: ignore[misc]
    def elastic(self, line: str) -> None:
        """``%elastic graph|plan|status``: inspect the elastic kernel."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            print(f"%elastic: {exc}\n{USAGE}")
            return
        command, args = (words[0], words[1:]) if words else ("", [])
        handlers = {
            "graph": self._graph,
            "status": self._status,
            "plan": self._plan,
            "restart": self._restart,
            "autosave": self._autosave,
        }
        handler = handlers.get(command)
        if handler is None:
            print(USAGE if not command else f"%elastic: unknown command {command!r}\n{USAGE}")
            return
        try:
            handler(args)
        except ElasticError as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)

    def _count(self, index: int) -> str:
        executions = self.kernel.recorder.graph.executions
        count = executions[index].execution_count if index < len(executions) else None
        return str(count) if count is not None else f"#{index}"

    @staticmethod
    def _parse(parser: _Parser, line: str) -> argparse.Namespace | None:
        try:
            return parser.parse_args(shlex.split(line))
        except (_UsageError, ValueError) as exc:
            print(f"{parser.prog}: {exc}\n{USAGE}", file=sys.stderr)
            return None

    def _graph(self, args: list[str]) -> None:
        self.kernel.elastic.wait_for_restore()
        graph = self.kernel.recorder.graph
        if "--json" in args:
            print(json.dumps(graph.to_json(), indent=1))
        else:
            print(format_graph_text(graph), end="")

    def _plan(self, args: list[str]) -> None:
        parser = _Parser(prog="%elastic plan", add_help=False)
        parser.add_argument("--mode", "--alpha", dest="mode", default="balanced")
        parser.add_argument("--url")
        parser.add_argument("--json", action="store_true")
        parsed = self._parse(parser, shlex.join(args))
        if parsed is None:
            return
        from elastic_kernel.planner import format_plan_html, format_plan_text

        planned = self.kernel.elastic.plan(url=parsed.url, mode=parsed.mode)
        graph = self.kernel.recorder.graph
        if parsed.json:
            print(json.dumps(planned.plan.to_json(), indent=1))
            return
        display(_Html(format_plan_text(planned.plan, graph), format_plan_html(planned.plan, graph)))

    def _restart(self, args: list[str]) -> None:
        """Checkpoint, then end this process; the next one restores before its first cell."""
        result = self._checkpoint(shlex.join(args))
        if result is None:
            return
        self.kernel.elastic.mark_pending_restore(result.manifest.url)
        self.kernel.exit_after_reply = True
        print(
            "Restarting the kernel process; the new one restores this checkpoint before "
            "running the next cell."
        )

    def _autosave(self, args: list[str]) -> None:
        """``%elastic autosave on|off|every N``."""
        from elastic_kernel.config import parse_autosave

        words = [w for w in args if w != "every"]
        if len(words) != 1:
            print(f"%elastic autosave: expected on, off or every N\n{USAGE}", file=sys.stderr)
            return
        try:
            every = parse_autosave(words[0])
        except ValueError as exc:
            print(f"%elastic autosave: {exc}", file=sys.stderr)
            return
        self.kernel.autosave = every
        state = f"on, every {every} cell(s)" if every else "off"
        print(f"autosave {state}")

    def _status(self, args: list[str]) -> None:
        from elastic_kernel.units import format_bytes

        kernel = self.kernel
        data = kernel.elastic.status()
        data["autosave"] = kernel.autosaver.status()
        if "--json" in args:
            print(json.dumps(data, indent=1, default=str))
            return
        cells = data["cells"]
        per_cell = data["overhead_seconds"] / cells * 1000 if cells else 0.0
        last = data["last_checkpoint"]
        last_text = (
            f"{last['checkpoint_id']} ({format_bytes(last['bytes'])}, "
            f"{last['seconds']:.3f} s) at {last['url']}"
            if last is not None
            else "none in this process"
        )
        autosave = data["autosave"]
        autosave_text = (
            "off"
            if not autosave["enabled"]
            else f"every {autosave['every']} cell(s): {autosave['written']} written "
            f"({format_bytes(autosave['bytes_written'])}, {autosave['write_seconds']:.2f} s in "
            f"the background), {autosave['failed']} failed, {autosave['coalesced']} coalesced, "
            f"{autosave['skipped']} skipped"
            + (", one running" if autosave["running"] else "")
            + (f" (last skip {autosave['last_skip']})" if autosave["last_skip"] else "")
            + (
                f"; last after cell #{autosave['last_cell']}"
                if autosave["last_cell"] is not None
                else ""
            )
        )
        print(
            f"restore:         {_restore_text(data.get('restore'))}\n"
            f"store:           {data['store']}\n"
            f"session key:     {data['session_key']}\n"
            f"alpha:           {data['alpha']:g}\n"
            f"cells:           {cells} recorded, {data['live_variables']} live variables\n"
            f"overhead:        {data['overhead_seconds']:.3f} s in all, "
            f"{per_cell:.2f} ms per cell\n"
            f"effects:         {_hook_text(data['audit_hook'])}\n"
            f"last checkpoint: {last_text}\n"
            f"autosave:        {autosave_text}"
        )


def _hook_text(kind: str | None) -> str:
    """How the kernel watches a cell's files, processes and sockets."""
    if kind == "c":
        return "audit events filtered in C"
    if kind == "python":
        return (
            "audit hook in Python (the C one was not built: no compiler at install), so code "
            "calling id() a lot runs slower"
        )
    return "not watching yet"


def _restore_text(progress: dict[str, Any] | None) -> str:
    """The status line of a background restore."""
    from elastic_kernel.units import format_bytes

    if progress is None:
        return "none running"
    loading = progress["names_loading"]
    state = "done" if progress["state"] == "done" else "in the background"
    text = (
        f"{progress['checkpoint_id']} {state}: {progress['groups_loaded']} of "
        f"{progress['groups_total']} groups loaded ({format_bytes(progress['bytes_loaded'])} of "
        f"{format_bytes(progress['bytes_total'])}), {progress['reruns_done']} of "
        f"{progress['reruns_total']} re-runs done"
    )
    if loading:
        text += f"; waiting: {', '.join(loading)}"
    if progress["errors"]:
        text += f"; FAILED: {', '.join(sorted(progress['errors']))}"
    return text
