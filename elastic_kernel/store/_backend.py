"""Storage backends over fsspec: local disk (fsync + atomic rename) and object stores.

Every operation turns low-level failures into :class:`StoreError` messages that name the URL
and the cause (disk full, permission denied, unreachable), except a missing file, which the
caller turns into the error that fits (no checkpoint, missing blob).
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, Protocol, cast

import fsspec
from fsspec.implementations.local import LocalFileSystem

from elastic_kernel.errors import StoreError

__all__ = ["TEMP_PREFIX", "Backend", "open_backend", "store_errors"]

TEMP_PREFIX = ".tmp-"
"""Names of files being written; never referenced by a manifest, removed by gc when stale."""

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


def _network_error_types() -> tuple[type[BaseException], ...]:
    """Connection failures of the object-store clients that are already imported."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    botocore_exc = sys.modules.get("botocore.exceptions")
    if botocore_exc is not None:
        found.append(botocore_exc.BotoCoreError)
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        found.append(aiohttp.ClientError)
    return tuple(found)


@contextlib.contextmanager
def store_errors(action: str, url: str) -> Iterator[None]:
    """Translate OS and client errors raised inside the block into :class:`StoreError`.

    ``FileNotFoundError`` passes through: only the caller knows what a missing file means.
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in _FULL_ERRNOS:
            raise StoreError(
                f"disk full while {action} {url}: free some space, run `elastic-kernel gc`, "
                "or point ELASTIC_STORE at a larger store; earlier checkpoints are intact"
            ) from exc
        if isinstance(exc, PermissionError) or exc.errno in _PERMISSION_ERRNOS:
            raise StoreError(
                f"permission denied while {action} {url} ({exc.strerror or exc}): check the "
                "store's ownership and mode, or use another store"
            ) from exc
        if isinstance(exc, ConnectionError | TimeoutError):
            raise StoreError(f"store unreachable while {action} {url}: {exc}") from exc
        raise StoreError(f"I/O error while {action} {url}: {exc}") from exc
    except _network_error_types() as exc:
        raise StoreError(
            f"store unreachable while {action} {url}: {type(exc).__name__}: {exc}; check the "
            "URL, the network and the credentials"
        ) from exc


class Backend(Protocol):
    """The file operations the checkpoint store needs; paths are ``/``-separated."""

    root: str
    concurrency: int
    """How many blobs may be written at once (object stores hide latency with several)."""

    def url(self, path: str) -> str:
        """The URL of ``path``, for messages and references."""
        ...

    def exists(self, path: str) -> bool:
        """Whether a file exists."""
        ...

    def size(self, path: str) -> int | None:
        """Size of a file in bytes, ``None`` when missing."""
        ...

    def mtime(self, path: str) -> float | None:
        """Modification time (epoch seconds) of a file, ``None`` when unknown."""
        ...

    def list_names(self, path: str) -> list[str]:
        """Names of the entries of a directory (empty when missing)."""
        ...

    def list_sizes(self, path: str) -> dict[str, int]:
        """Name to size of the files of a directory, in one listing (empty when missing)."""
        ...

    def open_read(self, path: str) -> IO[bytes]:
        """A binary reader."""
        ...

    def write_blob(self, path: str, chunks: Iterable[bytes | memoryview]) -> None:
        """Write a file that appears whole at ``path`` or not at all."""
        ...

    def write_atomic(self, path: str, data: bytes) -> None:
        """Write a small file (a manifest) that appears whole at ``path`` or not at all."""
        ...

    def flush_dir(self, path: str) -> None:
        """Make renames inside a directory durable (a no-op where that means nothing)."""
        ...

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Blobs written inside the block may appear only when it ends, all together (a disk
        then syncs them in one go); none of them appears if the block raises."""
        ...

    def remove(self, path: str) -> None:
        """Delete a file; a missing file is not an error."""
        ...

    def remove_tree(self, path: str) -> None:
        """Delete a directory and its content; a missing directory is not an error."""
        ...


class _FsspecBackend:
    """Any fsspec file system; relies on the store's atomic object PUT (S3, GCS, memory)."""

    concurrency = 8

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/") or "/"
        self._made_dirs: set[str] = set()

    def url(self, path: str) -> str:
        return str(self.fs.unstrip_protocol(path))

    def exists(self, path: str) -> bool:
        with store_errors("checking", self.url(path)):
            return bool(self.fs.exists(path))

    def size(self, path: str) -> int | None:
        with store_errors("reading the size of", self.url(path)):
            try:
                return int(self.fs.size(path))
            except FileNotFoundError:
                return None

    def mtime(self, path: str) -> float | None:
        with store_errors("reading the time of", self.url(path)):
            try:
                return float(self.fs.modified(path).timestamp())
            except (NotImplementedError, FileNotFoundError, AttributeError):
                return None

    def list_names(self, path: str) -> list[str]:
        with store_errors("listing", self.url(path)):
            self.fs.invalidate_cache(path)
            try:
                entries = self.fs.ls(path, detail=False)
            except FileNotFoundError:
                return []
        names = {posixpath.basename(str(e).rstrip("/")) for e in entries}
        names.discard(posixpath.basename(path.rstrip("/")))
        return sorted(n for n in names if n)

    def list_sizes(self, path: str) -> dict[str, int]:
        with store_errors("listing", self.url(path)):
            self.fs.invalidate_cache(path)
            try:
                entries = self.fs.ls(path, detail=True)
            except FileNotFoundError:
                return {}
        return {
            posixpath.basename(str(e["name"]).rstrip("/")): int(e.get("size") or 0)
            for e in entries
            if e.get("type") == "file"
        }

    def open_read(self, path: str) -> IO[bytes]:
        with store_errors("opening", self.url(path)):
            return cast("IO[bytes]", self.fs.open(path, "rb"))

    def _makedirs(self, directory: str) -> None:
        if directory not in self._made_dirs:
            self.fs.makedirs(directory, exist_ok=True)
            self._made_dirs.add(directory)

    def write_blob(self, path: str, chunks: Iterable[bytes | memoryview]) -> None:
        with store_errors("writing", self.url(path)):
            self._makedirs(posixpath.dirname(path))
            try:
                with self.fs.open(path, "wb") as file:
                    for chunk in chunks:
                        file.write(chunk)
            except BaseException:
                # Object stores publish nothing on a failed upload, but file-like stores may
                # keep a partial file, which content addressing would later take as whole.
                with contextlib.suppress(Exception):
                    self.fs.rm_file(path)
                raise

    def write_atomic(self, path: str, data: bytes) -> None:
        self.write_blob(path, (data,))

    def flush_dir(self, path: str) -> None:
        return None

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def remove(self, path: str) -> None:
        with store_errors("deleting", self.url(path)):
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(path)

    def remove_tree(self, path: str) -> None:
        with store_errors("deleting", self.url(path)):
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(path, recursive=True)


