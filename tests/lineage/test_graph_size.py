"""The AHG's memory grows with the number of executions, not with the data: 2000 recorded
cells stay far below the paper's 4 MB (measured with tracemalloc, not time)."""

from __future__ import annotations

import json
import tracemalloc

from elastic_kernel.lineage import CellRecorder

CELLS = 2000


def test_graph_of_2000_executions_is_small() -> None:
    ns: dict[str, object] = {"__name__": "__main__"}
    recorder = CellRecorder(ns, hidden=set())
    cells = [
        "import math\ndata = list(range(100))",
        "total = sum(data)",
        "data.append(total % 7)",
        "def f(x):\n    return x + total\nres = f(3)",
        "big = [list(range(1000)) for _ in range(5)]",
        "del res\nres = math.sqrt(total)",
    ]
    tracemalloc.start()
    try:
        for i in range(CELLS):
            code = cells[i % len(cells)]
            pending = recorder.start(code, execution_count=i + 1)
            exec(compile(code, f"<cell {i}>", "exec"), ns)
            recorder.finish(pending, ok=True)
        graph_bytes = len(json.dumps(recorder.graph.to_json()))
        snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    lineage = sum(
        stat.size
        for stat in snapshot.statistics("filename")
        if "elastic_kernel/lineage/graph.py" in stat.traceback[0].filename
        or "elastic_kernel/lineage/recorder.py" in stat.traceback[0].filename
    )
    assert len(recorder.graph) == CELLS
    # The paper's AHG was < 4 MB at 2000 cell executions.
    assert lineage < 4 * 2**20, lineage
    assert graph_bytes < 4 * 2**20, graph_bytes
