"""Our elastic kernel: one monitored run, then a checkpoint per planner mode, each restored
into its own fresh kernel process with ``%restore``."""

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
    tree_bytes,
)

MODES = ("balanced", "fast-migrate", "fast-restore", "store-all", "rerun-all")
KERNEL = "elastic"


def measure(
    cells: list[str], work: Path, oracle_path: Path, budget_s: float, modes: tuple[str, ...] = MODES
) -> tuple[Outcome, list[Outcome]]:
    """Return the monitored run (``elastic-run``) and one outcome per mode (``ours-MODE``)."""
    run = Outcome("elastic-run")
    results = [Outcome(f"ours-{mode}") for mode in modes]
    store = fresh_dir(work / "ours-store")
    env = kernel_env(oracle_path, ELASTIC_STORE=str(store), ELASTIC_SESSION="bench")
    deadline = Deadline(budget_s)
    befores: dict[str, dict[str, Any]] = {}
    try:
        with Kernel(KERNEL, env=env, cwd=fresh_dir(work / "ours-cwd"), deadline=deadline) as k:
            run.record_run(k, cells)
            for mode, outcome in zip(modes, results, strict=True):
                url = store / mode
                try:
                    outcome.checkpoint_s, text = k.run(f"%checkpoint {url} --mode {mode}")
                    outcome.checkpoint_bytes = tree_bytes(url)
                    outcome.notes = [line.strip() for line in text.splitlines() if "LOST" in line]
                    befores[mode] = k.describe()
                except (MethodFailed, TimeoutError) as exc:
                    fail(outcome, exc)
    except Exception as exc:  # the run itself failed: every mode shares that failure
        fail(run, exc)
        for outcome in results:
            if outcome.status == "ok":
                fail(outcome, exc)
        return run, results
    for mode, outcome in zip(modes, results, strict=True):
        if outcome.status != "ok":
            continue
        try:
            with Kernel(KERNEL, env=env, cwd=fresh_dir(work / "ours-cwd2"), deadline=deadline) as k:
                outcome.boot_s = k.boot_s
                try:
                    started, _ = k.run(f"%restore {store / mode}")
                    # A background restore returns at once; a cell that reads every variable
                    # (globals()) waits until all of them are back: that is the restore time.
                    waited, _ = k.run("len(globals())")
                    outcome.restore_s = started + waited
                except MethodFailed as exc:
                    # a RestoreError still leaves a namespace the oracle can judge
                    fail(outcome, exc)
                check(outcome, befores[mode], k.describe())
        except Exception as exc:
            fail(outcome, exc)
    return run, results
