"""Blobs written in a batch on local disk appear together, synced, when the batch ends; a batch
that fails leaves neither blobs nor temporary files behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from elastic_kernel.store._backend import TEMP_PREFIX, open_backend


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_blobs_appear_when_the_batch_ends(tmp_path: Path) -> None:
    backend = open_backend(str(tmp_path), fsync=True)
    with backend.batch():
        for name in ("a", "b", "c"):
            backend.write_blob(str(tmp_path / "blobs" / name), (name.encode() * 10,))
        # Written but not yet synced: nothing is visible under its final name.
        assert not (tmp_path / "blobs" / "a").exists()
        assert all(Path(f).name.startswith(TEMP_PREFIX) for f in files_under(tmp_path))
    assert files_under(tmp_path) == ["blobs/a", "blobs/b", "blobs/c"]
    assert (tmp_path / "blobs" / "b").read_bytes() == b"b" * 10


def test_a_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    backend = open_backend(str(tmp_path), fsync=True)
    with pytest.raises(RuntimeError), backend.batch():
        backend.write_blob(str(tmp_path / "blobs" / "a"), (b"data",))
        raise RuntimeError("serializing the next group failed")
    assert files_under(tmp_path) == []
    assert os.listdir(tmp_path / "blobs") == []


def test_without_fsync_blobs_appear_at_once(tmp_path: Path) -> None:
    # Autosave writes without syncs (surviving the process is enough): no batching needed.
    backend = open_backend(str(tmp_path), fsync=False)
    with backend.batch():
        backend.write_blob(str(tmp_path / "x"), (b"1",))
        assert (tmp_path / "x").read_bytes() == b"1"
