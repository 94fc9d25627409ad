"""Helpers of the reliability suite: kernels with their own store and session key, the checkpoint
URL a ``%checkpoint`` printed, the names a failed ``%restore`` reported, and the CLI verifier."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.oracle import compare
from tests.utils import ExecResult, describe_session, execute, start_kernel, stop_kernel

WRITTEN_TO = re.compile(r"^Checkpoint \S+ written to (\S+)$", re.MULTILINE)
INCOMPLETE = re.compile(r"variable\(s\) lost or different: (.+)$")
ROOT_NAME = re.compile(r"^[A-Za-z_]\w*")


def kernel_env(store: str | Path, session: str = "rel", **extra: str) -> dict[str, str]:
    """The environment of a kernel that checkpoints to ``store`` under ``session``."""
    return dict(os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION=session, **extra)


@dataclass
class Kernel:
    """One elastic kernel process and a client connected to it."""

    km: KernelManager
    kc: BlockingKernelClient

    @classmethod
    def start(cls, store: str | Path, session: str = "rel", **extra: str) -> Kernel:
        km, kc = start_kernel(env=kernel_env(store, session, **extra))
        return cls(km, kc)

    @property
    def pid(self) -> int:
        pid: int = self.km.provisioner.process.pid  # type: ignore[union-attr]  # set once started
        return pid

    def run(self, code: str, *, timeout: float = 60.0) -> ExecResult:
        return execute(self.kc, code, timeout=timeout)

    def ok(self, code: str, *, timeout: float = 60.0) -> ExecResult:
        """Run ``code`` and fail the test unless the cell succeeded."""
        result = self.run(code, timeout=timeout)
        assert result.ok, f"cell failed: {code!r}: {result.error} {result.stderr}"
        return result

    def value(self, expression: str) -> Any:
        """``eval(expression)`` in the kernel, through a recorded cell printing its repr."""
        import ast

        return ast.literal_eval(self.ok(f"print(repr({expression}))").stdout.strip())

    def describe(self) -> dict[str, Any]:
        return describe_session(self.kc)

    def kill(self) -> None:
        """SIGKILL the kernel process: no cleanup code of any kind runs."""
        os.kill(self.pid, signal.SIGKILL)
        self.km.provisioner.process.wait(timeout=30)  # type: ignore[union-attr]

    def stop(self) -> None:
        stop_kernel(self.km, self.kc)


def checkpoint_url(result: ExecResult) -> str:
    """The checkpoint directory a successful ``%checkpoint`` printed."""
    match = WRITTEN_TO.search(result.stdout)
    assert match is not None, f"no checkpoint written: {result.stdout} {result.stderr}"
    return match.group(1)


def reported_names(result: ExecResult) -> set[str] | None:
    """Variables a failed ``%restore`` named as lost or different; ``None`` when it did not fail
    with a RestoreError (success, or another error)."""
    error = result.error
    if error is None or error["ename"] != "RestoreError":
        return None
    match = INCOMPLETE.search(error["evalue"])
    assert match is not None, f"RestoreError without the names: {error['evalue']}"
    return {name.strip() for name in match.group(1).split(",")}


def _root(path: str) -> str:
    match = ROOT_NAME.match(path)
    return match.group(0) if match else path


def without(description: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """An oracle description with ``names`` and every alias/sharing pair touching them removed."""
    drop = set(names)
    return {
        "values": {k: v for k, v in description["values"].items() if k not in drop},
        "aliases": [
            pair for pair in description["aliases"] if not {_root(p) for p in pair[:2]} & drop
        ],
        "shared_memory": [
            pair for pair in description["shared_memory"] if not {_root(p) for p in pair[:2]} & drop
        ],
    }


def compare_except(
    before: Mapping[str, Any], after: Mapping[str, Any], reported: Iterable[str]
) -> list[str]:
    """Oracle differences outside the variables a restore reported as lost or different."""
    names = set(reported)
    return compare(without(before, names), without(after, names))


def verify_cli(target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``elastic-kernel verify TARGET`` in a subprocess (the user's key from JUPYTER_DATA_DIR)."""
    return subprocess.run(
        [sys.executable, "-m", "elastic_kernel", "verify", target, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def signing_key() -> bytes:
    """The per-user key the kernels and the CLI of this test session sign with."""
    from elastic_kernel.config import default_key_path
    from elastic_kernel.store import load_or_create_key

    return load_or_create_key(default_key_path())
