"""The pickler behind :func:`elastic_kernel.lineage.fingerprint.fingerprint`: its output is a
content description, hashed as it is written, in which numpy buffers, functions, classes, user
objects and pandas blocks are replaced by compact, exact descriptions of their content."""

from __future__ import annotations

import copyreg
import functools
import math
import os
import pickle
import struct
import sys
import sysconfig
import types
import weakref
from collections.abc import Iterable, Sequence
from typing import Any, cast

import xxhash

from elastic_kernel.lineage.fingerprint_libraries import (
    Describer,
    Description,
    library_describer,
    names_and_values,
)
from elastic_kernel.lineage.fingerprint_pandas import (
    ARROW,
    FRAME,
    pandas_kind_of,
    reduce_arrow,
    reduce_frame,
)
from elastic_kernel.lineage.modules import imported

__all__ = [
    "NUMPY_SCALAR_KINDS",
    "SCALARS",
    "TEXT",
    "FingerprintPickler",
    "HashSink",
    "as_strings",
    "token",
]

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
# __slotnames__ is copyreg's cache, set on a class the first time one of its instances pickles.
_SKIPPED_CLASS_ATTRS = frozenset(
    {"__dict__", "__weakref__", "__doc__", "__module__", "__slotnames__"}
)
# Immutable builtin scalars: their pickle is their exact value, no pickler subclass needed.
SCALARS = frozenset({int, float, complex, bool, type(None)})
TEXT = frozenset({str, bytes})
# numpy scalar kinds whose dtype string and bytes are their whole value (not void: field names).
NUMPY_SCALAR_KINDS = frozenset("biufcmM")
_STRINGS_PER_SLICE = 512


class _Budget(Exception):
    """Raised inside the pickler when a value exceeds its hashing budget."""


def _not_looked_up(obj: Any) -> Description | None:
    """Stands in the per-class cache of library describers for classes not looked up yet."""
    return None


_NOT_LOOKED_UP: Describer = _not_looked_up


def token(*parts: object) -> None:
    """Stand-in callable named in every custom reduction: the stream is hashed, never loaded."""


class HashSink:
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


