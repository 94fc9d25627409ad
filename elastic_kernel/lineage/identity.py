"""Object identity for the lineage hot paths, without the builtin ``id``.

``id()`` raises the audit event ``builtins.id``, so once the effect watcher's audit hook is
installed every call runs Python code: 2000 variables cost ~0.6 ms per namespace snapshot
instead of ~0.15 ms. ``object.__hash__`` is the object's address rotated by four bits: as unique
among live objects as ``id``, raises no event, and works on every object (lists included). Ids
from the two must never be compared with each other.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["identity"]

identity: Callable[[object], int] = object.__hash__
