"""Exact content fingerprints of namespace values, used to detect in-place modification.

A fingerprint is the xxh3-128 digest of a pickle-like stream of the value in which numpy buffers,
functions, classes and user objects are replaced by compact, exact descriptions of their content.
"""

from __future__ import annotations

import math
import os
import pickle
import struct
import sys
import sysconfig
import types
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import xxhash

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_OBJECTS", "fingerprint", "fingerprint_many"]

DEFAULT_MAX_BYTES = 2 * 2**30
"""Bytes of data hashed per value before giving up (about 0.2 s at memory speed)."""

DEFAULT_MAX_OBJECTS = 1_000_000
"""Non-builtin objects described per value before giving up (about 1 s of Python work)."""

_CHUNK = 64 * 2**20
_EMPTY_CELL = "<empty cell>"
_HEAPTYPE = 1 << 9
_OBJECT_REDUCE: object = object.__reduce__
_OBJECT_REDUCE_EX: object = object.__reduce_ex__
_OBJECT_GETSTATE: object = object.__getstate__
# Installed code (stdlib, site-packages): its __getstate__ says what matters and leaves out caches.
_LIBRARY_ROOTS = tuple(
    sorted(
        {
            os.path.join(sysconfig.get_paths()[key], "")
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
        }
    )
)
_MANAGED_WEAKREF = 1 << 3
_MANAGED_DICT = 1 << 4
_POINTER = struct.calcsize("P")
_PLAIN_BASES = frozenset({object, list, dict, set, frozenset, tuple, str, bytes, int, float})
_STR_ONLY = frozenset({str})
_VALUE_BASES: tuple[type[Any], ...] = (str, bytes, int, float)
_SKIPPED_CLASS_ATTRS = frozenset({"__dict__", "__weakref__", "__doc__", "__module__"})
# Immutable builtin scalars: their pickle is their exact value, no pickler subclass needed.
_SCALARS = frozenset({int, float, complex, bool, type(None)})
_TEXT = frozenset({str, bytes})
# numpy scalar kinds whose dtype string and bytes are their whole value (not void: field names).
_NUMPY_SCALAR_KINDS = frozenset("biufcmM")
_PANDAS_FRAMES = frozenset({"dataframe", "series"})
_STRINGS_PER_SLICE = 512
_FRAME = 1
_ARROW = 2


class _Budget(Exception):
    """Raised inside the pickler when a value exceeds its hashing budget."""


def _token(*parts: object) -> None:
    """Stand-in callable named in every custom reduction: the stream is hashed, never loaded."""


class _HashSink:
    """A write-only file that feeds a hasher and enforces the byte budget."""

    __slots__ = ("hasher", "remaining")

    def __init__(self, max_bytes: int) -> None:
        self.hasher = xxhash.xxh3_128()
        self.remaining = max_bytes

    def write(self, data: bytes | bytearray | memoryview) -> int:
        size = len(memoryview(data).cast("B")) if not isinstance(data, bytes) else len(data)
        self.charge(size)
        self.hasher.update(data)
        return size

    def charge(self, size: int) -> None:
        self.remaining -= size
        if self.remaining < 0:
            raise _Budget


def _is_user_class(cls: type, top: object) -> bool:
    # Notebook classes are mutable values worth hashing in full; library classes are named
    # only (their dicts hold process-specific caches such as ABC registries).
    return getattr(cls, "__module__", None) == "__main__"


def _slot_names(cls: type) -> tuple[str, ...]:
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"
            names.append(name)
    return tuple(names)


