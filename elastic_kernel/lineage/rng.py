"""Capture and restore the global random generators a re-run must replay.

Covers :mod:`random` and numpy's legacy global ``np.random`` (MT19937). States are stored as
packed bytes, so :class:`RngState` compares by value and its JSON form is compact and inert.
"""

from __future__ import annotations

import base64
import json
import random
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from elastic_kernel.lineage.rng_memory import NumpyStateReader, PythonStateReader

__all__ = ["RngState", "capture_rng_state", "restore_rng_state", "uses_global_rng"]

_MT_WORDS = 624
_FORMAT_VERSION = 1
_PYTHON_HEADER = struct.Struct("<BB d")
_NUMPY_HEADER = struct.Struct("<iB d")


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
    has_gauss = gauss_next is not None
    header = _PYTHON_HEADER.pack(version, has_gauss, gauss_next if has_gauss else 0.0)
    return header + struct.pack(f"<{len(words)}I", *words)


def _unpack_python(data: bytes) -> tuple[Any, ...]:
    version, has_gauss, gauss = _PYTHON_HEADER.unpack_from(data)
    count = (len(data) - _PYTHON_HEADER.size) // 4
    if count != _MT_WORDS + 1:
        raise ValueError(f"python state has {count} words, expected {_MT_WORDS + 1}")
    words = struct.unpack_from(f"<{count}I", data, _PYTHON_HEADER.size)
    return (version, words, gauss if has_gauss else None)


def _pack_numpy(state: tuple[Any, ...]) -> bytes:
    name, key, pos, has_gauss, cached = state
    if name != "MT19937":
        raise ValueError(f"unexpected numpy bit generator {name!r}")
    return _NUMPY_HEADER.pack(pos, has_gauss, cached) + bytes(key.astype("<u4").tobytes())


def _unpack_numpy(data: bytes) -> tuple[Any, ...]:
    pos, has_gauss, cached = _NUMPY_HEADER.unpack_from(data)
    if len(data) - _NUMPY_HEADER.size != 4 * _MT_WORDS:
        raise ValueError("numpy state has the wrong length")
    return pos, has_gauss, cached, data[_NUMPY_HEADER.size :]


def capture_rng_state() -> RngState:
    """Snapshot of the global generators (a few us); numpy and torch only if already imported.

    Returns
    -------
    RngState
        Comparable with ``==``: two snapshots differ exactly when a draw happened between them.
    """
    numpy_module = sys.modules.get("numpy")
    numpy_state = None if numpy_module is None else _CAPTURE.numpy_state(numpy_module)
    torch_module = sys.modules.get("torch")
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
        gauss = reader.gauss_next()
        header = _PYTHON_HEADER.pack(
            random.Random.VERSION, gauss is not None, 0.0 if gauss is None else gauss
        )
        return header + reader.words()

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
        packed = _pack_numpy(numpy_module.random.get_state(legacy=True))
        has_gauss = _NUMPY_HEADER.unpack_from(packed)[1]
        self._numpy_raw = None if raw is None or has_gauss else reader.raw()
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

        pos, has_gauss, cached, key = _unpack_numpy(state.numpy)
        words = numpy.frombuffer(key, dtype="<u4").astype(numpy.uint32)
        numpy.random.set_state(("MT19937", words, pos, has_gauss, cached))
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
