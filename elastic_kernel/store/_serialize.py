"""Pickling of a linked group of variables in one call, with out-of-band buffers.

Aliasing survives only within one pickle call, so every variable of a linked group goes into
one stream; large buffers (numpy, pandas) leave the stream as raw ``PickleBuffer`` views.
"""

from __future__ import annotations

import io
import os
import pickle
import socket
import sqlite3
import threading
import types
import typing
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import cloudpickle
import dill
import numpy as np

from elastic_kernel.errors import SerializationError
from elastic_kernel.store._functools import reduce_cached_property, reduce_lru_cache
from elastic_kernel.store._logging import reduce_logger
from elastic_kernel.store._matplotlib import reduce_callback_registry
from elastic_kernel.store._pandas import PandasReducer
from elastic_kernel.store._singletons import SingletonReducer
from elastic_kernel.store._torch import TorchReducer
from elastic_kernel.store._views import Spans, ViewReducer, rebuild_view, top_level_roots

__all__ = [
    "PICKLER_CLOUDPICKLE",
    "PICKLER_DILL",
    "SerializedGroup",
    "deserialize_group",
    "find_unserializable",
    "serialize_group",
]

PICKLER_CLOUDPICKLE = "cloudpickle"
PICKLER_DILL = "dill"
_PROTOCOL = 5

# Checkpoints written before the view reducer moved to its own module refer to it by this name.
_rebuild_view = rebuild_view

_LOCK_TYPES: tuple[type, ...] = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Semaphore,
    threading.Event,
    threading.Thread,
)
_GENERATOR_TYPES: tuple[type, ...] = (
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
)
_WEAKREF_TYPES: tuple[type, ...] = (weakref.ref, weakref.ProxyType, weakref.CallableProxyType)
_ATOMIC_TYPES: frozenset[type] = frozenset(
    {int, float, complex, str, bytes, bool, type(None), range, slice}
)


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True, slots=True)
class SerializedGroup:
    """A group of variables pickled together.

    Parameters
    ----------
    names
        The variable names, in the order they were given.
    stream
        The pickle stream (protocol 5); holds everything but the out-of-band buffers.
    buffers
        Out-of-band buffers, in the order the stream refers to them. When writing these are
        zero-copy views of the live objects, so the values must not change until written.
    pickler
        ``"cloudpickle"`` or ``"dill"`` (the fallback), which selects the loader.
    """

    names: tuple[str, ...]
    stream: memoryview
    buffers: tuple[memoryview, ...]
    pickler: str

    @property
    def nbytes(self) -> int:
        """Total bytes of the stream and the buffers."""
        return self.stream.nbytes + sum(b.nbytes for b in self.buffers)


_FILE_TYPES = (io.TextIOWrapper, io.BufferedReader, io.BufferedWriter, io.BufferedRandom, io.FileIO)


def _closed_file_args(obj: object) -> tuple[str, object, str, str | None] | None:
    """What describes a CLOSED file object (``with open(...) as fh`` leaves one behind): its
    kind, name, mode and encoding. Open files have a position and buffers: not these."""
    if not isinstance(obj, _FILE_TYPES) or not obj.closed:
        return None
    name = getattr(obj, "name", None)
    mode = getattr(obj, "mode", None)
    if not isinstance(name, str | bytes | int) or not isinstance(mode, str):
        return None
    encoding = getattr(obj, "encoding", None) if isinstance(obj, io.TextIOWrapper) else None
    return type(obj).__name__, name, mode, encoding


def _rebuild_closed_file(kind: str, name: object, mode: str, encoding: str | None) -> object:
    """A closed file object with the original name and mode, made without touching that file
    (dill reopens it, which truncates a write-mode file)."""
    # os.devnull always exists, so exclusive creation becomes plain writing.
    safe = mode.replace("x", "w")
    handle: Any
    if kind == "FileIO":
        handle = io.FileIO(os.devnull, safe.replace("t", "").replace("b", ""))
        handle.name = name
    elif kind == "TextIOWrapper":
        handle = open(os.devnull, safe, encoding=encoding)
        handle.buffer.raw.name = name
        handle.mode = mode
    else:
        handle = open(os.devnull, safe if "b" in safe else safe + "b")
        handle.raw.name = name
    handle.close()
    return handle


