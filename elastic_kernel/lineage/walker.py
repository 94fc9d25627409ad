"""The object-graph walk behind :func:`elastic_kernel.lineage.links.linked_groups`: which mutable
objects (and numpy byte ranges) a variable reaches, skipping atoms at C speed."""

from __future__ import annotations

import gc
import sys
import threading
import types
import weakref
from collections.abc import Collection, Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any

from elastic_kernel.lineage.identity import identity
from elastic_kernel.lineage.modules import imported

__all__ = ["Walker"]

# Immutable values that cannot carry aliasing: sharing them is harmless, so they are neither
# recorded nor walked. Types are compared exactly (subclasses may have a mutable __dict__).
_ATOMS: frozenset[type] = frozenset(
    {
        int,
        float,
        complex,
        bool,
        str,
        bytes,
        type(None),
        range,
        slice,
        type(Ellipsis),
        type(NotImplemented),
        types.ModuleType,
        # Not generators: they hold what they iterate over, and must be stored or recomputed
        # with it. Frames are atoms: walking one would reach its globals (everything).
        types.FrameType,
        types.CodeType,
    }
)
_SCAN_DISCOUNT = 16
_SMALL = 8
_NOT_LINKS = (types.ModuleType, type(None))
_HEAPTYPE = 1 << 9
_EXTENSION_ATTRS = ("_ndarray", "_data", "_mask", "_codes", "_left", "_right")
# Exact container types whose contents can be checked at C speed when all are atoms (60k token
# lists: a Python loop over their million strings cost 0.2 s per walk).
_FLAT: frozenset[type] = frozenset({list, set, dict, tuple, frozenset})
_MUTABLE_FLAT: frozenset[type] = frozenset({list, set, dict})

(
    _ATOM,
    _SEQUENCE,
    _IMMUTABLE_SEQUENCE,
    _MAPPING,
    _ARRAY,
    _FRAME,
    _INDEX,
    _EXTENSION,
    _FUNCTION,
    _METHOD,
    _CELL,
    _CLASS,
    _OBJECT,
    _TENSOR,
    _WEAKREF,
) = range(15)

_WEAK_TYPES = (weakref.ReferenceType, weakref.ProxyType, weakref.CallableProxyType)
# Kinds of library types, kept between calls (classifying costs ~10 us per call, per cell).
# Notebook classes are left out: redefining one in every cell would keep the old ones alive.
_KNOWN_KINDS: dict[type, int] = {t: _ATOM for t in _ATOMS}
_KNOWN_LEAVES: set[type] = set(_ATOMS)
_MAX_KNOWN_KINDS = 4096
_WEAKLY_REFERENCED = frozenset({_OBJECT, _CLASS, _FUNCTION, _TENSOR})


