"""What autosave costs the user, fork (shipped) against a worker thread (option b of issue 11,
implemented here only): added latency at the cell boundary, slowdown of the next cell while the
background write runs, background write throughput and peak extra memory, for sessions from
10 MB to GBs.

Same run, same machine: each size is measured with autosave off, with the fork autosave, and
with a thread that pickles the state after every cell (guarded by a fingerprint before and
after, so a write torn by the next cell is detected and thrown away).
Writes ``benchmarks/results/autosave.md`` and ``autosave.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from _kernels import (
    ROOT,
    execute,
    isolated_jupyter,
    machine_description,
    timed_cell,
    write_keeping_notes,
)

from tests.utils import start_kernel, stop_kernel

RESULTS = ROOT / "benchmarks" / "results"
MODES = ("off", "fork", "thread")
# Each cell changes one element of the state, so every autosave has new content.
CELL = "state[step % len(state)] += 1.0\nstep += 1"
# Pure Python, so it needs the GIL all the time: what a thread writing in the background takes
# from the user's next cell.
PROBE = (
    "_t = time.perf_counter()\n_s = sum(i * i for i in range(300_000))\n"
    "print(time.perf_counter() - _t)"
)
# Option (b) as a user-level hook: after every cell, a worker thread (one at a time) pickles the
# changed state to the store; an xxh3 fingerprint before and after detects a torn write.
THREAD_HOOK = """
import os as _os, pickle as _pickle, threading as _threading, time as _time, xxhash as _xxhash
_bench = {"boundary": [], "writes": 0, "torn": 0, "seconds": 0.0, "bytes": 0, "worker": None}
def _bench_digest():
    return _xxhash.xxh3_64_hexdigest(memoryview(state).cast("B"))
def _bench_write(path):
    started = _time.perf_counter()
    before = _bench_digest()
    with open(path + ".tmp", "wb") as f:
        _pickle.dump({"state": state, "step": step}, f, protocol=5)
    if _bench_digest() == before:
        _os.replace(path + ".tmp", path)
        _bench["writes"] += 1
        _bench["bytes"] += _os.path.getsize(path)
        _bench["seconds"] += _time.perf_counter() - started
    else:
        _bench["torn"] += 1
def _bench_after_cell(result):
    started = _time.perf_counter()
    worker = _bench["worker"]
    if worker is None or not worker.is_alive():
        worker = _threading.Thread(target=_bench_write, args=(PATH,), daemon=True)
        worker.start()
        _bench["worker"] = worker
    _bench["boundary"].append(_time.perf_counter() - started)
get_ipython().events.register("post_run_cell", _bench_after_cell)
"""


def sample_memory(pid: int, stop: threading.Event, peak: dict[str, float]) -> None:
    """Peak unique memory (USS) of the kernel's autosave children, and peak kernel RSS."""
    parent = psutil.Process(pid)
    while not stop.is_set():
        try:
            peak["rss"] = max(peak["rss"], parent.memory_info().rss)
            for child in parent.children():
                peak["child"] = max(peak["child"], child.memory_full_info().uss)
        except psutil.Error:
            pass
        time.sleep(0.005)


def wait_quiet(kc: Any, mode: str) -> dict[str, Any]:
    """Wait until no background write runs; what it did."""
    deadline = time.monotonic() + 900
    code = {
        "fork": "%elastic status --json",
        "thread": "_w = _bench['worker']\nprint(json.dumps({**{k: v for k, v in _bench.items() "
        "if k != 'worker'}, 'running': bool(_w and _w.is_alive())}))",
        "off": "print('{\"running\": false}')",
    }[mode]
    while True:
        data = json.loads(execute(kc, code, timeout=900).stdout)
        data = data.get("autosave", data)
        if not data["running"] or time.monotonic() > deadline:
            return dict(data)
        time.sleep(0.05)


def measure(size_mb: float, mode: str, repeats: int, store: Path) -> dict[str, Any]:
    env = dict(
        os.environ,
        ELASTIC_STORE=str(store),
        ELASTIC_SESSION=f"bench-{size_mb:g}-{mode}",
        ELASTIC_AUTOSAVE="1" if mode == "fork" else "0",
        # Measure the memory, never cap it here.
        ELASTIC_AUTOSAVE_MAX_MEMORY="1T",
        # Weigh restore time: the plan then stores the state rather than re-running its cells,
        # so every autosave writes the whole state (the worst case for the writer).
        ELASTIC_ALPHA="0.1",
    )
    km, kc = start_kernel("elastic", env=env)
    pid = km.provisioner.pid  # type: ignore[union-attr]
    stop, peak = threading.Event(), {"rss": 0.0, "child": 0.0}
    sampler = threading.Thread(target=sample_memory, args=(pid, stop, peak), daemon=True)
    try:
        setup = (
            "import json, time\nimport numpy as np\n"
            f"state = np.random.rand(int({size_mb} * 2**20 // 8))\nstep = 0"
        )
        assert execute(kc, setup, timeout=900).ok
        if mode == "thread":
            store.mkdir(parents=True, exist_ok=True)
            hook = f"PATH = {str(store / 'state.pickle')!r}\n{THREAD_HOOK}"
            assert execute(kc, hook).ok
        wait_quiet(kc, mode)
        baseline = psutil.Process(pid).memory_info().rss
        sampler.start()
        times, probes = [], []
        for _ in range(repeats):
            times.append(timed_cell(kc, CELL))
            probes.append(float(execute(kc, PROBE, timeout=600).stdout))
        status = wait_quiet(kc, mode)
    finally:
        stop.set()
        stop_kernel(km, kc)
    return {
        "times": times,
        "probes": probes,
        "status": status,
        "child_peak_uss": peak["child"],
        "rss_growth": max(0.0, peak["rss"] - baseline),
    }


