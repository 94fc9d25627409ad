"""The inverted alias index against a plain dict-of-sets reference, over random add/remove
sequences (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from elastic_kernel.lineage.holders import HolderIndex

NAMES = ["a", "b", "c", "d"]
reaches = st.frozensets(st.integers(0, 30), max_size=12)
steps = st.lists(st.tuples(st.sampled_from(NAMES), reaches), max_size=25)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_index_matches_a_dict_of_sets(sequence: list[tuple[str, frozenset[int]]]) -> None:
    index = HolderIndex()
    current: dict[str, frozenset[int]] = {}
    for name, reach in sequence:
        # As the recorder does: forget a variable's old reach, then index the new one.
        if name in current:
            index.remove(name, current.pop(name))
        index.add(name, reach)
        current[name] = reach
        expected: dict[int, set[str]] = {}
        for holder, ids in current.items():
            for ident in ids:
                expected.setdefault(ident, set()).add(holder)
        assert set(index.ids()) == set(expected)
        for ident in range(31):
            assert index.holders_of_any({ident}) == expected.get(ident, set())
        probe = frozenset(range(0, 31, 3))
        assert index.holders_of_any(probe) == set().union(*(expected.get(i, set()) for i in probe))
    for name, reach in current.items():
        index.remove(name, reach)
    assert len(index) == 0
