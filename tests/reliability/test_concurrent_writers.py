"""Two writers on one session key (a notebook open in two kernels, or an autosave child of the
previous process still writing after a restart): neither may destroy the other's checkpoint."""

from __future__ import annotations

import posixpath
from collections import Counter
from pathlib import Path

import numpy as np

from elastic_kernel.store import CheckpointStore, GroupSpec


def test_prune_spares_a_checkpoint_being_written(tmp_path: Path, tally: Counter[str]) -> None:
    from elastic_kernel.store._manifest import new_checkpoint_id

    tally["concurrency cases tried"] += 1
    store = CheckpointStore(str(tmp_path), key=b"k" * 32)
    store.write_checkpoint("s", [GroupSpec(("x",), {"x": 1}, None)], {})
    # Writer A, caught between creating its manifest's temporary file and renaming it.
    in_progress = tmp_path / "s" / new_checkpoint_id()
    in_progress.mkdir()
    (in_progress / ".tmp-0000-manifest.json").write_text("{}")
    other = CheckpointStore(str(tmp_path), key=b"k" * 32)
    other.write_checkpoint("s", [GroupSpec(("y",), {"y": np.zeros(10)}, None)], {})
    assert in_progress.is_dir(), f"{posixpath.basename(in_progress)} was deleted mid-write"
