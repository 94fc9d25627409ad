"""The global names that user-defined functions can read or write when a cell calls them.

A cell ``train()`` reads whatever ``train`` reads through its globals, transitively: the
recorder adds those names to the cell's reads and modification candidates.
"""

from __future__ import annotations

import dis
import functools
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from elastic_kernel.lineage.identity import identity

__all__ = ["GlobalsResolver"]

# Instructions that load a name about to be called: LOAD_METHOD (3.11) always; LOAD_GLOBAL and,
# from 3.12, LOAD_ATTR when the low bit of their argument asks for a NULL / method slot.
_CALL_LOADS = frozenset({"LOAD_METHOD"})
_FLAGGED_CALL_LOADS = (
    frozenset({"LOAD_GLOBAL", "LOAD_ATTR"})
    if sys.version_info >= (3, 12)
    else frozenset({"LOAD_GLOBAL"})
)


class GlobalsResolver:
    """Resolves the namespace names reachable from user functions, classes and instances.

    Only objects whose code runs with ``ns`` as globals count as user code; library functions
    cannot name the notebook's variables.

    Parameters
    ----------
    ns
        The user namespace.
    held
        Optional: for a variable name, the functions and classes its value holds somewhere
        inside (in a dict, an attribute, a wrapper); their code is followed as well.
    """

    def __init__(
        self,
        ns: Mapping[str, object],
        held: Callable[[str], Iterable[object]] | None = None,
    ) -> None:
        self._ns = ns
        self._held = held
        self._code_names: dict[types.CodeType, frozenset[str]] = {}
        self._code_calls: dict[types.CodeType, frozenset[str]] = {}

    def names_used_by(self, roots: set[str]) -> set[str]:
        """Names of ``ns`` reachable from the variables ``roots`` through user code, transitively.

        The result includes the roots themselves when they exist in the namespace.
        """
        found: set[str] = set()
        pending = [name for name in roots if name in self._ns]
        seen_objects: set[int] = set()
        while pending:
            name = pending.pop()
            if name in found:
                continue
            found.add(name)
            objects = [self._ns.get(name)]
            if self._held is not None:
                objects.extend(self._held(name))
            for code in self._code_of(objects, seen_objects):
                for used in self._names_in_code(code):
                    if used in self._ns and used not in found:
                        pending.append(used)
        return found

    def called_names(self, roots: set[str]) -> set[str]:
        """Names that user code reachable from ``roots`` calls (``uuid4`` in ``uuid.uuid4()``).

        Read from the bytecode: method loads and globals loaded to be called. Used to find
        unreplayable sources (clocks, ``uuid4``) hidden in functions a cell calls.
        """
        called: set[str] = set()
        seen: set[int] = set()
        for name in self.names_used_by(roots):
            roots_objects = [self._ns.get(name)]
            if self._held is not None:
                roots_objects.extend(self._held(name))
            for code in self._code_of(roots_objects, seen):
                called |= self._calls_in_code(code)
        return called

    def _calls_in_code(self, code: types.CodeType) -> frozenset[str]:
        cached = self._code_calls.get(code)
        if cached is not None:
            return cached
        names: set[str] = set()
        for current in _nested_code(code):
            for instruction in dis.get_instructions(current):
                if instruction.opname in _CALL_LOADS or (
                    instruction.opname in _FLAGGED_CALL_LOADS and (instruction.arg or 0) & 1
                ):
                    names.add(str(instruction.argval))
        result = frozenset(names)
        self._code_calls[code] = result
        return result

    def _code_of(self, objs: Iterable[object], seen: set[int]) -> list[types.CodeType]:
        """Code objects of user functions reachable from ``objs`` (functions, methods, classes)."""
        codes: list[types.CodeType] = []
        stack: list[Any] = list(objs)
        while stack:
            item = stack.pop()
            key = identity(item)
            if key in seen:
                continue
            seen.add(key)
            # By type, never isinstance: that falls back to the object's own __class__, which
            # a proxy or a hostile __getattribute__ may compute or refuse.
            cls = type(item)
            if issubclass(cls, types.FunctionType):
                if item.__globals__ is self._ns:
                    codes.append(item.__code__)
                    for cell in item.__closure__ or ():
                        try:
                            stack.append(cell.cell_contents)
                        except ValueError:
                            continue
            elif issubclass(cls, types.MethodType):
                stack.append(item.__func__)
            elif issubclass(cls, functools.partial):
                stack.append(item.func)
            elif issubclass(cls, (staticmethod, classmethod)):
                stack.append(item.__func__)
            elif issubclass(cls, property):
                stack.extend(f for f in (item.fget, item.fset, item.fdel) if f is not None)
            elif issubclass(cls, type):
                if item.__module__ == "__main__":
                    stack.extend(vars(item).values())
                    stack.extend(b for b in item.__bases__ if b is not object)
            elif cls.__module__ == "__main__":
                stack.append(cls)
        return codes

    def _names_in_code(self, code: types.CodeType) -> frozenset[str]:
        cached = self._code_names.get(code)
        if cached is not None:
            return cached
        names: set[str] = set()
        for current in _nested_code(code):
            # co_names holds globals and attribute names alike: a superset of the globals used.
            names.update(current.co_names)
        result = frozenset(names)
        self._code_names[code] = result
        return result


def _nested_code(code: types.CodeType) -> Iterator[types.CodeType]:
    """``code`` and every code object nested in it (inner functions, comprehensions)."""
    stack = [code]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
