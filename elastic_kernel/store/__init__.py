"""Checkpoint store: grouped pickling, content-addressed blobs, signed manifests, fsspec backends.

A plain library: it never imports IPython/ipykernel and never reads environment variables.
"""

from __future__ import annotations

from ._backend import Backend
from ._checkpoint import DEFAULT_KEEP, CheckpointStore, PackageVersionWarning
from ._compress import should_compress
from ._gc import GcReport
from ._layout import CheckpointRef, safe_session_key
from ._manifest import (
    FORMAT_VERSION,
    BlobRef,
    GroupRecord,
    Manifest,
    VersionMismatch,
    compare_versions,
)
from ._prefetch import GroupPrefetcher
from ._probe import probe_bandwidth
from ._reader import VerifyReport
from ._serialize import SerializedGroup, deserialize_group, find_unserializable, serialize_group
from ._signing import load_or_create_key
from ._writer import GroupSpec, ProgressEvent

__all__ = [
    "DEFAULT_KEEP",
    "FORMAT_VERSION",
    "Backend",
    "BlobRef",
    "CheckpointRef",
    "CheckpointStore",
    "GcReport",
    "GroupPrefetcher",
    "GroupRecord",
    "GroupSpec",
    "Manifest",
    "PackageVersionWarning",
    "ProgressEvent",
    "SerializedGroup",
    "VerifyReport",
    "VersionMismatch",
    "compare_versions",
    "deserialize_group",
    "find_unserializable",
    "load_or_create_key",
    "probe_bandwidth",
    "safe_session_key",
    "serialize_group",
    "should_compress",
]
