"""What every driver shares: a timed kernel handle, the outcome record, the oracle check."""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.oracle import compare  # noqa: E402
from tests.utils import TIMEOUT, evaluate_silently, execute, start_kernel, stop_kernel  # noqa: E402

# Names a method itself adds to the namespace (its own import); not part of the user's state.
TOOL_NAMES = frozenset({"dill", "init_kishu", "kishu", "_kishu"})


class MethodFailed(Exception):
    """A method could not checkpoint or restore; the message is recorded, the run goes on."""


@dataclass
class Outcome:
    """What one method did on one notebook. Times are client-observed seconds."""

    method: str
    status: str = "ok"  # ok | failed | timeout | unavailable
    error: str = ""
    run_s: float | None = None
    cell_s: list[float] = field(default_factory=list)
    rss_bytes: int | None = None
    checkpoint_s: float | None = None
    checkpoint_bytes: int | None = None
    boot_s: float | None = None
    restore_s: float | None = None
    correct: bool | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def record_run(self, kernel: Kernel, cells: list[str]) -> None:
        """Run the notebook's cells in ``kernel`` and keep its boot, per-cell and total run
        time and its memory afterwards."""
        self.boot_s = kernel.boot_s
        self.cell_s = kernel.run_cells(cells)
        self.run_s = sum(self.cell_s)
        self.rss_bytes = kernel.rss()


class Deadline:
    """A per-method time budget; every kernel call gets what is left of it."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"method exceeded its {self.seconds:.0f} s budget")
        return left


class Kernel:
    """A kernel process started from an installed kernelspec, with timing helpers."""

    def __init__(self, name: str, *, env: dict[str, str], cwd: Path, deadline: Deadline) -> None:
        self.deadline = deadline
        started = time.perf_counter()
        self.km, self.kc = start_kernel(name, cwd=str(cwd), env=env)
        self.boot_s = time.perf_counter() - started
        provisioner = self.km.provisioner
        self.pid: int | None = getattr(provisioner, "pid", None)
        # Names the kernel (or IPython) puts in a fresh namespace, such as ipykernel's `open`,
        # are not the user's state; they are left out of the oracle's comparison.
        self.preset = set(self._expression("sorted(get_ipython().user_ns)"))

    def run(self, code: str) -> tuple[float, str]:
        """Run one cell; return (seconds, stdout). A failed cell raises ``MethodFailed``."""
        started = time.perf_counter()
        result = execute(self.kc, code, timeout=self.deadline.left())
        seconds = time.perf_counter() - started
        if not result.ok:
            error = result.error or {}
            raise MethodFailed(
                f"cell failed: {code.strip().splitlines()[0][:80]!r}: "
                f"{error.get('ename', '?')}: {str(error.get('evalue', ''))[:300]} "
                f"{result.stderr[-500:]}".strip()
            )
        texts = [result.stdout] + [
            m["content"]["data"].get("text/plain", "")
            for m in result.messages
            if m["msg_type"] == "execute_result"
        ]
        return seconds, "\n".join(texts)

    def run_cells(self, cells: list[str]) -> list[float]:
        return [self.run(cell)[0] for cell in cells]

    def _expression(self, expression: str) -> Any:
        """Evaluate a user expression silently (not recorded by any kernel's history)."""
        timeout = max(TIMEOUT, min(600.0, self.deadline.left()))
        result = evaluate_silently(self.kc, {"x": expression}, timeout=timeout)["x"]
        if result.get("status") != "ok":
            raise MethodFailed(f"oracle expression failed in the kernel: {str(result)[:500]}")
        return ast.literal_eval(result["data"]["text/plain"])

    def describe(self) -> dict[str, Any]:
        """The oracle's description of the user's variables (kernel and tool names left out)."""
        excluded = sorted(self.preset | TOOL_NAMES)
        expression = (
            "__import__('tests.oracle', fromlist=['describe_json']).describe_json("
            f"{{k: v for k, v in get_ipython().user_ns.items() if k not in {excluded!r}}})"
        )
        data: dict[str, Any] = json.loads(self._expression(expression))
        return data

    def rss(self) -> int | None:
        if self.pid is None:
            return None
        try:
            return int(psutil.Process(self.pid).memory_info().rss)
        except psutil.Error:
            return None

    def close(self) -> None:
        try:
            stop_kernel(self.km, self.kc)
        except Exception:  # a dead or wedged kernel must not stop the benchmark
            if self.pid is not None:
                try:
                    psutil.Process(self.pid).kill()
                except psutil.Error:
                    pass

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check(outcome: Outcome, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Fill in the oracle's verdict: every variable, alias and shared buffer equal."""
    problems = compare(before, after)
    outcome.correct = not problems
    outcome.problems = problems[:20]


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def kernel_env(oracle_path: Path, **extra: str) -> dict[str, str]:
    """The environment of every benchmark kernel: only the oracle added to ``sys.path``.

    Our repository root is not put on ``PYTHONPATH``: its ``elastic_kernel`` package would
    shadow the PyPI ``elastic-kernel`` in that peer's kernel.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC_", "JPY_"))}
    env["PYTHONPATH"] = str(oracle_path)
    env["MPLBACKEND"] = "Agg"
    env.update(extra)
    return env


def fail(outcome: Outcome, exc: BaseException) -> Outcome:
    outcome.status = "timeout" if isinstance(exc, TimeoutError) else "failed"
    outcome.error = f"{type(exc).__name__}: {exc}"[:1500]
    return outcome
