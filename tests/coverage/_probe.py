"""Runs inside the kernel under test: which classes each user variable holds, at which versions.

Imported through a silent user expression, so the kernel does not record it. The oracle's own
description tells whether an object's value is visible to the comparison or only its identity.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any, cast

from tests.oracle import ATOMS, HIDDEN, OPAQUE, _Describer

_NOT_INSTANCES = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
)
_CONTAINERS = (list, tuple, dict)
_MAX_DEPTH = 3


def _version(module: str) -> tuple[str, str]:
    raw = module.split(".")[0]
    top = raw.lstrip("_")
    # Notebook classes (__main__) and the C halves of stdlib modules (_thread, _weakrefset).
    if {raw, top} & (sys.stdlib_module_names | {"builtins", "__main__"}):
        return "python", platform.python_version()
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return dist, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return top, str(getattr(sys.modules.get(top), "__version__", "?"))


def _has_opaque(description: Any) -> bool:
    if isinstance(description, list):
        if description[:1] == [OPAQUE]:
            return True
        return any(_has_opaque(item) for item in description)
    return False


def _walk(obj: object, depth: int, found: dict[int, object]) -> None:
    if type(obj) in ATOMS or id(obj) in found:
        return
    if type(obj) in _CONTAINERS:
        if depth >= _MAX_DEPTH:
            return
        items: Iterable[object] = (
            obj.values() if isinstance(obj, dict) else cast(tuple[object, ...], obj)
        )
        for item in items:
            _walk(item, depth + 1, found)
        return
    if isinstance(obj, _NOT_INSTANCES) or type(obj) in (set, frozenset):
        return
    found[id(obj)] = obj


def classes(ns: Mapping[str, object]) -> dict[str, list[dict[str, Any]]]:
    """Per user variable, the library classes it holds (itself, or inside plain containers)."""
    result: dict[str, list[dict[str, Any]]] = {}
    for name in sorted(n for n in ns if not HIDDEN.match(n)):
        found: dict[int, object] = {}
        _walk(ns[name], 0, found)
        entries: dict[str, dict[str, Any]] = {}
        for obj in found.values():
            cls = type(obj)
            qualified = f"{cls.__module__}.{cls.__qualname__}"
            try:
                opaque = _has_opaque(_Describer().describe(obj, name))
            # The oracle's library forms call into the library; a failure is a weak check.
            except Exception as exc:
                opaque = True
                qualified += f" (oracle failed: {type(exc).__name__})"
            dist, version = _version(cls.__module__ or "")
            entry = entries.setdefault(
                qualified,
                {"class": qualified, "package": dist, "version": version, "opaque": False},
            )
            entry["opaque"] = entry["opaque"] or opaque
        if entries:
            result[name] = sorted(entries.values(), key=lambda e: str(e["class"]))
    return result


def classes_json(ns: Mapping[str, object]) -> str:
    return json.dumps(classes(ns), sort_keys=True)
