"""Background restore through real kernels: ``%restore`` returns at once, each cell waits only for
the variables it reads, loaded values never overwrite the user's, failures are reported.

"Still loading" is made observable with ``ELASTIC_TEST_LOAD_DELAY`` (the loading thread sleeps
before each group), never by mocking; tests assert on the restore's event log, not on times.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.utils import (
    TIMEOUT,
    checkpoint_session,
    damaged_checkpoint,
    describe_session,
    execute,
    roundtrip,
    start_kernel,
    stop_kernel,
)

pytestmark = pytest.mark.slow

SESSION = "background"
BIG_ROWS = 25_000_000  # 200 MB of float64: stored, the last group to load
CELLS = [
    "import numpy as np",
    f"big = np.random.default_rng(0).random({BIG_ROWS})",
    "small = 41",
    "arr = np.arange(10.0)\na, b = arr, arr[::2]",
    "def f():\n    return small + 1",
]
PROBE = "print(repr(float(big[12345])), repr(float(big.sum())))"
# Seconds before each group loads: wide enough for a few requests on a loaded 2-core machine.
DELAY = "2.0"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A checkpoint of CELLS (everything stored) and what PROBE printed before it."""
    store = tmp_path_factory.mktemp("background") / "store"
    env = dict(os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION=SESSION)
    # The probe runs after the checkpoint: a recorded read of ``big`` would make it load first.
    _, probe = checkpoint_session(
        CELLS, env, checkpoint="%checkpoint --mode store-all", probe=PROBE
    )
    return store, probe


@pytest.fixture
def restoring(saved: tuple[Path, str]) -> Iterator[BlockingKernelClient]:
    """A fresh kernel in which ``%restore`` of the saved session has just returned."""
    store, _ = saved
    env = dict(
        os.environ,
        ELASTIC_STORE=str(store),
        ELASTIC_SESSION=SESSION,
        ELASTIC_TEST_LOAD_DELAY=DELAY,
    )
    km, kc = start_kernel(env=env)
    try:
        started = execute(kc, "%restore")
        assert started.ok, (started.stdout, started.stderr)
        assert "in the background" in started.stdout
        yield kc
    finally:
        stop_kernel(km, kc)


def status(kc: BlockingKernelClient) -> dict[str, Any]:
    result = execute(kc, "%elastic status --json")
    assert result.ok, result.error
    data: dict[str, Any] = json.loads(result.stdout)["restore"]
    return data


def names_with(progress: dict[str, Any], kind: str) -> list[set[str]]:
    return [set(names) for _, event, names in progress["events"] if event == kind]


def test_a_cell_reading_a_small_variable_does_not_wait_for_the_big_one(
    restoring: BlockingKernelClient, saved: tuple[Path, str]
) -> None:
    kc = restoring
    first = execute(kc, "print(f(), small)")
    assert first.stdout == "42 41\n", (first.stdout, first.stderr)
    # Completion and %whos know what is still coming (checked first: the big group is only
    # DELAY seconds behind).
    whos = execute(kc, "%whos").stdout.splitlines()
    completed = kc.complete("bi", 2, reply=True, timeout=TIMEOUT)["content"]
    progress = status(kc)
    assert progress["state"] == "running"
    assert "big" in progress["names_loading"]
    assert "big" in whos[-1], whos
    assert "big" in completed["matches"]
    waited = set().union(*names_with(progress, "waited-for"))
    # ``small`` may have appeared while the kernel was idle; ``f`` loads after it.
    assert waited <= {"f", "small"}
    assert "big" not in waited
    assert not any("big" in names for names in names_with(progress, "applied"))
    # A cell reading the big array waits for it and sees the checkpointed value.
    _, probe = saved
    assert execute(kc, PROBE).stdout == probe
    progress = status(kc)
    assert any("big" in names for names in names_with(progress, "waited-for"))
    assert any("big" in names for names in names_with(progress, "applied"))


def test_a_waiting_cell_moves_what_it_reads_to_the_front(
    restoring: BlockingKernelClient, saved: tuple[Path, str]
) -> None:
    kc = restoring
    _, probe = saved
    assert execute(kc, PROBE).stdout == probe
    loaded = names_with(status(kc), "loaded")
    # ``big`` is the largest group and no recent cell read it: the planned order loads it last
    # of five. Asked for by the first cell, it goes right after the group already under way.
    position = next(i for i, names in enumerate(loaded) if "big" in names)
    assert position <= 2, loaded


