"""SIGKILL of the kernel at random instants during ``%checkpoint`` and ``%restore``.

Each checkpoint trial is one kernel: it restores what the previous (killed) kernel left, checks
it, changes the state, checkpoints once completely, then starts a second checkpoint and is
killed at a random instant of it. The session's latest checkpoint must then verify with
``elastic-kernel verify`` and be either the complete one or the interrupted one, never a mix.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.reliability.conftest import is_soak
from tests.reliability.helpers import Kernel, checkpoint_url, verify_cli

CHECKPOINT_TRIALS = 400 if is_soak() else 50
RESTORE_TRIALS = 40 if is_soak() else 6
SESSION = "crash"
MODES = ("store-all", "balanced", "fast-restore")

# A state whose every part depends on n, so a mix of two checkpoints cannot pass the check.
STATE = """
import numpy as np
n = {n}
arr = np.arange(300_000, dtype=float) * n
view = arr[::7]
rows = [{{'n': n, 'i': i}} for i in range(2000)]
text = 'x' * (n % 97) * 1000
"""
CHECK = """
assert arr[1] == n and np.shares_memory(arr, view) and view[1] == 7 * n, (n, arr[:3])
assert rows[-1] == {'n': n, 'i': 1999} and text == 'x' * (n % 97) * 1000, n
print(n)
"""


def send(kernel: Kernel, code: str) -> str:
    """Start a cell without waiting for it."""
    msg_id: str = kernel.kc.execute(code, store_history=True)
    return msg_id


def restored_n(kernel: Kernel) -> int | None:
    """Restore the session's latest checkpoint and return its ``n`` after checking the state."""
    result = kernel.run("%restore")
    if not result.ok and result.error and result.error["ename"] == "CheckpointNotFound":
        return None
    assert result.ok, f"restore failed: {result.error} {result.stdout} {result.stderr}"
    return int(kernel.ok(CHECK).stdout.strip())


def verify_latest() -> None:
    result = verify_cli(SESSION)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.timeout(3600 if is_soak() else 360)
def test_kill_during_checkpoint_leaves_a_complete_checkpoint(
    store_dir: Path, tally: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELASTIC_STORE", str(store_dir))
    rng = random.Random(20261126)
    expected: set[int] = set()
    outcomes: Counter[str] = Counter()
    for trial in range(CHECKPOINT_TRIALS):
        kernel = Kernel.start(store_dir, SESSION)
        try:
            got = restored_n(kernel)
            if trial == 0:
                assert got is None
            else:
                assert got in expected, f"trial {trial}: restored n={got}, expected {expected}"
                outcomes["interrupted checkpoint completed" if got % 2 else "previous kept"] += 1
            mode = MODES[trial % len(MODES)]
            complete = 2 * trial + 2
            kernel.ok(STATE.format(n=complete))
            started = time.perf_counter()
            kernel.ok(f"%checkpoint --mode {mode}")
            seconds = time.perf_counter() - started
            interrupted = complete + 1
            kernel.ok(STATE.format(n=interrupted))
            send(kernel, f"%checkpoint --mode {mode}")
            # Uniform over the time a checkpoint takes, and a little beyond (kill after the end).
            time.sleep(rng.uniform(0.0, 1.2 * seconds))
            kernel.kill()
        finally:
            kernel.stop()
        tally["kill during checkpoint: trials"] += 1
        verify_latest()
        expected = {complete, interrupted}
    kernel = Kernel.start(store_dir, SESSION)
    try:
        assert restored_n(kernel) in expected
    finally:
        kernel.stop()
    tally["kill during checkpoint: previous checkpoint lost"] += 0
    # Both outcomes must occur, or the kills did not land inside checkpoints.
    assert outcomes["previous kept"] > 0, outcomes


@pytest.mark.slow
@pytest.mark.timeout(600 if is_soak() else 180)
def test_killed_restore_can_be_retried(store_dir: Path, tally: Counter[str]) -> None:
    rng = random.Random(7)
    kernel = Kernel.start(store_dir, SESSION)
    try:
        kernel.ok(STATE.format(n=41))
        url = checkpoint_url(kernel.ok("%checkpoint --mode store-all"))
    finally:
        kernel.stop()
    kernel = Kernel.start(store_dir, SESSION)
    try:
        started = time.perf_counter()
        assert restored_n(kernel) == 41
        seconds = time.perf_counter() - started
    finally:
        kernel.stop()
    for _ in range(RESTORE_TRIALS):
        victim = Kernel.start(store_dir, SESSION)
        try:
            send(victim, "%restore")
            time.sleep(rng.uniform(0.0, seconds))
            victim.kill()
        finally:
            victim.stop()
        tally["kill during restore: trials"] += 1
        assert verify_cli(url).returncode == 0
        retry = Kernel.start(store_dir, SESSION)
        try:
            assert restored_n(retry) == 41
        finally:
            retry.stop()
    assert os.listdir(store_dir)
