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
DEFAULT_REPR = re.compile(r"^<[\w.]+ object>$")
OPAQUE = "opaque"
HIDDEN = re.compile(
    r"^(_{1,3}|_i{1,3}|_i?\d+|_(ih|oh|dh|sh)|__\w+__|In|Out|exit|quit|get_ipython)$"
)


def _digest(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:24]


class _Describer:
    def __init__(self) -> None:
        self.first_path: dict[int, str] = {}
        self.aliases: list[list[str]] = []
        self.arrays: list[tuple[str, Any]] = []
        self.tensors: list[tuple[str, Any]] = []
        self.keep: list[object] = []

    def describe(self, obj: object, path: str, depth: int = 0) -> Any:
        try:
            return self._describe(obj, path, depth)
        except Exception:
            # An object whose own attribute access raises (even ``__class__``, which
            # isinstance falls back to): its instance dictionary is still its value.
            try:
                state = object.__getattribute__(obj, "__dict__")
            except AttributeError:
                raise
            return [
                "guarded",
                type(obj).__module__,
                type(obj).__qualname__,
                [[k, self.describe(v, f"{path}.{k}", depth + 1)] for k, v in sorted(state.items())],
            ]

    def _describe(self, obj: object, path: str, depth: int) -> Any:
        if isinstance(obj, ATOMS):
            if isinstance(obj, float) and obj != obj:
                return ["float", "nan"]
            if isinstance(obj, bytes):
                return ["bytes", _digest(obj)]
            return [type(obj).__name__, obj]
        value_form = _numpy_value(obj)
        if value_form is not None:
            return value_form
        key = id(obj)
        if key in self.first_path:
            self.aliases.append([path, self.first_path[key]])
            return ["alias"]
        self.first_path[key] = path
        self.keep.append(obj)
        if depth > 40:
            return ["deep", type(obj).__qualname__]
        special = self._describe_library(obj, path, depth)
        if special is not None:
            return special
        np = sys.modules.get("numpy")
        pd = sys.modules.get("pandas")
        if np is not None and isinstance(obj, np.ma.MaskedArray):
            return [
                "masked",
                type(obj).__qualname__,
                self.describe(obj.data, f"{path}.data", depth + 1),
                _digest(np.ma.getmaskarray(obj).tobytes()),
                _fill_value(np, obj),
                bool(obj.hardmask),
            ]
        if np is not None and isinstance(obj, np.ndarray):
            self.arrays.append((path, obj))
            kind = "ndarray" if type(obj) is np.ndarray else f"ndarray:{type(obj).__qualname__}"
            if obj.dtype.hasobject:
                return [
                    kind,
                    str(obj.dtype),
                    list(obj.shape),
                    [
                        self.describe(v, f"{path}[{i}]", depth + 1)
                        for i, v in enumerate(obj.ravel().tolist())
                    ],
                ]
            return [
                kind,
                str(obj.dtype),
                list(obj.shape),
                _digest(np.ascontiguousarray(obj).tobytes()),
            ]
        if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
            frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
            try:
                hashed = _digest(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
            except TypeError:
                # Unhashable cells (lists, dicts): their reprs are the value.
                hashed = _digest(repr(frame.to_dict("split")))
            return [
                type(obj).__name__,
                [str(t) for t in frame.dtypes],
                [str(c) for c in frame.columns],
                str(frame.index.dtype),
                len(frame),
                hashed,
                [repr(n) for n in frame.index.names],
                [repr(n) for n in frame.columns.names],
                repr(obj.name) if isinstance(obj, pd.Series) else "",
                self.describe(obj.attrs, f"{path}.attrs", depth + 1),
            ]
        if pd is not None and isinstance(obj, pd.Index):
            return [
                type(obj).__qualname__,
                str(obj.dtype),
                [repr(v) for v in obj.tolist()],
                [repr(n) for n in obj.names],
                repr(getattr(obj, "freq", None)),
            ]
        if isinstance(obj, (list, tuple)):
            return [
                type(obj).__name__,
                [self.describe(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)],
            ]
        if isinstance(obj, dict):
            # Object keys (optimizer state keyed by parameters) are described, so their aliasing
            # with other variables is checked too.
            return [
                type(obj).__name__,
                [
                    [
                        repr(k)
                        if isinstance(k, (*ATOMS, tuple, frozenset))
                        else self.describe(k, f"{path}.<key{i}>", depth + 1),
                        # Paths name aliases across processes: no addresses in them.
                        self.describe(v, f"{path}[{ADDRESS.sub('', repr(k))}]", depth + 1),
                    ]
                    for i, (k, v) in enumerate(obj.items())
                ],
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
                if isinstance(slot, str) and slot not in ("__dict__", "__weakref__"):
                    # The slot's own descriptor: getattr would fall back to a class's
                    # __getattr__ for an empty slot, which may compute and memoize a value
                    # (sqlalchemy's event listeners) or raise something else than AttributeError.
                    descriptor = klass.__dict__.get(slot)
                    try:
                        state[slot] = descriptor.__get__(obj, klass)  # type: ignore[union-attr]
                    except AttributeError:
                        continue
        # pandas' cache_readonly store: derived values, filled lazily, not pickled.
        state.pop("_cache", None)
        # scikit-learn vectorizers keep id(stop_words): an address, never repeated by a re-run.
        state.pop("_stop_words_id", None)
        if state:
            return [
                "object",
                type(obj).__module__,
                type(obj).__qualname__,
                [[k, self.describe(v, f"{path}.{k}", depth + 1)] for k, v in sorted(state.items())],
            ]
        reduced = _reduced_state(obj)
        if reduced is not None:
            return [
                "reduced",
                type(obj).__module__,
                type(obj).__qualname__,
                self.describe(reduced, f"{path}.<reduce>", depth + 1),
            ]
        text = repr(obj)
        if ADDRESS.search(text) or DEFAULT_REPR.match(text):
            # Identity-only repr: nothing about the value is visible, so equal descriptions
            # prove nothing; OPAQUE lets a caller tell such weak checks apart.
            return [OPAQUE, type(obj).__module__, type(obj).__qualname__]
        return ["repr", type(obj).__module__, type(obj).__qualname__, text]

    def _describe_library(self, obj: object, path: str, depth: int) -> Any:
        """A canonical value form for library types whose state lives outside ``__dict__``."""
        form = _FORMS.get((type(obj).__module__ or "").split(".")[0])
        if form is None:
            return None
        return form(self, obj, path, depth)

    def memory_sharing(self) -> list[list[Any]]:
        """Pairs of array paths that share memory, with the byte offset between their data."""
        pairs: list[list[Any]] = []
        for i, (pa, a) in enumerate(self.tensors):
            for pb, b in self.tensors[i + 1 :]:
                sa, sb = a.untyped_storage(), b.untyped_storage()
                if sa.data_ptr() == sb.data_ptr() and sa.nbytes() > 0:
                    offset = (a.storage_offset() - b.storage_offset()) * a.element_size()
                    pairs.append([pa, pb, offset])
        for i, (pa, a) in enumerate(self.arrays):
            for pb, b in self.arrays[i + 1 :]:
                if a.dtype.hasobject or b.dtype.hasobject:
                    continue
                import numpy as np

                if np.shares_memory(a, b):
                    offset = a.__array_interface__["data"][0] - b.__array_interface__["data"][0]
                    pairs.append([pa, pb, offset])
        return pairs


def _reduced_state(obj: object) -> tuple[object, ...] | None:
    """The arguments and state of a C object's own pickle reduction (its only public view of
    its content), or ``None`` when the type does not define one."""
    cls = type(obj)
    if not any(
        name in klass.__dict__
        for klass in cls.__mro__[:-1]
        for name in ("__reduce__", "__reduce_ex__", "__getstate__")
    ):
        return None
    try:
        reduced = obj.__reduce_ex__(4)
    except Exception:
        return None
    if not isinstance(reduced, tuple) or len(reduced) < 2:
        return None
    if reduced[0] is iter and len(reduced[1]) == 1 and len(reduced[1][0]) == 0:
        # An exhausted builtin iterator pickles as iter(()) or iter([]), and loads as a fresh
        # iterator over nothing, whose reduction adds its position: both yield nothing.
        return ("exhausted iterator",)
    return tuple(x for x in reduced[1:] if not _is_iterator(x))


def _is_iterator(value: object) -> bool:
    return hasattr(value, "__next__") and not isinstance(value, ATOMS)


def _cell_filled(cell: types.CellType) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:
        return False
    return True


def _numpy_value(obj: object) -> Any:
    """Immutable values (tuples of atoms, dtypes, numpy scalars, arrow arrays): unpickling makes
    new objects of equal value, so their identity is not part of the session."""
    if type(obj) is tuple and all(type(v) in ATOMS for v in obj):
        # A tuple of atoms is immutable all the way down: sharing one is not aliasing.
        return ["tuple", [[type(v).__name__, v] for v in obj]]
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(obj, pa.Array | pa.ChunkedArray | pa.Scalar | pa.DataType):
        return _arrow_form(_Describer(), obj, "", 0)
    np = sys.modules.get("numpy")
    if np is None:
        return None
    if isinstance(obj, np.dtype):
        return ["dtype", repr(obj), repr(obj.descr) if obj.fields else ""]
    if isinstance(obj, np.generic):
        raw = repr(obj.tolist()) if obj.dtype.hasobject else _digest(obj.tobytes())
        return ["npscalar", type(obj).__qualname__, str(obj.dtype), raw]
    return None


def _numpy_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    import numpy as np
    from numpy.polynomial._polybase import ABCPolyBase

    if obj is np.random.mtrand._rand:
        # Seeded from OS entropy at import, which its pickle keeps: only its state is the
        # session's. A private copy of it is described as any other RandomState, so a restore
        # that copies it is still caught.
        return ["numpy global RandomState", d.describe(obj.get_state(), path, depth)]

    if isinstance(obj, ABCPolyBase):
        # domain/window are class defaults until pickling copies them onto the instance.
        parts = {"coef": obj.coef, "domain": obj.domain, "window": obj.window}
        return ["polynomial", type(obj).__qualname__, obj.symbol, d.describe(parts, path, depth)]
    return None


def _torch_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        if obj.layout != torch.strided:
            return [
                "tensor",
                type(obj).__qualname__,
                str(obj.layout),
                d.describe(obj.to_dense(), path, depth + 1),
            ]
        d.tensors.append((path, obj))
        data = obj.detach().cpu().contiguous()
        raw = data.view(torch.int16) if data.dtype == torch.bfloat16 else data
        return [
            "tensor",
            type(obj).__qualname__,
            str(obj.dtype),
            list(obj.shape),
            list(obj.stride()),
            obj.storage_offset(),
            bool(obj.requires_grad),
            _digest(raw.numpy().tobytes()),
            d.describe(obj.grad, f"{path}.grad", depth + 1),
        ]
    if isinstance(obj, torch.Generator):
        return ["torch.Generator", str(obj.device), _digest(obj.get_state().numpy().tobytes())]
    return None


def _polars_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    import polars as pl

    if isinstance(obj, pl.DataFrame):
        return ["polars.DataFrame", str(obj.schema), list(obj.shape), _digest(repr(obj.rows()))]
    if isinstance(obj, pl.Series):
        return ["polars.Series", obj.name, str(obj.dtype), _digest(repr(obj.to_list()))]
    if isinstance(obj, pl.LazyFrame):
        rows = obj.collect().rows()
        return ["polars.LazyFrame", obj.explain(optimized=False), _digest(repr(rows))]
    return None


def _arrow_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    import pyarrow as pa

    name = type(obj).__qualname__
    if isinstance(obj, pa.Table | pa.RecordBatch):
        return ["arrow", name, str(obj.schema), obj.num_rows, _digest(repr(obj.to_pydict()))]
    if isinstance(obj, pa.Array | pa.ChunkedArray):
        return ["arrow", name, str(obj.type), _digest(repr(obj.to_pylist()))]
    if isinstance(obj, pa.Scalar):
        return ["arrow", name, str(obj.type), repr(obj.as_py())]
    if isinstance(obj, pa.Schema | pa.DataType | pa.Field):
        return ["arrow", name, str(obj), repr(obj.metadata) if hasattr(obj, "metadata") else ""]
    dataset = sys.modules.get("pyarrow.dataset")
    if dataset is not None and isinstance(obj, dataset.Dataset):
        files = sorted(getattr(obj, "files", []))
        return ["arrow", name, str(obj.schema), files, _digest(repr(obj.to_table().to_pydict()))]
    return None


def _pil_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    from PIL import Image

    if not isinstance(obj, Image.Image):
        return None
    palette = obj.getpalette() if obj.mode == "P" else None
    return [
        "PIL",
        type(obj).__qualname__,
        obj.mode,
        list(obj.size),
        _digest(obj.tobytes()),
        d.describe(dict(obj.info), f"{path}.info", depth + 1),
        repr(palette),
    ]


def _sympy_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    import sympy

    # Slots hold hashes salted per process; srepr is sympy's exact, canonical text.
    return ["sympy", type(obj).__qualname__, sympy.srepr(obj)]


def _plotly_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    if hasattr(obj, "to_plotly_json"):
        from plotly.utils import PlotlyJSONEncoder

        text = json.dumps(obj.to_plotly_json(), cls=PlotlyJSONEncoder, sort_keys=True)
        return ["plotly", type(obj).__qualname__, _digest(text)]
    return None


def _matplotlib_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

    if not isinstance(obj, Artist):
        return None
    figure = obj if isinstance(obj, Figure) else obj.get_figure()
    pixels = ""
    if isinstance(figure, Figure):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(figure) if figure.canvas is None else figure.canvas
        if not isinstance(canvas, FigureCanvasAgg):
            canvas = FigureCanvasAgg(figure)
        canvas.draw()
        pixels = _digest(bytes(canvas.buffer_rgba()))
    props = sorted(
        (k, repr(v.tolist() if hasattr(v, "tolist") else v))
        for k, v in obj.properties().items()
        if isinstance(v, (*ATOMS, tuple)) or hasattr(v, "tolist")
    )
    return ["matplotlib", type(obj).__qualname__, pixels, ADDRESS.sub("", repr(props))]


def _booster_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    if type(obj).__qualname__ != "Booster":
        return None
    if hasattr(obj, "save_raw"):
        return ["xgboost.Booster", _digest(bytes(obj.save_raw("json")))]
    return ["lightgbm.Booster", _digest(obj.model_to_string())]


def _ctypes_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    # Raw pointers and handles are addresses in this process: they prove nothing.
    return [OPAQUE, type(obj).__module__, type(obj).__qualname__]


def _logging_form(d: _Describer, obj: Any, path: str, depth: int) -> Any:
    import logging

    # Loggers are per-process singletons pickled by name; the tree around them is the process's.
    if isinstance(obj, logging.Logger):
        return ["logger", obj.name, obj.level, obj.propagate, obj.disabled]
    return None


_FORMS: dict[str, Any] = {
    "logging": _logging_form,
    "numpy": _numpy_form,
    "torch": _torch_form,
    "polars": _polars_form,
    "pyarrow": _arrow_form,
    "PIL": _pil_form,
    "sympy": _sympy_form,
    "plotly": _plotly_form,
    "matplotlib": _matplotlib_form,
    "xgboost": _booster_form,
    "lightgbm": _booster_form,
    "ctypes": _ctypes_form,
    "_ctypes": _ctypes_form,
}


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


def _fill_value(np: Any, masked: Any) -> str:
    """A masked array's fill value, compared by value.

    Read without ``.fill_value``, which would store a default into the array (describing must
    not change the session); and by value, because numpy's own pickling materialises the
    default and turns a string fill value of an object array from ``np.str_`` into ``str``.
    """
    fill = masked._fill_value
    if fill is None:
        # Not materialised yet; unpickling materialises the same default.
        fill = np.ma.default_fill_value(masked)
    value = np.asarray(fill)
    return repr(value.item() if value.ndim == 0 else value.tolist())
