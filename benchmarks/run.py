"""`make bench`: run every benchmark notebook under every checkpoint/restore method.

    .venv/bin/python benchmarks/run.py [--quick] [--only NAME[,NAME]] [--no-peers]

For each notebook, in one run on one machine: the plain run on the stock ``python3`` kernel,
the monitored run on the elastic kernel (overhead, memory), then per method the checkpoint
time and bytes, the restore time in a fresh kernel process and the oracle's verdict. Writes
``benchmarks/results/bench-<date>.json`` and rebuilds the README and plots from it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "notebooks"))

from _cells import NOTEBOOKS, QUICK  # noqa: E402

from benchmarks import plots  # noqa: E402
from benchmarks._kernels import isolated_jupyter, machine_description  # noqa: E402
from benchmarks.peers import elastic_pypi, kishu, ours, stock  # noqa: E402
from benchmarks.peers._common import Outcome  # noqa: E402
from benchmarks.peers._venv import PeerUnavailable  # noqa: E402

NOTEBOOK_DIR = ROOT / "benchmarks" / "notebooks"
RESULTS = ROOT / "benchmarks" / "results"
PeerSetup = Callable[[Path], str]
PEERS: dict[str, tuple[PeerSetup, Any]] = {
    "kishu": (kishu.setup, kishu.measure),
    "elastic-kernel-pypi": (elastic_pypi.setup, elastic_pypi.measure),
}


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _versions() -> dict[str, str]:
    names = ["ipykernel", "jupyter_client", "numpy", "pandas", "scikit-learn", "scipy", "dill"]
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    found["elastic_kernel (ours)"] = importlib.metadata.version("elastic_kernel")
    return found


def _oracle_dir(tmp: Path) -> Path:
    """A directory holding only ``tests/oracle.py``: the one thing every kernel imports."""
    target = tmp / "oracle-path"
    (target / "tests").mkdir(parents=True)
    (target / "tests" / "__init__.py").write_text("")
    shutil.copy(ROOT / "tests" / "oracle.py", target / "tests" / "oracle.py")
    return target


def _cells(notebook: Path) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _short(o: Outcome) -> str:
    if o.status != "ok":
        return f"{o.method}: {o.status} ({o.error[:100]})"
    parts = [o.method]
    if o.checkpoint_s is not None:
        parts.append(f"ckpt {o.checkpoint_s:.2f}s")
    if o.restore_s is not None:
        parts.append(f"restore {o.restore_s:.2f}s")
    if o.correct is not None:
        parts.append("correct" if o.correct else f"WRONG: {'; '.join(o.problems)[:150]}")
    return " ".join(parts)


def bench_notebook(
    name: str, work: Path, oracle: Path, peers: dict[str, str | None], *, quick: bool
) -> dict[str, Any]:
    notebook = NOTEBOOK_DIR / f"{name}.ipynb"
    cells = _cells(notebook)
    description, _ = NOTEBOOKS[name]
    outcomes: list[Outcome] = []
    _log(f"{name}: stock run, dill, rerun")
    run, dill, rerun = stock.measure(cells, work / name, oracle, budget_s=900)
    outcomes += [run, dill, rerun]
    base = run.run_s or 60.0
    budget = min(420.0, 90.0 + 8.0 * base)
    _log(f"{name}: elastic kernel, {len(ours.MODES)} modes")
    elastic_run, modes = ours.measure(
        cells, work / name, oracle, budget_s=min(1200.0, 240.0 + 20.0 * base)
    )
    outcomes += [elastic_run, *modes]
    for peer, version in peers.items():
        if quick:
            break
        if version is None:
            outcomes.append(Outcome(peer, status="unavailable", error=peer_errors[peer]))
            continue
        _log(f"{name}: {peer}")
        outcomes.append(PEERS[peer][1](notebook, cells, work / name, oracle, budget))
    shutil.rmtree(work / name, ignore_errors=True)
    for o in outcomes:
        _log(f"  {_short(o)}")
    state = next(
        (o.checkpoint_bytes for o in outcomes if o.method == "ours-store-all" and o.status == "ok"),
        dill.checkpoint_bytes,
    )
    return {
        "description": description,
        "cells": len(cells),
        "state_bytes": state,
        "outcomes": {o.method: o.to_json() for o in outcomes},
    }


peer_errors: dict[str, str] = {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 small notebooks, no peer venvs")
    parser.add_argument("--only", help="comma-separated notebook names")
    parser.add_argument("--no-peers", action="store_true", help="skip Kishu and elastic-kernel")
    parser.add_argument("--out", type=Path, help="JSON path (default results/bench-DATE.json)")
    parser.add_argument(
        "--update", type=Path, help="re-measure --only notebooks inside this existing JSON"
    )
    args = parser.parse_args(argv)
    names = list(QUICK) if args.quick else list(NOTEBOOKS)
    if args.only:
        wanted = args.only.split(",")
        unknown = [n for n in wanted if n not in NOTEBOOKS]
        if unknown:
            parser.error(f"unknown notebook(s) {unknown}; choose from {sorted(NOTEBOOKS)}")
        names = wanted
    started = time.perf_counter()
    stamp = dt.datetime.now(dt.timezone.utc)
    out = args.out or RESULTS / f"bench-{stamp:%Y-%m-%d}{'-quick' if args.quick else ''}.json"
    versions = _versions()
    data: dict[str, Any] = {
        "date": stamp.isoformat(timespec="seconds"),
        "machine": machine_description(),
        "quick": args.quick,
        "versions": versions,
        "notebooks": {},
    }
    if args.update is not None:
        # keep the other notebooks' measurements; log which ones were measured again, when
        out = args.update
        data = json.loads(out.read_text())
        data.setdefault("updated", []).append({"date": stamp.isoformat(), "notebooks": names})
        versions = data["versions"]
    with isolated_jupyter() as jupyter_root, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        oracle = _oracle_dir(Path(tmp))
        peers: dict[str, str | None] = {}
        if not (args.quick or args.no_peers):
            for peer, (setup, _) in PEERS.items():
                _log(f"setting up {peer}")
                try:
                    versions[peer] = setup(jupyter_root)
                    peers[peer] = versions[peer]
                except PeerUnavailable as exc:
                    peers[peer] = None
                    peer_errors[peer] = str(exc)
                    versions[peer] = "unavailable"
        for name in names:
            begun = time.perf_counter()
            try:
                data["notebooks"][name] = bench_notebook(
                    name, Path(tmp) / "work", oracle, peers, quick=args.quick
                )
            except Exception:  # the harness records and moves on; it never dies on one notebook
                data["notebooks"][name] = {"error": traceback.format_exc()[-2000:]}
                _log(f"{name}: harness error\n{traceback.format_exc()}")
            data["notebooks"][name]["wall_s"] = time.perf_counter() - begun
            elapsed = time.perf_counter() - started
            if args.update is not None:
                data["updated"][-1]["wall_s"] = elapsed
            else:
                data["total_s"] = elapsed
            out.write_text(json.dumps(data, indent=1))
    _log(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    plots.build(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
