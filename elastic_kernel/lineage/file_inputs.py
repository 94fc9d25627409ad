"""Files a cell read, as they were after it, and whether a re-run would read the same."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

import xxhash

__all__ = [
    "HASH_LIMIT",
    "FileInput",
    "check_file_inputs",
    "describe_file",
    "recorded_input_changes",
]

HASH_LIMIT = 2**20
"""Files read that are smaller than this are hashed, so a touch without change is not a change."""


@dataclass(frozen=True, slots=True)
class FileInput:
    """A file a cell read, as it was right after the cell.

    Attributes
    ----------
    path
        Absolute path.
    size, mtime_ns
        ``os.stat`` size and modification time.
    digest
        xxh3-128 hex digest of the content when smaller than ``HASH_LIMIT`` bytes, else None.
    relative
        The path relative to the cell's working directory, when the file lies under it: where
        a restore on another machine (the project moved, the original path gone) looks for it.
    """

    path: str
    size: int
    mtime_ns: int
    digest: str | None
    relative: str | None = None


def describe_file(path: str, hash_limit: int) -> FileInput | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    digest = None
    if info.st_size < hash_limit:
        digest = _hash_file(path)
    return FileInput(path, info.st_size, info.st_mtime_ns, digest)


def _hash_file(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return xxhash.xxh3_128_hexdigest(handle.read())
    except OSError:
        return None


def check_file_inputs(inputs: Iterable[FileInput]) -> list[str]:
    """Reasons why re-running a cell would not read the same files.

    Parameters
    ----------
    inputs
        File inputs recorded for the cell.

    Returns
    -------
    list[str]
        One reason per input that vanished or changed (empty: all unchanged).
    """
    reasons: list[str] = []
    for recorded in inputs:
        path = recorded.path
        if recorded.relative is not None and not os.path.lexists(path):
            # The project moved (another machine): the file where the cell will now read it,
            # relative to the working directory it re-runs in.
            path = os.path.abspath(recorded.relative)
        current = describe_file(path, HASH_LIMIT if recorded.digest else 0)
        if current is None:
            reasons.append(f"input file {path} no longer exists")
        elif recorded.digest is not None:
            if current.digest != recorded.digest:
                reasons.append(f"input file {path} changed (content differs)")
        elif (current.size, current.mtime_ns) != (recorded.size, recorded.mtime_ns):
            reasons.append(f"input file {path} changed (size or mtime differs)")
    return reasons


def recorded_input_changes(file_inputs: object) -> list[str]:
    """:func:`check_file_inputs` for inputs as an execution's ``extra["file_inputs"]`` holds
    them (JSON dicts); malformed entries count as changed."""
    if not isinstance(file_inputs, list):
        return []
    inputs: list[FileInput] = []
    for entry in file_inputs:
        try:
            relative = entry.get("relative")
            inputs.append(
                FileInput(
                    str(entry["path"]),
                    int(entry["size"]),
                    int(entry["mtime_ns"]),
                    entry["digest"],
                    str(relative) if relative is not None else None,
                )
            )
        except (KeyError, TypeError, ValueError):
            return [f"unreadable record of an input file: {entry!r}"]
    return check_file_inputs(inputs)
