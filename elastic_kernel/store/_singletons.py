"""Process-wide generators saved by reference, so that a loaded variable is still the one the
library draws from.

``g = random.random``, ``f = np.random.rand`` and scipy's frozen distributions hold the global
generator of ``random`` or of numpy. Saved by value they load as private copies: seeding the
global generator no longer reaches them. Their state is not lost by saving them by reference:
a restore sets the global generators' state from the checkpoint (``restore_final_rng``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__all__ = ["SingletonReducer", "module_attribute"]

# (module, attribute) of each process-wide generator.
_SINGLETONS = (("random", "_inst"), ("numpy.random.mtrand", "_rand"))


def module_attribute(module: str, attribute: str) -> object:
    """The object a module holds as ``attribute`` in this process (importing it if needed)."""
    return getattr(importlib.import_module(module), attribute)


class SingletonReducer:
    """Reduces the process-wide generators of one pickle call; ``NotImplemented`` otherwise."""

    def __init__(self) -> None:
        # Looked up once per pickle call: the reducer sees every object of the stream.
        self._by_id: dict[int, tuple[str, str]] = {}
        for module_name, attribute in _SINGLETONS:
            module = sys.modules.get(module_name)
            value = getattr(module, attribute, None) if module is not None else None
            if value is not None:
                self._by_id[id(value)] = (module_name, attribute)

    def reduce(self, obj: object) -> tuple[object, ...] | Any:
        where = self._by_id.get(id(obj))
        if where is None:
            return NotImplemented
        return (module_attribute, where)
