"""Kishu (``kishu`` on PyPI): ``init_kishu`` commits after every cell; restore is
``init_kishu`` plus ``_kishu.checkout(commit)`` in a fresh kernel.

Kishu finds its notebook through a running Jupyter server; without one, its documented test
hooks name it instead (``TEST_NOTEBOOK_PATH``, ``ENV_KISHU_TEST_MODE``), which is what we use.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

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
from benchmarks.peers._venv import ensure_venv, install_kernelspec, installed_version

KERNEL = "kishu-bench"
PACKAGES = ("kishu",)


def setup(jupyter_root: Path) -> str:
    """Install the venv and kernelspec; return kishu's version."""
    python = ensure_venv("kishu", PACKAGES)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    install_kernelspec(jupyter_root, KERNEL, "Python 3 (Kishu bench)", argv)
    return installed_version(python, "kishu")


def measure(
    notebook: Path, cells: list[str], work: Path, oracle_path: Path, budget_s: float
) -> Outcome:
    outcome = Outcome("kishu")
    home = fresh_dir(work / "kishu")
    nb_path = home / notebook.name
    shutil.copy(notebook, nb_path)
    env = kernel_env(
        oracle_path,
        TEST_NOTEBOOK_PATH=str(nb_path),
        ENV_KISHU_TEST_MODE="1",
        KISHU_PATH_ROOT=str(home),
    )
    init = f"from kishu import init_kishu\ninit_kishu({str(nb_path)!r})"
    deadline = Deadline(budget_s)
    try:
        with Kernel(KERNEL, env=env, cwd=home, deadline=deadline) as k:
            k.run(init)
            outcome.record_run(k, cells)
            seconds, text = k.run("_kishu.commit()")
            outcome.checkpoint_s = seconds
            found = re.search(r"[\w:.-]+", text.strip().strip("'\""))
            if found is None:
                raise MethodFailed(f"no commit id in the output of _kishu.commit(): {text!r}")
            commit_id = found.group(0)
            before = k.describe()
        outcome.checkpoint_bytes = tree_bytes(nb_path.with_suffix(".kishudb"))
        outcome.notes.append(
            "checkpoint_s is the final manual commit; per-cell commits are in run_s"
        )
        with Kernel(KERNEL, env=env, cwd=home, deadline=deadline) as k:
            outcome.restore_s, _ = k.run(f"{init}\n_kishu.checkout({commit_id!r})")
            check(outcome, before, k.describe())
    except Exception as exc:
        fail(outcome, exc)
    return outcome
