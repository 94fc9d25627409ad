"""elastic_kernel: the "Python 3 (Elastic)" kernel that checkpoints and restores sessions."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "run_notebook"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the kernel process never needs nbclient.
    if name == "run_notebook":
        from elastic_kernel.runner import run_notebook

        return run_notebook
    raise AttributeError(f"module 'elastic_kernel' has no attribute {name!r}")
