"""elastic_kernel: the "Python 3 (Elastic)" kernel that checkpoints and restores sessions."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