class Walker:
    """Walks one variable at a time; type classification is shared between walks."""

    def __init__(self, max_objects: int, shared: Iterable[object] = ()) -> None:
        self.max_objects = max_objects
        # Reaching the namespace itself (a function's globals, a shell) is not a link.
        self.shared = {identity(obj) for obj in shared} | self.process_objects()
        # Functions and instance classes met by the current walk (see LinkResult.code).
        self.code: dict[int, object] = {}
        self.kinds = _KNOWN_KINDS.copy()
        # Exact types of atoms, except ``type``: a class inside a container may be a notebook
        # class, which links (see walk). Grows as types are classified.
        self.leaves = _KNOWN_LEAVES.copy()
        # The current walk's recorded ids.
        self.seen: set[int] = set()
        np = imported("numpy")
        self.ndarray: type | None = getattr(np, "ndarray", None)
        self.generic: type | None = getattr(np, "generic", None)
        self.byte_bounds: Any = None
        if np is not None:
            utils = getattr(getattr(np, "lib", None), "array_utils", None)
            self.byte_bounds = getattr(utils, "byte_bounds", None) or getattr(
                np, "byte_bounds", None
            )

    @staticmethod
    def process_objects() -> set[int]:
        """Objects every thread and library shares: the standard streams (which in a kernel
        lead to its sockets and session) and the interpreter hooks (which lead to the shell and
        so to every variable, e.g. from any ``threading.Thread``). Reaching one links nothing."""
        shared: list[object] = [
            sys.stdin,
            sys.stdout,
            sys.stderr,
            sys.__stdin__,
            sys.__stdout__,
            sys.__stderr__,
        ]
        for hook in (sys.excepthook, sys.displayhook, threading.excepthook):
            shared.extend((hook, getattr(hook, "__self__", None)))
        return {identity(obj) for obj in shared if obj is not None}

    def kind(self, cls: type) -> int:
        kind = self.kinds.get(cls)
        if kind is None:
            kind = self.kinds[cls] = self._classify(cls)
            leaf = kind == _ATOM and cls is not type
            if leaf:
                self.leaves.add(cls)
            if cls.__module__ not in ("__main__", None):
                if len(_KNOWN_KINDS) > _MAX_KNOWN_KINDS:
                    _KNOWN_KINDS.clear()
                    _KNOWN_LEAVES.intersection_update(_ATOMS)
                    _KNOWN_KINDS.update((t, _ATOM) for t in _ATOMS)
                _KNOWN_KINDS[cls] = kind
                if leaf:
                    _KNOWN_LEAVES.add(cls)
        return kind

    def _classify(self, cls: type) -> int:
        if self.generic is not None and issubclass(cls, self.generic):
            return _ATOM
        if self.ndarray is not None and issubclass(cls, self.ndarray):
            return _ARRAY
        if issubclass(cls, type):
            return _ATOM if issubclass(cls, type) and cls is type else _CLASS
        # sympy's undefined functions are classes whose __module__ is None.
        module = cls.__module__ or ""
        if module.startswith("torch") and hasattr(cls, "untyped_storage"):
            return _TENSOR
        if module.startswith("pandas"):
            typ = getattr(cls, "_typ", None)
            if typ in ("dataframe", "series"):
                return _FRAME
            if isinstance(typ, str) and typ.endswith("index"):
                return _ATOM if typ == "rangeindex" else _INDEX
            if typ == "extension":
                return _EXTENSION
        if cls in (tuple, frozenset):
            return _IMMUTABLE_SEQUENCE
        if cls in (list, set):
            return _SEQUENCE
        if cls is dict:
            return _MAPPING
        if cls is types.FunctionType:
            return _FUNCTION
        if cls in (types.MethodType, types.BuiltinMethodType):
            return _METHOD
        if cls is types.CellType:
            return _CELL
        if issubclass(cls, _WEAK_TYPES):
            return _WEAKREF
        if cls.__module__ == "weakref" and cls.__name__ in ("ReferenceType", "ProxyType"):
            return _WEAKREF
        return _OBJECT

    def walk(self, root: object) -> tuple[set[int], list[tuple[int, int]], bool]:
        """Ids of mutable objects reachable from ``root``, numpy byte ranges, completeness."""
        seen = self.seen = set()
        bounds: list[tuple[int, int]] = []
        stack: list[object] = [root]
        budget = self.max_objects
        atoms = self.kinds
        shared = self.shared
        self.code = {}
        while stack:
            obj = stack.pop()
            cls = type(obj)
            kind = atoms.get(cls)
            if kind is None:
                kind = self.kind(cls)
            if kind == _ATOM:
                # Classes are atoms (shared by everyone), except those defined in the notebook.
                if cls is not type or getattr(obj, "__module__", None) != "__main__":
                    continue
                kind = _CLASS
            ident = identity(obj)
            if ident in seen or ident in shared:
                continue
            if kind == _METHOD and isinstance(getattr(obj, "__self__", None), _NOT_LINKS):
                continue  # a module-level builtin such as len: shared by everyone, holds nothing
            budget -= 1
            if budget < 0:
                return seen, bounds, False
            if kind == _SEQUENCE or kind == _IMMUTABLE_SEQUENCE:
                depth, recorded = len(stack), len(seen)
                budget -= self._push_items(obj, stack)  # type: ignore[arg-type]
                if kind == _IMMUTABLE_SEQUENCE and len(stack) == depth and len(seen) == recorded:
                    # A tuple of atoms is itself an atom: sharing it links nothing.
                    budget += 1
                    continue
            elif kind == _MAPPING:
                budget -= self._push_mapping(obj, stack)  # type: ignore[arg-type]
            elif kind == _ARRAY:
                self._push_array(obj, stack, bounds)
            elif kind == _TENSOR:
                self._push_tensor(obj, stack, bounds)
            elif kind == _WEAKREF:
                # A weak reference links to what it refers to: they must come back together,
                # or it would refer to a copy that nothing keeps alive.
                if isinstance(obj, weakref.ReferenceType):
                    stack.append(obj())
            else:
                budget -= self._push_other(obj, cls, kind, stack)
            seen.add(ident)
            if kind in _WEAKLY_REFERENCED and weakref.getweakrefcount(obj):
                # Proxies cannot be followed to their referent; the referent names them.
                seen.update(identity(ref) for ref in weakref.getweakrefs(obj))
        return seen, bounds, True

    def _push_items(self, items: Collection[object], stack: list[object]) -> int:
        """Push the items that are not atoms; return the work done."""
        leaves = self.leaves
        before = len(stack)
        size = len(items)
        if size > _SMALL:
            # Type checks at C speed: most big containers hold atoms, or flat containers of them.
            present = self._classified(set(map(type, items)))
            if present <= leaves:
                return len(present) + size // _SCAN_DISCOUNT
            if present <= _FLAT:
                work = self._record_flat(items, present)
                if work is not None:
                    return work
        stack.extend(x for x in items if type(x) not in leaves)
        return len(stack) - before

    def _classified(self, present: set[type]) -> set[type]:
        """``present``, after classifying its types not met before (numpy scalars are atoms)."""
        for cls in present - self.leaves:
            self.kind(cls)
        return present

    def _record_flat(self, items: Collection[Any], present: set[type]) -> int | None:
        """Record containers (all of exact types in ``_FLAT``) whose elements are all atoms,
        without visiting the elements one by one; None when some element is not an atom.

        Such a container links only through itself: the mutable ones are recorded, and tuples
        and frozensets of atoms are atoms.
        """
        of_dicts = dict in present
        mutable = present & _MUTABLE_FLAT
        if (of_dicts and len(present) > 1) or (mutable and mutable != present):
            return None  # tuples beside lists: one by one
        ids = set(map(identity, items)) if mutable else set()
        if not self.shared.isdisjoint(ids):
            return None  # the namespace itself
        # The first container rejects most lists of non-flat containers before the full pass.
        for group in (list(islice(items, 1)), items):
            if not self._classified(set(map(type, _contents(group, of_dicts)))) <= self.leaves:
                return None
        self.seen |= ids
        return len(items) + sum(map(len, items)) // _SCAN_DISCOUNT

    def _push_mapping(self, mapping: Mapping[object, object], stack: list[object]) -> int:
        return self._push_items(mapping.values(), stack) + self._push_items(mapping.keys(), stack)

    def _push_array(self, arr: Any, stack: list[object], bounds: list[tuple[int, int]]) -> None:
        base = arr.base
        if base is not None:
            stack.append(base)
        if arr.dtype.hasobject:
            # Pandas string columns: a million str, checked at C speed.
            self._push_items(arr.ravel(order="K").tolist(), stack)
        if arr.nbytes and self.byte_bounds is not None:
            low, high = self.byte_bounds(arr)
            bounds.append((low, high))
        state = getattr(arr, "__dict__", None)
        if state:
            stack.extend(state.values())

    @staticmethod
    def _push_tensor(tensor: Any, stack: list[object], bounds: list[tuple[int, int]]) -> None:
        """A torch tensor: its storage's byte range (views of one storage overlap), its base
        (a view's ``_base``), its gradient, the leaf tensors of its autograd graph and its
        attributes."""
        try:
            storage = tensor.untyped_storage()
            low, size = storage.data_ptr(), storage.nbytes()
        except (RuntimeError, NotImplementedError, TypeError):
            low, size = 0, 0  # sparse and meta tensors have no plain storage
        if low and size:
            bounds.append((low, low + size))
        # Reading .grad of a non-leaf tensor makes torch warn, in the user's cell output.
        grad = tensor.grad if tensor.is_leaf else None
        stack.extend(x for x in (tensor._base, grad) if x is not None)
        if tensor.grad_fn is not None:
            # backward() on this tensor writes the gradients of the leaves it was computed
            # from (a model's parameters): it shares state with them.
            stack.extend(_autograd_leaves(tensor.grad_fn))
        state = getattr(tensor, "__dict__", None)
        if state:
            stack.extend(state.values())

    def _push_other(self, obj: Any, cls: type, kind: int, stack: list[object]) -> int:
        if kind == _FUNCTION:
            self.code[identity(obj)] = obj
            stack.extend(_cell_contents(c) for c in obj.__closure__ or ())
            stack.extend(obj.__defaults__ or ())
            stack.extend((obj.__kwdefaults__ or {}).values())
            stack.extend(obj.__dict__.values())
            return 0
        if kind == _METHOD:
            stack.append(obj.__self__)
            stack.append(getattr(obj, "__func__", None))
            return 0
        if kind == _CELL:
            stack.append(_cell_contents(obj))
            return 0
        if kind == _CLASS:
            if cls.__flags__ & _HEAPTYPE or obj.__flags__ & _HEAPTYPE:
                stack.extend(vars(obj).values())
            return 0
        if kind == _FRAME:
            manager = obj._mgr
            stack.extend(block.values for block in manager.blocks)
            stack.extend(manager.axes)
            stack.append(getattr(obj, "attrs", None))
            return len(manager.blocks)
        if kind == _INDEX:
            data = obj.__dict__.get("_data")
            if data is None and hasattr(obj, "levels"):
                stack.extend(obj.levels)
                stack.extend(obj.codes)
            stack.append(data)
            return 0
        if kind == _EXTENSION:
            stack.extend(getattr(obj, name, None) for name in _EXTENSION_ATTRS)
            categories = getattr(obj.dtype, "categories", None)
            stack.append(categories)
            return 0
        # Any other object: whatever it holds a strong reference to (instance dict, slots,
        # container items, C fields of partial/deque/...). A library class is not a link; a
        # class defined in the notebook is: its instances must be stored or recomputed with
        # it, or they would belong to a different class object than the name after a restore.
        if cls.__flags__ & _HEAPTYPE:
            # Its methods run when it is called into.
            self.code[identity(cls)] = cls
            if cls.__module__ == "__main__":
                stack.append(cls)
        children = gc.get_referents(obj)
        if any(issubclass(t, type) for t in set(map(type, children))):
            # Library classes (its own, a default_factory) are shared by everyone.
            children = [c for c in children if not isinstance(c, type) or _is_notebook_class(c)]
        # Counters and defaultdicts: their values are often all atoms.
        self._push_items(children, stack)
        return len(children) // _SCAN_DISCOUNT


def _contents(groups: Collection[Any], of_dicts: bool) -> Iterator[object]:
    """Every element of every container in ``groups`` (keys and values of dicts)."""
    if of_dicts:
        return chain(chain.from_iterable(groups), chain.from_iterable(map(dict.values, groups)))
    return chain.from_iterable(groups)


def _is_notebook_class(cls: type) -> bool:
    return getattr(cls, "__module__", None) == "__main__"


def _cell_contents(cell: types.CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:
        return None


def _autograd_leaves(root: Any) -> list[object]:
    """The leaf tensors an autograd graph accumulates gradients into."""
    leaves: list[object] = []
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        for following, _ in node.next_functions:
            if following is None or id(following) in seen:
                continue
            seen.add(id(following))
            leaf = getattr(following, "variable", None)
            if leaf is not None:
                leaves.append(leaf)
            else:
                todo.append(following)
    return leaves
