"""Checkpoint store throughput against np.save, pickle protocol 5 and dill, on disk and on S3.

Run: ``.venv/bin/python benchmarks/store.py [--quick] [--dir DIR]``. Writes
``benchmarks/results/store.md`` (table with ratios) and ``benchmarks/results/store.json``
(raw timings, machine, versions). Every method writes to the same disk in the same run, the
methods are interleaved, and the best of the repetitions is reported (median alongside).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dill
import numpy as np
import pandas as pd

from elastic_kernel.store import CheckpointStore, GroupSpec

RESULTS = Path(__file__).resolve().parent / "results"
KEY = b"benchmark-key-benchmark-key-0123"


@dataclass
class Row:
    scenario: str
    method: str
    nbytes: int
    times: list[float]
    baseline: str | None = None

    @property
    def best(self) -> float:
        return min(self.times)


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _measure(
    methods: dict[str, Callable[[int], None]], reps: int, cleanup: Callable[[], None]
) -> dict[str, list[float]]:
    """Run each method ``reps`` times, interleaved, starting every run with clean page cache
    writeback (``os.sync``) so one method's dirty pages do not slow the next one down."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    for rep in range(reps):
        for name, run in methods.items():
            cleanup()
            os.sync()
            start = time.perf_counter()
            run(rep)
            times[name].append(time.perf_counter() - start)
    cleanup()
    return times


def _local_methods(workdir: Path, values: dict[str, object]) -> dict[str, Callable[[int], None]]:
    target = str(workdir / "out.bin")
    groups = [GroupSpec(tuple(values), values, None)]

    def store_write(fsync: bool) -> Callable[[int], None]:
        def run(rep: int) -> None:
            CheckpointStore(str(workdir / "store"), key=KEY, fsync=fsync).write_checkpoint(
                "bench", groups, {}
            )

        return run

    def pickle_dump(rep: int) -> None:
        with open(target, "wb") as file:
            pickle.dump(values, file, protocol=5)

    def dill_dump(rep: int) -> None:
        with open(target, "wb") as file:
            dill.dump(values, file)

    return {
        "pickle.dump p5": pickle_dump,
        "dill.dump": dill_dump,
        "store (no fsync)": store_write(False),
        "store (fsync)": store_write(True),
    }


def bench_array(workdir: Path, nbytes: int, reps: int) -> list[Row]:
    arr = np.random.default_rng(0).random(nbytes // 8)
    target = str(workdir / "out.npy")

    def np_save(rep: int) -> None:
        np.save(target, arr)

    def np_save_fsync(rep: int) -> None:
        np.save(target, arr)
        _fsync_path(target)

    methods = {"np.save": np_save, "np.save + fsync": np_save_fsync}
    methods.update(_local_methods(workdir, {"arr": arr}))
    times = _measure(methods, reps, lambda: _clean(workdir))
    scenario = f"local: float64 array {arr.nbytes / 1e9:.1f} GB"
    baselines = {"store (no fsync)": "np.save", "store (fsync)": "np.save + fsync"}
    rows = [Row(scenario, name, arr.nbytes, t, baselines.get(name)) for name, t in times.items()]
    rows.extend(_incremental_and_load(workdir, {"arr": arr}, scenario, reps, target))
    return rows


def _incremental_and_load(
    workdir: Path, values: dict[str, object], scenario: str, reps: int, npy: str
) -> list[Row]:
    nbytes = sum(getattr(v, "nbytes", 0) for v in values.values())
    first: list[float] = []
    second: list[float] = []
    dedup: list[float] = []
    load: list[float] = []
    np_load: list[float] = []
    for _ in range(reps):
        _clean(workdir)
        os.sync()
        store = CheckpointStore(str(workdir / "store"), key=KEY)
        spec = [GroupSpec(tuple(values), values, "fingerprint-1")]
        start = time.perf_counter()
        store.write_checkpoint("bench", spec, {})
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        store.write_checkpoint("bench", spec, {})
        second.append(time.perf_counter() - start)
        start = time.perf_counter()
        store.write_checkpoint("bench", [GroupSpec(tuple(values), values, None)], {})
        dedup.append(time.perf_counter() - start)
        start = time.perf_counter()
        store.load_group(store.open("bench"), 0)
        load.append(time.perf_counter() - start)
        if "arr" in values:
            np.save(npy, values["arr"])
            start = time.perf_counter()
            np.load(npy)
            np_load.append(time.perf_counter() - start)
    rows = [
        Row(scenario, "store: first checkpoint (fsync)", nbytes, first),
        Row(
            scenario,
            "store: unchanged, same fingerprint",
            nbytes,
            second,
            "store: first checkpoint (fsync)",
        ),
        Row(
            scenario,
            "store: unchanged, no fingerprint (dedup)",
            nbytes,
            dedup,
            "store: first checkpoint (fsync)",
        ),
        Row(
            scenario,
            "store: load_group (page cache)",
            nbytes,
            load,
            "np.load (page cache)" if np_load else None,
        ),
    ]
    if np_load:
        rows.append(Row(scenario, "np.load (page cache)", nbytes, np_load))
    _clean(workdir)
    return rows


def make_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "i": rng.integers(0, 1_000_000, rows),
            "f": rng.random(rows),
            "s": [f"user-{k % 50_000}" for k in range(rows)],
            "c": pd.Categorical(rng.choice(["red", "green", "blue"], rows)),
            "t": pd.date_range("2024-01-01", periods=rows, freq="s", tz="UTC"),
            "b": rng.random(rows) > 0.5,
        }
    )


