"""Private virtual environments for peers whose packages must not meet ours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.peers._common import ROOT

VENVS = ROOT / "benchmarks" / ".venvs"
# The notebooks' own libraries, so every kernel can run every notebook.
NOTEBOOK_LIBS = ("ipykernel", "numpy", "pandas", "scikit-learn", "scipy", "matplotlib")


class PeerUnavailable(Exception):
    """The peer could not be installed; the message says why."""


def ensure_venv(name: str, packages: tuple[str, ...]) -> Path:
    """Create ``benchmarks/.venvs/NAME`` with ``packages`` (once) and return its python."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    stamp = venv / ".bench-installed"
    if stamp.exists() and stamp.read_text() == " ".join(packages):
        return python
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *packages, *NOTEBOOK_LIBS],
            check=True,
            timeout=1200,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        raise PeerUnavailable(
            f"pip install {' '.join(packages)} failed: {exc.stderr[-800:]}"
        ) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerUnavailable(f"could not create {venv}: {exc}") from exc
    stamp.write_text(" ".join(packages))
    return python


def installed_version(python: Path, distribution: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or "?"


def install_kernelspec(jupyter_root: Path, name: str, display: str, argv: list[str]) -> None:
    """Write a kernelspec into the isolated Jupyter path made by ``isolated_jupyter``."""
    directory = jupyter_root / "prefix" / "share" / "jupyter" / "kernels" / name
    directory.mkdir(parents=True, exist_ok=True)
    spec = {"argv": argv, "display_name": display, "language": "python"}
    (directory / "kernel.json").write_text(json.dumps(spec, indent=1))
