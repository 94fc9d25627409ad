"""The cost model learns from checkpoints: actual group sizes replace estimates."""

from __future__ import annotations

from elastic_kernel.checkpoint import plan_session
from elastic_kernel.lineage import CellRecorder
from elastic_kernel.planner import CostModel


def test_actual_sizes_of_the_previous_checkpoint_replace_estimates() -> None:
    ns: dict[str, object] = {"__name__": "__main__"}
    recorder = CellRecorder(ns, hidden=set())
    for code in ("a = list(range(1000))", "b = {'k': 'v'}"):
        pending = recorder.start(code)
        exec(code, ns)
        recorder.finish(pending, ok=True)
    costs = CostModel(1e8, 1e8)
    estimated = plan_session(ns, recorder.graph, costs).plan.decision("a").size_bytes
    refined = plan_session(
        ns, recorder.graph, costs, actual_sizes={frozenset({"a"}): 10 * estimated}
    ).plan.decision("a")
    assert refined.size_bytes == 10 * estimated
    assert plan_session(ns, recorder.graph, costs).plan.decision("b").size_bytes > 0
