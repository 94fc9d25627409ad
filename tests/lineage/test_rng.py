"""Global generator states: captured, compared, restored and round-tripped through JSON."""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable

import numpy as np
import pytest

from elastic_kernel.lineage.rng import (
    RngState,
    _pack_numpy,
    _pack_python,
    capture_rng_state,
    restore_rng_state,
    uses_global_rng,
)
from elastic_kernel.lineage.rng_memory import NumpyStateReader, PythonStateReader


def _draws() -> tuple[list[float], list[float], list[float]]:
    return (
        [random.random() for _ in range(5)],
        [random.gauss(0, 1) for _ in range(3)],
        np.random.randn(7).tolist(),
    )


def test_restore_reproduces_draws() -> None:
    np.random.standard_normal()  # leave numpy with a cached gaussian in its state
    state = capture_rng_state()
    first = _draws()
    restore_rng_state(state)
    assert _draws() == first


def test_json_round_trip_reproduces_draws() -> None:
    state = capture_rng_state()
    text = state.to_json()
    # torch's generator (when another test imported torch) adds its 5 kB state, base64-coded.
    assert len(text) < 10_000 + 2 * len(state.torch or b"")
    first = _draws()
    restored = RngState.from_json(text)
    assert restored == state
    restore_rng_state(restored)
    assert _draws() == first


def test_state_changes_exactly_when_a_draw_happens() -> None:
    before = capture_rng_state()
    assert capture_rng_state() == before
    np.random.rand()
    assert capture_rng_state() != before


def test_damaged_json_is_rejected() -> None:
    text = capture_rng_state().to_json()
    with pytest.raises(ValueError, match="random generator state is damaged"):
        RngState.from_json(text.replace('"v":1', '"v":9'))
    with pytest.raises(ValueError, match="random generator state is damaged"):
        RngState.from_json('{"v":1,"python":"AAAA","numpy":null}')


def test_uses_global_rng() -> None:
    assert uses_global_rng({"random", "shuffle"})
    assert uses_global_rng({"np", "random", "rand"})
    assert uses_global_rng({"randint"})
    assert not uses_global_rng({"print", "len", "pd", "read_csv"})


def _public_api_state() -> tuple[bytes, bytes]:
    return (_pack_python(random.getstate()), _pack_numpy(np.random.get_state(legacy=False)))


def test_memory_readers_check_out_on_this_python_and_numpy() -> None:
    assert PythonStateReader().usable
    reader = NumpyStateReader(np)
    assert reader.raw() is not None
    assert reader.usable


@pytest.mark.parametrize(
    "draw",
    [
        lambda: random.random(),
        lambda: random.gauss(0, 1),
        lambda: random.seed(7),
        lambda: random.setstate(random.getstate()),
        lambda: np.random.rand(),
        lambda: np.random.standard_normal(),
        lambda: np.random.seed(7),
        lambda: np.random.set_state(np.random.get_state()),
        lambda: None,
    ],
)
def test_capture_from_memory_equals_the_public_api(draw: Callable[[], object]) -> None:
    for _ in range(3):
        # Three rounds: the legacy normal cache is filled by one draw and emptied by the next,
        # and an emptied cache leaves numpy's twister where it was.
        before = capture_rng_state()
        draw()
        after = capture_rng_state()
        assert (after.python, after.numpy) == _public_api_state()
        moved = _public_api_state() != (before.python, before.numpy)
        assert (after != before) == moved


@pytest.mark.parametrize("bit_generator", ["PCG64", "Philox", "SFC64"])
def test_another_global_bit_generator_is_captured_and_restored(bit_generator: str) -> None:
    previous = np.random.mtrand._rand._bit_generator
    np.random.set_bit_generator(getattr(np.random, bit_generator)(5))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning would reach the user's cell output
            before = capture_rng_state()
            first = _draws()
            assert capture_rng_state() != before
        text = before.to_json()
        np.random.set_bit_generator(np.random.MT19937(1))  # as in a fresh kernel
        restore_rng_state(RngState.from_json(text))
        assert type(np.random.mtrand._rand._bit_generator).__name__ == bit_generator
        assert _draws() == first
    finally:
        np.random.set_bit_generator(previous)


def test_an_mt19937_state_restores_over_another_bit_generator() -> None:
    state = capture_rng_state()
    first = _draws()
    previous = np.random.mtrand._rand._bit_generator
    np.random.set_bit_generator(np.random.PCG64(3))
    try:
        restore_rng_state(state)
        assert _draws() == first
    finally:
        np.random.set_bit_generator(previous)


def test_a_numpy_still_being_imported_on_another_thread_is_left_alone() -> None:
    # importlib marks a module's spec while its code runs; a capture then (a background thread
    # importing numpy as a cell ends) must neither fail on the half-built module nor touch it.
    spec = np.__spec__
    assert spec is not None
    spec._initializing = True  # type: ignore[attr-defined]
    try:
        state = capture_rng_state()
    finally:
        spec._initializing = False  # type: ignore[attr-defined]
    assert state.numpy is None
    assert capture_rng_state().numpy is not None
