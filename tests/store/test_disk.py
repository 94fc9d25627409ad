"""A full disk and a store without write permission give StoreError; earlier checkpoints stay."""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
import xxhash
from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

from elastic_kernel.errors import StoreError
from elastic_kernel.store import CheckpointStore, GroupSpec

from .helpers import assert_simple, simple_groups


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs mounted for the test (needs root and mount permission)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_disk_full(small_disk: Path, key: bytes) -> None:
    store = CheckpointStore(str(small_disk / "store"), key=key)
    old = store.write_checkpoint("nb", simple_groups(50), {})
    noise = np.random.default_rng(51).random(1_000_000)  # 8 MB on a 4 MB disk
    with pytest.raises(StoreError, match="disk full while writing") as info:
        store.write_checkpoint("nb", [GroupSpec(("noise",), {"noise": noise})], {})
    assert str(small_disk / "store" / "nb" / "blobs") in str(info.value)
    latest = store.latest("nb")
    assert latest is not None and latest.checkpoint_id == old.checkpoint_id
    assert_simple(store, store.open(latest), 50)
    leftovers = [p.name for p in (small_disk / "store" / "nb" / "blobs").iterdir()]
    assert not [name for name in leftovers if name.startswith(".tmp-")]


def _write_as_other_user(store_dir: Path, key: bytes) -> str:
    """Try a checkpoint in a forked child that dropped root (root ignores file modes).

    Returns the StoreError message the child got, or a description of what went wrong.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no exec, so the interpreter and imports stay usable
        code = 1
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            store = CheckpointStore(str(store_dir), key=key)
            try:
                store.write_checkpoint("nb", [GroupSpec(("x",), {"x": [1, 2, 3]})], {})
                message = "no error"
            except StoreError as exc:
                message = str(exc)
            os.write(write_end, message.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, message
    return message


def test_permission_denied(key: bytes) -> None:
    # Outside pytest's private (mode 0700) tmp dir, so the unprivileged child can reach it.
    with tempfile.TemporaryDirectory(prefix="elastic-perm-") as tmp:
        os.chmod(tmp, 0o755)
        store_dir = Path(tmp) / "store"
        store = CheckpointStore(str(store_dir), key=key)
        old = store.write_checkpoint("nb", simple_groups(52), {})
        for path in (store_dir, store_dir / "nb", store_dir / "nb" / "blobs"):
            os.chmod(path, 0o555)
        try:
            if os.geteuid() == 0:
                message = _write_as_other_user(store_dir, key)
            else:
                with pytest.raises(StoreError) as info:
                    store.write_checkpoint("nb", [GroupSpec(("x",), {"x": [1, 2, 3]})], {})
                message = str(info.value)
        finally:
            for path in (store_dir, store_dir / "nb", store_dir / "nb" / "blobs"):
                os.chmod(path, 0o755)
        assert "permission denied while writing" in message
        assert str(store_dir / "nb" / "blobs") in message
        latest = store.latest("nb")
        assert latest is not None and latest.checkpoint_id == old.checkpoint_id
        assert_simple(store, store.open(latest), 52)


class _QuotaFile(MemoryFile):  # type: ignore[misc]  # fsspec ships no stubs
    """A memory file that fails like a full disk once its file system exceeds the quota."""

    def write(self, data: Any) -> int:
        fs = self.fs
        used = sum(f.getbuffer().nbytes for f in fs.store.values() if f is not self)
        if used + self.tell() + memoryview(data).nbytes > fs.quota:
            raise OSError(errno.ENOSPC, "No space left on device", self.path)
        return int(super().write(data))


class QuotaMemoryFileSystem(MemoryFileSystem):  # type: ignore[misc]  # fsspec has no stubs
    """``quotamem://``: an in-memory file system with a 2 MB capacity."""

    protocol = "quotamem"
    store: dict[str, Any] = {}
    pseudo_dirs = [""]
    quota = 2_000_000

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode in {"wb", "xb"}:
            path = self._strip_protocol(path)
            file = _QuotaFile(self, path)
            file.commit()
            return file
        return super()._open(path, mode, **kwargs)


def test_disk_full_on_size_limited_filesystem(key: bytes) -> None:
    # Runs everywhere, also where tmpfs cannot be mounted, and covers fsspec backends.
    fsspec.register_implementation("quotamem", QuotaMemoryFileSystem, clobber=True)
    QuotaMemoryFileSystem.store.clear()
    store = CheckpointStore("quotamem://store", key=key)
    old = store.write_checkpoint("nb", simple_groups(53), {})
    noise = np.random.default_rng(54).random(500_000)  # 4 MB on a 2 MB file system
    with pytest.raises(StoreError, match=r"disk full while writing quotamem://.*store/nb/blobs/"):
        store.write_checkpoint("nb", [GroupSpec(("noise",), {"noise": noise})], {})
    latest = store.latest("nb")
    assert latest is not None and latest.checkpoint_id == old.checkpoint_id
    assert_simple(store, store.open(latest), 53)
    # No partial blob is left under the name of the one that failed.
    blobs_dir = f"{store.backend.root}/nb/blobs"
    assert xxhash.xxh3_128(noise.tobytes()).hexdigest() not in store.backend.list_names(blobs_dir)
