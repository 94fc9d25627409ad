"""Fixtures for browser tests: a Jupyter server (lab or notebook) in its own temp dirs, with the
elastic kernelspec and the built labextension, and Debian's chromium driven by playwright."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "elastic_kernel" / "labextension"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 120.0
# The news/update prompt would cover the notifications the tests read; `window.jupyterapp`
# lets the tests wait for the kernel connection itself rather than a status icon.
PAGE_CONFIG = {
    "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
    "exposeAppInBrowser": True,
}


@dataclass(frozen=True, slots=True)
class JupyterServer:
    """A running ``jupyter lab`` / ``jupyter notebook`` and where its files live."""

    app: str
    url: str
    token: str
    root_dir: Path
    log: Path

    def page_url(self, path: str) -> str:
        return f"{self.url}{path}?token={self.token}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_notebook(path: Path, cells: list[str], kernel: str = "elastic") -> None:
    """A notebook bound to ``kernel`` with one code cell per source."""
    display = "Python 3 (Elastic)" if kernel == "elastic" else "Python 3 (ipykernel)"
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": display, "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


def _labextensions_prefix(tmp: Path) -> Path:
    """A JUPYTER_PATH entry holding the committed build, as the wheel would install it."""
    share = tmp / "labext-prefix" / "share" / "jupyter"
    target = share / "labextensions" / "elastic-kernel"
    target.parent.mkdir(parents=True)
    shutil.copytree(BUILT, target)
    shutil.copy(ROOT / "labextension" / "install.json", target / "install.json")
    return share


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        # Polling a socket that is not listening yet; there is no event to wait on.
        time.sleep(0.25)
    raise RuntimeError(f"jupyter server not up after {SERVER_START_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def jupyter_server(
    request: pytest.FixtureRequest, jupyter_env: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterServer]:
    """Start ``jupyter <app>`` (``app`` from the module's ``APP``, extra environment from its
    ``SERVER_ENV``) on 127.0.0.1 with a token."""
    if not BUILT.joinpath("package.json").is_file():
        pytest.fail(f"no built labextension in {BUILT}: run `make labextension`")
    app: str = request.module.APP
    tmp = tmp_path_factory.mktemp(f"jupyter-{app}")
    root_dir = tmp / "notebooks"
    root_dir.mkdir()
    config_dir = tmp / "config"
    (config_dir / "labconfig").mkdir(parents=True)
    (config_dir / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
        JUPYTER_PATH=os.pathsep.join((str(_labextensions_prefix(tmp)), env["JUPYTER_PATH"])),
        ELASTIC_STORE=str(tmp / "store"),
    )
    for name in ("ELASTIC_SESSION", "ELASTIC_ALPHA", "JPY_SESSION_NAME"):
        env.pop(name, None)
    # A module may set more (test_crash_recovery.py turns autosave on).
    env.update(getattr(request.module, "SERVER_ENV", {}))
    log = tmp / "server.log"
    argv = [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        # CI runs as root.
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=root_dir, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    server = JupyterServer(app=app, url=url, token=token, root_dir=root_dir, log=log)
    try:
        _wait_until_up(proc, f"{url}/api/status?token={token}", log)
        yield server
    finally:
        _stop(proc, server)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / f"{app}-server.log")


def _stop(proc: subprocess.Popen[bytes], server: JupyterServer) -> None:
    """Shut the server down through its API (which stops its kernels), then make sure."""
    try:
        shutdown = urllib.request.Request(
            f"{server.url}/api/shutdown?token={server.token}", method="POST"
        )
        urllib.request.urlopen(shutdown, timeout=10).close()
        proc.wait(timeout=30)
    except (urllib.error.URLError, ConnectionError, TimeoutError, subprocess.TimeoutExpired):
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's chromium, with a fresh profile (playwright cannot download its own browser)."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium "
            "(.ci/run does this)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        context.set_default_timeout(90_000)
        try:
            yield context
        finally:
            context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser_context: Any) -> Iterator[Any]:
    """A new tab; on failure its screenshot and console go to test-artifacts/."""
    from playwright.sync_api import expect

    expect.set_options(timeout=90_000)
    tab = browser_context.new_page()
    console: list[str] = []
    tab.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    tab.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    try:
        yield tab
    finally:
        if request.node.stash.get(FAILED, True):
            ARTIFACTS.mkdir(exist_ok=True)
            name = request.node.name.replace("/", "_")
            tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console))
        tab.close()
