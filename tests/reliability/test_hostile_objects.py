"""Sessions that are hard to checkpoint: 10k variables, objects whose ``__reduce__`` raises or
hangs, ``__del__`` side effects, a 100k-deep nested list. Each must checkpoint in bounded time,
never fail the user's cells, and restore exactly or say what it lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.helpers import Kernel, checkpoint_url, compare_except, reported_names

# The longest a checkpoint of these small sessions may take before it counts as hung.
CHECKPOINT_LIMIT = 60.0


@pytest.fixture
def original(store_dir: Path) -> Iterator[Kernel]:
    kernel = Kernel.start(store_dir, "hostile", ELASTIC_AUTOSAVE="off")
    try:
        yield kernel
    finally:
        kernel.stop()


def roundtrip(original: Kernel, store_dir: Path, tally: Counter[str]) -> set[str]:
    """Checkpoint ``original``, restore in a new process; the names the restore said it lost."""
    saved = original.run("%checkpoint", timeout=CHECKPOINT_LIMIT)
    assert saved.ok, f"checkpoint failed: {saved.error} {saved.stderr}"
    before = original.describe()
    # Judged by what ``%restore`` itself reports as lost or different: restore blocking.
    restorer = Kernel.start(
        store_dir, "hostile-restore", ELASTIC_AUTOSAVE="off", ELASTIC_RESTORE="blocking"
    )
    try:
        result = restorer.run(f"%restore {checkpoint_url(saved)}")
        reported = reported_names(result)
        assert reported is not None or result.ok, result.error
        after = restorer.describe()
    finally:
        restorer.stop()
    problems = compare_except(before, after, reported or ())
    assert not problems, problems
    tally["bad inputs tried"] += 1
    return reported or set()


@pytest.mark.slow
def test_ten_thousand_variables(original: Kernel, store_dir: Path, tally: Counter[str]) -> None:
    original.ok("for i in range(10_000):\n    globals()[f'v{i}'] = [i, str(i)]")
    original.ok("v0.append(v1)\nv2 = v3")
    assert roundtrip(original, store_dir, tally) == set()


@pytest.mark.slow
def test_reduce_that_raises(original: Kernel, store_dir: Path, tally: Counter[str]) -> None:
    original.ok(
        "class Refuses:\n"
        "    def __init__(self, n):\n"
        "        self.n = n\n"
        "    def __reduce__(self):\n"
        "        raise RuntimeError('no pickling for me')\n"
        "r = Refuses(3)\n"
        "keep = [1, 2, 3]"
    )
    # Recomputable (its cell re-runs), so nothing may be lost.
    assert roundtrip(original, store_dir, tally) == set()


@pytest.mark.slow
def test_reduce_that_hangs_does_not_hang_the_checkpoint(
    original: Kernel, store_dir: Path, tally: Counter[str]
) -> None:
    original.ok(
        "import time\n"
        "class Sleeper:\n"
        "    def __reduce__(self):\n"
        "        time.sleep(3600)\n"
        "        return (Sleeper, ())\n"
        "s = Sleeper()\n"
        # State in __dict__: the oracle describes it from there, not through __reduce__.
        "s.label = 'sleepy'\n"
        "keep = {'a': 1}",
        timeout=20,
    )
    roundtrip(original, store_dir, tally)


@pytest.mark.slow
def test_del_side_effects_do_not_run_on_checkpoint(
    original: Kernel, store_dir: Path, tmp_path: Path, tally: Counter[str]
) -> None:
    log = tmp_path / "del.log"
    original.ok(
        "class Noisy:\n"
        "    def __init__(self, n):\n"
        "        self.n = n\n"
        "    def __del__(self):\n"
        f"        open({str(log)!r}, 'a').write(f'{{self.n}}\\n')\n"
        "items = [Noisy(i) for i in range(5)]"
    )
    roundtrip(original, store_dir, tally)
    # Finalizers of copies made while checkpointing would touch the user's files.
    assert not log.exists() or log.read_text() == "", log.read_text()
    assert original.value("[x.n for x in items]") == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_hundred_thousand_deep_list(original: Kernel, store_dir: Path, tally: Counter[str]) -> None:
    original.ok("deep = []\nfor _ in range(100_000):\n    deep = [deep]\nflat = [1, 2]")
    original.ok("flat.append(3)")
    assert original.run("1 + 1").ok, "the kernel no longer runs cells"
    reported = roundtrip(original, store_dir, tally)
    assert reported <= {"deep"}
