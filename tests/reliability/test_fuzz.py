"""Differential fuzzer: random notebooks run on the elastic kernel, checkpointed at a random
point and at the end, restored in another kernel process and compared with the oracle.

A restore is right when the oracle finds no difference, or when it failed with a RestoreError
that names exactly the variables that differ. Anything else is a silent wrong restore.

To keep 200+ notebooks cheap, one "original" kernel runs many notebooks (a cell deleting every
variable between them, which the AHG records) and one "restore" kernel restores them;
both are replaced every few notebooks, so many restores go into a brand-new process.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.reliability.conftest import is_soak
from tests.reliability.helpers import (
    Kernel,
    checkpoint_url,
    compare_except,
    reported_names,
)
from tests.reliability.notebooks import FUNCTIONS, NAMES, SETUP, Notebook, notebooks

EXAMPLES = int(os.environ.get("ELASTIC_FUZZ_EXAMPLES", "3000" if is_soak() else "200"))
# A new original kernel every N notebooks (its AHG grows with each), a new restore kernel
# every M (the first restore into each is into a fresh process).
ORIGINAL_EVERY = 25
RESTORER_EVERY = 8

# Deletes the previous notebook's variables in a recorded cell (``%reset -f`` costs ~0.2 s).
FORGET = (
    f"[globals().pop(name, None) for name in {(*NAMES, *FUNCTIONS, 'Box', 'np', 'pd', 'random')}];"
)


class KernelPool:
    """An original and a restore kernel sharing one store, replaced every few notebooks or
    after any failure (a failed example may leave a kernel in any state)."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.original: Kernel | None = None
        self.restorer: Kernel | None = None
        self.runs = 0
        self.restorer_runs = 0

    def kernels(self) -> tuple[Kernel, Kernel, bool]:
        """The pair for the next notebook, and whether the restore kernel is brand new."""
        if self.original is None or self.runs % ORIGINAL_EVERY == 0:
            self._replace_original()
        is_fresh = self.restorer is None or self.restorer_runs % RESTORER_EVERY == 0
        if is_fresh:
            self._replace_restorer()
        self.runs += 1
        self.restorer_runs += 1
        assert self.original is not None and self.restorer is not None
        return self.original, self.restorer, is_fresh

    def _replace_original(self) -> None:
        if self.original is not None:
            self.original.stop()
        self.original = None
        self.original = Kernel.start(self.store, "fuzz", ELASTIC_AUTOSAVE="off")

    def _replace_restorer(self) -> None:
        if self.restorer is not None:
            self.restorer.stop()
        self.restorer = None
        # Judged by what ``%restore`` itself reports as lost or different: restore blocking.
        self.restorer = Kernel.start(
            self.store, "fuzz-restore", ELASTIC_AUTOSAVE="off", ELASTIC_RESTORE="blocking"
        )
        self.restorer_runs = 0

    def discard(self) -> None:
        self.close()
        self.runs = self.restorer_runs = 0

    def close(self) -> None:
        for kernel in (self.original, self.restorer):
            if kernel is not None:
                kernel.stop()
        self.original = self.restorer = None


@pytest.fixture(scope="module")
def pool() -> Iterator[KernelPool]:
    with tempfile.TemporaryDirectory(prefix="elastic-fuzz-") as tmp:
        pool = KernelPool(Path(tmp))
        try:
            yield pool
        finally:
            pool.close()


def check_restore(
    restorer: Kernel, target: str, before: dict[str, object], tally: Counter[str]
) -> None:
    """Restore checkpoint ``target`` and judge it against ``before``."""
    result = restorer.run(f"%restore {target}")
    reported = reported_names(result)
    after = restorer.describe()
    if reported is None:
        assert result.ok, f"%restore failed with another error: {result.error} {result.stderr}"
        reported = set()
        tally["fuzz restores exact"] += 1
    else:
        tally["fuzz restores reporting lost or different variables"] += 1
        tally["fuzz variables reported lost or different"] += len(reported)
    problems = compare_except(before, after, reported)
    assert not problems, (
        "SILENT WRONG RESTORE (the restore did not report these):\n  "
        + "\n  ".join(problems)
        + f"\nreported: {sorted(reported)}\n{result.stdout}{result.stderr}"
    )


def run_notebook(pool: KernelPool, notebook: Notebook, tally: Counter[str]) -> None:
    original, restorer, is_fresh = pool.kernels()
    original.ok(FORGET)
    original.ok(SETUP)
    tally["fuzz restores into a fresh process"] += is_fresh
    for index, code in enumerate(notebook.cells, 1):
        result = original.run(code)
        tally["fuzz cells"] += 1
        tally["fuzz cells that raised"] += not result.ok
        if index == notebook.checkpoint_after:
            checkpoint_and_restore(original, restorer, notebook.first_mode, tally, is_fresh)
            is_fresh = False
    checkpoint_and_restore(original, restorer, notebook.final_mode, tally, is_fresh)


def checkpoint_and_restore(
    original: Kernel, restorer: Kernel, mode: str, tally: Counter[str], is_fresh: bool
) -> None:
    saved = original.run(f"%checkpoint --mode {mode}")
    assert saved.ok, f"checkpoint failed: {saved.error} {saved.stderr}"
    tally["fuzz checkpoints"] += 1
    before = original.describe()
    if not is_fresh:
        # Not recorded: the restore replaces the AHG anyway.
        forget = restorer.kc.execute(FORGET, silent=True, store_history=False)
        reply = restorer.kc.get_shell_msg(timeout=60)
        assert reply["parent_header"]["msg_id"] == forget and reply["content"]["status"] == "ok"
    check_restore(restorer, checkpoint_url(saved), before, tally)


@pytest.mark.slow
@pytest.mark.timeout(3600 * 6 if is_soak() else 480)
def test_random_notebooks_restore_exactly_or_say_what_is_lost(
    pool: KernelPool, tally: Counter[str]
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not is_soak(),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    @given(notebooks())
    def explore(notebook: Notebook) -> None:
        try:
            run_notebook(pool, notebook, tally)
        except BaseException as exc:
            pool.discard()
            tally["fuzz failures (before shrinking)"] += 1
            exc.add_note(f"notebook:\n{notebook.script()}")
            raise
        tally["notebooks fuzzed"] += 1

    explore()
