"""Linked groups: variables whose object graphs overlap, found by walking them with an id memo.

Linked variables must be stored or recomputed together, and pickled in one call, or a restore
loses the aliasing between them (``d['k'] is df``, a numpy view and its base).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from elastic_kernel.lineage.walker import Walker

__all__ = ["DEFAULT_MAX_OBJECTS", "LinkResult", "linked_groups"]

DEFAULT_MAX_OBJECTS = 2_000_000
"""Work units (objects visited, plus container slots scanned / 16) per variable."""


@dataclass(frozen=True, slots=True)
class LinkResult:
    """Partition of variables into linked groups.

    Attributes
    ----------
    groups
        Each name appears in exactly one group; unlinked variables are singleton groups.
    incomplete
        Names whose walk hit the budget, with every name linked to them: their links may be
        missing, so the caller should treat them as linked to anything it cannot rule out.
    reach
        Per name, ids of the mutable objects reachable from it (valid while they are alive).
    code
        Per name, the functions and the classes of instances reachable from it (names with
        none are left out): calling into the variable can run their code, which may write
        globals the cell never names (``ops['f']()``, ``registry['o'].run()``).
    """

    groups: tuple[frozenset[str], ...]
    incomplete: frozenset[str]
    reach: Mapping[str, frozenset[int]] = field(repr=False)
    code: Mapping[str, tuple[object, ...]] = field(default_factory=dict, repr=False)

    def group_of(self, name: str) -> frozenset[str]:
        """The group holding ``name`` (a singleton for a name that was not walked)."""
        for group in self.groups:
            if name in group:
                return group
        return frozenset({name})


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, left: int, right: int) -> None:
        left, right = self.find(left), self.find(right)
        if left != right:
            self.parent[max(left, right)] = min(left, right)


def linked_groups(
    ns: Mapping[str, object],
    names: Iterable[str],
    *,
    max_objects: int = DEFAULT_MAX_OBJECTS,
) -> LinkResult:
    """Partition variables into groups whose object graphs overlap, transitively.

    Two variables are linked when some mutable object (container, user object, function,
    numpy array, pandas block) is reachable from both, or when two numpy arrays reachable from
    them overlap in memory (views of one buffer). Immutable atoms (numbers, strings, bytes,
    None, tuples of atoms) are never links.

    Parameters
    ----------
    ns
        The namespace.
    names
        Variables to partition; names absent from ``ns`` are ignored.
    max_objects
        Work budget per variable (objects visited plus container slots scanned / 16).

    Returns
    -------
    LinkResult
        Groups, the names whose links may be incomplete, and reachable ids per name.
    """
    order = [name for name in dict.fromkeys(names) if name in ns]
    walker = Walker(max_objects, shared=(ns,))
    union = _UnionFind(len(order))
    owner: dict[int, int] = {}
    ranges: list[tuple[int, int, int]] = []
    reach: dict[str, frozenset[int]] = {}
    truncated: list[int] = []
    # The walk allocates no cyclic garbage; collections triggered by its temporary lists would
    # traverse every live object of a large namespace, again and again.
    collecting = gc.isenabled()
    gc.disable()
    code: dict[str, tuple[object, ...]] = {}
    walks = []
    try:
        for name in order:
            walks.append(walker.walk(ns[name]))
            if walker.code:
                code[name] = tuple(walker.code.values())
    finally:
        walker.code = {}
        if collecting:
            gc.enable()
    for index, (name, (seen, bounds, complete)) in enumerate(zip(order, walks, strict=True)):
        if not complete:
            truncated.append(index)
        reach[name] = frozenset(seen)
        # Set operations at C speed: a walk may record a million ids, few shared.
        for ident in owner.keys() & seen:
            union.union(owner[ident], index)
        if index < len(order) - 1:
            owner.update(dict.fromkeys(seen, index))
        ranges.extend((low, high, index) for low, high in bounds)
    _union_overlapping(ranges, union)
    members: dict[int, set[str]] = {}
    for index, name in enumerate(order):
        members.setdefault(union.find(index), set()).add(name)
    incomplete_roots = {union.find(index) for index in truncated}
    incomplete = frozenset(name for root in incomplete_roots for name in members.get(root, ()))
    groups = tuple(frozenset(group) for group in members.values())
    return LinkResult(groups=groups, incomplete=incomplete, reach=reach, code=code)


def _union_overlapping(ranges: list[tuple[int, int, int]], union: _UnionFind) -> None:
    """Union owners of overlapping byte ranges (sweep over ranges sorted by start)."""
    ranges.sort()
    current_high = -1
    current_owner = -1
    for low, high, index in ranges:
        if low < current_high:
            union.union(current_owner, index)
        if high > current_high:
            current_high, current_owner = high, index
