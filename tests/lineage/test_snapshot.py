"""Id snapshots: every rebinding, addition and deletion between two snapshots is reported."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from elastic_kernel.lineage.snapshot import SnapshotTaker

NAMES = ["a", "b", "c", "d", "_i3", "_5"]
OPS = st.lists(
    st.tuples(st.sampled_from(["bind", "rebind_same", "delete"]), st.sampled_from(NAMES)),
    max_size=8,
)


def _is_user(name: str) -> bool:
    return not name.startswith("_")


@settings(max_examples=300, deadline=None)
@given(st.lists(OPS, min_size=1, max_size=6))
def test_rebound_and_missing_match_a_dict_diff(rounds: list[list[tuple[str, str]]]) -> None:
    ns: dict[str, object] = {}
    taker = SnapshotTaker(ns, _is_user)
    before = taker.take()
    for ops in rounds:
        objects_before = {n: ns[n] for n in ns if _is_user(n)}
        for op, name in ops:
            if op == "bind":
                ns[name] = object()
            elif op == "rebind_same" and name in ns:
                ns[name] = ns[name]
            elif op == "delete":
                ns.pop(name, None)
        after = taker.take()
        users_after = {n for n in ns if _is_user(n)}
        assert set(after.names) == users_after
        expected_rebound = {n for n in users_after if objects_before.get(n) is not ns[n]}
        assert set(after.rebound_since(before)) == expected_rebound
        assert set(before.missing_from(after)) == objects_before.keys() - users_after
        for name in users_after:
            assert name in after
            assert after[name] == object.__hash__(ns[name])
        for name in objects_before.keys() - users_after:
            assert name not in after
            assert after.get(name) is None
        before = after


def test_an_older_snapshot_does_not_see_names_added_later() -> None:
    ns: dict[str, object] = {"a": 1}
    taker = SnapshotTaker(ns, _is_user)
    first = taker.take()
    ns["b"] = 2
    second = taker.take()
    assert first.positions is second.positions
    assert "b" not in first
    assert "b" in second
    assert second.rebound_since(first) == ["b"]
    del ns["a"]
    third = taker.take()
    assert third.positions is not second.positions
    assert second.missing_from(third) == ["a"]
    assert third.rebound_since(second) == []