def row_of(size: float, mode: str, run: dict[str, Any], off: dict[str, Any]) -> dict[str, Any]:
    status = run["status"]
    if mode == "fork":
        boundary = status["median_boundary_seconds"] or 0.0
        writes, seconds = status["written"], status["write_seconds"]
        written_bytes, extra = status["bytes_written"], run["child_peak_uss"]
        torn = 0
    elif mode == "thread":
        boundary = statistics.median(status["boundary"]) if status["boundary"] else 0.0
        writes, seconds = status["writes"], status["seconds"]
        written_bytes, extra, torn = status["bytes"], run["rss_growth"], status["torn"]
    else:
        boundary, writes, seconds, written_bytes, extra, torn = 0.0, 0, 0.0, 0, 0.0, 0
    return {
        "state_mb": size,
        "mode": mode,
        "cell_median_ms": statistics.median(run["times"]) * 1e3,
        "cell_added_ms": (statistics.median(run["times"]) - statistics.median(off["times"])) * 1e3,
        "boundary_median_ms": boundary * 1e3,
        "next_cell_median_ms": statistics.median(run["probes"]) * 1e3,
        "next_cell_slowdown": statistics.median(run["probes"]) / statistics.median(off["probes"]),
        "writes": writes,
        "torn": torn,
        "write_seconds_each": seconds / max(1, writes),
        "throughput_mb_s": written_bytes / 2**20 / max(seconds, 1e-9),
        "peak_extra_mb": extra / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", help="comma-separated state sizes in MB")
    args = parser.parse_args()
    sizes = [10, 100] if args.quick else [10, 100, 1024, 4096]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with isolated_jupyter(), tempfile.TemporaryDirectory(prefix="elastic-autosave-") as tmp:
        for size in sizes:
            repeats = 20 if args.quick or size > 1024 else 30
            runs = {}
            for mode in MODES:
                runs[mode] = measure(size, mode, repeats, Path(tmp) / mode)
                # Each 4 GB autosave is a new 4 GB blob: free the disk between runs.
                shutil.rmtree(Path(tmp) / mode, ignore_errors=True)
            for mode in MODES:
                row = row_of(size, mode, runs[mode], runs["off"])
                rows.append(row)
                print(json.dumps(row), flush=True)
    write_results(rows, args)


def write_results(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = machine_description()
    (RESULTS / "autosave.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    flag = " --quick" if args.quick else (f" --sizes {args.sizes}" if args.sizes else "")
    lines = [
        "# Autosave: what continuous checkpoints cost the user (fork vs thread)",
        "",
        f"Machine: {machine}. Command: `python benchmarks/autosave.py{flag}`. Per size and mode, "
        "a fresh kernel holds a numpy state of that size; each repeat runs a cell that changes "
        "one element (so every autosave has new content), then at once a pure-Python probe "
        "cell (needs the GIL throughout) that times itself inside the kernel.",
        "",
        "Modes: `off` (no autosave), `fork` (shipped: the kernel forks at the end of the cell; "
        "the child waits until the reply is sent, then plans and writes a checkpoint; "
        "`ELASTIC_ALPHA=0.1`, so the plan stores the whole state every time rather than "
        "re-running cells), `thread` (option b, benchmark "
        "only: after each cell a worker thread pickles the state to a file, with an xxh3 "
        "fingerprint before and after to detect a torn write).",
        "",
        "`cell` is the client-observed median of the changing cell (request to idle), `added` "
        "its difference to `off`; `boundary` is the time the kernel spends starting the "
        "background write (fork / thread start); `next cell` is the probe's own time and its "
        "ratio to `off` (contention with the background write); `peak extra` is the child's "
        "peak unique memory (fork) or the kernel's peak RSS growth (thread); `torn` counts "
        "thread writes thrown away because the next cell changed the state meanwhile.",
        "",
        "| state | mode | cell ms | added ms | boundary ms | next cell ms | next cell x "
        "| writes | torn | write s each | write MB/s | peak extra MB |",
        "|---:|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['state_mb']} MB | {r['mode']} | {r['cell_median_ms']:.1f} | "
            f"{r['cell_added_ms']:+.1f} | {r['boundary_median_ms']:.2f} | "
            f"{r['next_cell_median_ms']:.1f} | {r['next_cell_slowdown']:.2f} | {r['writes']} | "
            f"{r['torn']} | {r['write_seconds_each']:.3f} | {r['throughput_mb_s']:.0f} | "
            f"{r['peak_extra_mb']:.0f} |"
        )
    lines += ["", "Target (issue 11): median < 5 ms at the cell boundary.", ""]
    write_keeping_notes(RESULTS / "autosave.md", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
