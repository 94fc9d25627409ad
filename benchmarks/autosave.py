"""What autosave costs the user: added latency at the cell boundary (the fork), background write
throughput, and the extra memory of the copy-on-write child, for sessions from 10 MB to GBs.

Same run, same machine: each size is measured with autosave on and off.
Writes ``benchmarks/results/autosave.md`` and ``autosave.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from _kernels import ROOT, execute, isolated_jupyter, machine_description, timed_cell

from tests.utils import start_kernel, stop_kernel

RESULTS = ROOT / "benchmarks" / "results"
CELLS = ["state[step % len(state)] += 1.0\nstep += 1", "total = float(state[:1000].sum())"]


def sample_children(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """Peak unique memory (USS) of the kernel's autosave children."""
    parent = psutil.Process(pid)
    while not stop.is_set():
        for child in parent.children():
            try:
                peak[0] = max(peak[0], child.memory_full_info().uss)
            except psutil.Error:
                continue
        time.sleep(0.005)


def measure(size_mb: float, autosave: bool, repeats: int, store: Path) -> dict[str, Any]:
    env = dict(
        os.environ,
        ELASTIC_STORE=str(store),
        ELASTIC_SESSION=f"bench-{size_mb:g}-{autosave}",
        ELASTIC_AUTOSAVE="1" if autosave else "0",
    )
    km, kc = start_kernel("elastic", env=env)
    pid = km.provisioner.pid  # type: ignore[union-attr]
    stop, peak = threading.Event(), [0.0]
    sampler = threading.Thread(target=sample_children, args=(pid, stop, peak), daemon=True)
    try:
        setup = f"import numpy as np\nstate = np.random.rand(int({size_mb} * 2**20 // 8))\nstep = 0"
        assert execute(kc, setup, timeout=900).ok
        sampler.start()
        times = [timed_cell(kc, CELLS[i % len(CELLS)]) for i in range(repeats)]
        deadline = time.monotonic() + 600
        while True:
            status = json.loads(execute(kc, "%elastic status --json").stdout)["autosave"]
            if not status["running"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        stop_kernel(km, kc)
    return {"times": times, "status": status, "child_peak_uss": peak[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [10, 100] if args.quick else [10, 100, 1024, 4096]
    repeats = 20 if args.quick else 40
    rows = []
    with isolated_jupyter(), tempfile.TemporaryDirectory(prefix="elastic-autosave-") as tmp:
        for size in sizes:
            off = measure(size, False, repeats, Path(tmp) / "off")
            on = measure(size, True, repeats, Path(tmp) / "on")
            status = on["status"]
            written = max(1, status["written"])
            row = {
                "state_mb": size,
                "cell_off_median_ms": statistics.median(off["times"]) * 1e3,
                "cell_on_median_ms": statistics.median(on["times"]) * 1e3,
                "fork_median_ms": (status["median_boundary_seconds"] or 0) * 1e3,
                "autosaves_written": status["written"],
                "coalesced": status["coalesced"],
                "failed": status["failed"],
                "write_seconds_each": status["write_seconds"] / written,
                "throughput_mb_s": status["bytes_written"]
                / 2**20
                / max(status["write_seconds"], 1e-9),
                "child_peak_uss_mb": on["child_peak_uss"] / 2**20,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = machine_description()
    (RESULTS / "autosave.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    flag = " --quick" if args.quick else ""
    lines = [
        "# Autosave: what continuous checkpoints cost the user",
        "",
        f"Machine: {machine}. Command: `python benchmarks/autosave.py{flag}`; {repeats} cells per "
        "size, each changing one element of the state (so every autosave has new content), "
        "autosave off and on in the same run.",
        "",
        "`fork` is the time the cell boundary spends starting the background checkpoint (the "
        "user's only wait); `write` is the child's time per checkpoint (no fsync: autosaves "
        "guard against the process dying); `child USS` is the child's peak unique memory, the "
        "copy-on-write growth.",
        "",
        "| state | cell median, off ms | cell median, on ms | fork median ms | autosaves "
        "| coalesced | write s each | write MB/s | child USS peak MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['state_mb']} MB | {r['cell_off_median_ms']:.1f} | "
            f"{r['cell_on_median_ms']:.1f} | "
            f"{r['fork_median_ms']:.2f} | {r['autosaves_written']} | {r['coalesced']} | "
            f"{r['write_seconds_each']:.3f} | {r['throughput_mb_s']:.0f} | "
            f"{r['child_peak_uss_mb']:.0f} |"
        )
    lines += ["", "Target (issue 11): median < 5 ms at the cell boundary."]
    (RESULTS / "autosave.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
