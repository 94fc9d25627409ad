"""Shared helpers for benchmarks: start real kernels in a throwaway Jupyter environment."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.utils import execute, start_kernel, stop_kernel  # noqa: E402

__all__ = [
    "NOTES_MARKER",
    "ROOT",
    "execute",
    "isolated_jupyter",
    "kernel",
    "machine_description",
    "timed_cell",
    "write_keeping_notes",
]

NOTES_MARKER = "<!-- analysis: kept across runs -->"


@contextmanager
def isolated_jupyter() -> Iterator[Path]:
    """A temporary Jupyter path with the elastic kernelspec installed for this interpreter."""
    from elastic_kernel.install import install_kernelspec

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="elastic-bench-") as tmp:
        root = Path(tmp)
        install_kernelspec(prefix=str(root / "prefix"))
        os.environ["JUPYTER_PATH"] = str(root / "prefix" / "share" / "jupyter")
        os.environ["JUPYTER_DATA_DIR"] = str(root / "data")
        os.environ["IPYTHONDIR"] = str(root / "ipython")
        os.environ["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), os.environ["PATH"]))
        try:
            yield root
        finally:
            os.environ.clear()
            os.environ.update(saved)


@contextmanager
def kernel(name: str) -> Iterator[object]:
    km, kc = start_kernel(name)
    try:
        yield kc
    finally:
        stop_kernel(km, kc)


def timed_cell(kc: object, code: str) -> float:
    """Client-observed seconds from execute_request to the kernel going idle."""
    start = time.perf_counter()
    result = execute(kc, code, timeout=600)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError(f"benchmark cell failed: {code!r}: {result.error}")
    return elapsed


def machine_description() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return (
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"commit {commit or 'uncommitted'}, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    )


def write_keeping_notes(path: Path, lines: list[str]) -> None:
    """Write a results page; the analysis written by hand below ``NOTES_MARKER`` in the
    existing page survives the re-run."""
    old = path.read_text() if path.is_file() else ""
    if NOTES_MARKER in old:
        lines = [*lines, "", NOTES_MARKER + old.split(NOTES_MARKER, 1)[1]]
    path.write_text("\n".join(lines).rstrip("\n") + "\n")
