"""Scaling: per-cell overhead, checkpoint and restore time as the state grows (10 MB to 8 GB) and
as the history grows (to 2000 cell executions), elastic vs the stock kernel in the same run.

    .venv/bin/python benchmarks/scaling.py [--quick] [--sizes-mb 10,100] [--history 10,200]
    .venv/bin/python benchmarks/scaling.py --from-json benchmarks/results/scaling.json

Writes ``benchmarks/results/scaling.md``, ``scaling.json``, ``scaling_state.png`` and
``scaling_history.png`` (``--quick`` writes ``scaling-quick.*``: a CI smoke run never replaces
the full run's results). Autosave is off (``benchmarks/autosave.py`` measures it).
To measure one commit while others edit the tree, run the kernels from a snapshot:
``git archive HEAD elastic_kernel | tar -x -C DIR`` then ``PYTHONPATH=DIR python ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import psutil

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._kernels import isolated_jupyter, machine_description  # noqa: E402
from benchmarks.peers._common import Deadline, Kernel, fresh_dir, tree_bytes  # noqa: E402
from tests.utils import evaluate_silently  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MODES = ("store-all", "balanced")
MB = 2**20
# Small cells timed on both kernels: re-binding, reading, printing, an in-place dict edit.
SMALL = ["t = 1", "t + 1", "print(t)", "params['lr'] *= 1.0", "n = len(names)", "u = big_mean + t"]
# Touches every variable (so a lazy or background restore must have finished them all); its
# repr is compared with the original kernel's as a sanity check (correctness is the tests' job).
STATE_PROBE = (
    "(float(big[-1]), float(big[5]), float(df['d'].iloc[-1]), len(df), params, len(names), "
    "float(head[-1]), bool(np.shares_memory(head, big)), float(summary.loc['mean', 'a']), "
    "big_mean, len(counts), t, n, u)"
)
HISTORY_PROBE = "(len(lst), sum(lst), len(dct), float(arr.sum()), acc, tail, x3)"
BUDGET_S = 3600.0


def state_cells(size_mb: float) -> list[str]:
    """Cells that build ``size_mb`` of state: 80% one array, 20% a DataFrame, small variables."""
    total = int(size_mb * MB)
    n_big, rows = int(0.8 * total) // 8, int(0.2 * total) // 24
    return [
        "import numpy as np\nimport pandas as pd",
        "rng = np.random.default_rng(0)",
        f"big = rng.random({n_big})",
        f"df = pd.DataFrame({{'a': rng.random({rows}), 'b': np.arange({rows})}})",
        "df['d'] = df['a'] * 2.0",
        "params = {'lr': 0.1, 'epochs': 10, 'tags': ['x', 'y']}\n"
        "names = [f'col{i}' for i in range(200)]",
        "head = big[:1000]\nbig[:10] = 0.0",
        "summary = df.describe()\nbig_mean = float(big.mean())",
        "counts = {name: len(name) for name in names}",
    ]


def history_cells(count: int) -> list[str]:
    """``count`` small cells: a setup, then re-binding and in-place edits of lists/dicts/arrays."""
    setup = "import numpy as np\nlst = []\ndct = {}\narr = np.zeros(1000)\nacc = 0\ntail = []\n"
    setup += "".join(f"x{j} = 0\n" for j in range(20))
    kinds = [
        "x{m20} = {i} * 2",
        "lst.append({i})",
        "dct['k{m100}'] = len(lst)",
        "arr[{m1000}] += 1.0",
        "acc = acc + x{m20}",
        "tail = [v * 2 for v in lst[-10:]]",
    ]
    return [setup] + [
        kinds[i % 6].format(i=i, m20=i % 20, m100=i % 100, m1000=i % 1000) for i in range(1, count)
    ]


def kernel_env(store: Path, session: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC_", "JPY_"))}
    env.update(ELASTIC_STORE=str(store), ELASTIC_SESSION=session, ELASTIC_AUTOSAVE="0")
    env["MPLBACKEND"] = "Agg"
    return env


@contextmanager
def peak_rss(pid: int | None) -> Iterator[list[float]]:
    """Sample the process's RSS every 20 ms; yields a one-element list holding the peak (bytes)."""
    peak, stop = [0.0], threading.Event()

    def sample() -> None:
        while pid is not None and not stop.is_set():
            try:
                peak[0] = max(peak[0], float(psutil.Process(pid).memory_info().rss))
            except psutil.Error:
                return
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def capture_seconds(k: Kernel) -> float:
    """The elastic kernel's own lineage-capture time so far (``%elastic status``)."""
    match = re.search(r"overhead:\s+([\d.]+) s", k.run("%elastic status")[1])
    return float(match.group(1)) if match else float("nan")


