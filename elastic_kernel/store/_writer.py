"""Writing a checkpoint's blobs: hash, compress when it pays, stream to the store in chunks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import xxhash

from ._backend import Backend
from ._compress import COMPRESSION_ZSTD, iter_chunks, iter_compressed, should_compress
from ._layout import blob_path
from ._manifest import BlobRef, GroupRecord
from ._serialize import SerializedGroup

__all__ = ["GroupSpec", "ProgressEvent", "checksum_of", "write_group"]


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A linked group of variables to store.

    Parameters
    ----------
    names
        The variable names (the group's identity for incremental reuse).
    values
        Name to value; pickled in one call so shared references survive.
    fingerprint
        A digest of the group's values computed by the caller; when it equals the fingerprint
        of the same names in the previous checkpoint, the stored blobs are reused unread.
    """

    names: tuple[str, ...]
    values: Mapping[str, object]
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Progress of a checkpoint write.

    ``stage`` is ``"serialize"`` (group ``group`` is being pickled), ``"write"`` (bytes are
    going out), ``"reuse"`` (group ``group`` reused from the previous checkpoint),
    ``"manifest"`` or ``"done"``. ``done_bytes``/``total_bytes`` count the current group's raw
    bytes for ``write``, and the whole checkpoint for ``done``.
    """

    stage: str
    group: int | None
    done_bytes: int
    total_bytes: int


ProgressCallback = Callable[[ProgressEvent], None]


def checksum_of(data: memoryview) -> str:
    """xxh3-128 hex digest of ``data``, fed in cache-sized chunks."""
    hasher = xxhash.xxh3_128()
    for chunk in iter_chunks(data, 4 << 20):
        hasher.update(chunk)
    return hasher.hexdigest()


def _flat(data: memoryview) -> memoryview:
    if data.ndim == 1 and data.format == "B":
        return data
    return data.cast("B")


def _counted(chunks: Iterable[memoryview], report: Callable[[int], None]) -> Iterator[memoryview]:
    for chunk in chunks:
        yield chunk
        report(chunk.nbytes)


def _put_blob(
    backend: Backend,
    blobs_dir: str,
    data: memoryview,
    existing: Mapping[str, int],
    report: Callable[[int], None],
) -> BlobRef:
    """Store one blob unless the same content is already there (content addressing).

    ``existing`` maps the blobs already in the store to their sizes (one listing per
    checkpoint instead of one request per blob).
    """
    data = _flat(data)
    checksum = checksum_of(data)
    path = blob_path(blobs_dir, checksum)
    compress = should_compress(data)
    # Blobs appear atomically (rename / object PUT), so an existing blob is a complete one.
    if checksum in existing:
        report(data.nbytes)
        compression = COMPRESSION_ZSTD if compress else None
        return BlobRef(checksum, data.nbytes, existing[checksum], compression)
    if not compress:
        backend.write_blob(path, _counted(iter_chunks(data), report))
        return BlobRef(checksum, data.nbytes, data.nbytes, None)
    stored = 0

    def compressed() -> Iterator[bytes]:
        nonlocal stored
        for chunk in iter_compressed(data):
            stored += len(chunk)
            yield chunk

    backend.write_blob(path, compressed())
    report(data.nbytes)
    return BlobRef(checksum, data.nbytes, stored, COMPRESSION_ZSTD)


def write_group(
    backend: Backend,
    blobs_dir: str,
    serialized: SerializedGroup,
    *,
    existing: Mapping[str, int],
    fingerprint: str | None,
    index: int,
    progress: ProgressCallback | None,
) -> GroupRecord:
    """Write a serialized group's stream and buffers as blobs and describe them.

    On backends that allow it, blobs are uploaded concurrently to hide request latency.
    """
    total = serialized.nbytes
    done = 0
    lock = threading.Lock()

    def report(n: int) -> None:
        nonlocal done
        with lock:
            done += n
            current = min(done, total)
        if progress is not None:
            progress(ProgressEvent("write", index, current, total))

    views = (serialized.stream, *serialized.buffers)

    def put(view: memoryview) -> BlobRef:
        return _put_blob(backend, blobs_dir, view, existing, report)

    if backend.concurrency > 1 and len(views) > 1:
        with ThreadPoolExecutor(min(backend.concurrency, len(views))) as pool:
            blobs = list(pool.map(put, views))
    else:
        blobs = [put(view) for view in views]
    return GroupRecord(
        names=serialized.names,
        fingerprint=fingerprint,
        pickler=serialized.pickler,
        stream=blobs[0],
        buffers=tuple(blobs[1:]),
    )