class FingerprintPickler(pickle.Pickler):
    """Pickler whose output is a content description, not something loadable."""

    def __init__(self, sink: HashSink, top: object, max_objects: int) -> None:
        super().__init__(sink, protocol=5)
        self._sink = sink
        self._top = top
        self._objects_left = max_objects
        self._items_left: float = math.inf
        self._slots: dict[type, tuple[str, ...]] = {}
        self._plain: dict[type, bool] = {}
        self._pandas: dict[type, int] = {}
        self._library: dict[type, Describer | None] = {}
        np = imported("numpy")
        self._ndarray: type | None = getattr(np, "ndarray", None)

    def reducer_override(self, obj: Any) -> Any:
        self._objects_left -= 1
        if self._objects_left < 0:
            raise _Budget
        reduced = self._reduce(obj)
        if type(reduced) is tuple and reduced[0] is token:
            # The description as one new text: its strings (module and class names) must not
            # be memo-linked to equal strings in the value, a link a loaded copy may not have.
            return (token, (repr(reduced[1]),), *reduced[2:])
        return reduced

    def _reduce(self, obj: Any) -> Any:
        cls = type(obj)
        # Types, not isinstance: isinstance asks a failing object for its __class__, which
        # runs a class's own __getattribute__ (monitoring must not run user code).
        if self._ndarray is not None and issubclass(cls, self._ndarray):
            return self._reduce_array(obj)
        if cls is types.FunctionType:
            return NotImplemented if obj is token else self._reduce_function(obj)
        if cls is types.CodeType:
            return self._reduce_code(obj)
        if cls is types.ModuleType:
            return token, ("module", obj.__name__)
        if cls is types.CellType:
            return token, ("cell",), (_cell_contents(obj),)
        if cls in (staticmethod, classmethod):
            return token, (cls.__name__,), (obj.__func__,)
        if cls is weakref.ReferenceType:
            # The referent is usually already described (pandas flags point back at their
            # frame), so this is a memo reference; ids would differ between equal values.
            return token, ("weakref",), (obj(),)
        if cls is property:
            return token, ("property",), (obj.fget, obj.fset, obj.fdel)
        if cls is types.MappingProxyType:
            # A dataclass field's metadata: read-only, and not picklable as it is.
            return token, ("mappingproxy",), (dict(obj),)
        if cls is functools.partial:
            # Its __reduce__ says {} or None for the same (empty) __dict__, depending on
            # whether anything has read the attribute yet (sizing it does).
            parts = (obj.func, obj.args, obj.keywords or None, vars(obj) or None)
            return token, ("partial",), parts
        if issubclass(cls, type):
            return self._reduce_class(obj)
        pandas_kind = self._pandas.get(cls)
        if pandas_kind is None:
            pandas_kind = self._pandas[cls] = pandas_kind_of(cls)
        if pandas_kind == FRAME:
            return reduce_frame(obj, cls)
        if pandas_kind == ARROW:
            # pandas' __getstate__ would first copy its chunks into one array; its cache
            # (recomputable, as pandas says) is left out as pandas leaves it out.
            state = {key: value for key, value in vars(obj).items() if key != "_cache"}
            return token, ("pandas arrow", cls.__module__, cls.__qualname__), state
        if cls.__name__ == "ChunkedArray" and cls.__module__ == "pyarrow.lib":
            return reduce_arrow(obj, self._sink.charge)
        describer = self._library.get(cls, _NOT_LOOKED_UP)
        if describer is _NOT_LOOKED_UP:
            describer = self._library[cls] = library_describer(cls)
        described = None if describer is None else describer(obj)
        if described is not None:
            return (token, *described)
        if self._is_plain_class(cls):
            # All state of a plain Python class is in __dict__, slots and its container base:
            # hash them directly, even when __getstate__ would leave some out. Classes with
            # their own __reduce__ (pandas Index) keep caches there and say what matters.
            return self._reduce_instance(obj, cls)
        if cls not in copyreg.dispatch_table:
            # A library class's own reduction (sklearn's __getstate__), with its state dict
            # hashed as names and values.
            reduced = obj.__reduce_ex__(5)
            if type(reduced) is str:
                # Pickled by reference (a TypeVar): its name, whether or not this process can
                # look it up there.
                return token, ("global", getattr(obj, "__module__", None), reduced)
            if type(reduced) is tuple and len(reduced) > 2 and type(reduced[2]) is dict:
                return (*reduced[:2], names_and_values(reduced[2]), *reduced[3:])
            return reduced
        return NotImplemented

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
        if state is not None and state.get("_fill_value", False) is None:
            state = _with_default_fill_value(arr, state)
        if arr.dtype.hasobject:
            items = arr.ravel(order="K").tolist()
            if set(map(type, items)) <= _STR_ONLY:
                # Pandas string columns: hash at C speed instead of memoizing a million strs.
                return token, (*header, "str", self._hash_strings(items)), state
            return token, header, state, iter(items)
        self._sink.charge(arr.nbytes)
        digest = _hash_buffer(arr)
        return token, (*header, digest), state

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
        return token, ("code", _code_digest(code))

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
        from elastic_kernel.lineage.fingerprint import fingerprint

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
            return token, ("function", fn.__module__, fn.__qualname__)
        cells = tuple(_cell_contents(c) for c in fn.__closure__ or ())
        state = (fn.__code__, fn.__defaults__, fn.__kwdefaults__, cells, fn.__dict__ or None)
        return token, ("function", fn.__module__, fn.__qualname__), state

    def _reduce_class(self, cls: type) -> Any:
        name = ("class", cls.__module__, cls.__qualname__)
        if not (cls.__flags__ & _HEAPTYPE) or not _is_user_class(cls, self._top):
            return token, name
        # By name: a class rebuilt from a checkpoint gets its attributes in another order.
        attrs = names_and_values(
            {
                key: value if not _is_descriptor(value) else repr(type(value).__name__)
                for key, value in sorted(vars(cls).items(), key=lambda item: str(item[0]))
                if key not in _SKIPPED_CLASS_ATTRS
            }
        )
        return token, name, (cls.__bases__, attrs)

    def _reduce_instance(self, obj: object, cls: type) -> Any:
        # object's own lookup: a class's __getattribute__ is user code.
        slot_values = tuple(_own_attribute(obj, name) for name in self._slot_names(cls))
        attributes = _own_attribute(obj, "__dict__")
        if type(attributes) is dict:
            attributes = names_and_values(attributes)
        state = (attributes, slot_values)
        items: Iterable[object] | None = None
        pairs: Iterable[tuple[object, object]] | None = None
        # Subclasses of builtin containers keep their content outside __dict__.
        if issubclass(cls, dict):
            pairs = iter(dict.items(obj))  # type: ignore[arg-type]
        elif issubclass(cls, (list, tuple, set, frozenset)):
            items = iter(obj)  # type: ignore[call-overload]
        else:
            for base in _VALUE_BASES:
                if issubclass(cls, base):
                    state = (state, base(obj))
                    break
        return token, ("object", cls.__module__, cls.__qualname__), state, items, pairs


def _own_attribute(obj: object, name: str) -> object:
    """``obj.name`` as ``object`` finds it (slots, ``__dict__``), or ``_EMPTY_CELL``."""
    try:
        return object.__getattribute__(obj, name)
    except AttributeError:
        return _EMPTY_CELL


def _with_default_fill_value(arr: Any, state: dict[str, Any]) -> dict[str, Any]:
    """A masked array's state with the fill value it reports: unset, it is the dtype's
    default, which loading one sets (so a copy would otherwise never hash like its original)."""
    check = getattr(getattr(sys.modules["numpy"], "ma", None), "core", None)
    default = getattr(check, "_check_fill_value", None)
    if default is None:
        return state
    try:
        return {**state, "_fill_value": default(None, arr.dtype)}
    except (TypeError, ValueError):
        return state


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


def as_strings(obj: object) -> Sequence[str] | None:
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
    np = sys.modules["numpy"]
    if type(arr) is not np.ndarray:
        # Subclasses reshape and view in their own ways (a masked array reshapes its mask
        # too, and fails); their extra state is hashed from their __dict__.
        arr = arr.view(np.ndarray)
    if arr.flags.c_contiguous:
        return xxhash.xxh3_128_digest(arr.reshape(-1).view("u1"))
    hasher = xxhash.xxh3_128()
    row_bytes = max(1, arr.nbytes // max(1, arr.shape[0]))
    step = max(1, _CHUNK // row_bytes)
    for start in range(0, arr.shape[0], step):
        # Slicing the first axis is a view: only one chunk is copied at a time.
        chunk = np.ascontiguousarray(arr[start : start + step])
        hasher.update(chunk.reshape(-1).view("u1"))
    return hasher.digest()
