"""The alias index: which mutable objects each variable reaches, and who else reaches them.

A cell that can reach ``a`` can change only objects reachable from ``a``, so only the variables
reaching one of those objects can change with it: the recorder fingerprints those too. The index
is refreshed for the names a cell writes, never by walking the whole namespace.
"""

from __future__ import annotations

import types
from collections.abc import Container, Iterable, Mapping

from elastic_kernel.lineage.holders import HolderIndex
from elastic_kernel.lineage.identity import identity
from elastic_kernel.lineage.links import linked_groups
from elastic_kernel.lineage.module_state import is_module
from elastic_kernel.lineage.snapshot import IdSnapshot

__all__ = ["MODULE_DEPTH", "AliasIndex"]

# Modules searched per named module for attribute values that variables alias.
MODULE_DEPTH = 4


class AliasIndex:
    """Per variable of ``ns``: its object's id and the ids of the mutable objects it reaches,
    the functions and classes it holds, and the inverse index of holders."""

    def __init__(self, ns: Mapping[str, object]) -> None:
        self.ns = ns
        self._reach: dict[str, tuple[int, frozenset[int]]] = {}
        self._holders = HolderIndex()
        # name -> functions and instance classes its value holds (see LinkResult.code).
        self._code: dict[str, tuple[object, ...]] = {}
        # Names whose walk hit its budget: they may hide a link.
        self.incomplete: set[str] = set()
        self._modules: dict[
            int, tuple[types.ModuleType, int, frozenset[int], dict[str, types.ModuleType]]
        ] = {}

    def forget_all(self) -> None:
        for name in list(self._reach):
            self.forget(name)

    def with_aliases(
        self, names: set[str], ids: IdSnapshot, attributes: Container[str] = ()
    ) -> set[str]:
        """Extend ``names`` with every variable sharing a mutable object with one of them.

        One step is enough: a cell reaching only ``a`` can change only objects reachable from
        ``a``, so only variables reaching one of those objects can change with it.
        """
        if not names:
            return set()
        self.refresh([n for n in names if self._reach.get(n, (None,))[0] != ids[n]])
        result = set(names)
        for name in names:
            result |= self._holders.holders_of_any(self._reach[name][1])
            value = self.ns[name]
            if is_module(value):
                # `h = sys.path` then `sys.path.append(p)`: module attributes are not walked
                # (modules are shared by everyone), so look their values up in the index.
                result.update(self._module_holders(value, attributes))
        # A variable whose object graph was not fully walked may hide a link: be conservative.
        result |= self.incomplete
        return {n for n in result if n in ids}

    def _module_holders(self, module: types.ModuleType, attributes: Container[str]) -> set[str]:
        """Variables holding an attribute value of ``module``, or of its submodules that the
        cell names as attributes (``np.random.seed``), or the object behind a bound method."""
        found: set[str] = set()
        holders = self._holders
        pending = [module]
        seen: set[int] = set()
        while pending and len(seen) < MODULE_DEPTH:
            current = pending.pop()
            seen.add(identity(current))
            namespace = vars(current)
            owners, submodules = self._module_index(current)
            # At C speed: numpy's namespace alone has ~600 values.
            found |= holders.holders_of_any(set(map(identity, namespace.values())) | owners)
            pending.extend(
                m for key, m in submodules.items() if key in attributes and identity(m) not in seen
            )
        return found

    def _module_index(
        self, module: types.ModuleType
    ) -> tuple[frozenset[int], dict[str, types.ModuleType]]:
        """Ids of the objects behind a module's bound methods (``random.seed`` is a method of
        ``random._inst``) and its submodules; cached while the module's namespace keeps its size."""
        namespace = vars(module)
        cached = self._modules.get(identity(module))
        if cached is not None and cached[0] is module and cached[1] == len(namespace):
            return cached[2], cached[3]
        owners: set[int] = set()
        submodules: dict[str, types.ModuleType] = {}
        prefix = f"{module.__name__}."
        for key, value in list(namespace.items()):
            if type(value) in (types.BuiltinMethodType, types.MethodType):
                owner = value.__self__
                if not isinstance(owner, types.ModuleType):
                    owners.add(identity(owner))
            elif isinstance(value, types.ModuleType) and value.__name__.startswith(prefix):
                submodules[key] = value
        self._modules[identity(module)] = (module, len(namespace), frozenset(owners), submodules)
        return frozenset(owners), submodules

    def refresh(self, names: Iterable[str]) -> None:
        """Recompute the mutable objects reachable from ``names`` and the inverted index."""
        names = [n for n in names if n in self.ns]
        if not names:
            return
        for name in names:
            self.forget(name)
        result = linked_groups(self.ns, names)
        for name in names:
            reach = result.reach.get(name, frozenset())
            self._reach[name] = (identity(self.ns[name]), reach)
            code = result.code.get(name)
            if code:
                self._code[name] = code
            self._holders.add(name, reach)
        self.incomplete.update(result.incomplete)

    def forget(self, name: str) -> None:
        """Drop ``name`` from the index (deleted, or about to be re-walked)."""
        old = self._reach.pop(name, None)
        self._code.pop(name, None)
        self.incomplete.discard(name)
        if old is not None:
            self._holders.remove(name, old[1])

    def held_code(self, name: str) -> tuple[object, ...]:
        """Functions and classes held inside variable ``name`` (refreshed if it was rebound)."""
        if name in self.ns and self._reach.get(name, (None,))[0] != identity(self.ns[name]):
            self.refresh([name])
        return self._code.get(name, ())
