"""Line magics: ``%elastic graph|status`` (and, with the store and planner, checkpoint/restore)."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_magic, magics_class

from elastic_kernel.errors import ElasticError
from elastic_kernel.lineage.display import format_graph_text

if TYPE_CHECKING:
    from elastic_kernel.kernel import ElasticKernel

__all__ = ["ElasticMagics"]

USAGE = """Usage:
  %elastic graph [--json]   the Application History Graph recorded so far
  %elastic status           store, session key, cells recorded, monitoring overhead
"""


@magics_class
class ElasticMagics(Magics):  # type: ignore[misc]
    """The ``%elastic`` family of magics, bound to one kernel."""

    def __init__(self, shell: Any, kernel: ElasticKernel) -> None:
        super().__init__(shell=shell)
        self.kernel = kernel

    @line_magic  # type: ignore[misc]
    def elastic(self, line: str) -> None:
        """Inspect the elastic kernel: ``%elastic graph [--json]``, ``%elastic status``."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            print(f"%elastic: {exc}\n{USAGE}")
            return
        command, args = (words[0], words[1:]) if words else ("", [])
        handlers = {"graph": self._graph, "status": self._status}
        handler = handlers.get(command)
        if handler is None:
            print(USAGE if not command else f"%elastic: unknown command {command!r}\n{USAGE}")
            return
        try:
            handler(args)
        except ElasticError as exc:
            print(f"{type(exc).__name__}: {exc}")

    def _graph(self, args: list[str]) -> None:
        graph = self.kernel.recorder.graph
        if "--json" in args:
            print(json.dumps(graph.to_json(), indent=1))
        else:
            print(format_graph_text(graph), end="")

    def _status(self, args: list[str]) -> None:
        kernel = self.kernel
        recorder = kernel.recorder
        cells = len(recorder.graph)
        per_cell = recorder.overhead_seconds / cells * 1000 if cells else 0.0
        print(
            f"store:        {kernel.store}\n"
            f"session key:  {kernel.session_key}\n"
            f"alpha:        {kernel.alpha:g}\n"
            f"cells:        {cells} recorded, {len(recorder.graph.live())} live variables\n"
            f"overhead:     {recorder.overhead_seconds:.3f} s in all, {per_cell:.2f} ms per cell"
        )
