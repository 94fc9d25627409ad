"""Crash recovery in JupyterLab 4: the kernel process is killed (SIGKILL) with autosave on, the
server's auto-restarter starts a new one, the extension says a checkpoint of the earlier process
exists, and its Restore action brings the variables back."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import JupyterServer
from tests.browser.flow import EXPECTED, expect_toast, open_notebook, run_cell, wait_idle

APP = "lab"
SERVER_ENV = {"ELASTIC_AUTOSAVE": "1"}
NOTICE = "This session has a checkpoint from an earlier kernel process"
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(420)]


def wait_for_autosave(store: Path) -> None:
    """The first autosave is complete (its manifest is written last)."""
    deadline = time.monotonic() + 60
    while not list(store.glob("*.auto/*/manifest.json")):
        assert time.monotonic() < deadline, f"no autosave appeared in {store}"
        time.sleep(0.1)


def kernel_process(server: JupyterServer) -> psutil.Process:
    """The (only) kernel process the server runs, found by its connection file."""
    with urllib.request.urlopen(f"{server.url}/api/kernels?token={server.token}") as reply:
        (kernel,) = json.load(reply)
    marker = f"kernel-{kernel['id']}.json"
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in proc.info["cmdline"] or ()):
            return proc
    raise AssertionError(f"no process runs {marker}")


def test_restore_after_the_kernel_was_killed(jupyter_server: JupyterServer, page: Any) -> None:
    panel = open_notebook(page, jupyter_server, "crash.ipynb")
    run_cell(panel, 0, 1)
    wait_for_autosave(jupyter_server.root_dir.parent / "store")

    os.kill(kernel_process(jupyter_server).pid, signal.SIGKILL)
    # JupyterLab's own notice of the auto-restart.
    dialog = page.locator(".jp-Dialog", has_text="Kernel Restarting")
    dialog.get_by_role("button", name="Ok").click()
    expect(dialog).to_have_count(0)

    notice = page.locator(".Toastify__toast", has_text=NOTICE).last
    expect(notice).to_be_visible()
    notice.get_by_role("button", name="Restore").click()
    expect_toast(page, "Session restored from checkpoint")
    wait_idle(panel)

    cell = run_cell(panel, 1, 1)
    # Only the result: no "run %restore" notice once the session is restored.
    expect(cell.locator(".jp-OutputArea-output")).to_have_count(1)
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text(EXPECTED)
