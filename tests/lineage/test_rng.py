"""Global generator states: captured, compared, restored and round-tripped through JSON."""

from __future__ import annotations

import random

import numpy as np
import pytest

from elastic_kernel.lineage.rng import (
    RngState,
    capture_rng_state,
    restore_rng_state,
    uses_global_rng,
)


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
    assert len(text) < 10_000
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
