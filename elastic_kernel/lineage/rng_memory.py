"""Read the global Mersenne Twister states straight from memory, in about a microsecond.

``random.getstate()`` builds a 625-int tuple and numpy's ``get_state()`` a dict and an array
copy: together 60-80 us, paid after every cell, because library code draws from the global
generators without naming them. Both generators keep their whole state in one C struct, so a
``ctypes.string_at`` of it is the state. Each reader checks the layout against the public API
before its first read; where they disagree (another Python or numpy build) it reports itself
unusable and the caller keeps to the public API.
"""

from __future__ import annotations

import ctypes
import random
import struct
from typing import Any

__all__ = ["NumpyStateReader", "PythonStateReader"]

_MT_WORDS = 624
_STATE_BYTES = 4 * (_MT_WORDS + 1)
# CPython's RandomObject: PyObject_HEAD (refcount, type), then `int index; uint32_t state[624]`.
_PY_OBJECT_HEAD = struct.calcsize("nP")
_INDEX = struct.Struct("<i")


class PythonStateReader:
    """The state of :mod:`random`'s hidden global instance, as ``(index, words)`` bytes."""

    def __init__(self) -> None:
        self._instance: Any = getattr(random.getstate, "__self__", None)
        # The one address read: id() is cheap once, and the instance lives as long as `random`.
        self._address = id(self._instance) + _PY_OBJECT_HEAD
        # Never read past the object: only a C-level Random is known to hold the struct.
        self.usable = (
            isinstance(self._instance, random.Random)
            and random.Random.__basicsize__ >= _PY_OBJECT_HEAD + _STATE_BYTES
            and self._matches(self._instance.getstate())
        )

    def _matches(self, state: tuple[Any, ...]) -> bool:
        raw = ctypes.string_at(self._address, _STATE_BYTES)
        words = state[1]
        return (
            len(words) == _MT_WORDS + 1
            and _INDEX.unpack_from(raw)[0] == words[-1]
            and raw[4:] == struct.pack(f"<{_MT_WORDS}I", *words[:-1])
        )

    def words(self) -> bytes:
        """The 625 state words as :func:`random.getstate` orders them (index last), packed
        little-endian."""
        raw = ctypes.string_at(self._address, _STATE_BYTES)
        return raw[4:] + raw[:4]

    def gauss_next(self) -> float | None:
        """The cached second value of :func:`random.gauss`."""
        value: float | None = self._instance.gauss_next
        return value


class NumpyStateReader:
    """The key and position of numpy's legacy global ``RandomState`` (MT19937).

    The legacy generator also caches a second normal deviate outside the bit generator;
    :meth:`raw` does not see it, so the caller captures through the public API whenever the
    cache was full last time (a cached deviate is handed out without moving the twister).
    """

    def __init__(self, numpy: Any) -> None:
        self.numpy = numpy
        self._bit_generator: Any = None
        self._address = 0
        self.usable = True

    def raw(self) -> bytes | None:
        """``key[624]`` then ``pos``, packed as in memory; None when not readable."""
        if not self.usable:
            return None
        state: Any = getattr(getattr(self.numpy.random, "mtrand", None), "_rand", None)
        bit_generator = getattr(state, "_bit_generator", None)
        if bit_generator is None:
            return None
        if bit_generator is not self._bit_generator:
            # A new global generator (or the first call): find and check its state struct.
            self._bit_generator = bit_generator
            if type(bit_generator).__name__ != "MT19937":
                # `np.random.set_bit_generator(PCG64())`: another struct, not read.
                self.usable = False
                return None
            self._address = int(bit_generator.ctypes.state_address)
            expected = state.get_state(legacy=True)
            raw = ctypes.string_at(self._address, _STATE_BYTES)
            self.usable = (
                expected[0] == "MT19937"
                and raw[: 4 * _MT_WORDS] == expected[1].astype("<u4").tobytes()
                and _INDEX.unpack_from(raw, 4 * _MT_WORDS)[0] == expected[2]
            )
            if not self.usable:
                return None
        return ctypes.string_at(self._address, _STATE_BYTES)