class _FingerprintPickler(pickle.Pickler):
    """Pickler whose output is a content description, not something loadable."""

    def __init__(self, sink: _HashSink, top: object, max_objects: int) -> None:
        super().__init__(sink, protocol=5)
        self._sink = sink
        self._top = top
        self._objects_left = max_objects
        self._items_left: float = math.inf
        self._slots: dict[type, tuple[str, ...]] = {}
        self._plain: dict[type, bool] = {}
        self._pandas: dict[type, int] = {}
        np = sys.modules.get("numpy")
        self._ndarray: type | None = getattr(np, "ndarray", None)

    def reducer_override(self, obj: Any) -> Any:
        self._objects_left -= 1
        if self._objects_left < 0:
            raise _Budget
        cls = type(obj)
        if self._ndarray is not None and isinstance(obj, self._ndarray):
            return self._reduce_array(obj)
        if cls is types.FunctionType:
            return NotImplemented if obj is _token else self._reduce_function(obj)
        if cls is types.CodeType:
            return self._reduce_code(obj)
        if cls is types.ModuleType:
            return _token, ("module", obj.__name__)
        if cls is types.CellType:
            return _token, ("cell",), (_cell_contents(obj),)
        if cls in (staticmethod, classmethod):
            return _token, (cls.__name__,), (obj.__func__,)
        if cls is weakref.ReferenceType:
            # The referent is usually already described (pandas flags point back at their
            # frame), so this is a memo reference; ids would differ between equal values.
            return _token, ("weakref",), (obj(),)
        if cls is property:
            return _token, ("property",), (obj.fget, obj.fset, obj.fdel)
        if isinstance(obj, type):
            return self._reduce_class(obj)
        pandas_kind = self._pandas_kind(cls)
        if pandas_kind == _FRAME:
            return self._reduce_frame(obj, cls)
        if pandas_kind == _ARROW:
            # pandas' __getstate__ would first copy its chunks into one array; its cache
            # (recomputable, as pandas says) is left out as pandas leaves it out.
            state = {key: value for key, value in vars(obj).items() if key != "_cache"}
            return _token, ("pandas arrow", cls.__module__, cls.__qualname__), state
        if cls.__name__ == "ChunkedArray" and cls.__module__ == "pyarrow.lib":
            return self._reduce_arrow(obj)
        if self._is_plain_class(cls):
            # All state of a plain Python class is in __dict__, slots and its container base:
            # hash them directly, even when __getstate__ would leave some out. Classes with
            # their own __reduce__ (pandas Index) keep caches there and say what matters.
            return self._reduce_instance(obj, cls)
        return NotImplemented

    def _pandas_kind(self, cls: type) -> int:
        """_FRAME for pandas frames and series, _ARROW for arrow-backed arrays, else 0."""
        kind = self._pandas.get(cls)
        if kind is None:
            kind = 0
            if (cls.__module__ or "").startswith("pandas"):
                if getattr(cls, "_typ", None) in _PANDAS_FRAMES:
                    kind = _FRAME
                elif any(klass.__name__ == "ArrowExtensionArray" for klass in cls.__mro__):
                    kind = _ARROW
            self._pandas[cls] = kind
        return kind

    @staticmethod
    def _reduce_frame(obj: Any, cls: type) -> Any:
        """A pandas DataFrame or Series: pandas' own state without its block manager, which
        is described by its axes and blocks (placement, dimensions, values) directly: pickling
        the manager describes ~60 more objects (a third of a small Series' cost)."""
        state = obj.__getstate__()
        manager = state.pop("_mgr")
        blocks = tuple(
            (block.mgr_locs.indexer, block.ndim, block.values) for block in manager.blocks
        )
        name = ("pandas", cls.__module__, cls.__qualname__, type(manager).__name__)
        return _token, name, (tuple(manager.axes), blocks, state)

    def _reduce_arrow(self, chunked: Any) -> Any:
        """A pyarrow chunked array of a flat type (pandas' default str columns and indexes):
        its chunks' offsets, lengths and buffers, hashed directly (pyarrow's own pickling
        describes ~40 objects for a three-element index)."""
        pa = sys.modules["pyarrow"]
        kind = chunked.type
        if kind.num_fields or pa.types.is_dictionary(kind) or isinstance(kind, pa.ExtensionType):
            return NotImplemented  # child arrays or a dictionary: not all in buffers()
        chunks = []
        for chunk in chunked.chunks:
            digests: list[bytes | None] = []
            for buffer in chunk.buffers():
                if buffer is not None and not buffer.is_cpu:
                    return NotImplemented
                if buffer is not None:
                    self._sink.charge(buffer.size)
                digests.append(None if buffer is None else xxhash.xxh3_128_digest(buffer))
            chunks.append((chunk.offset, len(chunk), chunk.null_count, tuple(digests)))
        return _token, ("arrow", str(kind), len(chunked)), tuple(chunks)

    def _is_plain_class(self, cls: type) -> bool:
        plain = self._plain.get(cls)
        if plain is None:
            # A notebook class is hashed from its state even when it defines __reduce__:
            # monitoring must never run user pickling code (it could print, hang or mutate).
            plain = self._plain[cls] = (
                (_has_default_reduce(cls) or cls.__module__ == "__main__")
                and _is_plain_class(cls, self._slot_names(cls))
                and not _has_library_getstate(cls)
            )
        return plain

    def _slot_names(self, cls: type) -> tuple[str, ...]:
        slots = self._slots.get(cls)
        if slots is None:
            slots = self._slots[cls] = _slot_names(cls)
        return slots

    def _reduce_array(self, arr: Any) -> Any:
        header = (
            "ndarray",
            type(arr).__module__,
            type(arr).__qualname__,
            arr.dtype.str,
            arr.shape,
        )
        state = getattr(arr, "__dict__", None) or None
        if arr.dtype.hasobject:
            items = arr.ravel(order="K").tolist()
            if set(map(type, items)) <= _STR_ONLY:
                # Pandas string columns: hash at C speed instead of memoizing a million strs.
                return _token, (*header, "str", self._hash_strings(items)), state
            return _token, header, state, iter(items)
        self._sink.charge(arr.nbytes)
        digest = _hash_buffer(arr)
        return _token, (*header, digest), state

    def _hash_strings(self, items: Sequence[str]) -> bytes:
        # Lengths make the concatenation unambiguous; pickling a list of ints is C speed.
        sizes = pickle.dumps(list(map(len, items)), protocol=5)
        self._sink.charge(len(sizes))
        hasher = xxhash.xxh3_128(sizes)
        # The text in slices: joining 25 MB at once cost 3x more in page faults than hashing.
        for start in range(0, len(items), _STRINGS_PER_SLICE):
            text = "".join(items[start : start + _STRINGS_PER_SLICE])
            data = text.encode("utf-8", "surrogatepass")
            self._sink.charge(len(data))
            hasher.update(data)
        return hasher.digest()

    @staticmethod
    def _reduce_code(code: types.CodeType) -> Any:
        return _token, ("code", _code_digest(code))

    def persistent_id(self, obj: Any) -> Any:
        # Called for every object, builtin ones included: the place to count them all.
        self._items_left -= 1
        if self._items_left < 0:
            raise _Budget
        # Exact sets never reach reducer_override (pickle's fast path), but they do reach
        # persistent_id. Their iteration order changes with the process's hash seed (sets of
        # str), so they are described by their elements' sorted fingerprints instead.
        if type(obj) is set or type(obj) is frozenset:
            return self._describe_set(obj)
        return None

    def _describe_set(self, items: set[object] | frozenset[object]) -> Any:
        digests = []
        for item in items:
            digest = fingerprint(item, max_bytes=max(0, self._sink.remaining))
            if digest is None:
                raise _Budget
            self._sink.charge(len(digest))
            digests.append(digest)
        return (type(items).__name__, tuple(sorted(digests)))

    def _reduce_function(self, fn: types.FunctionType) -> Any:
        if fn.__module__ != "__main__":
            # A library function: its closures and defaults hold process-specific state
            # (decorator caches); users do not edit it, so its name is its value.
            return _token, ("function", fn.__module__, fn.__qualname__)
        cells = tuple(_cell_contents(c) for c in fn.__closure__ or ())
        state = (fn.__code__, fn.__defaults__, fn.__kwdefaults__, cells, fn.__dict__ or None)
        return _token, ("function", fn.__module__, fn.__qualname__), state

    def _reduce_class(self, cls: type) -> Any:
        name = ("class", cls.__module__, cls.__qualname__)
        if not (cls.__flags__ & _HEAPTYPE) or not _is_user_class(cls, self._top):
            return _token, name
        attrs = tuple(
            (key, value if not _is_descriptor(value) else type(value).__name__)
            for key, value in vars(cls).items()
            if key not in _SKIPPED_CLASS_ATTRS
        )
        return _token, name, (cls.__bases__, attrs)

    def _reduce_instance(self, obj: object, cls: type) -> Any:
        slot_values = tuple(getattr(obj, name, _EMPTY_CELL) for name in self._slot_names(cls))
        state = (getattr(obj, "__dict__", None), slot_values)
        items: Iterable[object] | None = None
        pairs: Iterable[tuple[object, object]] | None = None
        # Subclasses of builtin containers keep their content outside __dict__.
        if isinstance(obj, dict):
            pairs = iter(dict.items(obj))
        elif isinstance(obj, (list, tuple)):
            items = iter(obj)
        elif isinstance(obj, (set, frozenset)):
            items = iter(obj)
        else:
            for base in _VALUE_BASES:
                if isinstance(obj, base):
                    state = (state, base(obj))
                    break
        return _token, ("object", cls.__module__, cls.__qualname__), state, items, pairs


