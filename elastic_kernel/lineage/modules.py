"""Modules that another thread may be importing at the same moment.

Two things follow. First, optional libraries (numpy, torch) are used by the lineage code only
when fully imported: a background restore or a user's own thread may be importing numpy while a
cell boundary is recorded, and the half-built module is already in ``sys.modules`` without most
of its names (``numpy.generic``, ``numpy.random``). Nothing in the namespace can be a numpy
object before its import finishes, so such a module counts as not imported yet. Second, two
threads importing modules that import each other deadlock, and Python breaks the cycle by
failing one of the imports; the thread whose import failed retries it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

__all__ = ["IMPORT_DEADLOCK_RETRIES", "import_deadlock", "imported", "retrying_import_deadlocks"]

T = TypeVar("T")

IMPORT_DEADLOCK_RETRIES = 5
"""Attempts at an import that two threads deadlocked on (Python fails one of them)."""


def imported(name: str) -> ModuleType | None:
    """``sys.modules[name]`` if that module has finished initializing, else None."""
    module = sys.modules.get(name)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    return module


def import_deadlock(exc: BaseException | None) -> bool:
    """Whether ``exc`` was caused by importlib's ``_DeadlockError`` (a private class)."""
    while exc is not None:
        if type(exc).__name__ == "_DeadlockError":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def retrying_import_deadlocks(action: Callable[[], T]) -> T:
    """``action()``, run again when it failed on an import deadlock: two threads importing
    modules that import each other, Python breaks the cycle by failing one import, the other
    thread finishes it. Any other error, or the last deadlock, is raised."""
    for attempt in range(IMPORT_DEADLOCK_RETRIES):
        try:
            return action()
        except Exception as exc:
            if attempt + 1 == IMPORT_DEADLOCK_RETRIES or not import_deadlock(exc):
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")