def _unsafe_reason(obj: object) -> str | None:
    """Why ``obj`` must not be pickled at all, judged from its type alone."""
    if _closed_file_args(obj) is not None:
        return None
    if isinstance(obj, _GENERATOR_TYPES):
        return f"{type(obj).__name__} objects hold a running frame and cannot be saved"
    if isinstance(obj, _LOCK_TYPES):
        return f"{type(obj).__name__} is a synchronisation primitive bound to this process"
    if isinstance(obj, io.IOBase) and not isinstance(obj, io.BytesIO | io.StringIO):
        name = getattr(obj, "name", None)
        return f"open file {name!r}" if name is not None else "open file or stream"
    if isinstance(obj, memoryview):
        # Picklers save it as bytes: the restored value would have another type and would
        # no longer see the memory of the object it views.
        return "memoryview (a window on another object's memory)"
    if isinstance(obj, socket.socket):
        return "socket connection"
    if isinstance(obj, sqlite3.Connection | sqlite3.Cursor):
        return f"sqlite3 {type(obj).__name__.lower()} (database handle)"
    if isinstance(obj, types.FrameType | types.TracebackType):
        return f"{type(obj).__name__} object of a running interpreter"
    return None


class _Reducers:
    """The reducers of one pickle call (each keeps per-call memo state)."""

    def __init__(self, roots: set[int], spans: Spans) -> None:
        self.views = ViewReducer(roots, spans)
        self.tensors = TorchReducer()
        self.frames = PandasReducer()
        self.singletons = SingletonReducer()


def _reduce_special(obj: object, reducers: _Reducers) -> Any:
    """Our reductions, shared by both picklers: numpy views as views, the global generators by
    reference, closed files as closed files, notebook ``lru_cache`` functions by value,
    ``cached_property`` without its lock, loggers with their level, tensors on shared storage,
    pandas blocks sharing values; ``NotImplemented`` for everything else.

    Raises
    ------
    pickle.PicklingError
        For what a pickler would save but a restore would get wrong (a read-mode file becomes
        a copy of its content, a lock a fresh unlocked lock, a write-mode file truncates).
    """
    reduced = reducers.views.reduce(obj)
    if reduced is not NotImplemented or isinstance(obj, np.ndarray):
        return reduced
    reduced = reducers.singletons.reduce(obj)
    if reduced is not NotImplemented:
        return reduced
    closed = _closed_file_args(obj)
    if closed is not None:
        return (_rebuild_closed_file, closed)
    for reduce in (
        reduce_callback_registry,
        reduce_lru_cache,
        reduce_cached_property,
        reduce_logger,
    ):
        reduced = reduce(obj)
        if reduced is not NotImplemented:
            return reduced
    for reducer in (reducers.tensors, reducers.frames):
        reduced = reducer.reduce(obj)
        if reduced is not NotImplemented:
            return reduced
    if type(obj) in (weakref.ProxyType, weakref.CallableProxyType):
        # A proxy passes for its referent (``__class__``), so it would be saved as a copy.
        raise pickle.PicklingError(f"{type(obj).__name__}: a weak proxy cannot be saved")
    reason = _unsafe_reason(obj)
    if reason is not None:
        raise pickle.PicklingError(reason)
    return NotImplemented


class _CloudPickler(cloudpickle.Pickler):  # type: ignore[misc]  # cloudpickle ships no stubs
    """cloudpickle (``__main__`` objects by value) plus numpy views kept as views."""

    def __init__(
        self,
        file: _Writable,
        roots: set[int],
        spans: Spans,
        buffer_callback: Callable[[Any], Any],
    ) -> None:
        super().__init__(file, protocol=_PROTOCOL, buffer_callback=buffer_callback)
        self.reducers = _Reducers(roots, spans)

    def reducer_override(self, obj: object) -> Any:
        reduced = _reduce_special(obj, self.reducers)
        if reduced is not NotImplemented:
            return reduced
        if type(obj) is typing.TypeVar and _TYPEVAR is not None:
            by_value = _TYPEVAR[0](obj)
            if by_value[0] is _TYPEVAR[1]:
                return (_typevar_in_module, (by_value[1], obj.__module__))
        reduced = super().reducer_override(obj)
        if isinstance(obj, type) and type(reduced) is tuple and reduced[:1] == _SKELETON_CLASS:
            return _with_class_statement(obj, reduced)
        return reduced


