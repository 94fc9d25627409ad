"""Working directories, recorded relative to the directory the kernel started in (the notebook's
directory): a restore in a moved project or on another machine re-runs each cell in the
directory it ran in and leaves the user where the session was."""

from __future__ import annotations

import os

__all__ = ["CELL_DIR", "current_dir", "relative_dir", "resolve_dir"]

CELL_DIR = "cwd"
"""Execution extra: the directory a cell started in, relative to the kernel's start directory
(absent when it was that directory)."""


def current_dir() -> str | None:
    """The process's working directory; None when it was deleted under it."""
    try:
        return os.getcwd()
    except OSError:
        return None


def relative_dir(path: str, start_dir: str) -> str:
    """``path`` as seen from ``start_dir`` (``.`` for the same directory, ``..`` and deeper
    allowed); absolute only when no relative path exists (another Windows drive)."""
    if path == start_dir:
        return "."
    try:
        return os.path.relpath(path, start_dir)
    except ValueError:
        return path


def resolve_dir(recorded: str, start_dir: str) -> str | None:
    """The directory here that ``recorded`` (from :func:`relative_dir`) names, if it exists."""
    path = os.path.normpath(os.path.join(start_dir, recorded))
    return path if os.path.isdir(path) else None