def probe(k: Kernel, expression: str) -> str:
    """The repr of ``expression``, evaluated silently (nothing is recorded in the history)."""
    result = evaluate_silently(k.kc, {"x": expression}, timeout=k.deadline.left())["x"]
    return str(result.get("data", {}).get("text/plain", result))


def checkpoint(k: Kernel, url: Path, mode: str) -> dict[str, Any]:
    seconds, text = k.run(f"%checkpoint {url} --mode {mode}")
    found = {
        key: re.search(pattern, text)
        for key, pattern in (
            ("kernel_s", r"took ([\d.]+) s"),
            ("stored", r"stored\s+(\d+) variables"),
            ("recomputed", r"recompute\s+(\d+) variables"),
        )
    }
    row: dict[str, Any] = {"checkpoint_s": seconds, "bytes": tree_bytes(url)}
    row.update({key: float(m.group(1)) if m else None for key, m in found.items()})
    manifests = list(url.rglob("manifest.json"))
    if manifests:
        manifest = json.loads(manifests[0].read_text())
        graph = manifest.get("metadata", {}).get("graph", {})
        executions = graph.get("executions", [])
        row["manifest_bytes"] = manifests[0].stat().st_size
        row["graph_json_bytes"] = len(json.dumps(graph, separators=(",", ":")))
        row["graph_executions"] = len(executions)
        row["graph_edges"] = sum(len(e["reads"]) + len(e["writes"]) for e in executions)
    return row


def restore(url: Path, env: dict[str, str], work: Path, probe_cell: str) -> dict[str, Any]:
    """Restore into a fresh kernel: time until ``%restore`` returns, and until a cell reading
    every variable completes (the same once restore is synchronous; differs if it is not)."""
    with Kernel("elastic", env=env, cwd=fresh_dir(work), deadline=Deadline(BUDGET_S)) as k:
        with peak_rss(k.pid) as peak:
            started = time.perf_counter()
            _, text = k.run(f"%restore {url}")
            returned = time.perf_counter() - started
            _, value = k.run(probe_cell)
            usable = time.perf_counter() - started
        # both the blocking report and the background one name the cells they re-run
        match = re.search(r"re-running (\d+) cells", text)
        return {
            "boot_s": k.boot_s,
            "restore_return_s": returned,
            "restore_usable_s": usable,
            "rerun_cells": int(match.group(1)) if match else 0,
            "background": "in the background" in text,
            "peak_rss_mb": peak[0] / MB,
            "value": value.strip(),
        }


def run_pair(kernels: list[Kernel], cell: str, turn: int) -> list[float]:
    """Send ``cell`` to each kernel in turn, the order alternating with ``turn``: load from other
    work on the machine hits both alike (the same pairing as benchmarks/overhead.py)."""
    order = kernels if turn % 2 == 0 else kernels[::-1]
    seconds = {id(k): k.run(cell)[0] for k in order}
    return [seconds[id(k)] for k in kernels]


def run_small(kernels: list[Kernel], repeats: int) -> list[list[float]]:
    """Time ``repeats`` small cells on each kernel (all kernels in turn); one list per kernel."""
    for turn, cell in enumerate(SMALL):  # warm-up
        run_pair(kernels, cell, turn)
    rounds = [run_pair(kernels, SMALL[i % len(SMALL)], i) for i in range(repeats)]
    return [list(times) for times in zip(*rounds, strict=True)]