_SKELETON_CLASS = (getattr(cloudpickle.cloudpickle, "_make_skeleton_class", object()),)
_TYPEVAR: tuple[Callable[[object], Any], Callable[..., Any]] | None = (
    (cloudpickle.cloudpickle._typevar_reduce, cloudpickle.cloudpickle._make_typevar)
    if hasattr(cloudpickle.cloudpickle, "_typevar_reduce")
    and hasattr(cloudpickle.cloudpickle, "_make_typevar")
    else None
)


def _typevar_in_module(args: tuple[Any, ...], module: str) -> object:
    """cloudpickle's rebuilt TypeVar, back in the module that defined it (TypeVar takes its
    ``__module__`` from the calling frame, which would be cloudpickle's)."""
    if _TYPEVAR is not None:
        typevar = _TYPEVAR[1](*args)
    else:  # a cloudpickle without these helpers: the same TypeVar, without shared identity
        name, bound, constraints, covariant, contravariant = args[:5]
        make: Callable[..., Any] = typing.TypeVar
        typevar = make(
            name, *constraints, bound=bound, covariant=covariant, contravariant=contravariant
        )
    typevar.__module__ = module
    return typevar


def _with_class_statement(cls: type, reduced: tuple[Any, ...]) -> tuple[Any, ...]:
    """cloudpickle's by-value reduction of ``cls``, with what only the class statement can set.

    cloudpickle rebuilds a class from its name and bases, then sets its attributes one by one:
    a ``__slots__`` set that way makes no slots (instances get a ``__dict__`` instead), and the
    qualified name of a class defined inside a function becomes its bare name. Both go to the
    class statement instead.
    """
    make, args, *rest = reduced
    statement = dict(args[3])
    own = vars(cls)
    if own.get("__slots__") or ("__slots__" in own and typing.NamedTuple not in args[2]):
        # Empty slots too (a namedtuple's): they forbid the instances a __dict__; only
        # typing.NamedTuple's metaclass refuses them in the class statement.
        statement["__slots__"] = own["__slots__"]
    if cls.__qualname__ != cls.__name__:
        statement["__qualname__"] = cls.__qualname__
    return (make, (*args[:3], statement, *args[4:]), *rest)


class _DillPickler(dill.Pickler):  # type: ignore[misc]  # dill ships no stubs
    """dill for what cloudpickle refuses, minus the types dill restores wrongly.

    dill would pickle open files and locks; a restored write-mode file handle truncates its
    file, so those types are refused here just like in ``find_unserializable``.
    """

    def __init__(
        self,
        file: _Writable,
        roots: set[int],
        spans: Spans,
        buffer_callback: Callable[[Any], Any],
    ) -> None:
        super().__init__(file, protocol=_PROTOCOL, buffer_callback=buffer_callback, recurse=True)
        self.reducers = _Reducers(roots, spans)
        self.group_ids: frozenset[int] = frozenset()

    def reducer_override(self, obj: object) -> Any:
        if isinstance(obj, _WEAKREF_TYPES) and not (
            isinstance(obj, weakref.ref) and id(obj()) in self.group_ids
        ):
            # dill pickles the referent by value: unless it is a variable of this group (one
            # pickle memo), the restored ref would point at a copy, not at the session's object.
            raise pickle.PicklingError(
                f"{type(obj).__name__}: a weak reference to an object outside its linked group"
            )
        return _reduce_special(obj, self.reducers)


class _NullSink:
    """A file that discards what it is given, to test picklability without keeping bytes."""

    def write(self, data: bytes) -> int:
        return len(data)


def _dump(
    pickler_type: type[_CloudPickler] | type[_DillPickler], values: Mapping[str, object]
) -> SerializedGroup:
    roots = top_level_roots(values)
    spans: Spans = {}
    while True:
        stream = io.BytesIO()
        buffers: list[pickle.PickleBuffer] = []
        pickler = pickler_type(stream, roots, spans, buffers.append)
        if isinstance(pickler, _DillPickler):
            pickler.group_ids = frozenset(id(v) for v in values.values())
        pickler.dump(dict(values))
        views = pickler.reducers.views
        missed = views.missed_roots()
        shared = {root: s for root, s in views.overlapping_spans().items() if root not in missed}
        if not missed and not shared:
            break
        # Views were copied although the stream stored their root anyway (deep inside an
        # object), or copied apart although they overlap: once more with those roots and
        # spans known, so the views come back as views sharing their memory.
        roots = roots | missed
        spans = {**spans, **shared}
    name = PICKLER_CLOUDPICKLE if pickler_type is _CloudPickler else PICKLER_DILL
    return SerializedGroup(
        names=tuple(values),
        stream=stream.getbuffer(),
        buffers=tuple(b.raw() for b in buffers),
        pickler=name,
    )


