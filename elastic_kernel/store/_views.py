"""numpy views that stay views of their root after loading.

numpy pickles a view as an independent copy. Here a view is reduced to (its root array,
geometry), so the pickle memo makes the root and every view of it one buffer again. A small
view of a much larger root is copied instead (pickling a 10-element slice of a 1 GB array as
the whole array would be a poor trade), unless the stream holds that root anyway: the reducer
records both facts, and the caller pickles again when a declined root turned out to be stored.
Views of a declined root that overlap each other (``e = big[1:3]``, ``a = e[1:]``) must still
share memory after loading: the caller pickles again with the span of bytes they cover, which
is stored once and the views rebuilt on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# numpy 2 moved it to numpy.lib.array_utils; numpy 1 has it at the top.
_array_utils = getattr(np.lib, "array_utils", None)
byte_bounds: Any = getattr(_array_utils, "byte_bounds", None) or getattr(np, "byte_bounds", None)

__all__ = ["Spans", "ViewReducer", "rebuild_view", "top_level_roots"]

Spans = dict[int, list[tuple[int, int]]]
"""Root id -> byte ranges (from the root's first byte) stored in place of the whole root."""

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
    while True:
        base = root.base
        if not isinstance(base, np.ndarray):
            base = _interface_owner(root, base)
        if base is None:
            return root
        root = base


def _interface_owner(arr: np.ndarray[Any, Any], base: object) -> np.ndarray[Any, Any] | None:
    """The array behind an ``__array_interface__`` holder: ``as_strided`` (and so
    ``sliding_window_view``) makes its result from a small object whose ``base`` is the
    original array. Followed only when the view lies inside that array's memory."""
    owner = getattr(base, "base", None)
    if not isinstance(owner, np.ndarray) or not hasattr(base, "__array_interface__"):
        return None
    low, high = byte_bounds(arr)
    owner_low, owner_high = byte_bounds(owner)
    return owner if owner_low <= low and high <= owner_high else None


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

    def __init__(self, roots: set[int], spans: Spans | None = None) -> None:
        self.roots = roots
        self.spans: Spans = spans or {}
        # Roots of views copied because the root looked too large to store for them, with the
        # byte ranges of those views...
        self.declined: dict[int, list[tuple[int, int]]] = {}
        # ...and the root arrays the stream stored all the same (by value, as themselves).
        self.stored: set[int] = set()
        self._keep: list[object] = []
        # The arrays standing for spans (one per span: the memo stores each once).
        self._span_arrays: dict[tuple[int, int], np.ndarray[Any, Any]] = {}
        self._span_ids: set[int] = set()

    def missed_roots(self) -> set[int]:
        """Roots stored by the stream whose views were copied: pickle again with these."""
        return self.declined.keys() & self.stored

    def overlapping_spans(self) -> Spans:
        """For each declined root, the spans covering views copied that overlap another one:
        pickle again with these, or the copies no longer share memory after loading."""
        spans: Spans = {}
        for root, ranges in self.declined.items():
            merged: list[tuple[int, int, int]] = []
            for low, high in sorted(ranges):
                if merged and low < merged[-1][1]:
                    first, end, count = merged[-1]
                    merged[-1] = (first, max(end, high), count + 1)
                else:
                    merged.append((low, high, 1))
            shared = [(low, high) for low, high, count in merged if count > 1]
            if shared:
                spans[root] = shared
        return spans

    def reduce(self, arr: object) -> tuple[object, ...] | Any:
        if type(arr) not in _VIEW_TYPES or not isinstance(arr, np.ndarray):
            return NotImplemented
        if id(arr) in self._span_ids:
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
        offset = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        if id(root) not in self.roots and root.nbytes > _VIEW_ROOT_MAX_FACTOR * max(arr.nbytes, 1):
            start = root.__array_interface__["data"][0]
            low, high = (bound - start for bound in byte_bounds(arr))
            for span in self.spans.get(id(root), ()):
                if span[0] <= low and high <= span[1]:
                    root, offset = self._span_array(root, span), offset - span[0]
                    break
            else:
                self.declined.setdefault(id(root), []).append((low, high))
                # Ids are compared after the pickle call: the root must not be freed before.
                self._keep.append(root)
                return NotImplemented
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

    def _span_array(
        self, root: np.ndarray[Any, Any], span: tuple[int, int]
    ) -> np.ndarray[Any, Any]:
        key = (id(root), span[0])
        array = self._span_arrays.get(key)
        if array is None:
            raw = root.reshape(-1, order="A").view(np.uint8)
            array = self._span_arrays[key] = raw[span[0] : span[1]]
            self._span_ids.add(id(array))
        return array
