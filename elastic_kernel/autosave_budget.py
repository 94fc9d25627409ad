"""Budgets of a background checkpoint: the extra memory a forked autosave child costs (read
from ``/proc``) and the disk its checkpoints take (checked in the child as the write goes)."""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import Any

__all__ = ["BudgetExceeded", "DiskBudget", "mib", "private_memory"]


class BudgetExceeded(Exception):
    """An autosave child gives up on a checkpoint that would break a budget (control flow inside
    the child only; the parent sees ``{"skipped": reason}``)."""


def private_memory(pid: int) -> int | None:
    """Bytes mapped by process ``pid`` alone (``Private_Clean + Private_Dirty``), or ``None``
    when it cannot be read (not Linux, process gone).

    For a forked autosave child these are exactly the pages its existence costs: the ones it
    copied or allocated, and the old copies of pages the parent wrote since the fork.
    """
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            text = f.read()
    except OSError:
        return None
    total = 0
    for line in text.splitlines():
        if line.startswith((b"Private_Clean:", b"Private_Dirty:")):
            total += int(line.split()[1]) * 1024
    return total


class DiskBudget:
    """Guards one autosave write (in the child): ``check`` before, ``progress`` during.

    Parameters
    ----------
    max_bytes
        What the autosaves of this session may occupy in all; ``None``: no budget (the free
        space of a local store is still respected).
    local_dir
        The session's autosave folder when the store is on local disk (its current size and
        the disk's free space count); ``None`` for object stores (only this write counts).
    """

    def __init__(self, max_bytes: int | None, local_dir: str | None) -> None:
        self.max_bytes = max_bytes
        self.local_dir = local_dir
        self.used = _tree_size(local_dir) if local_dir is not None else 0
        self.free = _free_space(local_dir) if local_dir is not None else None
        self.planned = 0
        self._groups: set[int | None] = set()

    def check(self, more: int = 0) -> None:
        """Raise :class:`BudgetExceeded` if ``more`` new bytes would not fit."""
        if self.free is not None and self.planned + more > self.free:
            raise BudgetExceeded(
                f"disk: the checkpoint needs {mib(self.planned + more)} but only "
                f"{mib(self.free)} are free where the store is"
            )
        if self.max_bytes is not None and self.used + self.planned + more > self.max_bytes:
            raise BudgetExceeded(
                f"disk: {mib(self.used)} of autosaves kept + {mib(self.planned + more)} new "
                f"would exceed the {mib(self.max_bytes)} budget"
            )

    def progress(self, event: Any) -> None:
        """A ``ProgressEvent`` callback: a group's size is known at its first write event, so a
        group that would not fit stops the write before most of it goes out (nothing is
        published: the manifest comes last)."""
        if event.stage == "write" and event.group not in self._groups:
            self._groups.add(event.group)
            self.check(int(event.total_bytes))
            self.planned += int(event.total_bytes)


def _tree_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def _free_space(path: str) -> int | None:
    probe = path
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    try:
        return shutil.disk_usage(probe or ".").free
    except OSError:
        return None


def mib(size: int) -> str:
    """``size`` bytes in MiB, for messages."""
    return f"{size / 2**20:.1f} MiB"
