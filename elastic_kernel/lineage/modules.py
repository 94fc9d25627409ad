"""Optional libraries (numpy, torch) as the lineage code may use them: only when fully imported.

Another thread (a background restore, a user's own thread) may be importing numpy while a cell
boundary is recorded; the half-built module is already in ``sys.modules`` but lacks most of its
names (``numpy.generic``, ``numpy.random``), so it is treated as not imported yet: nothing in the
namespace can be a numpy object before its import finishes.
"""

from __future__ import annotations

import sys
from types import ModuleType

__all__ = ["imported"]


def imported(name: str) -> ModuleType | None:
    """``sys.modules[name]`` if that module has finished initializing, else None."""
    module = sys.modules.get(name)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    return module
