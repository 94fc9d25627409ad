"""Which object every user variable is bound to, taken after each cell and compared with the last.

The comparison catches every rebinding, whatever did it (the cell, a function it called, a
library writing ``__main__``), so it must cover the whole namespace; it is kept to C-speed
passes over a list, without a dict or a tuple per name. Snapshots taken while the set of
names only grew share one name table, so comparing two of them is one ``map``.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from itertools import compress
from operator import ne

from elastic_kernel.lineage.identity import identity

__all__ = ["IdSnapshot", "SnapshotTaker"]


class IdSnapshot:
    """The identity of the object behind each user variable at one instant.

    Parameters
    ----------
    names
        The variables, in the order of ``ids``.
    ids
        ``identity`` of each variable's object.
    positions
        Name -> index into ``names``; shared with later snapshots while names are only added,
        so an entry at or past ``len(ids)`` belongs to a later snapshot.
    """

    __slots__ = ("ids", "names", "positions")

    def __init__(self, names: tuple[str, ...], ids: list[int], positions: dict[str, int]) -> None:
        self.names = names
        self.ids = ids
        self.positions = positions

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, name: object) -> bool:
        position = self.positions.get(name)  # type: ignore[call-overload]
        return position is not None and position < len(self.ids)

    def get(self, name: str) -> int | None:
        position = self.positions.get(name)
        return None if position is None or position >= len(self.ids) else self.ids[position]

    def __getitem__(self, name: str) -> int:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def rebound_since(self, before: IdSnapshot) -> list[str]:
        """Names bound now to another object than in ``before``, or not there before."""
        if before.positions is self.positions:
            count = len(before.ids)
            rebound = list(compress(self.names, map(ne, before.ids, self.ids)))
            rebound.extend(self.names[count:])
            return rebound
        # A name was removed in between: no shared table, one lookup per name.
        get = before.get
        return [n for n, ident in zip(self.names, self.ids, strict=True) if get(n) != ident]

    def missing_from(self, after: IdSnapshot) -> list[str]:
        """Names here that ``after`` no longer has."""
        if after.positions is self.positions:
            # Names are only ever appended to a shared table: a removal starts a new one.
            return []
        return [name for name in self.names if name not in after]


class SnapshotTaker:
    """Takes :class:`IdSnapshot` of a namespace, keeping its name table between calls.

    Parameters
    ----------
    ns
        The namespace.
    is_user
        Which names are user variables (IPython's ``_i42`` history names are not, so the cost
        follows the number of variables, not the length of the session).
    """

    def __init__(self, ns: MutableMapping[str, object], is_user: Callable[[str], bool]) -> None:
        self._ns = ns
        self._is_user = is_user
        self._known: set[str] = set()
        self._names: tuple[str, ...] = ()
        self._positions: dict[str, int] = {}

    @property
    def user_names(self) -> tuple[str, ...]:
        """The user variables at the last snapshot."""
        return self._names

    def take(self) -> IdSnapshot:
        """Snapshot the namespace as it is now."""
        ns = self._ns
        keys = ns.keys()
        known = self._known
        new = keys - known
        if len(known) + len(new) != len(keys):
            gone = known - keys
            known -= gone
            if not self._positions.keys().isdisjoint(gone):
                kept = tuple(n for n in self._names if n not in gone)
                self._names = kept
                self._positions = dict(zip(kept, range(len(kept)), strict=True))
        if new:
            known |= new
            added = tuple(n for n in new if self._is_user(n))
            if added:
                positions = self._positions
                start = len(self._names)
                positions.update(zip(added, range(start, start + len(added)), strict=True))
                self._names += added
        names = self._names
        return IdSnapshot(names, list(map(identity, map(ns.__getitem__, names))), self._positions)