SYNC_THREADS = 16
"""Concurrent fsyncs when a batch of blobs is committed."""
FILE_MODE = 0o664
DIR_MODE = 0o775


def _makedirs_private(directory: str) -> None:
    """``os.makedirs`` whose every new level is at most ``DIR_MODE`` (never o+w)."""
    missing: list[str] = []
    current = os.path.abspath(directory)
    while current and not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for level in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(level, DIR_MODE)


class _LocalBackend(_FsspecBackend):
    """Local disk: write to a temporary name, fsync, then rename over the final name.

    Without ``fsync`` the rename still makes every file appear whole, which is enough to
    survive the death of the process; the syncs add survival of a power loss or OS crash.
    """

    # One writer: the disk is the bottleneck and parallel writes would only interleave.
    concurrency = 1

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, *, fsync: bool) -> None:
        super().__init__(fs, root)
        self._fsync = fsync
        # (temporary, final) paths written inside ``batch``, synced and renamed at its end.
        self._pending: list[tuple[str, str]] | None = None

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        if not self._fsync or self._pending is not None:
            yield
            return
        self._pending = []
        try:
            yield
            self._commit(self._pending)
            self._pending = []
        finally:
            leftovers, self._pending = self._pending, None
            for temp, _ in leftovers:
                with contextlib.suppress(OSError):
                    os.unlink(temp)

    def _commit(self, pending: list[tuple[str, str]]) -> None:
        """Sync every pending file, then rename each over its final name: a blob never
        appears before its content is durable. Syncs run concurrently, so the file system
        commits its journal a few times instead of once per file."""
        if len(pending) > 1:
            with ThreadPoolExecutor(min(SYNC_THREADS, len(pending))) as pool:
                list(pool.map(_sync_path, [temp for temp, _ in pending]))
        elif pending:
            _sync_path(pending[0][0])
        for temp, path in pending:
            with store_errors("writing", path):
                os.replace(temp, path)

    def url(self, path: str) -> str:
        return path

    def open_read(self, path: str) -> IO[bytes]:
        with store_errors("opening", path):
            return open(path, "rb", buffering=0)  # the caller closes it

    def write_blob(self, path: str, chunks: Iterable[bytes | memoryview]) -> None:
        directory, name = os.path.split(path)
        temp = os.path.join(directory, f"{TEMP_PREFIX}{secrets.token_hex(4)}-{name}")
        with store_errors("writing", path):
            _makedirs_private(directory)
            try:
                # Never world-writable, whatever the umask (a checkpoint is code to load).
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
                with open(fd, "wb", buffering=0) as file:
                    for chunk in chunks:
                        view = memoryview(chunk)
                        # A raw file may write less than asked; loop until the chunk is out.
                        while view.nbytes:
                            written = file.write(view)
                            view = view[written:]
                    if self._pending is not None:
                        self._pending.append((temp, path))
                        return
                    if self._fsync:
                        os.fsync(file.fileno())
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise

    def write_atomic(self, path: str, data: bytes) -> None:
        self.write_blob(path, (data,))
        self.flush_dir(os.path.dirname(path))

    def flush_dir(self, path: str) -> None:
        if self._fsync:
            _sync_path(path)


def _sync_path(path: str) -> None:
    """fsync a file or a directory by its path."""
    with store_errors("syncing", path):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def open_backend(
    url: str, storage_options: Mapping[str, Any] | None = None, *, fsync: bool = True
) -> Backend:
    """Open the store at ``url`` (a path or any fsspec URL).

    ``fsync`` (local disk only) syncs every file and directory before a manifest is published.

    Raises
    ------
    StoreError
        When the URL's protocol is unknown or its client library is not installed.
    """
    try:
        fs, root = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except (ValueError, ImportError) as exc:
        raise StoreError(
            f"cannot open the store {url!r}: {exc} (install the fsspec backend, e.g. "
            "`pip install s3fs` for s3://)"
        ) from exc
    if isinstance(fs, LocalFileSystem):
        return _LocalBackend(fs, os.path.abspath(root), fsync=fsync)
    return _FsspecBackend(fs, root)
