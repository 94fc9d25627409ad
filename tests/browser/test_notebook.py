"""Restart Kernel with State in Notebook 7 (no status bar there; menu, toolbar, toasts)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import JupyterServer
from tests.browser.flow import (
    EXPECTED,
    RESTART,
    click_kernel_menu_item,
    expect_toast,
    open_notebook,
    run_cell,
    wait_idle,
)

APP = "notebook"
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(420)]


def test_restart_with_state_keeps_the_variables(jupyter_server: JupyterServer, page: Any) -> None:
    panel = open_notebook(page, jupyter_server, "restart.ipynb")
    expect(panel.locator(f'.jp-Toolbar [data-command="{RESTART}"]')).to_be_visible()
    run_cell(panel, 0, 1)

    click_kernel_menu_item(page, RESTART)
    expect_toast(page, "Kernel restarted with state")
    wait_idle(panel)

    cell = run_cell(panel, 1, 1)
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text(EXPECTED)