def _has_default_reduce(cls: type) -> bool:
    reduce: object = cls.__reduce__
    reduce_ex: object = cls.__reduce_ex__
    return reduce is _OBJECT_REDUCE and reduce_ex is _OBJECT_REDUCE_EX


def _has_library_getstate(cls: type) -> bool:
    """Whether an installed library's class picks its own state (pandas managers drop caches).

    Notebook and local-module classes are hashed from their full ``__dict__`` instead: their
    ``__getstate__`` could leave out a field a cell modifies.
    """
    getstate: object = getattr(cls, "__getstate__", _OBJECT_GETSTATE)
    if getstate is _OBJECT_GETSTATE:
        return False
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    return isinstance(path, str) and path.startswith(_LIBRARY_ROOTS)


def _is_plain_class(cls: type, slots: tuple[str, ...]) -> bool:
    """Whether instances keep all their state in __dict__, slots and a known builtin base.

    Classes written in Python add exactly their slots plus dict and weakref pointers to the
    size of their nearest C base; extension types (even heap types such as ``_thread.lock``
    or Cython classes) hold hidden C fields and must go through their own ``__reduce__``.
    """
    if not cls.__flags__ & _HEAPTYPE:
        return False
    solid = next(k for k in cls.__mro__ if not k.__flags__ & _HEAPTYPE)
    if solid not in _PLAIN_BASES:
        return False
    heap = [k for k in cls.__mro__ if k.__flags__ & _HEAPTYPE]
    extra = _POINTER * len(slots)
    if solid.__weakrefoffset__ == 0 and not cls.__flags__ & _MANAGED_WEAKREF:
        extra += _POINTER * any("__weakref__" in k.__dict__ for k in heap)
    if solid.__dictoffset__ == 0 and not cls.__flags__ & _MANAGED_DICT:
        extra += _POINTER * any("__dict__" in k.__dict__ for k in heap)
    return cls.__basicsize__ == solid.__basicsize__ + extra


