"""Sources of values a re-run cannot reproduce (clocks, OS randomness, unseeded generators,
what the user typed), recognised by the names a cell's code uses, and values that hold times
a library measured while the cell ran."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import cast

__all__ = ["measured_time_reasons", "nondeterminism_reasons"]

_NONDETERMINISTIC = {
    "urandom": "os.urandom",
    "getrandom": "os.getrandom",
    "secrets": "secrets module",
    "token_bytes": "secrets.token_bytes",
    "token_hex": "secrets.token_hex",
    "token_urlsafe": "secrets.token_urlsafe",
    "uuid1": "uuid.uuid1",
    "uuid4": "uuid.uuid4",
    "time": "time.time (wall clock)",
    "time_ns": "time.time_ns (wall clock)",
    "perf_counter": "time.perf_counter (clock)",
    "perf_counter_ns": "time.perf_counter_ns (clock)",
    "monotonic": "time.monotonic (clock)",
    "monotonic_ns": "time.monotonic_ns (clock)",
    "process_time": "time.process_time (clock)",
    "now": "datetime.now (wall clock)",
    "utcnow": "datetime.utcnow (wall clock)",
    "today": "date.today (wall clock)",
    "SystemRandom": "random.SystemRandom",
    "getpid": "os.getpid",
    "timeit": "%timeit without -n (repeats as often as the clock allows)",
    "input": "input (what the user typed)",
    # ARPACK draws its start vector from a generator seeded once per process: the same call
    # gives other round-off after any earlier ARPACK call. Passing v0 makes it repeatable,
    # which the name alone does not show.
    "eigsh": "scipy eigsh (ARPACK's random start vector)",
    "eigs": "scipy eigs (ARPACK's random start vector)",
    "svds": "scipy svds (ARPACK's random start vector)",
    "getpass": "getpass (what the user typed)",
}
_UNSEEDED = {
    "default_rng": "numpy Generator (seed unknown)",
    "Generator": "numpy Generator (seed unknown)",
    "RandomState": "numpy RandomState (seed unknown)",
    "Random": "random.Random (seed unknown)",
}


def nondeterminism_reasons(names: Iterable[str], *, seeded: bool = False) -> list[str]:
    """Sources of values a re-run cannot reproduce, from the names a cell uses.

    Draws from the global ``random`` and legacy ``numpy.random`` generators are not listed:
    their state is captured per cell (see :mod:`elastic_kernel.lineage.rng`).

    Parameters
    ----------
    names
        Global and attribute names the cell's code (and the user functions it calls) use,
        like ``co_names``.
    seeded
        True when every generator constructor in the code got a literal seed argument, so
        ``default_rng``/``RandomState``/``Random`` are reproducible.

    Returns
    -------
    list[str]
        Sorted, de-duplicated reasons (empty: nothing unreplayable detected).
    """
    present = set(names)
    reasons = {reason for name, reason in _NONDETERMINISTIC.items() if name in present}
    if not seeded:
        reasons.update(reason for name, reason in _UNSEEDED.items() if name in present)
    return sorted(reasons)


def measured_time_reasons(ns: Mapping[str, object], names: Iterable[str]) -> list[str]:
    """Variables among ``names`` holding times a library measured while the cell ran
    (scikit-learn's search ``cv_results_`` and ``refit_time_``, ``cross_validate``'s
    ``fit_time``): a re-run measures other times, so the cell cannot be re-run to recreate
    them. The values themselves and the items of short lists, tuples and dicts are looked at."""
    reasons = []
    for name in sorted(names):
        if name in ns and any(_holds_times(item) for item in _shallow(ns[name])):
            reasons.append(f"{name} holds times measured while the cell ran")
    return reasons


# Containers looked into, at most this long: a cell writing a million-element list must not
# pay for a million checks.
_SHALLOW_ITEMS = 64


def _shallow(value: object) -> Iterator[object]:
    yield value
    kind = type(value)
    if kind is dict:
        items: Collection[object] = cast("dict[object, object]", value).values()
    elif kind is list or kind is tuple:
        items = cast("Collection[object]", value)
    else:
        return
    if len(items) <= _SHALLOW_ITEMS:
        yield from items


def _holds_times(item: object) -> bool:
    if type(item) is dict:
        return "fit_time" in item and "score_time" in item
    try:
        # object's own lookup: a class's __getattribute__ is user code.
        attributes = object.__getattribute__(item, "__dict__")
    except AttributeError:
        return False
    if type(attributes) is not dict:
        return False
    results = attributes.get("cv_results_")
    return "refit_time_" in attributes or (type(results) is dict and "mean_fit_time" in results)
