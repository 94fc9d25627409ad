"""numpy views that stay views of their root after loading.

numpy pickles a view as an independent copy. Here a view is reduced to (its root array,
geometry), so the pickle memo makes the root and every view of it one buffer again. A small
view of a much larger root is copied instead (pickling a 10-element slice of a 1 GB array as
the whole array would be a poor trade), unless the stream holds that root anyway: the reducer
records both facts, and the caller pickles again when a declined root turned out to be stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["ViewReducer", "rebuild_view", "top_level_roots"]

# A view is pickled as (root buffer, geometry) when its root is stored anyway, or when the
# root is at most this many times larger than the view.
_VIEW_ROOT_MAX_FACTOR = 2

# ndarray subclasses whose whole state is the array itself, so a view of the root memory cast
# back to the subclass is the same object; other subclasses (masked, memmap) carry more state.
_VIEW_SUBCLASSES: tuple[type[np.ndarray[Any, Any]], ...] = (np.recarray, np.matrix)
_VIEW_TYPES: frozenset[type] = frozenset({np.ndarray, *_VIEW_SUBCLASSES})


def rebuild_view(
    root: np.ndarray[Any, Any],
    offset: int,
    shape: tuple[int, ...],
    strides: tuple[int, ...],
    dtype: np.dtype[Any],
    writeable: bool,
    kind: type[np.ndarray[Any, Any]] | None = None,
) -> np.ndarray[Any, Any]:
    """Recreate a numpy view on the memory of ``root`` (inverse of ``ViewReducer.reduce``)."""
    raw = root.reshape(-1, order="A").view(np.uint8)
    view: np.ndarray[Any, Any] = np.ndarray(
        shape, dtype=dtype, buffer=raw, offset=offset, strides=strides
    )
    if kind is not None:
        view = view.view(kind)
    if not writeable:
        view.flags.writeable = False
    return view


def _array_root(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The last array down the ``base`` chain. Below it there may be a plain buffer: a loaded
    array is a view of a ``memoryview`` of the bytes read, and its views share that array."""
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
    return root


def top_level_roots(values: Mapping[str, object]) -> set[int]:
    """Ids of memory owners stored anyway by the group: roots of the arrays found at the top
    level (or one container deep) that cover most of their root. Views of them cost nothing."""
    roots: set[int] = set()
    for value in values.values():
        items: list[object] = [value]
        if isinstance(value, dict):
            items.extend(value.values())
        elif isinstance(value, list | tuple):
            items.extend(value)
        for item in items:
            if isinstance(item, np.ndarray):
                root = _array_root(item)
                if root.nbytes <= _VIEW_ROOT_MAX_FACTOR * max(item.nbytes, 1):
                    roots.add(id(root))
    return roots


class ViewReducer:
    """Reduces the numpy views of one pickle call; ``NotImplemented`` for anything else.

    Parameters
    ----------
    roots
        Ids of root arrays known to be stored by the stream: views of them always stay views.
    """

    def __init__(self, roots: set[int]) -> None:
        self.roots = roots
        # Roots of views copied because the root looked too large to store for them...
        self.declined: set[int] = set()
        # ...and the root arrays the stream stored all the same (by value, as themselves).
        self.stored: set[int] = set()
        self._keep: list[object] = []

    def missed_roots(self) -> set[int]:
        """Roots stored by the stream whose views were copied: pickle again with these."""
        return self.declined & self.stored

    def reduce(self, arr: object) -> tuple[object, ...] | Any:
        if type(arr) not in _VIEW_TYPES or not isinstance(arr, np.ndarray):
            return NotImplemented
        root = _array_root(arr)
        if root is arr:
            # Owns its memory, or views a plain buffer (a loaded array): pickled by value.
            self.stored.add(id(arr))
            return NotImplemented
        if arr.dtype.hasobject:
            return NotImplemented
        if type(root) is not np.ndarray or root.dtype.hasobject:
            return NotImplemented
        if not (root.flags.c_contiguous or root.flags.f_contiguous):
            return NotImplemented
        if id(root) not in self.roots and root.nbytes > _VIEW_ROOT_MAX_FACTOR * max(arr.nbytes, 1):
            self.declined.add(id(root))
            # Ids are compared after the pickle call: the root must not be freed before.
            self._keep.append(root)
            return NotImplemented
        offset = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        args: tuple[object, ...] = (
            root,
            offset,
            arr.shape,
            arr.strides,
            arr.dtype,
            bool(arr.flags.writeable),
        )
        if type(arr) is not np.ndarray:
            args = (*args, type(arr))
        return (rebuild_view, args)
