"""Capture and restore the global random generators a re-run must replay.

Covers :mod:`random` and numpy's legacy global ``np.random`` (MT19937). States are stored as
packed bytes, so :class:`RngState` compares by value and its JSON form is compact and inert.
"""

from __future__ import annotations

import base64
import json
import random
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from elastic_kernel.lineage.modules import imported
from elastic_kernel.lineage.rng_memory import NumpyStateReader, PythonStateReader

__all__ = ["RngState", "capture_rng_state", "restore_rng_state", "uses_global_rng"]

_MT_WORDS = 624
_FORMAT_VERSION = 1
_PYTHON_HEADER = struct.Struct("<BB d")
_NUMPY_HEADER = struct.Struct("<iB d")
# Starts a numpy state that is not MT19937's words; as a header it would read as position
# 0x4E454700, which no MT19937 state has.
_OTHER_BIT_GENERATOR = b"\x00GEN"
_ARRAY_KEY = "__ndarray__"


@dataclass(frozen=True, slots=True)
class RngState:
    """States of the global generators at one instant.

    Attributes
    ----------
    python
        Packed :func:`random.getstate`.
    numpy
        Packed ``numpy.random.get_state()``; None when numpy was not imported.
    torch
        ``torch.random.get_rng_state()`` bytes (CPU default generator); None when torch was
        not imported.
    """

    python: bytes
    numpy: bytes | None = None
    torch: bytes | None = None

    def to_json(self) -> str:
        """Compact JSON text (base64 of the packed states, about 3.4 KB per generator)."""
        payload: dict[str, object] = {
            "v": _FORMAT_VERSION,
            "python": base64.b64encode(self.python).decode("ascii"),
            "numpy": None if self.numpy is None else base64.b64encode(self.numpy).decode("ascii"),
        }
        if self.torch is not None:
            payload["torch"] = base64.b64encode(self.torch).decode("ascii")
        return json.dumps(payload, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RngState:
        """Parse :meth:`to_json` output.

        Raises
        ------
        ValueError
            When the text is not a generator state written by this module.
        """
        try:
            payload = json.loads(text)
            if payload["v"] != _FORMAT_VERSION:
                raise ValueError(f"unknown version {payload['v']!r}")
            python = base64.b64decode(payload["python"], validate=True)
            numpy_text = payload["numpy"]
            numpy = None if numpy_text is None else base64.b64decode(numpy_text, validate=True)
            torch_text = payload.get("torch")
            torch = None if torch_text is None else base64.b64decode(torch_text, validate=True)
            _unpack_python(python)
            if numpy is not None:
                _unpack_numpy(numpy)
        except (KeyError, TypeError, ValueError, struct.error) as exc:
            raise ValueError(
                f"random generator state is damaged ({exc}); the checkpoint cannot replay "
                "random draws, store the variables instead of recomputing them"
            ) from exc
        return cls(python=python, numpy=numpy, torch=torch)


def _pack_python(state: tuple[Any, ...]) -> bytes:
    version, words, gauss_next = state
    return _python_header(version, gauss_next) + struct.pack(f"<{len(words)}I", *words)


def _python_header(version: int, gauss_next: float | None) -> bytes:
    has_gauss = gauss_next is not None
    return _PYTHON_HEADER.pack(version, has_gauss, gauss_next if has_gauss else 0.0)


def _unpack_python(data: bytes) -> tuple[Any, ...]:
    version, has_gauss, gauss = _PYTHON_HEADER.unpack_from(data)
    count = (len(data) - _PYTHON_HEADER.size) // 4
    if count != _MT_WORDS + 1:
        raise ValueError(f"python state has {count} words, expected {_MT_WORDS + 1}")
    words = struct.unpack_from(f"<{count}I", data, _PYTHON_HEADER.size)
    return (version, words, gauss if has_gauss else None)


def _pack_numpy(state: dict[str, Any]) -> bytes:
    """Pack ``np.random.get_state(legacy=False)``: MT19937 (numpy's default) as raw words, any
    other bit generator (``np.random.set_bit_generator(PCG64())``) as JSON."""
    if state["bit_generator"] == "MT19937":
        inner = state["state"]
        header = _NUMPY_HEADER.pack(inner["pos"], state["has_gauss"], state["gauss"])
        return header + bytes(inner["key"].astype("<u4").tobytes())
    text = json.dumps(state, default=_array_to_json, separators=(",", ":"))
    return _OTHER_BIT_GENERATOR + text.encode()


def _array_to_json(value: Any) -> object:
    if hasattr(value, "dtype") and hasattr(value, "tolist"):
        return {_ARRAY_KEY: value.dtype.str, "values": value.tolist()}
    raise TypeError(f"{type(value).__name__} in a numpy generator state")


def _unpack_numpy(data: bytes) -> tuple[Any, ...] | dict[str, Any]:
    """``(pos, has_gauss, gauss, key bytes)`` for MT19937, else the state dict (arrays left
    as ``{"__ndarray__": dtype, "values": [...]}`` for :func:`_numpy_arrays`)."""
    if data.startswith(_OTHER_BIT_GENERATOR):
        state = json.loads(data[len(_OTHER_BIT_GENERATOR) :])
        if not isinstance(state, dict) or not isinstance(state.get("bit_generator"), str):
            raise ValueError("numpy state names no bit generator")
        return state
    pos, has_gauss, cached = _NUMPY_HEADER.unpack_from(data)
    if len(data) - _NUMPY_HEADER.size != 4 * _MT_WORDS:
        raise ValueError("numpy state has the wrong length")
    return pos, has_gauss, cached, data[_NUMPY_HEADER.size :]


def _numpy_arrays(value: Any, numpy: Any) -> Any:
    if isinstance(value, dict):
        if _ARRAY_KEY in value:
            return numpy.array(value["values"], dtype=value[_ARRAY_KEY])
        return {k: _numpy_arrays(v, numpy) for k, v in value.items()}
    return value


def capture_rng_state() -> RngState:
    """Snapshot of the global generators (a few us); numpy and torch only if already imported.

    Returns
    -------
    RngState
        Comparable with ``==``: two snapshots differ exactly when a draw happened between them.
    """
    numpy_module = imported("numpy")
    numpy_state = None if numpy_module is None else _CAPTURE.numpy_state(numpy_module)
    torch_module = imported("torch")
    torch_state = None
    get_state = getattr(getattr(torch_module, "random", None), "get_rng_state", None)
    if get_state is not None:
        torch_state = bytes(get_state().numpy().tobytes())
    return RngState(python=_CAPTURE.python_state(), numpy=numpy_state, torch=torch_state)


class _Capture:
    """Packed states read from memory where the layout checks out, else through the APIs."""

    def __init__(self) -> None:
        self._python: PythonStateReader | None = None
        self._numpy: NumpyStateReader | None = None
        self._numpy_raw: bytes | None = None
        self._numpy_packed = b""

    def python_state(self) -> bytes:
        reader = self._python
        if reader is None:
            reader = self._python = PythonStateReader()
        if not reader.usable:
            return _pack_python(random.getstate())
        return _python_header(random.Random.VERSION, reader.gauss_next()) + reader.words()

    def numpy_state(self, numpy_module: Any) -> bytes:
        reader = self._numpy
        if reader is None or reader.numpy is not numpy_module:
            reader = self._numpy = NumpyStateReader(numpy_module)
            self._numpy_raw = None
        raw = reader.raw()
        # Unmoved twister and an empty normal cache: nothing was drawn since the last capture
        # (with a full cache, one legacy normal draw is served without moving the twister).
        if raw is not None and raw == self._numpy_raw:
            return self._numpy_packed
        state = numpy_module.random.get_state(legacy=False)
        packed = _pack_numpy(state)
        # get_state draws nothing: `raw` is still the state just packed.
        self._numpy_raw = None if state["has_gauss"] else raw
        self._numpy_packed = packed
        return packed


_CAPTURE = _Capture()


def restore_rng_state(state: RngState) -> None:
    """Set the global generators to a captured state (imports numpy if the state has one).

    Parameters
    ----------
    state
        A state from :func:`capture_rng_state` or :meth:`RngState.from_json`.
    """
    random.setstate(_unpack_python(state.python))
    if state.numpy is not None:
        import numpy

        generators: Any = numpy.random
        unpacked = _unpack_numpy(state.numpy)
        name = unpacked["bit_generator"] if isinstance(unpacked, dict) else "MT19937"
        if type(generators.mtrand._rand._bit_generator).__name__ != name:
            generators.set_bit_generator(getattr(generators, name)())
        if isinstance(unpacked, dict):
            generators.set_state(_numpy_arrays(unpacked, numpy))
        else:
            pos, has_gauss, cached, key = unpacked
            words = numpy.frombuffer(key, dtype="<u4").astype(numpy.uint32)
            generators.set_state((name, words, pos, has_gauss, cached))
    if state.torch is not None:
        import torch

        torch.random.set_rng_state(torch.frombuffer(bytearray(state.torch), dtype=torch.uint8))


_GLOBAL_DRAWS = frozenset(
    {
        "random",
        "seed",
        "randint",
        "randrange",
        "choice",
        "choices",
        "sample",
        "shuffle",
        "permutation",
        "uniform",
        "gauss",
        "normalvariate",
        "lognormvariate",
        "expovariate",
        "vonmisesvariate",
        "gammavariate",
        "betavariate",
        "paretovariate",
        "weibullvariate",
        "triangular",
        "getrandbits",
        "randbytes",
        "rand",
        "randn",
        "random_sample",
        "random_integers",
        "ranf",
        "normal",
        "standard_normal",
        "binomial",
        "poisson",
        "exponential",
        "beta",
        "gamma",
        "multinomial",
        "multivariate_normal",
    }
)


def uses_global_rng(names: Iterable[str]) -> bool:
    """Whether code using these names may draw from the global generators.

    Conservative: ``random`` alone or any draw function name (``from random import choice``
    leaves no module name) counts. Library code can draw too (scikit-learn without
    ``random_state``), so comparing :func:`capture_rng_state` before and after a cell is the
    exact test; this is a cheap pre-filter.

    Parameters
    ----------
    names
        Global and attribute names used, like ``co_names``.

    Returns
    -------
    bool
        True when a global generator may be used.
    """
    return not _GLOBAL_DRAWS.isdisjoint(names)