def bench_frame(workdir: Path, rows: int, reps: int) -> list[Row]:
    frame = make_frame(rows)
    nbytes = int(frame.memory_usage(deep=True).sum())
    times = _measure(_local_methods(workdir, {"frame": frame}), reps, lambda: _clean(workdir))
    scenario = f"local: DataFrame {rows:,} rows x 6 mixed columns"
    baselines = {"store (no fsync)": "dill.dump", "store (fsync)": "dill.dump"}
    return [Row(scenario, name, nbytes, t, baselines.get(name)) for name, t in times.items()]


def _clean(workdir: Path) -> None:
    for child in workdir.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def bench_s3(nbytes: int, rows: int, reps: int) -> list[Row]:
    import logging

    from moto.server import ThreadedMotoServer

    # The moto server logs every request through werkzeug.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        import s3fs

        options = {"client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}"}}
        fs = s3fs.S3FileSystem(**options)
        fs.mkdir("bench")
        out: list[Row] = []
        arr = np.random.default_rng(2).random(nbytes // 8)
        frame = make_frame(rows)
        for label, values, size in (
            (f"moto S3: float64 array {arr.nbytes / 1e6:.0f} MB", {"arr": arr}, arr.nbytes),
            (
                f"moto S3: DataFrame {rows:,} rows",
                {"frame": frame},
                int(frame.memory_usage(deep=True).sum()),
            ),
        ):
            counter = iter(range(10_000))

            def pickle_put(
                rep: int, values: dict[str, object] = values, counter: Any = counter
            ) -> None:
                with fs.open(f"bench/pickle-{next(counter)}", "wb") as file:
                    pickle.dump(values, file, protocol=5)

            def dill_put(
                rep: int, values: dict[str, object] = values, counter: Any = counter
            ) -> None:
                with fs.open(f"bench/dill-{next(counter)}", "wb") as file:
                    dill.dump(values, file)

            def store_put(
                rep: int, values: dict[str, object] = values, counter: Any = counter
            ) -> None:
                store = CheckpointStore(
                    f"s3://bench/store-{next(counter)}", key=KEY, storage_options=options
                )
                store.write_checkpoint("bench", [GroupSpec(tuple(values), values, "fp")], {})

            times = _measure(
                {"pickle.dump p5": pickle_put, "dill.dump": dill_put, "store": store_put},
                reps,
                lambda: None,
            )
            for name, t in times.items():
                out.append(Row(label, name, size, t, "pickle.dump p5" if name == "store" else None))
            store = CheckpointStore("s3://bench/incremental", key=KEY, storage_options=options)
            spec = [GroupSpec(tuple(values), values, "fp")]
            store.write_checkpoint("bench", spec, {})
            second = []
            for _ in range(reps):
                start = time.perf_counter()
                store.write_checkpoint("bench", spec, {})
                second.append(time.perf_counter() - start)
            out.append(Row(label, "store: unchanged, same fingerprint", size, second, "store"))
            start = time.perf_counter()
            store.load_group(store.open("bench"), 0)
            out.append(Row(label, "store: load_group", size, [time.perf_counter() - start]))
        return out
    finally:
        server.stop()


def _ratio_text(row: Row, rows: list[Row]) -> str:
    if row.baseline is None:
        return ""
    base = next((r for r in rows if r.scenario == row.scenario and r.method == row.baseline), None)
    if base is None:
        return ""
    return f"{base.best / row.best:.2f}x vs {row.baseline}"


def write_results(rows: list[Row], args: argparse.Namespace, elapsed: float) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "dill": dill.__version__,
        "commit": commit,
        "quick": args.quick,
        "dir": str(args.dir),
    }
    lines = [
        "# Checkpoint store benchmark",
        "",
        f"`{' '.join(['benchmarks/store.py', *sys.argv[1:]])}` on {machine['platform']}, "
        f"{machine['cpus']} CPUs, Python {machine['python']}, numpy {machine['numpy']}, "
        f"pandas {machine['pandas']}, dill {machine['dill']}; commit {commit}; "
        f"{elapsed:.0f} s in total. Best of {args.reps} interleaved runs (median in brackets); "
        "`os.sync()` before each run. "
        "Ratio = baseline time / this time (>1: faster than the baseline).",
        "",
        "| scenario | method | best s [median] | MB/s | ratio |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        rate = row.nbytes / row.best / 1e6 if row.best > 0 else float("inf")
        lines.append(
            f"| {row.scenario} | {row.method} | {row.best:.3f} "
            f"[{statistics.median(row.times):.3f}] "
            f"| {rate:,.0f} | {_ratio_text(row, rows)} |"
        )
    lines += [
        "",
        "Notes: `np.save` and `pickle`/`dill` do not fsync; `store (fsync)` syncs every blob and "
        "the "
        "manifest (crash safety against power loss), so compare it with `np.save + fsync`, and "
        "`store (no fsync)` with `np.save`. DataFrame sizes are `memory_usage(deep=True)`.",
    ]
    (RESULTS / "store.md").write_text("\n".join(lines) + "\n")
    payload: dict[str, Any] = {
        "machine": machine,
        "rows": [asdict(r) | {"best": r.best} for r in rows],
    }
    (RESULTS / "store.json").write_text(json.dumps(payload, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repetitions")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(__file__).resolve().parent / ".work",
        help="scratch directory on the disk to measure",
    )
    parser.add_argument("--reps", type=int, default=None)
    args = parser.parse_args()
    args.reps = args.reps or (2 if args.quick else 3)
    array_bytes = (256 << 20) if args.quick else (2 << 30)
    frame_rows = 200_000 if args.quick else 1_000_000
    s3_bytes = (32 << 20) if args.quick else (256 << 20)
    s3_rows = 50_000 if args.quick else 200_000
    args.dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="store-bench-", dir=args.dir))
    started = time.perf_counter()
    rows: list[Row] = []
    try:
        for step, run in (
            ("array", lambda: bench_array(workdir, array_bytes, args.reps)),
            ("frame", lambda: bench_frame(workdir, frame_rows, args.reps)),
            ("s3", lambda: bench_s3(s3_bytes, s3_rows, args.reps)),
        ):
            print(f"running {step} ...", flush=True)
            rows.extend(run())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        with contextlib.suppress(OSError):
            args.dir.rmdir()  # only when empty: leave a user's directory alone
    write_results(rows, args, time.perf_counter() - started)
    print((RESULTS / "store.md").read_text())


if __name__ == "__main__":
    main()