def state_point(size_mb: float, repeats: int, work: Path) -> dict[str, Any]:
    cells = state_cells(size_mb)
    load = os.getloadavg()
    row: dict[str, Any] = {"size_mb": size_mb, "load_avg_1m_start": load[0]}
    env = kernel_env(work / "store", f"state-{size_mb:g}")
    # Both kernels alive at once when two copies of the state fit; else one after the other.
    row["paired"] = psutil.virtual_memory().available > 2.2 * size_mb * MB + 4 * 2**30
    cwd = fresh_dir(work / "cwd")
    stock = Kernel("python3", env=env, cwd=cwd, deadline=Deadline(BUDGET_S))
    try:
        row["build_stock_s"] = sum(stock.run_cells(cells))
        row["rss_stock_mb"] = (stock.rss() or 0) / MB
        if not row["paired"]:
            [stock_times] = run_small([stock], repeats)
            stock.close()  # before the elastic kernel builds its copy of the state
        with Kernel("elastic", env=env, cwd=cwd, deadline=Deadline(BUDGET_S)) as k:
            row["build_elastic_s"] = sum(k.run_cells(cells))
            before = capture_seconds(k)
            if row["paired"]:
                stock_times, elastic_times = run_small([stock, k], repeats)
                stock.close()
            else:
                [elastic_times] = run_small([k], repeats)
            row["capture_ms"] = (capture_seconds(k) - before) / repeats * 1e3
            row["rss_elastic_mb"] = (k.rss() or 0) / MB
            expected = probe(k, STATE_PROBE)
            modes = {mode: checkpoint(k, work / "store" / mode, mode) for mode in MODES}
    finally:
        if stock.km.is_alive():  # closing twice could kill a recycled pid
            stock.close()
    row.update(cell_stats(stock_times, elastic_times, paired=row["paired"]))
    # The first kernel is gone before any restore: 8 GB twice would not fit in memory.
    for mode, result in modes.items():
        result.update(restore(work / "store" / mode, env, work / "cwd2", STATE_PROBE))
        result["same"] = result["value"] == expected
        if result["same"]:  # keep both reprs only when they differ, to show how
            del result["value"]
        else:
            result["expected"] = expected
        shutil.rmtree(work / "store" / mode, ignore_errors=True)
    row["modes"] = modes
    row["load_avg_1m_end"] = os.getloadavg()[0]
    return row


def cell_stats(stock: list[float], elastic: list[float], *, paired: bool) -> dict[str, Any]:
    # Paired: the median of per-cell differences (same cell, same moment), robust to load.
    added = (
        statistics.median(e - t for t, e in zip(stock, elastic, strict=True))
        if paired
        else statistics.median(elastic) - statistics.median(stock)
    )
    return {
        "stock_median_ms": statistics.median(stock) * 1e3,
        "elastic_median_ms": statistics.median(elastic) * 1e3,
        "added_median_ms": added * 1e3,
        "cells_timed": len(elastic),
    }


def window(point: int) -> int:
    """How many cells before ``point`` its per-cell figures are taken over (setup left out)."""
    return min(point - 1, 100)


def history_points(points: list[int], work: Path, rows: list[dict[str, Any]]) -> None:
    """Append one row per history length in ``points`` to ``rows``."""
    cells = history_cells(max(points))
    env = kernel_env(work / "store", "history")
    marks = {p - window(p) for p in points}
    stock: list[float] = []
    elastic: list[float] = []
    captured: dict[int, float] = {}
    cwd = fresh_dir(work / "cwd")
    with (
        Kernel("python3", env=env, cwd=cwd, deadline=Deadline(BUDGET_S)) as plain,
        Kernel("elastic", env=env, cwd=cwd, deadline=Deadline(BUDGET_S)) as k,
    ):
        for index, cell in enumerate(cells, start=1):
            stock_s, elastic_s = run_pair([plain, k], cell, index)
            stock.append(stock_s)
            elastic.append(elastic_s)
            if index in marks or index in points:
                captured[index] = capture_seconds(k)
            if index not in points:
                continue
            size = window(index)
            row: dict[str, Any] = {"cells": index, "load_avg_1m_start": os.getloadavg()[0]}
            row.update(
                cell_stats(stock[index - size : index], elastic[index - size : index], paired=True)
            )
            row["capture_ms"] = (captured[index] - captured[index - size]) / size * 1e3
            expected = probe(k, HISTORY_PROBE)
            modes = {}
            for mode in MODES:
                url = work / "store" / f"{mode}-{index}"
                modes[mode] = checkpoint(k, url, mode)
                modes[mode].update(restore(url, env, work / "cwd2", HISTORY_PROBE))
                modes[mode]["same"] = modes[mode]["value"] == expected
                if modes[mode]["same"]:
                    del modes[mode]["value"]
                else:
                    modes[mode]["expected"] = expected
                shutil.rmtree(url, ignore_errors=True)
            row["modes"] = modes
            rows.append(row)
            print(json.dumps(row), flush=True)


