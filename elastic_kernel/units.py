"""Human-readable sizes, shared by the planner's tables and the magics (a leaf module: the
magics use it without importing the planner, which pulls in OR-Tools)."""

from __future__ import annotations

__all__ = ["format_bytes"]


def format_bytes(size: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
