"""Continuous checkpoints: written in a forked child after cells, and a session that dies
(SIGKILL) comes back as it was after the last finished cell or the one before, never a mix."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.utils import TIMEOUT, execute, start_kernel, stop_kernel

CELLS = 20


def env_for(store: Path, session: str, **extra: str) -> dict[str, str]:
    settings = {"ELASTIC_STORE": str(store), "ELASTIC_SESSION": session, "ELASTIC_AUTOSAVE": "1"}
    return {**os.environ, **settings, **extra}


def status(kc: BlockingKernelClient) -> dict[str, Any]:
    result = execute(kc, "%elastic status --json")
    assert result.ok, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def wait_for_autosaves(kc: BlockingKernelClient, written: int) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        autosave = status(kc)["autosave"]
        if autosave["written"] >= written and not autosave["running"]:
            return dict(autosave)
        assert time.monotonic() < deadline, autosave
        time.sleep(0.05)


def autosave_one_cell(store: Path, session: str) -> None:
    """A kernel process that runs ``kept = 41``, autosaves it and ends: what a crash leaves."""
    km, kc = start_kernel(env=env_for(store, session))
    try:
        assert execute(kc, "kept = 41").ok
        wait_for_autosaves(kc, 1)
    finally:
        stop_kernel(km, kc)


def cell(i: int) -> str:
    if i == 0:
        return "import time\nlog = []\nalias = log\nsquares = {}\nstep = -1"
    return f"time.sleep(0.3)\nlog.append({i})\nsquares[{i}] = {i * i}\nstep = {i}"


@pytest.mark.slow
def test_autosave_runs_in_the_background(tmp_path: Path) -> None:
    km, kc = start_kernel(env=env_for(tmp_path / "store", "bg"))
    try:
        for i in range(4):
            assert execute(kc, cell(i)).ok
        autosave = wait_for_autosaves(kc, 1)
        assert autosave["failed"] == 0, autosave["last_error"]
        assert autosave["last_cell"] is not None
        assert autosave["median_boundary_seconds"] is not None
        text = execute(kc, "%elastic status").stdout
        assert "autosave:        every 1 cell(s)" in text
        assert execute(kc, "%elastic autosave off").stdout == "autosave off\n"
        before = status(kc)["autosave"]["started"]
        assert execute(kc, cell(4)).ok
        assert status(kc)["autosave"]["started"] == before
    finally:
        stop_kernel(km, kc)
    # Autosaves live beside the explicit checkpoints, under a key of their own.
    assert list((tmp_path / "store" / "bg.auto").glob("*/manifest.json"))


def kill_during_run(store: Path, session: str, rng: random.Random) -> int:
    """Run the cells, SIGKILL the kernel at a random instant; the last finished cell."""
    km, kc = start_kernel(env=env_for(store, session))
    pid = km.provisioner.pid  # type: ignore[union-attr]
    finished = -1
    stop_after = rng.uniform(0.3, 3.0)
    started = time.monotonic()
    try:
        for i in range(CELLS):
            if time.monotonic() - started > stop_after:
                break
            kc.execute(cell(i))
            reply = kc.get_shell_msg(timeout=TIMEOUT)
            assert reply["content"]["status"] == "ok"
            finished = i
        writers = psutil.Process(pid).children()
        os.kill(pid, signal.SIGKILL)
    finally:
        kc.stop_channels()
        km.cleanup_resources()
    # An autosave child outlives the kernel and finishes its checkpoint; wait for it.
    psutil.wait_procs(writers, timeout=TIMEOUT)
    return finished


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_then_restore_gives_a_cell_boundary_state(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    outcomes = []
    for trial in range(30):
        store, session = tmp_path / "store", f"trial{trial}"
        finished = kill_during_run(store, session, rng)
        if finished < 0:
            continue
        km, kc = start_kernel(env=env_for(store, session, ELASTIC_AUTORESTORE="1"))
        try:
            result = execute(
                kc,
                "if 'step' not in globals():\n    print('EMPTY')\nelse:\n"
                "    print(step, log == list(range(1, step + 1)), alias is log, "
                "squares == {i: i * i for i in range(1, step + 1)})",
            )
        finally:
            stop_kernel(km, kc)
        assert result.ok, (trial, result.stderr, result.error)
        last = result.stdout.splitlines()[-1]
        if last == "EMPTY":
            # Killed right after cell 0's reply, before its autosave forked (the fork follows
            # the reply): the state before cell 0, one cell lost.
            k = -1
        else:
            # Restored before the cell, or in the background while it waited for its variables.
            restored = (
                "session restored" in result.stdout or "restoring checkpoint" in result.stdout
            )
            assert restored, (trial, result.stdout, result.stderr)
            restored_step, *checks = last.split()
            assert checks == ["True", "True", "True"], (trial, result.stdout)
            # Cell 0 defines everything with step = -1; cell i > 0 sets step = i.
            k = max(0, int(restored_step))
        assert finished - 1 <= k <= finished, (trial, finished, k)
        outcomes.append((finished, k))
    assert len(outcomes) >= 20


@pytest.mark.slow
def test_without_autorestore_the_next_process_says_a_checkpoint_exists(tmp_path: Path) -> None:
    store = tmp_path / "store"
    autosave_one_cell(store, "notice")
    km, kc = start_kernel(env=env_for(store, "notice"))
    try:
        first = execute(kc, "print('kept' in globals())")
        assert "run %restore to bring it back" in first.stderr
        assert first.stdout == "False\n"
        assert execute(kc, "%restore").ok
        assert execute(kc, "print(kept + 1)").stdout == "42\n"
    finally:
        stop_kernel(km, kc)


@pytest.mark.slow
def test_an_autosave_is_named_for_its_cell_boundary_not_its_write(tmp_path: Path) -> None:
    """``%restore`` takes the newest checkpoint id: an autosave that got to write after a later
    explicit checkpoint must not pass for the newer state."""
    store = tmp_path / "store"
    km, kc = start_kernel(env=env_for(store, "order"))
    try:
        # Big enough that the child plans and writes for a while after the boundary.
        assert execute(kc, "import numpy as np\nbig = np.random.rand(25_000_000)").ok
        stamp = "import datetime\nnow = datetime.datetime.now(datetime.timezone.utc)\n"
        after = execute(kc, stamp + "print(f'{now:%Y%m%dT%H%M%S.%f}Z')").stdout.strip()
        saved = execute(kc, "%checkpoint")
        assert saved.ok, saved.stderr
        wait_for_autosaves(kc, 1)
        explicit = saved.stdout.split()[1]
    finally:
        stop_kernel(km, kc)
    autosaves = {p.parent.name: p for p in (store / "order.auto").glob("*/manifest.json")}
    assert autosaves
    for checkpoint_id, manifest in autosaves.items():
        graph = json.loads(manifest.read_text())["metadata"]["graph"]
        if not any("datetime" in e["code"] for e in graph["executions"]):
            # A state from before the stamp cell sorts before it, and before %checkpoint.
            assert checkpoint_id < after < explicit, (checkpoint_id, after, explicit)
    km, kc = start_kernel(env=env_for(store, "order"))
    try:
        restored = execute(kc, "%restore --wait")
        assert restored.ok, restored.stderr
        newest = max([explicit, *autosaves])
        assert newest in restored.stdout
        assert execute(kc, "print(now.year > 2000, big.shape)").stdout == "True (25000000,)\n"
    finally:
        stop_kernel(km, kc)
