"""The global names that user-defined functions can read or write when a cell calls them.

A cell ``train()`` reads whatever ``train`` reads through its globals, transitively: the
recorder adds those names to the cell's reads and modification candidates.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping

__all__ = ["GlobalsResolver"]


class GlobalsResolver:
    """Resolves the namespace names reachable from user functions, classes and instances.

    Only objects whose code runs with ``ns`` as globals count as user code; library functions
    cannot name the notebook's variables.
    """

    def __init__(self, ns: Mapping[str, object]) -> None:
        self._ns = ns
        self._code_names: dict[types.CodeType, frozenset[str]] = {}

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
            for code in self._code_of(self._ns.get(name), seen_objects):
                for used in self._names_in_code(code):
                    if used in self._ns and used not in found:
                        pending.append(used)
        return found

    def _code_of(self, obj: object, seen: set[int]) -> list[types.CodeType]:
        """Code objects of user functions reachable from ``obj`` (functions, methods, classes)."""
        codes: list[types.CodeType] = []
        stack: list[object] = [obj]
        while stack:
            item = stack.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, types.FunctionType):
                if item.__globals__ is self._ns:
                    codes.append(item.__code__)
                    for cell in item.__closure__ or ():
                        try:
                            stack.append(cell.cell_contents)
                        except ValueError:
                            continue
            elif isinstance(item, types.MethodType):
                stack.append(item.__func__)
            elif isinstance(item, functools.partial):
                stack.append(item.func)
            elif isinstance(item, (staticmethod, classmethod)):
                stack.append(item.__func__)
            elif isinstance(item, property):
                stack.extend(f for f in (item.fget, item.fset, item.fdel) if f is not None)
            elif isinstance(item, type):
                if item.__module__ == "__main__":
                    stack.extend(vars(item).values())
                    stack.extend(b for b in item.__bases__ if b is not object)
            elif type(item).__module__ == "__main__":
                stack.append(type(item))
        return codes

    def _names_in_code(self, code: types.CodeType) -> frozenset[str]:
        cached = self._code_names.get(code)
        if cached is not None:
            return cached
        names: set[str] = set()
        stack = [code]
        while stack:
            current = stack.pop()
            # co_names holds globals and attribute names alike: a superset of the globals used.
            names.update(current.co_names)
            stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
        result = frozenset(names)
        self._code_names[code] = result
        return result
