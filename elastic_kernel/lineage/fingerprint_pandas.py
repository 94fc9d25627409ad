"""Fingerprint descriptions of pandas objects: frames and series by their blocks, arrow-backed
arrays by their chunks' buffers (pickling them as pandas and pyarrow do describes dozens of
objects per value, twice per cell touching one)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import xxhash

__all__ = ["ARROW", "FRAME", "PANDAS_FRAMES", "pandas_kind_of", "reduce_arrow", "reduce_frame"]

PANDAS_FRAMES = frozenset({"dataframe", "series"})
FRAME = 1
ARROW = 2


def _token(*parts: object) -> None:
    """Stand-in callable named in these reductions: the stream is hashed, never loaded."""


def pandas_kind_of(cls: type) -> int:
    """FRAME for pandas frames and series, ARROW for arrow-backed arrays, else 0."""
    if (cls.__module__ or "").startswith("pandas"):
        if getattr(cls, "_typ", None) in PANDAS_FRAMES:
            return FRAME
        if any(klass.__name__ == "ArrowExtensionArray" for klass in cls.__mro__):
            return ARROW
    return 0


def reduce_frame(obj: Any, cls: type) -> Any:
    """A pandas DataFrame or Series: pandas' own state without its block manager, which is
    described by its axes and blocks (placement, dimensions, values) directly: pickling the
    manager describes ~60 more objects (a third of a small Series' cost)."""
    state = obj.__getstate__()
    manager = state.pop("_mgr")
    blocks = tuple((block.mgr_locs.indexer, block.ndim, block.values) for block in manager.blocks)
    name = ("pandas", cls.__module__, cls.__qualname__, type(manager).__name__)
    return _token, name, (tuple(manager.axes), blocks, state)


def reduce_arrow(chunked: Any, charge: Callable[[int], None]) -> Any:
    """A pyarrow chunked array of a flat type (pandas' default str columns and indexes): the
    offsets, lengths and buffers of its content as one compact chunk, hashed directly
    (``charge`` counts the bytes against the budget); ``NotImplemented`` for nested,
    dictionary and extension types."""
    pa = sys.modules["pyarrow"]
    kind = chunked.type
    if kind.num_fields or pa.types.is_dictionary(kind) or isinstance(kind, pa.ExtensionType):
        return NotImplemented  # child arrays or a dictionary: not all in buffers()
    arrays = chunked.chunks
    if len(arrays) > 1 or (arrays and arrays[0].offset):
        # Equal content, other history (an appended label, a slice): pandas pickles one
        # compact chunk, so that form is what is hashed, or a loaded value would differ.
        arrays = [pa.concat_arrays(arrays)]
    chunks = []
    for chunk in arrays:
        digests: list[bytes | None] = []
        for position, buffer in enumerate(chunk.buffers()):
            if buffer is not None and not buffer.is_cpu:
                return NotImplemented
            if buffer is None or (position == 0 and chunk.null_count == 0):
                # No nulls: a validity bitmap of all ones says nothing (some builds keep one).
                digests.append(None)
                continue
            charge(buffer.size)
            digests.append(xxhash.xxh3_128_digest(buffer))
        chunks.append((chunk.offset, len(chunk), chunk.null_count, tuple(digests)))
    return _token, ("arrow", str(kind), len(chunked)), tuple(chunks)
