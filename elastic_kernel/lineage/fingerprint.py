"""Exact content fingerprints of namespace values, used to detect in-place modification.

A fingerprint is the xxh3-128 digest of a pickle-like stream of the value in which numpy buffers,
functions, classes and user objects are replaced by compact, exact descriptions of their content
(:mod:`elastic_kernel.lineage.fingerprint_pickler`).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import xxhash

from elastic_kernel.lineage.fingerprint_pandas import PANDAS_FRAMES
from elastic_kernel.lineage.fingerprint_pickler import (
    NUMPY_SCALAR_KINDS,
    SCALARS,
    TEXT,
    FingerprintPickler,
    HashSink,
    as_strings,
    token,
)
from elastic_kernel.lineage.modules import imported

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_OBJECTS",
    "FINGERPRINT_VERSION",
    "fingerprint",
    "fingerprint_many",
]

DEFAULT_MAX_BYTES = 2 * 2**30
"""Bytes of data hashed per value before giving up (about 0.2 s at memory speed)."""

DEFAULT_MAX_OBJECTS = 1_000_000
"""Non-builtin objects described per value before giving up (about 1 s of Python work)."""

FINGERPRINT_VERSION = 4
"""Changes whenever a value's digest may change: checkpoints record it, and a restore compares
fingerprints only with those of the same version."""


def fingerprint(
    obj: object,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_objects: int = DEFAULT_MAX_OBJECTS,
    max_items: int | None = None,
) -> bytes | None:
    """Exact content fingerprint of a value.

    Equal content gives equal fingerprints for the same object graph, and any in-place change
    (element, attribute, closure cell, numpy buffer, pandas block, dtype, shape, identity
    structure) gives a different one, up to xxh3-128 collisions. Mutable objects reached
    several times are described once, so cycles terminate and sharing is part of the content.

    Parameters
    ----------
    obj
        Any value from the user namespace.
    max_bytes
        Give up when more than this many bytes would be hashed.
    max_objects
        Give up when more than this many non-builtin objects would be described.
    max_items
        Give up when more than this many objects of any kind (list elements, dict keys and
        values...) would be described: they cost CPU time that ``max_bytes`` does not see
        (a list of a million small ints pickles to only ~5 MB). ``None``: no such limit.

    Returns
    -------
    bytes | None
        16-byte digest, or None when the value cannot be fingerprinted exactly within the
        budget (unpicklable part, too large); the caller must then treat it as modified.
    """
    quick = _quick_fingerprint(obj, max_bytes)
    if quick != _SLOW:
        return quick
    strings = as_strings(obj)
    if strings is not None and sum(map(len, strings)) > max_bytes:
        return None  # more characters than bytes allowed: known before joining them
    if strings is None and max_items is not None and _items_at_least(obj) > max_items:
        return None  # the pickler would give up, after describing max_items objects
    sink = HashSink(max_bytes)
    pickler = FingerprintPickler(sink, obj, max_objects)
    if max_items is not None:
        pickler._items_left = max_items
    try:
        if strings is not None:
            # Memoizing each str makes pickle 5x slower than hashing the text.
            obj = (token, ("strings", type(obj).__name__), pickler._hash_strings(strings))
        pickler.dump(obj)
    except Exception:
        # Over budget, too deep, or a third-party __reduce__ that refuses (locks, files,
        # generators): all mean "cannot tell", which the caller treats as modified.
        return None
    return sink.hasher.digest()


# Not a digest (digests are 16 bytes): "describe this value with the pickler".
_SLOW = b""


def _quick_fingerprint(obj: object, max_bytes: int) -> bytes | None:
    """The fingerprint of a value that needs no pickler, or ``_SLOW``.

    Scalars are hashed directly (a pickler costs ~15 us to set up, as much as a small
    Series). Arrays and pandas objects whose numeric buffers alone exceed ``max_bytes`` give
    None at once: the pickler would hash at least those bytes, so it would give up too, after
    describing every object on the way (~50 us for a frame, twice per cell touching it).
    """
    cls = type(obj)
    if cls in SCALARS:
        return xxhash.xxh3_128_digest(pickle.dumps(obj, protocol=5))
    if cls in TEXT:
        text = cast("str | bytes", obj)
        if len(text) > max_bytes:
            return None
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        return xxhash.xxh3_128_digest(cls.__name__.encode() + b"\0" + data)
    np = imported("numpy")
    if np is None:
        return _SLOW
    if issubclass(cls, np.generic):
        scalar: Any = obj
        if scalar.dtype.kind in NUMPY_SCALAR_KINDS:
            header = f"numpy {cls.__module__}.{cls.__qualname__} {scalar.dtype.str}\0".encode()
            return xxhash.xxh3_128_digest(header + scalar.tobytes())
    if _buffer_bytes(obj, cls, np.ndarray) > max_bytes:
        return None
    return _SLOW


def _items_at_least(obj: object) -> int:
    """A lower bound on the objects the pickler describes (each one a call to
    ``persistent_id``) for a list, tuple or dict: itself and every element. Counting the
    elements of inner lists too would cost as much as the pickler needs to give up."""
    if type(obj) is dict:
        return 1 + 2 * len(obj)
    if type(obj) is list or type(obj) is tuple:
        return 1 + len(cast("Sequence[Any]", obj))
    return 0


def _buffer_bytes(obj: object, cls: type, ndarray: type) -> int:
    """Bytes of the numeric buffers the pickler would hash for an array or a pandas frame or
    series (its blocks' arrays, each counted once); 0 for anything else."""
    if issubclass(cls, ndarray):
        return _numeric_nbytes(obj, ndarray)
    if not (cls.__module__ or "").startswith("pandas"):
        return 0
    if getattr(cls, "_typ", None) not in PANDAS_FRAMES:
        return 0
    blocks: Iterable[Any] = getattr(getattr(obj, "_mgr", None), "blocks", ())
    arrays = {id(block.values): block.values for block in blocks}
    return sum(_numeric_nbytes(arr, ndarray) for arr in arrays.values())


def _numeric_nbytes(arr: Any, ndarray: type) -> int:
    """An array's bytes when the pickler hashes its buffer, 0 otherwise (object arrays,
    pandas extension arrays)."""
    if issubclass(type(arr), ndarray) and not arr.dtype.hasobject:
        return int(arr.nbytes)  # type: ignore[attr-defined]
    return 0


def fingerprint_many(
    ns: Mapping[str, object],
    names: Iterable[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_objects: int = DEFAULT_MAX_OBJECTS,
) -> dict[str, bytes | None]:
    """Fingerprint several variables of a namespace.

    Parameters
    ----------
    ns
        The namespace.
    names
        Variables to fingerprint; names absent from ``ns`` are left out of the result.
    max_bytes, max_objects
        Budget per variable, as in :func:`fingerprint`.

    Returns
    -------
    dict[str, bytes | None]
        Fingerprint per present name (None: treat as modified).
    """
    return {
        name: fingerprint(ns[name], max_bytes=max_bytes, max_objects=max_objects)
        for name in names
        if name in ns
    }
