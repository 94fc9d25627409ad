"""The user's steps in JupyterLab and Notebook 7 (same DOM for notebooks, menus, toasts), each
waiting on DOM state, never on time."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import JupyterServer, write_notebook

RESTART = "elastic:restart-with-state"
CHECKPOINT = "elastic:checkpoint"
STATUS_ITEM = ".jp-ElasticStatus"
# Cell 1 builds state (with an alias), cell 2 prints it and whether the process changed.
CELLS = [
    "import os\ndata = [1, 2, 3]\nalias = data\nlabel = 'before'\nfirst_pid = os.getpid()",
    "import os\nprint('RESULT', label, data, alias is data, first_pid != os.getpid())",
]
EXPECTED = "RESULT before [1, 2, 3] True True"


def notebook_path(server: JupyterServer, name: str) -> str:
    """The page for one notebook; in JupyterLab a workspace of its own, so no tab of an
    earlier test is restored next to it."""
    if server.app == "lab":
        return f"/lab/workspaces/{name.replace('.', '-')}/tree/{name}"
    return f"/notebooks/{name}"


def open_notebook(page: Any, server: JupyterServer, name: str, kernel: str = "elastic") -> Any:
    """Write a notebook with ``CELLS`` on ``kernel``, open it and wait for an idle kernel."""
    write_notebook(server.root_dir / name, CELLS, kernel)
    page.goto(server.page_url(notebook_path(server, name)))
    panel = page.locator(".jp-NotebookPanel:visible")
    expect(panel.locator(".jp-Cell")).to_have_count(len(CELLS))
    wait_idle(panel)
    return panel


# The current notebook's kernel is started, connected and idle (the toolbar's indicator reads
# "idle" before any kernel exists, and a cell run then is dropped).
KERNEL_READY = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const context = panel && panel.sessionContext;
  const kernel = context && context.session && context.session.kernel;
  return Boolean(context && context.isReady && kernel && kernel.connectionStatus === "connected"
    && kernel.status === "idle");
}"""


def wait_idle(panel: Any) -> None:
    panel.page.wait_for_function(KERNEL_READY, polling=100)
    expect(panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')).to_be_visible()


def run_cell(panel: Any, index: int, count: int) -> Any:
    """Run cell ``index`` with Shift+Enter; wait for its prompt to read ``[count]:``."""
    cell = panel.locator(".jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    cell.page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(rf"\[{count}\]:"))
    return cell


def open_kernel_menu(page: Any) -> Any:
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Kernel$")).click()
    menu = page.locator(".lm-Menu:visible").last
    expect(menu.locator('[data-command="kernelmenu:restart"]')).to_be_visible()
    return menu


def close_menus(page: Any) -> None:
    page.keyboard.press("Escape")
    expect(page.locator(".lm-Menu")).to_have_count(0)


def click_kernel_menu_item(page: Any, command: str) -> None:
    menu = open_kernel_menu(page)
    menu.locator(f'[data-command="{command}"]').click()


def expect_toast(page: Any, text: str) -> None:
    expect(page.locator(".Toastify__toast", has_text=text).last).to_be_visible()