def _is_descriptor(value: object) -> bool:
    return type(value) in (types.GetSetDescriptorType, types.MemberDescriptorType)


def _as_strings(obj: object) -> Sequence[str] | None:
    if type(obj) not in (list, tuple):
        return None
    items = cast("Sequence[object]", obj)
    # The first element rejects most lists before a pass over all of them.
    if items and type(items[0]) not in _STR_ONLY:
        return None
    if set(map(type, items)) <= _STR_ONLY:
        return cast("Sequence[str]", obj)
    return None


def _cell_contents(cell: types.CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:
        return _EMPTY_CELL


def _code_digest(code: types.CodeType) -> bytes:
    """A digest of what a code object does, identical in every process.

    Not ``marshal.dumps`` and not the pickle stream: both depend on which equal strings
    happen to be the same object (interning), which differs between processes. Source
    positions are left out: moving a function does not change its value.
    """
    hasher = xxhash.xxh3_128()
    stack: list[object] = [code]
    while stack:
        item = stack.pop()
        if isinstance(item, types.CodeType):
            hasher.update(item.co_code)
            for names in (item.co_names, item.co_varnames, item.co_freevars, item.co_cellvars):
                hasher.update("\0".join(names).encode("utf-8", "surrogatepass") + b"\1")
            counts = (item.co_argcount, item.co_posonlyargcount, item.co_kwonlyargcount)
            hasher.update(repr((*counts, item.co_flags, item.co_name)).encode())
            hasher.update(b"\2%d" % len(item.co_consts))
            stack.extend(reversed(item.co_consts))
        elif isinstance(item, frozenset):
            hasher.update(repr(sorted(repr(x) for x in item)).encode("utf-8", "surrogatepass"))
        elif isinstance(item, tuple):
            hasher.update(b"\3%d" % len(item))
            stack.extend(reversed(item))
        else:
            hasher.update(repr(item).encode("utf-8", "surrogatepass") + b"\4")
    return hasher.digest()


def _hash_buffer(arr: Any) -> bytes:
    """xxh3-128 of an array's elements in C order; no copy when the array is contiguous."""
    # Always the logical C order, whatever the memory layout: a value must hash the same after
    # a round trip through pickle (which may change strides) and in another process.
    if arr.flags.c_contiguous:
        return xxhash.xxh3_128_digest(arr.reshape(-1).view("u1"))
    np = sys.modules["numpy"]
    hasher = xxhash.xxh3_128()
    row_bytes = max(1, arr.nbytes // max(1, arr.shape[0]))
    step = max(1, _CHUNK // row_bytes)
    for start in range(0, arr.shape[0], step):
        # Slicing the first axis is a view: only one chunk is copied at a time.
        chunk = np.ascontiguousarray(arr[start : start + step])
        hasher.update(chunk.reshape(-1).view("u1"))
    return hasher.digest()


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
    strings = _as_strings(obj)
    if strings is not None and sum(map(len, strings)) > max_bytes:
        return None  # more characters than bytes allowed: known before joining them
    if strings is None and max_items is not None and _items_at_least(obj) > max_items:
        return None  # the pickler would give up, after describing max_items objects
    sink = _HashSink(max_bytes)
    pickler = _FingerprintPickler(sink, obj, max_objects)
    if max_items is not None:
        pickler._items_left = max_items
    try:
        if strings is not None:
            # Memoizing each str makes pickle 5x slower than hashing the text.
            obj = (_token, ("strings", type(obj).__name__), pickler._hash_strings(strings))
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
    if cls in _SCALARS:
        return xxhash.xxh3_128_digest(pickle.dumps(obj, protocol=5))
    if isinstance(obj, (str, bytes)) and cls in _TEXT:
        if len(obj) > max_bytes:
            return None
        data = obj.encode("utf-8", "surrogatepass") if isinstance(obj, str) else obj
        return xxhash.xxh3_128_digest(cls.__name__.encode() + b"\0" + data)
    np = sys.modules.get("numpy")
    if np is None:
        return _SLOW
    if isinstance(obj, np.generic) and obj.dtype.kind in _NUMPY_SCALAR_KINDS:
        header = f"numpy {cls.__module__}.{cls.__qualname__} {obj.dtype.str}\0".encode()
        return xxhash.xxh3_128_digest(header + obj.tobytes())
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
    if isinstance(obj, ndarray):
        return _numeric_nbytes(obj, ndarray)
    if not (cls.__module__ or "").startswith("pandas"):
        return 0
    if getattr(cls, "_typ", None) not in _PANDAS_FRAMES:
        return 0
    blocks: Iterable[Any] = getattr(getattr(obj, "_mgr", None), "blocks", ())
    arrays = {id(block.values): block.values for block in blocks}
    return sum(_numeric_nbytes(arr, ndarray) for arr in arrays.values())


def _numeric_nbytes(arr: Any, ndarray: type) -> int:
    """An array's bytes when the pickler hashes its buffer, 0 otherwise (object arrays,
    pandas extension arrays)."""
    if isinstance(arr, ndarray) and not arr.dtype.hasobject:  # type: ignore[attr-defined]
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
