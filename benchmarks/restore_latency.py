"""Background restore (issue 13): time to the first cell and total restore time, against the
blocking restore and the peers' restore times from the latest full ``run.py`` results.

    .venv/bin/python benchmarks/restore_latency.py [--only NAME[,NAME]] [--big-gb 2] [--repeats 3]

For each benchmark notebook and a session holding one big array plus a small variable: run the
cells, ``%checkpoint``, then per mode (background, blocking) in a fresh kernel process time
``%restore`` followed by a cell reading one small variable (time to first cell) and then a silent
request, which waits for everything (total). Writes ``benchmarks/results/restore_latency.md``
and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _kernels import ROOT, isolated_jupyter, machine_description, write_keeping_notes

sys.path.insert(0, str(ROOT / "benchmarks" / "notebooks"))

from _cells import NOTEBOOKS

from tests.utils import evaluate_silently, execute, start_kernel, stop_kernel

RESULTS = ROOT / "benchmarks" / "results"
MODES = ("background", "blocking")
# A scalar the notebook defines, read by the "first cell"; picked in the kernel after the run.
PICK_SMALL = (
    "min((k for k, v in get_ipython().user_ns.items() if not k.startswith('_') and "
    "type(v) in (int, float, str, bool) and k not in ('In', 'Out')), key=len, default='')"
)


def _cells_of(name: str, big_gb: float) -> list[str]:
    if name == "big_array":
        rows = int(big_gb * 2**30 / 8)
        return [
            "import numpy as np",
            f"big = np.random.default_rng(0).random({rows})",
            "small = 41",
        ]
    return NOTEBOOKS[name][1]


def _checkpoint(name: str, cells: list[str], store: Path, workdir: Path) -> tuple[str, str]:
    """Run the notebook and checkpoint it; the small variable to read and the checkpoint mode."""
    env = dict(os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION=name, ELASTIC_AUTOSAVE="0")
    km, kc = start_kernel(env=env, cwd=str(workdir))
    try:
        for cell in cells:
            result = execute(kc, cell, timeout=1200)
            if not result.ok and "# may fail" not in cell:
                raise RuntimeError(f"{name}: cell failed: {result.error}")
        # The big-array session stores its array (re-running the cell would take as long).
        mode = "store-all" if name == "big_array" else "balanced"
        saved = execute(kc, f"%checkpoint --mode {mode}", timeout=1200)
        if not saved.ok:
            raise RuntimeError(f"{name}: checkpoint failed: {saved.stderr}")
        picked = evaluate_silently(kc, {"small": PICK_SMALL})["small"]
        small = str(picked["data"]["text/plain"]).strip("'\"") if picked["status"] == "ok" else ""
    finally:
        stop_kernel(km, kc)
    return small, mode


def _restore_once(name: str, store: Path, workdir: Path, mode: str, small: str) -> dict[str, Any]:
    env = dict(
        os.environ,
        ELASTIC_STORE=str(store),
        ELASTIC_SESSION=name,
        ELASTIC_AUTOSAVE="0",
        ELASTIC_RESTORE=mode,
    )
    km, kc = start_kernel(env=env, cwd=str(workdir))
    try:
        started = time.perf_counter()
        restored = execute(kc, "%restore", timeout=1200)
        returned = time.perf_counter()
        probe = f"print(type({small}).__name__)" if small else "print(1)"
        first = execute(kc, probe, timeout=1200)
        first_done = time.perf_counter()
        evaluate_silently(kc, {"n": "len(get_ipython().user_ns)"}, timeout=1200)
        total = time.perf_counter()
        status = json.loads(execute(kc, "%elastic status --json").stdout)
    finally:
        stop_kernel(km, kc)
    last = status.get("last_restore") or {}
    return {
        "ok": restored.ok and first.ok and bool(last.get("ok")),
        "restore_returned_s": returned - started,
        "first_cell_s": first_done - started,
        "first_cell_alone_s": first_done - returned,
        "total_s": total - started,
        "kernel_report_s": last.get("seconds"),
    }


def _peer_restores() -> tuple[str | None, dict[str, dict[str, float]]]:
    """Restore seconds per notebook and method from the newest full bench-*.json."""
    found = sorted(p for p in RESULTS.glob("bench-*.json") if "quick" not in p.name)
    if not found:
        return None, {}
    data = json.loads(found[-1].read_text())
    peers: dict[str, dict[str, float]] = {}
    for notebook, entry in data.get("notebooks", {}).items():
        for method, outcome in entry.get("outcomes", {}).items():
            seconds = outcome.get("restore_s")
            if outcome.get("status") == "ok" and isinstance(seconds, float | int):
                peers.setdefault(notebook, {})[method] = float(seconds)
    return found[-1].name, peers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated notebook names (big_array too)")
    parser.add_argument("--big-gb", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = [*NOTEBOOKS, "big_array"]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    results: dict[str, Any] = {}
    with isolated_jupyter(), tempfile.TemporaryDirectory(prefix="elastic-latency-") as tmp:
        for name in names:
            store, workdir = Path(tmp) / name / "store", Path(tmp) / name / "work"
            workdir.mkdir(parents=True)
            print(f"[{time.strftime('%H:%M:%S')}] {name}: running and checkpointing", flush=True)
            try:
                small, mode = _checkpoint(name, _cells_of(name, args.big_gb), store, workdir)
                runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
                for repeat in range(args.repeats):
                    # Alternate which mode goes first: the first read after the checkpoint
                    # may meet a colder page cache.
                    for mode_name in MODES if repeat % 2 == 0 else MODES[::-1]:
                        runs[mode_name].append(
                            _restore_once(name, store, workdir, mode_name, small)
                        )
            except Exception as exc:
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"  failed: {exc}", flush=True)
                continue
            results[name] = {"small": small, "checkpoint_mode": mode, "runs": runs}
            print(f"  {json.dumps(_medians(runs))}", flush=True)
    _write(results, args)


def _medians(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    keys = ("restore_returned_s", "first_cell_s", "total_s")
    return {m: {k: statistics.median(r[k] for r in rs) for k in keys} for m, rs in runs.items()}


def _paired_ratio(runs: dict[str, list[dict[str, Any]]]) -> float:
    """Median over repeats of background total / blocking total (runs of one repeat are made
    back to back, so machine noise hits both alike)."""
    pairs = zip(runs["background"], runs["blocking"], strict=True)
    return statistics.median(bg["total_s"] / bl["total_s"] for bg, bl in pairs)


def _write(results: dict[str, Any], args: argparse.Namespace) -> None:
    machine = machine_description()
    source, peers = _peer_restores()
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine, "args": vars(args), "results": results, "peers_from": source}
    (RESULTS / "restore_latency.json").write_text(json.dumps(payload, indent=1))
    peer_names = sorted({m for p in peers.values() for m in p} - {"stock-run"})
    lines = [
        "# Restore latency: background vs blocking (issue 13)",
        "",
        f"Machine: {machine}. Command: `python benchmarks/restore_latency.py --repeats "
        f"{args.repeats} --big-gb {args.big_gb:g}`. Medians of {args.repeats} fresh kernels per "
        "mode, seconds from sending `%restore`: *first cell* = a cell reading one small variable "
        "has finished; *total* = everything restored (a silent request, which waits for all). "
        f"`big_array` = one {args.big_gb:g} GB float64 array + one int, stored.",
        "",
        "| notebook | first cell, background | first cell, blocking | total, background "
        "| total, blocking | total ratio (paired) | all correct |"
        + "".join(f" {p} restore |" for p in peer_names),
        "|---|---:|---:|---:|---:|---:|---|" + "---:|" * len(peer_names),
    ]
    ratios: dict[str, float] = {}
    for name, entry in results.items():
        if "error" in entry:
            lines.append(f"| {name} | {entry['error']} |")
            continue
        med = _medians(entry["runs"])
        correct = all(r["ok"] for rs in entry["runs"].values() for r in rs)
        peer_cells = "".join(
            f" {peers.get(name, {}).get(p, float('nan')):.3f} |" for p in peer_names
        )
        ratios[name] = _paired_ratio(entry["runs"])
        lines.append(
            f"| {name} | {med['background']['first_cell_s']:.3f} | "
            f"{med['blocking']['first_cell_s']:.3f} | {med['background']['total_s']:.3f} | "
            f"{med['blocking']['total_s']:.3f} | {ratios[name]:.2f} | "
            f"{'yes' if correct else 'NO'} |{peer_cells}"
        )
    if ratios:
        worst = max(ratios, key=ratios.__getitem__)
        lines += [
            "",
            "*total ratio (paired)*: background total / blocking total of the runs made one "
            "after the other (same repeat), median over repeats; below 1 the background restore "
            f"finished first. Median over notebooks {statistics.median(ratios.values()):.2f}, "
            f"highest {ratios[worst]:.2f} ({worst}).",
        ]
    if source:
        lines += ["", f"Peer restore times (fresh process, full restore) from `{source}`."]
    write_keeping_notes(RESULTS / "restore_latency.md", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
