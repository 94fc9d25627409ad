"""The correctness oracle: describes a namespace so that two kernels' sessions can be compared.

``describe(ns)`` runs inside a kernel and returns plain JSON: per variable a canonical,
address-free description of its value, and the aliasing structure (which variable paths reach
the same object, and which numpy arrays share memory, with their offsets). Two sessions are
equal when both parts are equal. It is written independently of the kernel's fingerprints on
purpose: the oracle must not share the code it checks.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import types
from collections.abc import Mapping
from typing import Any

ATOMS = (int, float, complex, str, bytes, bool, type(None))
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
HIDDEN = re.compile(
    r"^(_{1,3}|_i{1,3}|_i?\d+|_(ih|oh|dh|sh)|__\w+__|In|Out|exit|quit|get_ipython)$"
)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


class _Describer:
    def __init__(self) -> None:
        self.first_path: dict[int, str] = {}
        self.aliases: list[list[str]] = []
        self.arrays: list[tuple[str, Any]] = []
        self.keep: list[object] = []

    def describe(self, obj: object, path: str, depth: int = 0) -> Any:
        if isinstance(obj, ATOMS):
            if isinstance(obj, float) and obj != obj:
                return ["float", "nan"]
            if isinstance(obj, bytes):
                return ["bytes", _digest(obj)]
            return [type(obj).__name__, obj]
        key = id(obj)
        if key in self.first_path:
            self.aliases.append([path, self.first_path[key]])
            return ["alias"]
        self.first_path[key] = path
        self.keep.append(obj)
        if depth > 40:
            return ["deep", type(obj).__qualname__]
        np = sys.modules.get("numpy")
        pd = sys.modules.get("pandas")
        if np is not None and isinstance(obj, np.ndarray):
            self.arrays.append((path, obj))
            if obj.dtype.hasobject:
                return [
                    "ndarray",
                    str(obj.dtype),
                    list(obj.shape),
                    [
                        self.describe(v, f"{path}[{i}]", depth + 1)
                        for i, v in enumerate(obj.ravel().tolist())
                    ],
                ]
            return [
                "ndarray",
                str(obj.dtype),
                list(obj.shape),
                _digest(np.ascontiguousarray(obj).tobytes()),
            ]
        if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
            frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
            hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
            return [
                type(obj).__name__,
                [str(t) for t in frame.dtypes],
                [str(c) for c in frame.columns],
                str(frame.index.dtype),
                len(frame),
                _digest(hashed),
            ]
        if pd is not None and isinstance(obj, pd.Index):
            return ["Index", str(obj.dtype), [repr(v) for v in obj.tolist()]]
        if isinstance(obj, (list, tuple)):
            return [
                type(obj).__name__,
                [self.describe(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)],
            ]
        if isinstance(obj, dict):
            return [
                type(obj).__name__,
                [[repr(k), self.describe(v, f"{path}[{k!r}]", depth + 1)] for k, v in obj.items()],
            ]
        if isinstance(obj, (set, frozenset)):
            return [type(obj).__name__, sorted(repr(v) for v in obj)]
        if isinstance(obj, types.FunctionType):
            closure = [
                self.describe(c.cell_contents, f"{path}.<closure{i}>", depth + 1)
                for i, c in enumerate(obj.__closure__ or ())
                if _cell_filled(c)
            ]
            return [
                "function",
                obj.__qualname__,
                _digest(obj.__code__.co_code),
                self.describe(obj.__defaults__, f"{path}.__defaults__", depth + 1),
                closure,
            ]
        if isinstance(obj, types.ModuleType):
            return ["module", obj.__name__]
        if isinstance(obj, type):
            return [
                "class",
                obj.__module__,
                obj.__qualname__,
                sorted(k for k in vars(obj) if not k.startswith("__")),
            ]
        if isinstance(obj, types.GeneratorType):
            return ["generator", obj.__qualname__]
        state: dict[str, Any] = {}
        if hasattr(obj, "__dict__") and isinstance(vars(obj), dict):
            state.update(vars(obj))
        for klass in type(obj).__mro__:
            for slot in klass.__dict__.get("__slots__", ()):
                if (
                    isinstance(slot, str)
                    and slot not in ("__dict__", "__weakref__")
                    and hasattr(obj, slot)
                ):
                    state[slot] = getattr(obj, slot)
        if state:
            return [
                "object",
                type(obj).__module__,
                type(obj).__qualname__,
                [[k, self.describe(v, f"{path}.{k}", depth + 1)] for k, v in sorted(state.items())],
            ]
        return ["repr", type(obj).__module__, type(obj).__qualname__, ADDRESS.sub("", repr(obj))]

    def memory_sharing(self) -> list[list[Any]]:
        """Pairs of array paths that share memory, with the byte offset between their data."""
        pairs: list[list[Any]] = []
        for i, (pa, a) in enumerate(self.arrays):
            for pb, b in self.arrays[i + 1 :]:
                if a.dtype.hasobject or b.dtype.hasobject:
                    continue
                import numpy as np

                if np.shares_memory(a, b):
                    offset = a.__array_interface__["data"][0] - b.__array_interface__["data"][0]
                    pairs.append([pa, pb, offset])
        return pairs


def _cell_filled(cell: types.CellType) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:
        return False
    return True


def describe(ns: Mapping[str, object], names: list[str] | None = None) -> dict[str, Any]:
    """Values and aliasing of the user variables in ``ns`` (all of them unless ``names``)."""
    describer = _Describer()
    chosen = sorted(names if names is not None else (n for n in ns if not HIDDEN.match(n)))
    values = {name: describer.describe(ns[name], name) for name in chosen if name in ns}
    return {
        "values": values,
        "aliases": sorted(describer.aliases),
        "shared_memory": sorted(describer.memory_sharing()),
    }


def describe_json(ns: Mapping[str, object]) -> str:
    return json.dumps(describe(ns), sort_keys=True, default=repr)


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Differences between two descriptions, one line each; empty when the sessions are equal."""
    problems: list[str] = []
    bv, av = before["values"], after["values"]
    for name in sorted(set(bv) | set(av)):
        if name not in av:
            problems.append(f"{name}: missing after restore")
        elif name not in bv:
            problems.append(f"{name}: not in the original session")
        elif bv[name] != av[name]:
            problems.append(
                f"{name}: value differs: {str(bv[name])[:200]} != {str(av[name])[:200]}"
            )
    for key in ("aliases", "shared_memory"):
        lost = [x for x in before[key] if x not in after[key]]
        extra = [x for x in after[key] if x not in before[key]]
        if lost:
            problems.append(f"{key} lost: {lost[:10]}")
        if extra:
            problems.append(f"{key} added: {extra[:10]}")
    return problems
