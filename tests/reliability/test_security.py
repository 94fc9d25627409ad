"""File modes: the signing key is 0600 and no checkpoint file is ever group/world-writable,
even under a permissive umask."""

from __future__ import annotations

import stat
from collections import Counter
from pathlib import Path

import pytest

from elastic_kernel.config import default_key_path
from tests.reliability.helpers import Kernel, checkpoint_url


@pytest.mark.slow
def test_key_is_private_and_checkpoints_never_world_writable(
    store_dir: Path, tally: Counter[str]
) -> None:
    # umask 000: whatever the user's umask allows, world-writable checkpoint files never are.
    kernel = Kernel.start(store_dir, "secure", ELASTIC_AUTOSAVE="off")
    try:
        kernel.ok("import os\nos.umask(0)\nrows = [{'i': i} for i in range(100)]")
        url = Path(checkpoint_url(kernel.ok("%checkpoint --mode store-all")))
    finally:
        kernel.stop()
    key = default_key_path()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600, oct(key.stat().st_mode)
    paths = [path for path in store_dir.rglob("*") if path != store_dir]
    writable = [
        f"{path.relative_to(store_dir)} {oct(stat.S_IMODE(path.stat().st_mode))}"
        for path in paths
        if stat.S_IMODE(path.stat().st_mode) & stat.S_IWOTH
    ]
    assert not writable, f"world-writable under umask 000: {writable}"
    checked = len(paths)
    assert (url / "manifest.json").exists() and checked > 3
    tally["security: files checked for modes"] += checked