def find_unserializable(obj: object, *, deep: bool = True) -> str | None:
    """Say why a value cannot be checkpointed, or ``None`` when it can.

    Parameters
    ----------
    obj
        A value from the user namespace.
    deep
        When true (default), values that pass the cheap type checks are pickled into a sink
        that discards the bytes (out-of-band buffers are not even copied), which catches
        C-extension objects without a reducer and unpicklable objects nested anywhere.

    Returns
    -------
    str or None
        A short reason (``"generator objects hold a running frame..."``, ``"open file 'x'"``,
        ``"TypeError: cannot pickle 'X' object"``), or ``None`` if the value can be saved.
    """
    if type(obj) in _ATOMIC_TYPES:
        return None
    if type(obj) is np.ndarray and not obj.dtype.hasobject:
        return None
    reason = _unsafe_reason(obj)
    if reason is not None or not deep:
        return reason
    sink = _NullSink()
    roots = top_level_roots({"obj": obj})
    try:
        _CloudPickler(sink, roots, {}, _discard).dump(obj)
        return None
    # Pickling runs arbitrary user reducers: any exception means "cannot be pickled".
    except Exception:
        pass
    try:
        _DillPickler(sink, roots, {}, _discard).dump(obj)
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _discard(_buffer: object) -> bool:
    # A false return value keeps the buffer out of band, so nothing is copied.
    return False


def serialize_group(values: Mapping[str, object]) -> SerializedGroup:
    """Pickle a linked group of variables in one call so shared references survive.

    Uses cloudpickle with protocol 5 (functions, classes and lambdas defined in ``__main__``
    go by value; numpy/pandas buffers go out of band), and dill when cloudpickle fails.

    Parameters
    ----------
    values
        Variable name to value; all of them are pickled in one stream.

    Returns
    -------
    SerializedGroup
        The stream and zero-copy views of the out-of-band buffers.

    Raises
    ------
    SerializationError
        When neither pickler can serialize the group; the message names the first variable
        that fails on its own and why.
    """
    try:
        return _dump(_CloudPickler, values)
    # User objects' reducers may raise anything; dill gets a second chance below.
    except Exception:
        pass
    try:
        return _dump(_DillPickler, values)
    except Exception as exc:
        group = ", ".join(values)
        for name, value in values.items():
            reason = find_unserializable(value)
            if reason is not None:
                raise SerializationError(
                    f"cannot serialize variable {name!r} (linked group: {group}): {reason}; "
                    "it has to be recomputed instead of stored"
                ) from exc
        raise SerializationError(
            f"cannot serialize the linked group ({group}) although each variable pickles "
            f"alone: {type(exc).__name__}: {exc}"
        ) from exc


def deserialize_group(group: SerializedGroup) -> dict[str, object]:
    """Load a group written by :func:`serialize_group`.

    Buffers should be writable (e.g. ``memoryview(bytearray)``) so loaded arrays are writable.

    Raises
    ------
    SerializationError
        When unpickling fails (a module is missing, a class changed...), naming the variables.
    """
    loads: Callable[..., Any] = dill.loads if group.pickler == PICKLER_DILL else pickle.loads
    try:
        result = loads(group.stream, buffers=group.buffers)
    # Unpickling imports modules and runs reducers from the checkpoint: anything can fail.
    except Exception as exc:
        raise SerializationError(
            f"cannot load variables {', '.join(group.names)}: {type(exc).__name__}: {exc} "
            "(is every package the session used installed, at a compatible version?)"
        ) from exc
    if not isinstance(result, dict) or set(result) != set(group.names):
        raise SerializationError(
            f"group {', '.join(group.names)} loaded as something else than its variables"
        )
    return result
