"""Kernel robustness: SIGINT during a monitored cell and during a checkpoint, a comm checkpoint
request while a long cell runs, two frontends on one kernel, and memory over 2000 cells."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.kernel.test_comm import open_comm
from tests.reliability.conftest import is_soak
from tests.reliability.helpers import Kernel, checkpoint_url, verify_cli
from tests.utils import describe_session, execute, get_graph

CELLS = 20_000 if is_soak() else 2000


@pytest.fixture
def kernel(store_dir: Path) -> Iterator[Kernel]:
    kernel = Kernel.start(store_dir, "robust", ELASTIC_AUTOSAVE="off")
    try:
        yield kernel
    finally:
        kernel.stop()


def wait_reply(kc: BlockingKernelClient, msg_id: str, timeout: float = 60.0) -> dict[str, Any]:
    while True:
        reply: dict[str, Any] = kc.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def wait_busy(kc: BlockingKernelClient, msg_id: str) -> None:
    """Wait until the kernel started the request (busy status), so an interrupt hits it."""
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "busy"
        ):
            return


def restores_equal(kernel: Kernel, store_dir: Path, url: str) -> None:
    before = kernel.describe()
    other = Kernel.start(store_dir, "robust-restore", ELASTIC_AUTOSAVE="off")
    try:
        other.ok(f"%restore {url}")
        from tests.oracle import compare

        assert compare(before, other.describe()) == []
    finally:
        other.stop()


@pytest.mark.slow
def test_interrupt_during_a_cell(kernel: Kernel, store_dir: Path, tally: Counter[str]) -> None:
    kc = kernel.kc
    msg_id = kc.execute("import time\npartial = [1]\ntime.sleep(30)\nnever = 1")
    wait_busy(kc, msg_id)
    time.sleep(0.3)
    kernel.km.interrupt_kernel()
    reply = wait_reply(kc, msg_id)
    assert (
        reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    )
    tally["interrupts"] += 1
    kernel.ok("after = partial + [2]")
    executions = get_graph(kc)["executions"]
    interrupted = [e for e in executions if "time.sleep(30)" in e["code"]]
    assert len(interrupted) == 1 and not interrupted[0]["ok"], interrupted
    assert kernel.value("after") == [1, 2]
    url = checkpoint_url(kernel.ok("%checkpoint"))
    restores_equal(kernel, store_dir, url)


@pytest.mark.slow
def test_interrupt_during_a_checkpoint(
    kernel: Kernel, store_dir: Path, tally: Counter[str]
) -> None:
    kc = kernel.kc
    # A checkpoint long enough to be interrupted in the middle (store-all writes ~80 MB).
    # Regressions: an interrupt landing in the change-detection audit hook while OR-Tools' C++
    # module initialised (first checkpoint) aborted the process; one landing in ipykernel's own
    # code before the cell left the request without a reply.
    kernel.ok("import numpy as np\nbig = np.random.default_rng(1).random(10_000_000)")
    for trial in range(15):
        delay = (0.0, 0.02, 0.05, 0.1, 0.2)[trial % 5]
        msg_id = kc.execute("%checkpoint --mode store-all")
        wait_busy(kc, msg_id)
        time.sleep(delay)
        kernel.km.interrupt_kernel()
        wait_reply(kc, msg_id, timeout=20)
        tally["interrupts"] += 1
        assert kernel.km.is_alive(), f"kernel died (exit {kernel.km.provisioner.process.poll()})"  # type: ignore[union-attr]
        after = kernel.run("1 + 1", timeout=20)
        assert after.ok, (delay, after.error and after.error["ename"])
    url = checkpoint_url(kernel.ok("%checkpoint"))
    assert verify_cli(url).returncode == 0
    restores_equal(kernel, store_dir, url)


@pytest.mark.slow
def test_comm_checkpoint_waits_for_the_running_cell(kernel: Kernel, tally: Counter[str]) -> None:
    kc = kernel.kc
    comm_id = open_comm(kc)
    msg_id = kc.execute("import time\ntime.sleep(1.5)\nlate = 'set by the long cell'")
    wait_busy(kc, msg_id)
    request_id = uuid.uuid4().hex
    data = {"op": "checkpoint", "id": request_id}
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))
    order: list[str] = []
    reply: dict[str, Any] | None = None
    while reply is None:
        msg = kc.get_iopub_msg(timeout=60)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            order.append("cell done")
        if msg["msg_type"] == "comm_msg" and msg["content"]["data"].get("id") == request_id:
            reply = msg["content"]["data"]
            order.append("checkpoint reply")
    tally["comm requests during a cell"] += 1
    assert order == ["cell done", "checkpoint reply"], order
    assert reply["ok"], reply
    assert "late" in reply["result"]["stored"] + reply["result"]["recomputed"], reply["result"]


@pytest.mark.slow
def test_two_frontends_share_one_kernel(
    kernel: Kernel, store_dir: Path, tally: Counter[str]
) -> None:
    second = kernel.km.blocking_client()
    second.start_channels()
    try:
        second.wait_for_ready(timeout=60)
        for i in range(10):
            client = kernel.kc if i % 2 else second
            assert execute(
                client, f"shared_{i % 3} = [{i}]\nlog = globals().get('log', []) + [{i}]"
            ).ok
        saved = execute(second, "%checkpoint")
        assert saved.ok, saved.error
        assert describe_session(kernel.kc) == describe_session(second)
        url = checkpoint_url(saved)
    finally:
        second.stop_channels()
    tally["two-frontend sessions"] += 1
    assert kernel.value("log") == list(range(10))
    restores_equal(kernel, store_dir, url)


@pytest.mark.slow
@pytest.mark.timeout(1800 if is_soak() else 240)
def test_memory_stays_flat_over_many_cells(kernel: Kernel, tally: Counter[str]) -> None:
    process = psutil.Process(kernel.pid)
    kernel.ok("import gc\nitems = {}")
    samples: list[tuple[int, int, int]] = []
    for i in range(1, CELLS + 1):
        execute(kernel.kc, f"items[{i % 50}] = [{i}] * 20\nv{i % 7} = {i}")
        if i in (CELLS // 10, CELLS):
            graph = get_graph(kernel.kc)
            kernel.ok("gc.collect()")
            samples.append((i, len(json.dumps(graph)), process.memory_info().rss))
    (first, graph_first, rss_first), (last, graph_last, rss_last) = samples
    per_cell_graph = (graph_last - graph_first) / (last - first)
    per_cell_rss = (rss_last - rss_first) / (last - first)
    tally["memory: cells executed"] += CELLS
    tally["memory: AHG JSON bytes per cell"] = round(per_cell_graph)
    tally["memory: AHG JSON bytes at the end"] = graph_last
    tally["memory: kernel RSS growth bytes per cell"] = round(per_cell_rss)
    tally["memory: kernel RSS MB at the end"] = rss_last // 2**20
    # The AHG keeps one record per cell (a few hundred bytes): linear, never quadratic.
    assert per_cell_graph < 4096, samples
    # Values are overwritten in place: anything beyond a few KB per cell is a leak.
    assert per_cell_rss < 16 * 1024, samples
