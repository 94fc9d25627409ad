"""Reading checkpoints: the manifest (format, signature), blobs (size, checksum), groups."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import xxhash
import zstandard

from elastic_kernel.errors import CheckpointNotFound, CorruptCheckpoint, ElasticError

from ._backend import Backend, store_errors
from ._compress import CHUNK_SIZE, COMPRESSION_ZSTD, read_blob_into
from ._layout import blob_path, blobs_dir_of, manifest_path
from ._manifest import Manifest, check_format_version, manifest_from_json
from ._serialize import SerializedGroup, deserialize_group
from ._signing import verify_signature

__all__ = [
    "VerifyReport",
    "load_group",
    "read_group",
    "read_manifest",
    "read_manifest_body",
    "verify_blobs",
]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Result of checking every blob of a checkpoint against its manifest.

    ``problems`` lists one message per missing, truncated or corrupted blob; empty means the
    checkpoint is intact (the manifest's signature was already checked when it was opened).
    """

    url: str
    checkpoint_id: str
    blobs_checked: int
    bytes_checked: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when no blob has a problem."""
        return not self.problems


def read_manifest_body(backend: Backend, ckpt_dir: str) -> dict[str, Any]:
    """The manifest's JSON as written, without any check but that it parses.

    Raises
    ------
    CheckpointNotFound
        When there is no manifest (not a checkpoint, or its write never finished).
    CorruptCheckpoint
        When the manifest is not a JSON object.
    """
    path = manifest_path(ckpt_dir)
    url = backend.url(path)
    try:
        with store_errors("reading", url), backend.open_read(path) as file:
            data = file.read()
    except FileNotFoundError as exc:
        raise CheckpointNotFound(
            f"{url}: no manifest.json here, so this is not a checkpoint or its write did not "
            "finish; run `elastic-kernel list` to see the complete checkpoints"
        ) from exc
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptCheckpoint(
            f"{url}: the manifest is not valid JSON ({exc}); it is truncated or damaged, "
            "restore an older checkpoint"
        ) from exc
    if not isinstance(body, dict):
        raise CorruptCheckpoint(f"{url}: the manifest is not a JSON object")
    return body


def read_manifest(backend: Backend, ckpt_dir: str, key: bytes, *, trust: bool) -> Manifest:
    """Read, version-check and signature-check a manifest.

    Raises
    ------
    CheckpointNotFound, CorruptCheckpoint, FormatVersionError, SignatureError
        As named; each message starts with the manifest's URL.
    """
    body = read_manifest_body(backend, ckpt_dir)
    url = backend.url(manifest_path(ckpt_dir))
    check_format_version(body, url)
    verify_signature(body, key, url, trust=trust)
    return manifest_from_json(body, backend.url(ckpt_dir))


def _check_blob_size(backend: Backend, path: str, expected: int, where: str) -> None:
    actual = backend.size(path)
    if actual is None:
        raise CorruptCheckpoint(
            f"blob {backend.url(path)} of checkpoint {where} is missing (deleted by hand or by "
            "a gc that raced with a write?); restore an older checkpoint"
        )
    if actual != expected:
        kind = "truncated" if actual < expected else "longer than recorded"
        raise CorruptCheckpoint(
            f"blob {backend.url(path)} of checkpoint {where} is {kind}: {actual} bytes, "
            f"manifest says {expected}; restore an older checkpoint"
        )


def _read_blob(
    backend: Backend,
    blobs_dir: str,
    checksum: str,
    size: int,
    stored_size: int,
    compression: str | None,
    where: str,
) -> memoryview:
    path = blob_path(blobs_dir, checksum)
    url = backend.url(path)
    _check_blob_size(backend, path, stored_size, where)
    # np.empty, not bytearray: no zero-filling pass over memory the read overwrites anyway.
    target = memoryview(np.empty(size, dtype=np.uint8))  # type: ignore[arg-type]  # numpy stubs lack Buffer
    try:
        with store_errors("reading", url), backend.open_read(path) as file:
            filled = read_blob_into(file, target, compressed=compression == COMPRESSION_ZSTD)
    except FileNotFoundError as exc:
        raise CorruptCheckpoint(f"blob {url} of checkpoint {where} vanished while read") from exc
    except zstandard.ZstdError as exc:
        raise CorruptCheckpoint(
            f"blob {url} of checkpoint {where} does not decompress ({exc}): damaged"
        ) from exc
    if filled != size or xxhash.xxh3_128(target).hexdigest() != checksum:
        raise CorruptCheckpoint(
            f"blob {url} of checkpoint {where} fails its checksum (xxh3-128 {checksum}): its "
            "content changed on disk (flipped bytes?); restore an older checkpoint"
        )
    return target


def read_group(backend: Backend, manifest: Manifest, ckpt_dir: str, index: int) -> SerializedGroup:
    """Read and check the blobs of group ``index`` (no unpickling: safe on any thread, and
    reading, decompressing and hashing release the GIL).

    Raises
    ------
    CorruptCheckpoint
        When a blob is missing, truncated or fails its checksum (naming blob and checkpoint).
    """
    group = manifest.groups[index]
    blobs_dir = blobs_dir_of(ckpt_dir)
    where = manifest.url
    views = [
        _read_blob(backend, blobs_dir, b.checksum, b.size, b.stored_size, b.compression, where)
        for b in group.blobs
    ]
    return SerializedGroup(
        names=group.names, stream=views[0], buffers=tuple(views[1:]), pickler=group.pickler
    )


def load_group(
    backend: Backend, manifest: Manifest, ckpt_dir: str, index: int
) -> dict[str, object]:
    """Read, check and unpickle group ``index`` of a manifest.

    Raises
    ------
    CorruptCheckpoint
        When a blob is missing, truncated or fails its checksum (naming blob and checkpoint).
    SerializationError
        When the verified pickle cannot be loaded here (missing module...).
    """
    return deserialize_group(read_group(backend, manifest, ckpt_dir, index))


def _hash_blob(backend: Backend, path: str, compression: str | None) -> tuple[str, int]:
    """Stream a blob through xxh3-128 (decompressing it) with a bounded buffer."""
    hasher = xxhash.xxh3_128()
    total = 0
    with store_errors("reading", backend.url(path)), backend.open_read(path) as file:
        reader = (
            zstandard.ZstdDecompressor().stream_reader(file, read_across_frames=True)
            if compression == COMPRESSION_ZSTD
            else file
        )
        while chunk := reader.read(CHUNK_SIZE):
            hasher.update(chunk)
            total += len(chunk)
    return hasher.hexdigest(), total


def verify_blobs(backend: Backend, manifest: Manifest, ckpt_dir: str) -> VerifyReport:
    """Check every blob of a checkpoint (presence, size, checksum) without unpickling."""
    blobs_dir = blobs_dir_of(ckpt_dir)
    problems: list[str] = []
    seen: set[str] = set()
    checked = 0
    for group in manifest.groups:
        for blob in group.blobs:
            if blob.checksum in seen:
                continue
            seen.add(blob.checksum)
            path = blob_path(blobs_dir, blob.checksum)
            try:
                _check_blob_size(backend, path, blob.stored_size, manifest.url)
                digest, size = _hash_blob(backend, path, blob.compression)
            except (ElasticError, zstandard.ZstdError, FileNotFoundError) as exc:
                problems.append(str(exc))
                continue
            checked += size
            if digest != blob.checksum or size != blob.size:
                problems.append(
                    f"blob {backend.url(path)} (group {', '.join(group.names)}) fails its "
                    f"checksum: content changed on disk (flipped bytes?)"
                )
    return VerifyReport(manifest.url, manifest.checkpoint_id, len(seen), checked, tuple(problems))
