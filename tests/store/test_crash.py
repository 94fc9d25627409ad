"""SIGKILL of a writer at random instants never damages the previous checkpoint."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from elastic_kernel.store import CheckpointStore, GroupSpec

TRIALS = 60

# A long-lived process that imports everything once, then forks one writer per trial; the
# writers checkpoint in a loop until the test kills them, and the zygote reports their end.
ZYGOTE = r"""
import os, sys
import numpy as np
from elastic_kernel.store import CheckpointStore, GroupSpec

store_url, key_hex, scratch = sys.argv[1], sys.argv[2], sys.argv[3]

def write_forever(n):
    store = CheckpointStore(store_url, key=bytes.fromhex(key_hex), keep=2)
    current = n

    def progress(event):
        # One unbuffered line per event, so the test can kill at a chosen stage.
        os.write(1, f"done {current}\n".encode() if event.stage == "done" else b"event\n")

    while True:
        n += 1
        current = n
        groups = [
            GroupSpec(("a", "v"), {"a": np.full(40_000, n), "v": None}, None),
            GroupSpec(("z",), {"z": np.zeros(100_000) + (n % 3)}, f"z{n % 3}"),
            GroupSpec(("obj",), {"obj": {"n": n, "text": "x" * (n % 500)}}, None),
        ]
        store.write_checkpoint("s", groups, {"n": n}, progress=progress)

# Warm up lazy imports and caches once, so each writer starts writing at once.
CheckpointStore(scratch, key=b"k" * 32).write_checkpoint(
    "w", [GroupSpec(("z",), {"z": np.zeros(100_000)}, None)], {}
)
# Lines go out with one os.write each: writers share this pipe, and a single write of less
# than PIPE_BUF bytes is never interleaved with theirs.
os.write(1, b"ready\n")
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            write_forever(int(line))
        finally:
            os._exit(3)
    os.write(1, f"pid {pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    os.write(1, f"status {status}\n".encode())
"""


def _check_latest(store: CheckpointStore) -> int:
    ref = store.latest("s")
    assert ref is not None
    manifest = store.open(ref)
    assert store.verify(ref).ok
    n = int(manifest.metadata["n"])
    a = store.load_group(manifest, 0)["a"]
    np.testing.assert_array_equal(a, np.full(40_000, n))  # type: ignore[arg-type]
    z = store.load_group(manifest, 1)["z"]
    np.testing.assert_array_equal(z, np.zeros(100_000) + (n % 3))  # type: ignore[arg-type]
    assert store.load_group(manifest, 2)["obj"] == {"n": n, "text": "x" * (n % 500)}
    return n


def test_sigkill_at_random_points_keeps_previous_checkpoint(tmp_path: Path, key: bytes) -> None:
    url = str(tmp_path / "store")
    store = CheckpointStore(url, key=key, keep=2)
    store.write_checkpoint("s", [], {"n": 0})
    # Seed with a checkpoint of the full shape, written by this process.
    groups = [
        GroupSpec(("a", "v"), {"a": np.full(40_000, 1), "v": None}, None),
        GroupSpec(("z",), {"z": np.zeros(100_000) + 1}, "z1"),
        GroupSpec(("obj",), {"obj": {"n": 1, "text": "x"}}, None),
    ]
    store.write_checkpoint("s", groups, {"n": 1})
    rng = random.Random(1234)
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, url, key.hex(), str(tmp_path / "scratch")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    pid: int | None = None
    try:
        assert zygote.stdout.readline().strip() == "ready"
        n = 1
        for _ in range(TRIALS):
            zygote.stdin.write(f"{n}\n")
            zygote.stdin.flush()
            # Kill after a random number of progress events (a checkpoint emits ~8), plus a
            # random sub-millisecond-to-millisecond delay: every stage of a write gets hit.
            wanted = rng.randrange(0, 20)
            pid = None
            events = 0
            completed = n
            while pid is None or events < wanted:
                word, _, value = zygote.stdout.readline().strip().partition(" ")
                if word == "pid":
                    pid = int(value)
                    continue
                if word == "status":
                    pid = None  # reaped by the zygote: never signal that number again
                    pytest.fail(f"the writer ended on its own (wait status {value})")
                events += 1
                if word == "done":
                    completed = int(value)
            time.sleep(rng.uniform(0.0, 0.003))
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            while True:
                word, _, value = zygote.stdout.readline().strip().partition(" ")
                if word == "done":
                    completed = int(value)
                if word == "status":
                    status = int(value)
                    pid = None  # reaped: its number may now belong to another process
                    break
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            n = _check_latest(store)
            # A checkpoint reported done before the kill must be the latest (or older than it).
            assert n >= completed
    finally:
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        zygote.stdin.close()
        try:
            zygote.wait(timeout=30)
        except subprocess.TimeoutExpired:
            zygote.kill()
            zygote.wait()
