"""Cheap size estimates of namespace values, for the planner's cost of storing a variable.

Accuracy within about 2x is enough; the time taken must not grow with the number of elements.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from typing import Any

from elastic_kernel.lineage.identity import identity
from elastic_kernel.lineage.modules import imported

__all__ = ["SAMPLE_SIZE", "estimate_size"]

SAMPLE_SIZE = 100
"""Elements looked at per container; the rest are assumed to be like them."""

_MAX_DEPTH = 4
_OBJECT_OVERHEAD = 16
_ATOMS = frozenset({int, float, complex, bool, str, bytes, type(None)})
_STRIDED = (list, tuple)
_SAMPLED = (set, frozenset, dict)


def estimate_size(obj: object) -> int:
    """Estimate the bytes a value occupies, counting shared objects and array bases once.

    Parameters
    ----------
    obj
        Any value from the user namespace.

    Returns
    -------
    int
        Estimated size in bytes of the value's pickle (what a checkpoint writes): exact
        buffer size for numpy arrays and pandas blocks, within ~2x for containers of similar
        elements and pandas object columns (sampled), the instance ``__dict__`` for other
        objects.
    """
    return _Estimator().size(obj, 0)


class _Estimator:
    def __init__(self) -> None:
        self.seen: set[int] = set()
        np = imported("numpy")
        self.ndarray: type | None = getattr(np, "ndarray", None)

    def size(self, obj: object, depth: int) -> int:
        if type(obj) in _ATOMS:
            # Atoms are not deduplicated: a sample would see each small int once.
            return _atom_size(obj)
        if identity(obj) in self.seen:
            return 0
        self.seen.add(identity(obj))
        if self.ndarray is not None and isinstance(obj, self.ndarray):
            return self._array(obj)
        module = type(obj).__module__ or ""
        if module.startswith("pandas"):
            pandas_size = self._pandas(obj)
            if pandas_size is not None:
                return pandas_size
        if isinstance(obj, (str, bytes, bytearray, int, float, complex)):
            return _atom_size(obj)
        own = _OBJECT_OVERHEAD
        if depth >= _MAX_DEPTH:
            return own + _shallow_size(obj)
        if isinstance(obj, dict):
            values = itertools.chain.from_iterable(_sample(obj.items()))
            return own + self._extrapolate(values, 2 * len(obj), depth)
        if isinstance(obj, _STRIDED):
            return own + self._extrapolate(_strided(obj), len(obj), depth)
        if isinstance(obj, _SAMPLED):
            return own + self._extrapolate(_sample(obj), len(obj), depth)
        state = getattr(obj, "__dict__", None)
        if isinstance(state, dict):
            own += self.size(state, depth + 1)
        return own

    def _extrapolate(self, sample: Iterable[object], total: int, depth: int) -> int:
        sizes = [self.size(item, depth + 1) for item in sample]
        if not sizes:
            return 0
        return int(sum(sizes) / len(sizes) * total)

    def _array(self, arr: Any) -> int:
        base = arr
        while isinstance(base.base, self.ndarray):  # type: ignore[arg-type]
            base = base.base
        if base is not arr:
            # A view costs its own bytes unless its base was already counted.
            if identity(base) in self.seen:
                return 0
        size = int(arr.nbytes)
        if arr.dtype.hasobject and arr.size:
            flat = arr.ravel(order="K")
            step = max(1, flat.size // SAMPLE_SIZE)
            sample = [self.size(flat[i], _MAX_DEPTH - 1) for i in range(0, flat.size, step)]
            size += int(sum(sample) / len(sample) * flat.size)
        return size

    def _pandas(self, obj: Any) -> int | None:
        memory_usage = getattr(obj, "memory_usage", None)
        if memory_usage is None:
            return None
        typ = getattr(type(obj), "_typ", "")
        try:
            if typ == "dataframe":
                total = int(memory_usage(index=True, deep=False).sum())
                for _name, column in obj.items():
                    total += self._object_column(column)
                return total
            if typ == "series":
                return int(memory_usage(index=True, deep=False)) + self._object_column(obj)
            return int(memory_usage(deep=False))
        except (TypeError, ValueError):
            return None

    def _object_column(self, column: Any) -> int:
        if column.dtype.kind not in "OUT" and str(column.dtype) not in ("str", "string"):
            return 0
        length = len(column)
        if not length:
            return 0
        step = max(1, length // SAMPLE_SIZE)
        values = column.iloc[::step].tolist()
        sizes = [_atom_size(value) for value in values]
        return int(sum(sizes) / len(sizes) * length)


def _atom_size(obj: object) -> int:
    """Bytes the value takes in a pickle stream (opcode, length and payload)."""
    if isinstance(obj, str):
        return 5 + (len(obj) if obj.isascii() else 4 * len(obj))
    if isinstance(obj, (bytes, bytearray)):
        return 5 + len(obj)
    if isinstance(obj, bool) or obj is None:
        return 1
    if isinstance(obj, int):
        return 2 + obj.bit_length() // 8
    if isinstance(obj, complex):
        return 20
    return 9


def _shallow_size(obj: object) -> int:
    try:
        return sys.getsizeof(obj)
    except TypeError:
        return _OBJECT_OVERHEAD


def _strided(items: list[object] | tuple[object, ...]) -> list[object]:
    step = max(1, len(items) // SAMPLE_SIZE)
    return list(items[::step])


def _sample(items: Iterable[Any]) -> list[Any]:
    return list(itertools.islice(items, SAMPLE_SIZE))