def fits(size_mb: float, work: Path) -> str | None:
    """Why a state size cannot run here now (memory or disk), or None when it can."""
    need = size_mb * MB
    available = psutil.virtual_memory().available
    # the kernel's state, plus transient copies while building the DataFrame and restoring
    if available < 1.5 * need + 2 * 2**30:
        return (
            f"needs ~{(1.5 * need + 2 * 2**30) / 2**30:.1f} GiB free RAM, {available / 2**30:.1f}"
        )
    free = shutil.disk_usage(work).free
    if free < 2.2 * need + 2 * 2**30:  # two checkpoints (store-all, balanced) plus margin
        return f"needs ~{(2.2 * need + 2 * 2**30) / 2**30:.1f} GiB free disk, {free / 2**30:.1f}"
    return None


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _mode_rows(points: list[dict[str, Any]], label: str) -> list[list[str]]:
    rows = []
    for p in points:
        for mode, m in p["modes"].items():
            rerun = str(m.get("rerun_cells", "-"))
            rows.append(
                [label.format(**p), mode, f"{m['checkpoint_s']:.3f}", f"{m['kernel_s'] or 0:.3f}",
                 f"{m['bytes'] / MB:.2f}", f"{m['stored'] or 0:.0f} / {m['recomputed'] or 0:.0f}",
                 f"{m['restore_return_s']:.3f}", "yes" if m.get("background") else "no",
                 f"{m['restore_usable_s']:.3f}",
                 f"{m['boot_s']:.2f}", rerun, f"{m['peak_rss_mb']:.0f}",
                 "yes" if m["same"] else "**NO**"]
            )  # fmt: skip
    return rows


MODE_HEADER = [
    "checkpoint s", "in kernel s", "stored MB", "stored / recomputed vars",
    "`%restore` returns s", "in background", "probe cell done s", "boot s", "cells re-run",
    "restore peak RSS MB", "probe equal",
]  # fmt: skip


