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
    """

    path: str
    size: int
    mtime_ns: int
    digest: str | None


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
        current = describe_file(recorded.path, HASH_LIMIT if recorded.digest else 0)
        if current is None:
            reasons.append(f"input file {recorded.path} no longer exists")
        elif recorded.digest is not None:
            if current.digest != recorded.digest:
                reasons.append(f"input file {recorded.path} changed (content differs)")
        elif (current.size, current.mtime_ns) != (recorded.size, recorded.mtime_ns):
            reasons.append(f"input file {recorded.path} changed (size or mtime differs)")
    return reasons


def recorded_input_changes(file_inputs: object) -> list[str]:
    """:func:`check_file_inputs` for inputs as an execution's ``extra["file_inputs"]`` holds
    them (JSON dicts); malformed entries count as changed."""
    if not isinstance(file_inputs, list):
        return []
    inputs: list[FileInput] = []
    for entry in file_inputs:
        try:
            inputs.append(
                FileInput(
                    str(entry["path"]), int(entry["size"]), int(entry["mtime_ns"]), entry["digest"]
                )
            )
        except (KeyError, TypeError, ValueError):
            return [f"unreadable record of an input file: {entry!r}"]
    return check_file_inputs(inputs)
