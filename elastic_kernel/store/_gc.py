"""Pruning a session: keep the newest checkpoints, delete blobs no kept manifest references."""

from __future__ import annotations

import logging
import posixpath
import time
from dataclasses import dataclass

from elastic_kernel.errors import ElasticError

from ._backend import Backend
from ._layout import BLOBS_DIR, manifest_path
from ._manifest import is_checkpoint_id
from ._reader import read_manifest_body

__all__ = ["GcReport", "complete_checkpoint_ids", "gc_session"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GcReport:
    """What a gc removed: checkpoint URLs, number of blobs and the bytes they held."""

    removed_checkpoints: tuple[str, ...] = ()
    removed_blobs: int = 0
    freed_bytes: int = 0

    def __add__(self, other: GcReport) -> GcReport:
        return GcReport(
            self.removed_checkpoints + other.removed_checkpoints,
            self.removed_blobs + other.removed_blobs,
            self.freed_bytes + other.freed_bytes,
        )


def complete_checkpoint_ids(backend: Backend, session_dir: str) -> tuple[list[str], list[str]]:
    """Checkpoint ids of a session, oldest first: (complete ones, ones without a manifest)."""
    ids = sorted(n for n in backend.list_names(session_dir) if is_checkpoint_id(n))
    complete: list[str] = []
    incomplete: list[str] = []
    for ckpt_id in ids:
        has_manifest = backend.exists(manifest_path(posixpath.join(session_dir, ckpt_id)))
        (complete if has_manifest else incomplete).append(ckpt_id)
    return complete, incomplete


def _referenced_blobs(backend: Backend, session_dir: str, kept: list[str]) -> set[str] | None:
    """Checksums referenced by the kept manifests; ``None`` when one cannot be read."""
    referenced: set[str] = set()
    for ckpt_id in kept:
        ckpt_dir = posixpath.join(session_dir, ckpt_id)
        try:
            body = read_manifest_body(backend, ckpt_dir)
            for group in body["groups"]:
                referenced.add(str(group["stream"]["checksum"]))
                referenced.update(str(b["checksum"]) for b in group["buffers"])
        except (ElasticError, KeyError, TypeError) as exc:
            # Deleting blobs without knowing what this checkpoint needs could break it.
            logger.warning(
                "gc keeps every blob of %s: cannot read %s (%s)", session_dir, ckpt_id, exc
            )
            return None
    return referenced


def gc_session(
    backend: Backend, session_dir: str, keep: int, min_blob_age: float, *, sweep_always: bool
) -> GcReport:
    """Prune one session directory.

    Keeps the ``keep`` newest complete checkpoints; removes older ones, directories of
    interrupted writes older than the newest complete checkpoint, and blobs (including
    temporary files) that no kept manifest references and that are at least ``min_blob_age``
    seconds old, so a write in progress in another process keeps its fresh blobs. Without
    ``sweep_always`` (the prune after each write) blobs are swept only when a checkpoint was
    removed, which keeps an incremental checkpoint down to a few requests.
    """
    complete, incomplete = complete_checkpoint_ids(backend, session_dir)
    drop = complete[: max(len(complete) - keep, 0)]
    kept = complete[len(drop) :]
    # An incomplete directory may be another process's write still under way: only take
    # those that stopped changing long ago.
    now = time.time()
    stale = [
        i
        for i in incomplete
        if kept
        and i < kept[-1]
        and now - (backend.mtime(posixpath.join(session_dir, i)) or now) >= min_blob_age
    ]
    removed: list[str] = []
    for ckpt_id in drop:
        ckpt_dir = posixpath.join(session_dir, ckpt_id)
        # Manifest first: an interrupted gc leaves an incomplete directory, never a
        # listed checkpoint with missing files.
        backend.remove(manifest_path(ckpt_dir))
        backend.remove_tree(ckpt_dir)
        removed.append(backend.url(ckpt_dir))
    for ckpt_id in stale:
        backend.remove_tree(posixpath.join(session_dir, ckpt_id))
    if not (sweep_always or drop or stale):
        return GcReport()
    referenced = _referenced_blobs(backend, session_dir, kept)
    if referenced is None:
        return GcReport(tuple(removed))
    blobs_dir = posixpath.join(session_dir, BLOBS_DIR)
    now = time.time()
    count = 0
    freed = 0
    for name in backend.list_names(blobs_dir):
        if name in referenced:
            continue
        path = posixpath.join(blobs_dir, name)
        modified = backend.mtime(path)
        if modified is not None and now - modified < min_blob_age:
            continue
        freed += backend.size(path) or 0
        backend.remove(path)
        count += 1
    return GcReport(tuple(removed), count, freed)
