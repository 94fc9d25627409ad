"""Autosave budgets and crash-recovery notices, through real kernels: a background checkpoint
that grows past its memory cap is killed and skipped, one that would break the disk budget is
skipped before anything is published, only the newest autosave is kept, and a new process
tells frontends (comm event and status op) that an earlier process left a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kernel.test_autosave import autosave_one_cell, env_for, status, wait_for_autosaves
from tests.kernel.test_comm import open_comm, request, wait_for_event
from tests.utils import TIMEOUT, execute, flush_iopub, start_kernel, stop_kernel

pytestmark = pytest.mark.slow


def wait_for_settled(kc: object, started: int) -> dict[str, object]:
    """The autosave status once ``started`` autosaves began and none is running."""
    import time

    deadline = time.monotonic() + TIMEOUT
    while True:
        autosave = status(kc)["autosave"]  # type: ignore[arg-type]
        if autosave["started"] >= started and not autosave["running"]:
            return dict(autosave)
        assert time.monotonic() < deadline, autosave
        time.sleep(0.05)


def manifests(store: Path, session: str) -> list[Path]:
    return sorted((store / f"{session}.auto").glob("*/manifest.json"))


def test_a_checkpoint_over_the_memory_cap_is_killed_and_skipped(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = env_for(store, "mem", ELASTIC_AUTOSAVE_MAX_MEMORY="4M")
    km, kc = start_kernel(env=env)
    try:
        # Pickling millions of small objects touches each one's reference count: the child
        # copies those pages, well past 4 MiB.
        assert execute(kc, "data = [str(i) for i in range(3_000_000)]").ok
        autosave = wait_for_settled(kc, 1)
        assert autosave["skipped"] == 1 and autosave["written"] == 0, autosave
        assert "memory" in str(autosave["last_skip"]), autosave
        assert int(autosave["peak_extra_memory"]) > 4 * 2**20  # type: ignore[call-overload]
        assert autosave["max_memory"] == 4 * 2**20
        # Raising the cap lets the next autosave through; the kernel kept working throughout.
        # (``%config ElasticKernel.*`` does not reach the kernel: it is not in the shell's
        # configurables.)
        assert execute(kc, "get_ipython().kernel.autosave_max_memory = 0\nn = len(data)").ok
        assert wait_for_autosaves(kc, 1)["written"] == 1
    finally:
        stop_kernel(km, kc)
    assert len(manifests(store, "mem")) == 1


def test_a_checkpoint_over_the_disk_budget_is_skipped(tmp_path: Path) -> None:
    store = tmp_path / "store"
    km, kc = start_kernel(env=env_for(store, "disk", ELASTIC_AUTOSAVE_MAX_DISK="1M"))
    try:
        # Slow to recompute, so the plan stores it: 4 MiB against a 1 MiB budget.
        cell = "import time\nimport numpy as np\nbig = np.random.rand(2**19)\ntime.sleep(0.5)"
        assert execute(kc, cell).ok
        autosave = wait_for_settled(kc, 1)
        assert autosave["skipped"] == 1 and autosave["written"] == 0, autosave
        assert "budget" in str(autosave["last_skip"]), autosave
        assert "1 skipped (last skip after cell" in execute(kc, "%elastic status").stdout
        assert manifests(store, "disk") == []
        # Within the budget again: autosaves resume, and only the two newest are kept.
        assert execute(kc, "del big\nsmall = [1, 2, 3]").ok
        assert wait_for_autosaves(kc, 1)["skipped"] == 1
        for i in (4, 5):
            assert execute(kc, f"small.append({i})").ok
            wait_for_autosaves(kc, i - 2)
    finally:
        stop_kernel(km, kc)
    assert len(manifests(store, "disk")) == 2


def test_a_new_process_tells_frontends_about_an_earlier_checkpoint(tmp_path: Path) -> None:
    store = tmp_path / "store"
    autosave_one_cell(store, "notify")
    (created,) = manifests(store, "notify")
    km, kc = start_kernel(env=env_for(store, "notify"))
    try:
        comm_id = open_comm(kc)
        reply = request(kc, comm_id, {"op": "status"})
        recoverable = reply["result"]["recoverable"]
        assert recoverable["checkpoint_id"] == created.parent.name, reply
        assert recoverable["created"].startswith(created.parent.name[:4])
        # What the extension's Restore action sends.
        restored = request(kc, comm_id, {"op": "restore", "url": recoverable["url"]})
        assert restored["ok"], restored
        assert execute(kc, "print(kept + 1)").stdout == "42\n"
        assert request(kc, comm_id, {"op": "status"})["result"]["recoverable"] is None
    finally:
        stop_kernel(km, kc)


def test_the_recoverable_event_reaches_a_listening_frontend(tmp_path: Path) -> None:
    store = tmp_path / "store"
    km, kc = start_kernel(env=env_for(store, "event", ELASTIC_AUTOSAVE="0"))
    try:
        assert execute(kc, "kept = 1\n%checkpoint").ok
    finally:
        stop_kernel(km, kc)
    # Autosave off: no warm-up thread, so the lookup (and the event) comes with the first cell,
    # when this client is surely listening.
    km, kc = start_kernel(env=env_for(store, "event", ELASTIC_AUTOSAVE="0"))
    try:
        flush_iopub(kc)
        kc.execute("x = 1")
        data = wait_for_event(kc, "recoverable")
        assert data["url"].endswith(data["checkpoint_id"])
    finally:
        stop_kernel(km, kc)
