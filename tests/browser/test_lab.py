"""Restart Kernel with State in JupyterLab 4, in Debian's chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, JupyterServer
from tests.browser.flow import (
    CHECKPOINT,
    EXPECTED,
    RESTART,
    STATUS_ITEM,
    click_kernel_menu_item,
    close_menus,
    expect_toast,
    open_kernel_menu,
    open_notebook,
    run_cell,
    wait_idle,
)

APP = "lab"
SCREENSHOT = ROOT / "docs" / "screenshots" / "restart-with-state.png"
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(420)]


def test_restart_with_state_keeps_the_variables(jupyter_server: JupyterServer, page: Any) -> None:
    panel = open_notebook(page, jupyter_server, "restart.ipynb")
    expect(panel.locator(f'.jp-Toolbar [data-command="{RESTART}"]')).to_be_visible()
    status = page.locator(STATUS_ITEM)
    expect(status).to_have_text(re.compile("Elastic"))
    run_cell(panel, 0, 1)

    click_kernel_menu_item(page, CHECKPOINT)
    expect_toast(page, "Checkpoint saved")
    expect(status).to_have_text(re.compile(r"Elastic: checkpoint .* · .*B · restore [≈<]"))
    take_readme_screenshot(page, SCREENSHOT)

    click_kernel_menu_item(page, RESTART)
    expect_toast(page, "Kernel restarted with state")
    wait_idle(panel)
    expect(status).to_have_text(re.compile("Elastic: restored in"))

    cell = run_cell(panel, 1, 1)
    expect(cell.locator(".jp-OutputArea-output")).to_contain_text(EXPECTED)


def test_plan_dialog_opens_from_the_status_item(jupyter_server: JupyterServer, page: Any) -> None:
    panel = open_notebook(page, jupyter_server, "plan.ipynb")
    run_cell(panel, 0, 1)
    page.locator(STATUS_ITEM).click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-Dialog-header")).to_have_text("Checkpoint plan")
    expect(dialog.locator(".jp-ElasticPlan")).to_contain_text("data")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)


def test_hidden_on_a_plain_python_kernel(jupyter_server: JupyterServer, page: Any) -> None:
    panel = open_notebook(page, jupyter_server, "plain.ipynb", kernel="python3")
    expect(panel.locator(".jp-Toolbar .jp-Toolbar-kernelName")).to_contain_text("Python 3")
    expect(page.locator(STATUS_ITEM)).to_be_hidden()
    expect(panel.locator(f'.jp-Toolbar [data-command="{RESTART}"]')).to_be_hidden()
    menu = open_kernel_menu(page)
    expect(menu.locator(f'[data-command="{RESTART}"]')).to_be_hidden()
    expect(menu.locator(f'[data-command="{CHECKPOINT}"]')).to_be_hidden()
    close_menus(page)


def take_readme_screenshot(page: Any, path: Path) -> None:
    """The Kernel menu open over the notebook, with the status item in view."""
    page.locator(".Toastify__close-button").evaluate_all(
        "buttons => buttons.forEach(b => b.click())"
    )
    expect(page.locator(".Toastify__toast")).to_have_count(0)
    menu = open_kernel_menu(page)
    expect(menu.locator(f'[data-command="{RESTART}"]')).to_be_visible()
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    close_menus(page)