def test_a_cell_using_globals_waits_for_everything(restoring: BlockingKernelClient) -> None:
    kc = restoring
    result = execute(kc, "print(sorted(k for k in globals() if k in {'a', 'b', 'arr', 'big'}))")
    assert result.stdout == "['a', 'arr', 'b', 'big']\n", result.stderr
    progress = status(kc)
    assert progress["state"] == "done"
    assert progress["names_loading"] == []
    assert "big" in set().union(*names_with(progress, "waited-for"))


def test_a_cell_importing_a_local_module_waits_for_everything(
    restoring: BlockingKernelClient, tmp_path: Path
) -> None:
    (tmp_path / "peek_main.py").write_text("import __main__\nSUM = float(__main__.big.sum())\n")
    kc = restoring
    assert execute(kc, f"import sys\nsys.path.insert(0, {str(tmp_path)!r})").ok
    imported = execute(kc, "import peek_main")
    assert imported.ok, imported.error
    assert "big" in set().union(*names_with(status(kc), "waited-for"))
    assert execute(kc, "print(peek_main.SUM == float(big.sum()))").stdout == "True\n"


def test_the_users_rebinding_wins_over_the_loaded_value(restoring: BlockingKernelClient) -> None:
    kc = restoring
    assert execute(kc, "big = 'mine'").ok
    assert "big" in status(kc)["names_loading"]
    assert execute(kc, "del small").ok
    describe_session(kc)  # a silent request: waits for the whole restore
    progress = status(kc)
    assert progress["state"] == "done"
    assert any("big" in names for names in names_with(progress, "loaded"))
    assert execute(kc, "print(big, 'small' in dir())").stdout == "mine False\n"


def test_linked_variables_appear_together(restoring: BlockingKernelClient) -> None:
    kc = restoring
    result = execute(kc, "print(np.shares_memory(a, b), a is arr)")
    assert result.stdout == "True True\n", result.stderr
    applied = names_with(status(kc), "applied")
    assert {"a", "arr", "b"} in applied


def test_interrupt_while_waiting_leaves_the_kernel_usable(
    saved: tuple[Path, str],
) -> None:
    store, probe = saved
    km, kc = start_kernel(env=slow_loading(store))
    try:
        assert execute(kc, "%restore").ok
        reply = interrupt_once_started(km, kc, PROBE)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert execute(kc, "print(small)").stdout == "41\n"
        assert execute(kc, PROBE).stdout == probe
    finally:
        stop_kernel(km, kc)


def slow_loading(store: Path) -> dict[str, str]:
    """The environment of a kernel restoring from ``store`` with 3 s before each group loads."""
    return dict(
        os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION=SESSION, ELASTIC_TEST_LOAD_DELAY="3"
    )


def interrupt_once_started(
    km: KernelManager, kc: BlockingKernelClient, code: str, *, after_output: str | None = None
) -> Any:
    """Send ``code``, interrupt the kernel once it has started on it (once it has printed
    ``after_output``, when given), and return its reply."""
    msg_id = kc.execute(code)
    wait_for_busy(kc, msg_id)
    while after_output is not None:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "stream"
            and after_output in msg["content"]["text"]
        ):
            break
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
    return reply


def wait_for_busy(kc: BlockingKernelClient, msg_id: str) -> None:
    """Until the kernel says it started on ``msg_id`` (the cell is waiting for the restore)."""
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            return


def test_failure_in_the_background_is_reported_and_recomputed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = dict(os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION="damaged")
    damaged_checkpoint(store)
    km, kc = start_kernel(env=dict(env, ELASTIC_TEST_LOAD_DELAY="0.5"))
    try:
        seen: list[dict[str, Any]] = []
        assert execute(kc, "%restore", seen=seen).ok
        result = execute(kc, "print(doubled[3])", seen=seen)
        assert result.stdout == "6\n"
        report = result.stderr
        assert "could not load" in report and "doubled" in report, report
        assert "recomputing" in report
        events = restore_events(seen)
        failed = [e for e in events if e["state"] == "failed"]
        assert failed and "doubled" in failed[0]["names"], events
        describe_session(kc)
        seen.extend(drain(kc))
        done = [e for e in restore_events(seen) if e["state"] == "done"]
        assert done and done[0]["ok"] is True, restore_events(seen)
        assert "doubled" in done[0]["recomputed"]
    finally:
        stop_kernel(km, kc)


