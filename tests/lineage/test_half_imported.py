"""Recording a cell while another thread is still importing numpy.

A background restore or a user's thread may be half-way through ``import numpy`` when a cell
ends: the module is then in ``sys.modules`` without most of its names. Recording must go on as
if numpy were not imported yet (nothing in the namespace can be a numpy object), not fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib.machinery, json, sys, types

    half = types.ModuleType("numpy")
    half.__spec__ = importlib.machinery.ModuleSpec("numpy", None)
    half.__spec__._initializing = True  # what importlib sets while numpy/__init__.py runs
    half.ndarray = type("ndarray", (), {})  # numpy.core is imported first, generic not yet
    sys.modules["numpy"] = half

    from elastic_kernel.lineage import CellRecorder
    from elastic_kernel.lineage.fingerprint import fingerprint
    from elastic_kernel.lineage.rng import capture_rng_state

    class Point:
        def __init__(self):
            self.xs = [1, 2]

    ns = {"Point": Point}
    recorder = CellRecorder(ns, hidden=set())
    cells = ["p = Point()\\nq = p.xs", "p.xs.append(3)", "n = 1.5", "s = {'k': [p]}"]
    writes = []
    for i, code in enumerate(cells):
        pending = recorder.start(code, execution_count=i + 1)
        exec(code, ns)
        execution = recorder.finish(pending, ok=True)
        writes.append(sorted(v.name for v in execution.writes))
    print(json.dumps({
        "writes": writes,
        "numpy_state": capture_rng_state().numpy,
        "fingerprinted": fingerprint(ns["s"]) is not None,
        "numpy_untouched": sys.modules["numpy"] is half,
    }))
    """
)


def test_recording_goes_on_while_numpy_is_half_imported() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # q aliases p.xs, so mutating it through p writes both.
    assert result["writes"] == [["p", "q"], ["p", "q"], ["n"], ["s"]]
    assert result["numpy_state"] is None
    assert result["fingerprinted"] is True
    assert result["numpy_untouched"] is True
