"""``elastic-kernel run``: checkpointing as it goes, and ``--resume`` after the kernel was
SIGKILLed in the middle of a notebook."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest


def write_notebook(folder: Path) -> Path:
    flag, pidfile, counter = folder / "flag", folder / "kernel.pid", folder / "counter"
    cells = [
        "a = 1",
        f"with open({str(counter)!r}, 'a') as fh:\n    fh.write('x')\nb = a + 1",
        "c = [a, b]",
        f"import os, time, pathlib\npathlib.Path({str(pidfile)!r}).write_text(str(os.getpid()))\nwhile pathlib.Path({str(flag)!r}).exists():\n    time.sleep(0.1)",
        "print('total', a + b + sum(c))",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "elastic",
        "display_name": "Python 3 (Elastic)",
        "language": "python",
    }
    path = folder / "job.ipynb"
    nbformat.write(nb, path)
    flag.write_text("hold")
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elastic_kernel", "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.slow
def test_resume_after_the_kernel_is_killed(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path)
    store = tmp_path / "store"
    args = [str(notebook), "-o", str(tmp_path / "out.ipynb"), "--store", str(store)]
    runner = subprocess.Popen(
        [sys.executable, "-m", "elastic_kernel", "run", *args, "--checkpoint-every", "1"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pidfile = tmp_path / "kernel.pid"
    deadline = time.monotonic() + 120
    while not pidfile.exists() and runner.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pidfile.exists(), runner.communicate()
    # Cell 3 is now waiting on the flag: the kernel dies in the middle of the notebook.
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    _, stderr = runner.communicate(timeout=120)
    assert runner.returncode != 0
    assert "cell 3 failed" in stderr
    (tmp_path / "flag").unlink()

    resumed = run_cli(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[4].outputs[0]["text"] == "total 6\n"
    # Cells before the last checkpoint were not run again (their side effect happened once).
    assert (tmp_path / "counter").read_text() == "x"
    assert out.cells[0].execution_count == 1
    assert "skipped 3" in resumed.stdout


def test_resume_without_a_previous_run_is_a_clear_error(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path)
    result = run_cli(str(notebook), "-o", str(tmp_path / "none.ipynb"), "--resume", cwd=tmp_path)
    assert result.returncode == 1
    assert "nothing to resume" in result.stderr


@pytest.mark.slow
def test_python_api_runs_and_checkpoints(tmp_path: Path) -> None:
    from elastic_kernel import run_notebook

    notebook = write_notebook(tmp_path)
    (tmp_path / "flag").unlink()
    result = run_notebook(notebook, store=str(tmp_path / "store"), checkpoint_every=2)
    assert result.ok and result.cells_run == 5
    assert len(result.checkpoints) == 3
    out = nbformat.read(result.output, as_version=4)
    assert out.metadata["elastic_run"]["checkpointed_through"] == 4
