"""``elastic-kernel`` from PyPI (the paper's ElasticNotebook as a kernel), in its own venv.

Its documented interface: the kernel keys its checkpoint file on ``JPY_SESSION_NAME`` and
answers ``elastic_checkpoint_request`` / ``elastic_restore_request`` on the control channel
(what its Jupyter Server extension sends). Automatic save-on-shutdown and restore-on-startup
are switched off so that both steps can be timed on their own.
"""

from __future__ import annotations

import queue
import shutil
import time
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
from benchmarks.peers._venv import ensure_venv, install_kernelspec, installed_version

KERNEL = "elastic-kernel-pypi"
PACKAGES = ("elastic-kernel",)


def setup(jupyter_root: Path) -> str:
    python = ensure_venv("elastic-kernel-pypi", PACKAGES)
    argv = [str(python), "-m", "elastic_kernel.kernel", "-f", "{connection_file}"]
    install_kernelspec(jupyter_root, KERNEL, "Python 3 (elastic-kernel PyPI)", argv)
    return installed_version(python, "elastic-kernel")


def _control(k: Kernel, request: str, deadline: Deadline) -> tuple[float, dict[str, Any]]:
    msg = k.kc.session.msg(request, {})
    started = time.perf_counter()
    k.kc.control_channel.send(msg)
    while True:
        try:
            reply = k.kc.get_control_msg(timeout=deadline.left())
        except queue.Empty as exc:
            raise TimeoutError(f"no reply to {request}") from exc
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return time.perf_counter() - started, dict(reply["content"])


def measure(
    notebook: Path, cells: list[str], work: Path, oracle_path: Path, budget_s: float
) -> Outcome:
    outcome = Outcome("elastic-kernel-pypi")
    home = fresh_dir(work / "ek-pypi")
    nb_path = home / notebook.name
    shutil.copy(notebook, nb_path)
    env = kernel_env(
        oracle_path,
        JPY_SESSION_NAME=str(nb_path),
        ELASTIC_KERNEL_CHECKPOINT_ON_SHUTDOWN="0",
        ELASTIC_KERNEL_RESTORE_ON_STARTUP="0",
    )
    deadline = Deadline(budget_s)
    try:
        with Kernel(KERNEL, env=env, cwd=home, deadline=deadline) as k:
            outcome.record_run(k, cells)
            outcome.checkpoint_s, reply = _control(k, "elastic_checkpoint_request", deadline)
            if not reply.get("ok"):
                raise MethodFailed(f"checkpoint failed: {reply}")
            before = k.describe()
        outcome.checkpoint_bytes = tree_bytes(Path(str(reply["path"])))
        with Kernel(KERNEL, env=env, cwd=home, deadline=deadline) as k:
            outcome.restore_s, reply = _control(k, "elastic_restore_request", deadline)
            if not reply.get("ok"):
                raise MethodFailed(f"restore failed: {reply}")
            check(outcome, before, k.describe())
    except Exception as exc:
        fail(outcome, exc)
    return outcome