def drain(kc: BlockingKernelClient) -> list[dict[str, Any]]:
    import queue

    found = []
    while True:
        try:
            found.append(kc.get_iopub_msg(timeout=0.5))
        except queue.Empty:
            return found


def restore_events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        m["content"]["data"]
        for m in messages
        if m["msg_type"] == "comm_open"
        and m["content"].get("target_name") == "elastic.events"
        and m["content"]["data"].get("event") == "restore"
    ]


def test_blocking_mode_keeps_the_old_behaviour(saved: tuple[Path, str]) -> None:
    store, probe = saved
    env = dict(
        os.environ,
        ELASTIC_STORE=str(store),
        ELASTIC_SESSION=SESSION,
        ELASTIC_RESTORE="blocking",
    )
    km, kc = start_kernel(env=env)
    try:
        restored = execute(kc, "%restore")
        assert restored.ok, restored.stderr
        assert restored.stdout.startswith("Restored checkpoint")
        assert status(kc) is None
        assert execute(kc, PROBE).stdout == probe
    finally:
        stop_kernel(km, kc)


def test_session_with_reruns_restores_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-runs (a generator must be recomputed) and loads interleave; the oracle sees the same
    values and aliasing as before."""
    monkeypatch.setenv("ELASTIC_TEST_LOAD_DELAY", "0.2")
    cells = [
        "import random\nrandom.seed(3)",
        "data = [random.random() for _ in range(1000)]",
        "gen = (x for x in data)",
        "first = next(gen)",
        "view = {'data': data, 'first': first}",
        "total = sum(data)",
    ]
    result = roundtrip(cells, store=str(tmp_path / "store"))
    assert result.restore.ok, (result.restore.stdout, result.restore.stderr)
    assert result.problems() == []


def test_second_restore_waits_for_the_first(saved: tuple[Path, str], tmp_path: Path) -> None:
    store, probe = saved
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    env = dict(
        os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION=SESSION, ELASTIC_TEST_LOAD_DELAY="0.3"
    )
    km, kc = start_kernel(env=env)
    try:
        assert execute(kc, "%restore").ok
        assert execute(kc, "small = 'changed'").ok
        again = execute(kc, f"%restore {copy}")
        assert again.ok, again.stderr
        assert execute(kc, "print(small)").stdout == "41\n"
        assert execute(kc, PROBE).stdout == probe
    finally:
        stop_kernel(km, kc)


@pytest.mark.parametrize("mode", ["blocking", "background"])
def test_a_checkpoint_after_a_background_restore_restores_exactly(
    saved: tuple[Path, str], tmp_path: Path, mode: str
) -> None:
    """Names the restore bound between cells are not attributed to those cells: a session
    continued after a background restore checkpoints and restores like any other."""
    store, _ = saved
    env = dict(
        os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION=SESSION, ELASTIC_TEST_LOAD_DELAY="0.3"
    )
    env["ELASTIC_RESTORE"] = mode
    again = tmp_path / "again"
    km, kc = start_kernel(env=env)
    try:
        assert execute(kc, "%restore").ok
        # A first cell of its own: see test_the_first_cell_after_a_restore_is_recorded.
        assert execute(kc, "pass").ok
        for cell in ("total = small + 1", "print(total)", "big[0] = 5.0"):
            assert execute(kc, cell).ok, cell
        saved_again = execute(kc, f"%checkpoint {again}")
        assert saved_again.ok, saved_again.stderr
        before = describe_session(kc)
    finally:
        stop_kernel(km, kc)
    km, kc = start_kernel(env=dict(env, ELASTIC_SESSION="elsewhere"))
    try:
        assert execute(kc, f"%restore {again}").ok
        after = describe_session(kc)
    finally:
        stop_kernel(km, kc)
    from tests.oracle import compare

    assert compare(before, after) == []


@pytest.mark.parametrize("mode", ["blocking", "background"])
def test_the_first_cell_after_a_restore_is_recorded(tmp_path: Path, mode: str) -> None:
    env = dict(
        os.environ, ELASTIC_STORE=str(tmp_path), ELASTIC_SESSION="first", ELASTIC_RESTORE=mode
    )
    km, kc = start_kernel(env=env)
    try:
        assert execute(kc, "x = 1").ok
        assert execute(kc, "%checkpoint").ok
        assert execute(kc, "%restore").ok
        assert execute(kc, "y = x + 1").ok
        graph = json.loads(execute(kc, "%elastic graph --json").stdout)
    finally:
        stop_kernel(km, kc)
    assert any("y = x + 1" in e["code"] for e in graph["executions"])


def test_interrupt_before_the_cell_starts_does_not_run_it(saved: tuple[Path, str]) -> None:
    """An interrupt that lands before the cell's code (here while the kernel waits for its
    warm-up, made slow on purpose): the cell does not run, and does not skip the wait for
    variables a background restore is still loading."""
    store, probe = saved
    km, kc = start_kernel(env=slow_loading(store))
    try:
        assert execute(kc, "%restore").ok
        slow_once = (
            "import time\n_kernel = get_ipython().kernel\n_wait = _kernel.autosaver.wait_until_warm\n"
            "def _slow(*args, **kwargs):\n"
            "    _kernel.autosaver.wait_until_warm = _wait\n"
            "    print('warming up', flush=True)\n"
            "    time.sleep(30)\n"
            "_kernel.autosaver.wait_until_warm = _slow"
        )
        assert execute(kc, slow_once).ok
        # Not before it prints: an interrupt landing in ipykernel's own code ahead of the
        # kernel's (after execute_input, before do_execute) is not what this tests.
        reply = interrupt_once_started(km, kc, f"ran = True\n{PROBE}", after_output="warming up")
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert "did not run" in reply["content"]["evalue"]
        assert execute(kc, "print('ran' in globals())").stdout == "False\n"
        assert execute(kc, PROBE).stdout == probe
    finally:
        stop_kernel(km, kc)


SETTING_CELLS = [
    "import sklearn\nsklearn.set_config(assume_finite=True)",
    # Loaded by name (importing scikit-learn): the cell that set the config is not re-run.
    "from sklearn import get_config",
    # A generator cannot be stored: the restore re-runs this cell, which must see the setting.
    "flags = (f for f in [get_config()['assume_finite']])",
]


@pytest.fixture(scope="module")
def saved_settings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("settings") / "store"
    env = dict(os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION="settings")
    # Stored, the module is loaded (not re-imported by re-running the cell that set it).
    saved, _ = checkpoint_session(SETTING_CELLS, env, checkpoint="%checkpoint --mode store-all")
    assert "recompute  1 variables: flags (re-running cells [2], [3])" in saved.stdout, saved.stdout
    return store


@pytest.mark.parametrize(
    "first",
    [
        "print(get_config()['assume_finite'])",
        "import sklearn as again\nprint(again.get_config()['assume_finite'])",
        "print(next(flags))",
    ],
    ids=["reads-a-loaded-function", "imports-it", "reads-a-rerun-value"],
)
def test_thread_local_settings_are_replayed_on_the_main_thread(
    saved_settings: Path, first: str
) -> None:
    """scikit-learn's config (like torch's grad mode) is thread-local: replayed on the loading
    thread it never reached the cells. Whatever the first cell does (read a loaded function of
    the module, import it, need a re-run), it runs with the session's setting."""
    env = dict(os.environ, ELASTIC_STORE=str(saved_settings), ELASTIC_SESSION="settings")
    km, kc = start_kernel(env=env)
    try:
        started = execute(kc, "%restore")
        assert "in the background" in started.stdout, (started.stdout, started.stderr)
        result = execute(kc, first)
        assert result.stdout == "True\n", (result.stdout, result.stderr, result.error)
        assert execute(kc, "print(get_config()['assume_finite'])").stdout == "True\n"
    finally:
        stop_kernel(km, kc)
