"""Which variables reach a given object: the inverted index behind alias detection.

A walk may record a million object ids per variable (60k token lists), and almost every id has
one holder. So each id maps to its first holder in one dict, filled and emptied with C-speed
bulk operations, and only the few ids shared by several variables keep a set of the others.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, KeysView
from collections.abc import Set as AbstractSet
from itertools import repeat
from typing import cast

__all__ = ["HolderIndex"]


class HolderIndex:
    """Object id -> names of the variables whose object graphs reach it."""

    def __init__(self) -> None:
        self._first: dict[int, str] = {}
        # Holders after the first, for the ids several variables reach.
        self._more: dict[int, set[str]] = {}

    def __len__(self) -> int:
        return len(self._first)

    def ids(self) -> KeysView[int]:
        """Every indexed id (a live view, for set operations at C speed)."""
        return self._first.keys()

    def add(self, name: str, reach: AbstractSet[int]) -> None:
        """Index ``name`` as reaching ``reach`` (not indexed for ``name`` yet)."""
        first = self._first
        taken = first.keys() & reach
        first.update(dict.fromkeys(reach - taken if taken else reach, name))
        for ident in taken:
            if first[ident] != name:
                self._more.setdefault(ident, set()).add(name)

    def remove(self, name: str, reach: AbstractSet[int]) -> None:
        """Forget that ``name`` reaches ``reach`` (what :meth:`add` was given for it)."""
        first, more = self._first, self._more
        shared = more.keys() & reach
        for ident in shared:
            others = more[ident]
            if first.get(ident) == name:
                first[ident] = others.pop()
            else:
                others.discard(name)
            if not others:
                del more[ident]
        alone = reach - shared if shared else reach
        # dict.pop over every id at C speed (a Python loop costs twice as much per id).
        deque(map(first.pop, alone, repeat(None)), maxlen=0)

    def holders_of_any(self, idents: Iterable[int]) -> set[str]:
        """Names reaching at least one of ``idents``."""
        idents = idents if isinstance(idents, set | frozenset) else set(idents)
        found: set[str | None] = set(map(self._first.get, idents))
        found.discard(None)  # ids nobody reaches
        for ident in self._more.keys() & idents:
            found |= self._more[ident]
        return cast("set[str]", found)