def _plot(data: dict[str, Any], axis: str, path: Path) -> None:
    points = data[axis]
    x = [p["size_mb" if axis == "state" else "cells"] for p in points]
    panels = 2 if axis == "state" else 3
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2))
    for mode, color in zip(MODES, ("tab:blue", "tab:orange"), strict=True):
        for key, style, what in (
            ("checkpoint_s", "o-", "checkpoint"),
            ("restore_return_s", "s:", "%restore returns"),
            ("restore_usable_s", "^--", "restore + probe cell"),
        ):
            values = [p["modes"][mode][key] for p in points]
            axes[0].plot(x, values, style, color=color, label=f"{what}, {mode}")
    axes[0].set(xscale="log", yscale="log", ylabel="seconds (client-observed)")
    axes[0].set_title("Checkpoint and restore time, log-log")
    for key, label in (
        ("stock_median_ms", "stock kernel"),
        ("elastic_median_ms", "elastic kernel"),
        ("added_median_ms", "added (median of paired differences)"),
        ("capture_ms", "elastic capture (own)"),
    ):
        axes[1].plot(x, [p[key] for p in points], "o-", label=label)
    axes[1].set(xscale="log", ylabel="ms per small cell (median)")
    axes[1].set_title("Per-cell latency")
    if axis == "history":
        for key, label in (("manifest_bytes", "manifest.json"), ("graph_json_bytes", "AHG JSON")):
            axes[2].plot(x, [p["modes"]["balanced"][key] / 1e3 for p in points], "o-", label=label)
        axes[2].set(xscale="log", yscale="log", ylabel="kB")
        axes[2].set_title("AHG size in the checkpoint, log-log")
    for ax in axes:
        ax.set_xlabel("state size (MB)" if axis == "state" else "cell executions")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_results(data: dict[str, Any], out: Path, stem: str) -> None:
    """Write ``STEM.json``, ``STEM.md`` and the two plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(data, indent=1))
    suffix = "-quick" if data["quick"] else ""
    images = {axis: f"scaling_{axis}{suffix}.png" for axis in ("state", "history")}
    for axis, image in images.items():
        if data[axis]:
            _plot(data, axis, out / image)
    load = "/".join(f"{v:.2f}" for v in data["load_avg_start"])
    lines = [
        "# Scaling: state size and history length",
        "",
        f"Machine: {data['machine']}, {data['memory_total_gb']:.0f} GiB RAM. Command: "
        f"`python benchmarks/scaling.py{' --quick' if data['quick'] else ''}`; wall time "
        f"{data['total_s'] / 60:.1f} min. Load average (1/5/15 min) at start {load}, at end "
        + "/".join(f"{v:.2f}" for v in data["load_avg_end"])
        + " (the machine is shared with other jobs; per-point 1-minute loads are in the tables)."
        + f" Kernel package: `{data['kernel_source']}`"
        + (
            "."
            if Path(data["kernel_source"]) == ROOT / "elastic_kernel"
            else " (outside the working tree: a `git archive` snapshot of the commit above, "
            "see the script's docstring)."
        )
        + (
            " Measured on the working tree, with uncommitted changes in "
            + ", ".join(data["uncommitted"])
            + "."
            if data["uncommitted"]
            else ""
        ),
        "",
        "Each point runs the same cells on the stock `python3` kernel and on the elastic kernel "
        "(autosave off) and times small cells on both (client-observed round trip), both kernels "
        "alive and sent the same cell in turn, so `added` is the median of paired differences "
        "(`paired` = no: two copies of that state did not fit in RAM, the kernels ran one after "
        "the other and `added` is the difference of medians). It then "
        "checkpoints the elastic kernel twice (`store-all`, `balanced`), shuts it down, and "
        "restores each checkpoint into a fresh kernel process: `%restore returns` is the time "
        "until the magic returns, `probe cell done` until a following cell that reads every "
        "variable completes (the two differ only if restore finishes in the background). "
        "`probe equal`: that cell's repr matches the original kernel's (a sanity check; "
        "correctness is the tests' job). Checkpoints are deleted after each point. "
        "`capture` is the elastic kernel's own lineage time per cell (from `%elastic status`), "
        "the part of `added` that is surely ours: the rest is message handling around the cell "
        "and noise on a shared machine (it can be negative).",
        "",
        "## State size (80% one numpy array, 20% a DataFrame, ~10 small variables)",
        "",
    ]
    lines += _table(
        ["state", "load 1m", "paired", "build stock s", "build elastic s", "stock cell ms",
         "elastic cell ms", "added ms", "capture ms", "RSS stock MB", "RSS elastic MB"],
        [[f"{p['size_mb']:g} MB", f"{p['load_avg_1m_start']:.2f}",
          "yes" if p["paired"] else "no", f"{p['build_stock_s']:.2f}",
          f"{p['build_elastic_s']:.2f}", f"{p['stock_median_ms']:.2f}",
          f"{p['elastic_median_ms']:.2f}", f"{p['added_median_ms']:+.2f}",
          f"{p['capture_ms']:.2f}", f"{p['rss_stock_mb']:.0f}", f"{p['rss_elastic_mb']:.0f}"]
         for p in data["state"]],
    )  # fmt: skip
    lines += [
        "",
        *_table(["state", "mode", *MODE_HEADER], _mode_rows(data["state"], "{size_mb:g} MB")),
    ]
    for skip in data["skipped"]:
        lines += ["", f"**{skip['size_mb']:g} MB not measured**: {skip['reason']}"]
    if data["state"]:
        lines += ["", f"![state]({images['state']})"]
    lines += [
        "",
        "## History length (small cells: re-binding, list/dict/array edits; small state)",
        "",
        "One kernel runs the cells in order and is measured when it reaches each length; per-cell "
        "figures are over the (up to) 100 cells before that point.",
        "",
    ]
    lines += _table(
        ["cells", "load 1m", "stock cell ms", "elastic cell ms", "added ms", "capture ms",
         "AHG executions", "AHG edges", "AHG JSON kB", "manifest kB"],
        [[str(p["cells"]), f"{p['load_avg_1m_start']:.2f}", f"{p['stock_median_ms']:.2f}",
          f"{p['elastic_median_ms']:.2f}", f"{p['added_median_ms']:+.2f}",
          f"{p['capture_ms']:.2f}", str(p["modes"]["balanced"].get("graph_executions", "-")),
          str(p["modes"]["balanced"].get("graph_edges", "-")),
          f"{p['modes']['balanced'].get('graph_json_bytes', 0) / 1e3:.0f}",
          f"{p['modes']['balanced'].get('manifest_bytes', 0) / 1e3:.0f}"]
         for p in data["history"]],
    )  # fmt: skip
    lines += [
        "",
        *_table(["cells", "mode", *MODE_HEADER], _mode_rows(data["history"], "{cells}")),
    ]
    if "history_error" in data:
        lines += ["", f"**History stopped early**: {data['history_error']}"]
    if data["history"]:
        lines += ["", f"![history]({images['history']})"]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def kernel_source() -> str:
    """The ``elastic_kernel`` package a kernel started from here imports (``PYTHONPATH`` can
    point it at a snapshot of one commit while others edit the working tree)."""
    code = "import elastic_kernel, os; print(os.path.dirname(elastic_kernel.__file__))"
    with tempfile.TemporaryDirectory() as tmp:
        found = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp
        )
    return found.stdout.strip()


def uncommitted(source: str) -> list[str]:
    """Modified package files when the kernel runs the working tree, not only the commit."""
    if Path(source) != ROOT / "elastic_kernel":
        return []
    status = subprocess.run(
        ["git", "status", "--short", "elastic_kernel"], capture_output=True, text=True, cwd=ROOT
    )
    return [line[3:] for line in status.stdout.splitlines()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 and 100 MB; 10 and 200 cells")
    parser.add_argument("--sizes-mb", help="comma-separated state sizes in MB")
    parser.add_argument("--history", help="comma-separated history lengths (cell executions)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--from-json", type=Path, help="rebuild tables and plots from this JSON")
    args = parser.parse_args(argv)
    if args.from_json is not None:
        write_results(json.loads(args.from_json.read_text()), args.out, args.from_json.stem)
        return 0
    default_sizes = "10,100" if args.quick else "10,100,1024,4096,8192"
    sizes = [float(s) for s in (args.sizes_mb or default_sizes).split(",")]
    history = [
        int(h)
        for h in (args.history or ("10,200" if args.quick else "10,100,500,1000,2000")).split(",")
    ]
    repeats = 20 if args.quick else 40
    started = time.perf_counter()
    data: dict[str, Any] = {
        "machine": machine_description(),
        "quick": args.quick,
        "load_avg_start": list(os.getloadavg()),
        "memory_total_gb": psutil.virtual_memory().total / 2**30,
        "kernel_source": kernel_source(),
        "cells_timed_per_state_point": repeats,
        "state": [],
        "skipped": [],
        "history": [],
    }
    data["uncommitted"] = uncommitted(data["kernel_source"])
    with isolated_jupyter(), tempfile.TemporaryDirectory(prefix="elastic-scaling-") as tmp:
        work = Path(tmp)
        for size in sizes:
            reason = fits(size, work)
            if reason is None:
                try:
                    data["state"].append(state_point(size, repeats, work / f"s{size:g}"))
                    print(json.dumps(data["state"][-1]), flush=True)
                except Exception as exc:  # record why and stop: larger sizes would fail too
                    reason = f"{type(exc).__name__}: {str(exc)[:500]}"
            shutil.rmtree(work / f"s{size:g}", ignore_errors=True)
            if reason is not None:
                data["skipped"].append({"size_mb": size, "reason": reason})
                print(f"state {size:g} MB skipped: {reason}", flush=True)
                break
        try:
            history_points(history, work / "history", data["history"])
        except Exception as exc:  # keep the points measured so far, and say why it stopped
            data["history_error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
            print(f"history stopped: {data['history_error']}", flush=True)
    data["load_avg_end"] = list(os.getloadavg())
    data["total_s"] = time.perf_counter() - started
    write_results(data, args.out, "scaling-quick" if args.quick else "scaling")
    return 0


if __name__ == "__main__":
    sys.exit(main())
