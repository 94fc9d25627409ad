"""Restart with state the way Jupyter does it (KernelManager + auto-restarter): how fast the new
process answers kernel_info (restore waits for the first execute) and how long that first
execute takes (it includes the restore). Writes ``benchmarks/results/restart.md``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from _kernels import ROOT, isolated_jupyter, machine_description

from tests.kernel.test_restart import restartable_kernel, run_cell

RESULTS = ROOT / "benchmarks" / "results"


async def one_restart(store: Path, size_mb: int) -> dict[str, float]:
    env = dict(os.environ, ELASTIC_STORE=str(store), ELASTIC_AUTOSAVE="0")
    async with restartable_kernel(env) as kernel:
        await run_cell(kernel.kc, f"import numpy as np\nstate = np.random.rand({size_mb} * 2**17)")
        started = time.perf_counter()
        await kernel.restart_with_state()
        info = await kernel.kernel_info_seconds()
        first_started = time.perf_counter()
        _, out = await run_cell(kernel.kc, "print(state.shape)")
        first = time.perf_counter() - first_started
        assert "session restored" in out or "restoring checkpoint" in out, out
        return {
            "kernel_info_s": info,
            "first_cell_s": first,
            "total_s": time.perf_counter() - started,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=256)
    args = parser.parse_args()
    runs = []
    with isolated_jupyter(), tempfile.TemporaryDirectory(prefix="elastic-restart-") as tmp:
        for i in range(args.repeats):
            runs.append(asyncio.run(one_restart(Path(tmp) / f"s{i}", args.size_mb)))
            print(json.dumps(runs[-1]), flush=True)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    worst = {k: max(r[k] for r in runs) for k in runs[0]}
    machine = machine_description()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "restart.json").write_text(json.dumps({"machine": machine, "runs": runs}, indent=1))
    lines = [
        "# Restart with state (`%elastic restart` through jupyter_client's auto-restarter)",
        "",
        f"Machine: {machine}. Command: `python benchmarks/restart.py --repeats {args.repeats} "
        f"--size-mb {args.size_mb}`; a session holding a {args.size_mb} MB numpy array.",
        "",
        "| measure | median s | worst s |",
        "|---|---:|---:|",
        f"| kernel_info answered by the new process | {med['kernel_info_s']:.3f} | "
        f"{worst['kernel_info_s']:.3f} |",
        f"| first cell (waits for the restore) | {med['first_cell_s']:.3f} | "
        f"{worst['first_cell_s']:.3f} |",
        f"| `%elastic restart` to first result | {med['total_s']:.3f} | {worst['total_s']:.3f} |",
        "",
        "Target (issue 7): kernel_info within 1 s of the new process starting.",
    ]
    (RESULTS / "restart.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
