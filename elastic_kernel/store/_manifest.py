"""The manifest: what one checkpoint holds, and its JSON form (the only place dicts appear)."""

from __future__ import annotations

import functools
import json
import platform
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from typing import Any

from elastic_kernel.errors import CorruptCheckpoint, FormatVersionError

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "BlobRef",
    "GroupRecord",
    "Manifest",
    "VersionMismatch",
    "canonical_bytes",
    "check_format_version",
    "collect_versions",
    "compare_versions",
    "is_checkpoint_id",
    "manifest_from_json",
    "manifest_to_json",
    "new_checkpoint_id",
]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SIGNATURE_FIELD = "signature"

# Distributions whose version decides whether pickles load the same way; read from package
# metadata, so nothing gets imported just to learn its version.
_TRACKED_DISTRIBUTIONS = (
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "pyarrow",
    "torch",
    "cloudpickle",
    "dill",
    "elastic_kernel",
)
_ID_RE = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}$")


@dataclass(frozen=True, slots=True)
class BlobRef:
    """One content-addressed blob: ``checksum`` (xxh3-128 hex of the raw bytes) names it."""

    checksum: str
    size: int
    stored_size: int
    compression: str | None


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A linked group of variables as stored: the pickle stream and its out-of-band buffers."""

    names: tuple[str, ...]
    fingerprint: str | None
    pickler: str
    stream: BlobRef
    buffers: tuple[BlobRef, ...]

    @property
    def blobs(self) -> tuple[BlobRef, ...]:
        """The stream blob followed by the buffer blobs."""
        return (self.stream, *self.buffers)

    @property
    def size(self) -> int:
        """Raw (uncompressed) bytes of the group."""
        return sum(b.size for b in self.blobs)

    @property
    def stored_size(self) -> int:
        """Bytes the group occupies in the store."""
        return sum(b.stored_size for b in self.blobs)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A checkpoint's manifest.

    Parameters
    ----------
    checkpoint_id
        Sorts by creation time (``20261126T003300.123456Z-1a2b3c``).
    session_key
        The session the checkpoint belongs to.
    created
        ISO 8601 UTC creation time.
    python
        ``major.minor.micro`` of the writer.
    packages
        Distribution name to version, for the packages installed in the writer.
    groups
        The stored linked groups.
    metadata
        Opaque JSON from the kernel (graph, plan, fingerprints, cells to re-run).
    url
        Where the checkpoint directory was read from or written to (not part of the file).
    format_version
        The manifest format.
    """

    checkpoint_id: str
    session_key: str
    created: str
    python: str
    packages: Mapping[str, str]
    groups: tuple[GroupRecord, ...]
    metadata: Mapping[str, Any]
    url: str = field(default="", compare=False)
    format_version: int = FORMAT_VERSION

    @property
    def size(self) -> int:
        """Raw bytes of all groups."""
        return sum(g.size for g in self.groups)

    @property
    def stored_size(self) -> int:
        """Stored bytes of all groups (shared blobs counted once per reference)."""
        return sum(g.stored_size for g in self.groups)


@dataclass(frozen=True, slots=True)
class VersionMismatch:
    """A package whose version differs between the writer of a checkpoint and this process."""

    name: str
    recorded: str
    installed: str | None

    def __str__(self) -> str:
        now = self.installed if self.installed is not None else "not installed"
        return f"{self.name} {self.recorded} (checkpoint) vs {now} (here)"


