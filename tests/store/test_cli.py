"""``elastic-kernel list|inspect|verify|gc`` run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from elastic_kernel.store import CheckpointStore, Manifest, load_or_create_key

from .helpers import simple_groups


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elastic_kernel.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "data")
    env["ELASTIC_STORE"] = str(tmp_path / "store")
    env["COLUMNS"] = "250"  # rich would otherwise wrap tables at 80 columns
    return env


@pytest.fixture
def cli_store(cli_env: dict[str, str]) -> CheckpointStore:
    key = load_or_create_key(Path(cli_env["JUPYTER_DATA_DIR"]) / "elastic" / "secret.key")
    return CheckpointStore(cli_env["ELASTIC_STORE"], key=key)


def _write(store: CheckpointStore, seed: int) -> Manifest:
    return store.write_checkpoint(
        "notebook", simple_groups(seed), {"plan": {"store": ["arr", "view"], "rerun": [3]}}
    )


def test_list(cli_env: dict[str, str], cli_store: CheckpointStore) -> None:
    first = _write(cli_store, 60)
    second = _write(cli_store, 61)
    result = run_cli(cli_env, "list")
    assert result.returncode == 0, result.stderr
    assert "notebook" in result.stdout
    assert first.checkpoint_id in result.stdout and second.checkpoint_id in result.stdout
    assert cli_env["ELASTIC_STORE"] in result.stdout


def test_list_other_store(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(cli_env, "list", "--store", str(tmp_path / "elsewhere"))
    assert result.returncode == 0, result.stderr
    assert "elsewhere" in result.stdout


def test_inspect(cli_env: dict[str, str], cli_store: CheckpointStore) -> None:
    manifest = _write(cli_store, 62)
    for target in (manifest.url, f"notebook/{manifest.checkpoint_id}", "notebook"):
        result = run_cli(cli_env, "inspect", target)
        assert result.returncode == 0, result.stderr
        assert manifest.checkpoint_id in result.stdout
        assert "arr, view" in result.stdout and "items" in result.stdout
        assert '"rerun"' in result.stdout and "numpy" in result.stdout


def test_verify_ok_then_bad(cli_env: dict[str, str], cli_store: CheckpointStore) -> None:
    manifest = _write(cli_store, 63)
    result = run_cli(cli_env, "verify", manifest.url)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    blob = Path(manifest.url).parent / "blobs" / manifest.groups[0].buffers[0].checksum
    data = bytearray(blob.read_bytes())
    data[100] ^= 1
    blob.write_bytes(bytes(data))
    result = run_cli(cli_env, "verify", manifest.url)
    assert result.returncode == 1
    assert "BAD" in result.stdout and "fails its checksum" in result.stdout


def test_verify_signature_and_trust(cli_env: dict[str, str], cli_store: CheckpointStore) -> None:
    manifest = _write(cli_store, 64)
    path = Path(manifest.url) / "manifest.json"
    body = json.loads(path.read_text())
    del body["signature"]
    path.write_text(json.dumps(body))
    result = run_cli(cli_env, "verify", manifest.url)
    assert result.returncode == 1
    assert "SignatureError" in result.stderr and "--trust" in result.stderr
    assert run_cli(cli_env, "verify", "--trust", manifest.url).returncode == 0


def test_verify_missing(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(cli_env, "verify", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "CheckpointNotFound" in result.stderr


def test_gc(cli_env: dict[str, str], cli_store: CheckpointStore) -> None:
    manifests = [_write(cli_store, seed) for seed in (65, 66, 67)]
    result = run_cli(cli_env, "gc", "--keep", "1", "--min-age", "0")
    assert result.returncode == 0, result.stderr
    assert "2 checkpoints" in result.stdout
    remaining = [r.checkpoint_id for r in cli_store.list_checkpoints("notebook")]
    assert remaining == [manifests[-1].checkpoint_id]


def test_console_script(cli_env: dict[str, str]) -> None:
    script = Path(sys.executable).parent / "elastic-kernel"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    result = subprocess.run(
        [str(script), "list"], capture_output=True, text=True, env=cli_env, check=False
    )
    assert result.returncode == 0, result.stderr
