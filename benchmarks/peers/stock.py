"""The stock ``python3`` kernel: the plain run (reference time and memory), ``dill``'s
``dump_session``/``load_session``, and re-running the whole notebook in a fresh kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.peers._common import (
    Deadline,
    Kernel,
    MethodFailed,
    Outcome,
    check,
    fail,
    fresh_dir,
    kernel_env,
)

KERNEL = "python3"


def measure(
    cells: list[str], work: Path, oracle_path: Path, budget_s: float
) -> tuple[Outcome, Outcome, Outcome]:
    """Return the plain run (``stock-run``), ``dill`` and ``rerun``."""
    run, dill, rerun = Outcome("stock-run"), Outcome("dill"), Outcome("rerun")
    env = kernel_env(oracle_path)
    deadline = Deadline(budget_s)
    session_file = work / "dill" / "session.pkl"
    fresh_dir(session_file.parent)
    before: dict[str, Any] = {}
    try:
        with Kernel(KERNEL, env=env, cwd=fresh_dir(work / "stock-cwd"), deadline=deadline) as k:
            run.record_run(k, cells)
            before = k.describe()
            try:
                dill.checkpoint_s, _ = k.run(
                    f"import dill\ndill.dump_session({str(session_file)!r})"
                )
                dill.checkpoint_bytes = session_file.stat().st_size
            except (MethodFailed, TimeoutError) as exc:
                fail(dill, exc)
    except Exception as exc:
        for outcome in (run, dill, rerun):
            fail(outcome, exc)
        return run, dill, rerun
    if dill.status == "ok":
        try:
            with Kernel(
                KERNEL, env=env, cwd=fresh_dir(work / "stock-cwd2"), deadline=deadline
            ) as k:
                dill.boot_s = k.boot_s
                code = f"import dill\ndill.load_session({str(session_file)!r})"
                dill.restore_s, _ = k.run(code)
                check(dill, before, k.describe())
        except Exception as exc:
            fail(dill, exc)
    try:
        with Kernel(KERNEL, env=env, cwd=fresh_dir(work / "stock-cwd3"), deadline=deadline) as k:
            rerun.boot_s = k.boot_s
            rerun.cell_s = k.run_cells(cells)
            rerun.restore_s = sum(rerun.cell_s)
            rerun.checkpoint_s = 0.0
            rerun.checkpoint_bytes = 0
            check(rerun, before, k.describe())
    except Exception as exc:
        fail(rerun, exc)
    return run, dill, rerun
