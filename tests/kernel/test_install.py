"""Installing the kernelspec: ``python -m elastic_kernel install`` into a prefix and the user dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_install(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elastic_kernel", "install", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )


def test_install_into_prefix_and_list(tmp_path: Path) -> None:
    run_install("--prefix", str(tmp_path))
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "elastic"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["display_name"] == "Python 3 (Elastic)"
    assert spec["argv"] == [sys.executable, "-m", "elastic_kernel", "-f", "{connection_file}"]
    assert spec["language"] == "python"
    assert (spec_dir / "logo-32x32.png").read_bytes().startswith(b"\x89PNG")
    assert (spec_dir / "logo-64x64.png").read_bytes().startswith(b"\x89PNG")
    env = dict(os.environ, JUPYTER_PATH=str(tmp_path / "share" / "jupyter"))
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    specs = json.loads(listed.stdout)["kernelspecs"]
    assert specs["elastic"]["spec"]["display_name"] == "Python 3 (Elastic)"


def test_install_user_with_custom_name(tmp_path: Path) -> None:
    env = dict(os.environ, JUPYTER_DATA_DIR=str(tmp_path / "data"))
    out = run_install("--user", "--name", "elastic-x", "--display-name", "Elastic X", env=env)
    assert "elastic-x" in out.stdout
    spec = json.loads((tmp_path / "data" / "kernels" / "elastic-x" / "kernel.json").read_text())
    assert spec["display_name"] == "Elastic X"


def test_install_rejects_two_destinations(tmp_path: Path) -> None:
    with pytest.raises(subprocess.CalledProcessError) as info:
        run_install("--user", "--prefix", str(tmp_path))
    assert "not allowed with argument" in info.value.stderr


def test_kernel_json_template_runs_module() -> None:
    from elastic_kernel.install import kernelspec_resources

    template = json.loads((kernelspec_resources() / "kernel.json").read_text())
    assert template["argv"][1:] == ["-m", "elastic_kernel", "-f", "{connection_file}"]