def new_checkpoint_id(now: datetime | None = None) -> str:
    """A fresh checkpoint id that sorts by creation time, then randomly among equals."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{moment:%Y%m%dT%H%M%S.%f}Z-{secrets.token_hex(3)}"


def is_checkpoint_id(name: str) -> bool:
    """Whether a directory name is a checkpoint id."""
    return _ID_RE.match(name) is not None


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    # Reading package metadata costs ~1 ms per package; installed versions rarely change
    # during a session, so they are read once per process.
    packages: dict[str, str] = {}
    for dist in _TRACKED_DISTRIBUTIONS:
        try:
            packages[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            continue
    return tuple(sorted(packages.items()))


def collect_versions() -> tuple[str, dict[str, str]]:
    """The running Python version and the versions of the tracked distributions."""
    return platform.python_version(), dict(_installed_versions())


def compare_versions(manifest: Manifest) -> list[VersionMismatch]:
    """Packages (and Python, by minor version) that differ from the checkpoint's writer."""
    python, packages = collect_versions()
    mismatches: list[VersionMismatch] = []
    if manifest.python.split(".")[:2] != python.split(".")[:2]:
        mismatches.append(VersionMismatch("python", manifest.python, python))
    for name, recorded in sorted(manifest.packages.items()):
        installed = packages.get(name)
        if installed != recorded:
            mismatches.append(VersionMismatch(name, recorded, installed))
    return mismatches


def canonical_bytes(body: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: sorted keys, no whitespace, ASCII, no NaN."""
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _blob_to_json(blob: BlobRef) -> dict[str, Any]:
    return {
        "checksum": blob.checksum,
        "size": blob.size,
        "stored_size": blob.stored_size,
        "compression": blob.compression,
    }


def manifest_to_json(manifest: Manifest) -> dict[str, Any]:
    """The unsigned JSON body of a manifest."""
    return {
        "format_version": manifest.format_version,
        "checkpoint_id": manifest.checkpoint_id,
        "session_key": manifest.session_key,
        "created": manifest.created,
        "python": manifest.python,
        "packages": dict(manifest.packages),
        "groups": [
            {
                "names": list(g.names),
                "fingerprint": g.fingerprint,
                "pickler": g.pickler,
                "stream": _blob_to_json(g.stream),
                "buffers": [_blob_to_json(b) for b in g.buffers],
            }
            for g in manifest.groups
        ],
        "metadata": manifest.metadata,
    }


def check_format_version(body: Mapping[str, Any], where: str) -> None:
    """Refuse manifests of any other format version, saying which way the mismatch goes."""
    version = body.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CorruptCheckpoint(f"{where}: manifest has no valid format_version ({version!r})")
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"{where}: written with checkpoint format {version}, newer than the format "
            f"{FORMAT_VERSION} this elastic_kernel reads; upgrade elastic_kernel to load it"
        )
    if version < FORMAT_VERSION:
        raise FormatVersionError(
            f"{where}: written with checkpoint format {version}, older than the format "
            f"{FORMAT_VERSION} this elastic_kernel reads; load it with the elastic_kernel "
            "release that wrote it, or re-run the notebook"
        )


def _blob_from_json(raw: Mapping[str, Any]) -> BlobRef:
    compression = raw["compression"]
    return BlobRef(
        checksum=str(raw["checksum"]),
        size=int(raw["size"]),
        stored_size=int(raw["stored_size"]),
        compression=None if compression is None else str(compression),
    )


def manifest_from_json(body: Mapping[str, Any], url: str) -> Manifest:
    """Build a :class:`Manifest` from a verified JSON body.

    Raises
    ------
    CorruptCheckpoint
        When a field is missing or has the wrong type.
    """
    try:
        groups = tuple(
            GroupRecord(
                names=tuple(str(n) for n in g["names"]),
                fingerprint=None if g["fingerprint"] is None else str(g["fingerprint"]),
                pickler=str(g["pickler"]),
                stream=_blob_from_json(g["stream"]),
                buffers=tuple(_blob_from_json(b) for b in g["buffers"]),
            )
            for g in body["groups"]
        )
        return Manifest(
            checkpoint_id=str(body["checkpoint_id"]),
            session_key=str(body["session_key"]),
            created=str(body["created"]),
            python=str(body["python"]),
            packages={str(k): str(v) for k, v in body["packages"].items()},
            groups=groups,
            metadata=dict(body["metadata"]),
            url=url,
            format_version=int(body["format_version"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptCheckpoint(
            f"{url}: manifest is malformed ({type(exc).__name__}: {exc}); the checkpoint "
            "cannot be used, restore an older one"
        ) from exc
