"""The checkpoint store: write, list, open, load, verify and prune signed checkpoints."""

from __future__ import annotations

import logging
import os
import posixpath
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from elastic_kernel.errors import CheckpointNotFound, ElasticError

from ._backend import Backend, open_backend
from ._gc import GcReport, complete_checkpoint_ids, gc_session
from ._layout import (
    BLOBS_DIR,
    CheckpointRef,
    blobs_dir_of,
    checkpoint_dir,
    is_session_key,
    manifest_path,
    validate_session_key,
)
from ._manifest import (
    MANIFEST_NAME,
    GroupRecord,
    Manifest,
    canonical_bytes,
    collect_versions,
    compare_versions,
    manifest_to_json,
    new_checkpoint_id,
)
from ._prefetch import GroupPrefetcher
from ._reader import VerifyReport, load_group, read_group, read_manifest, verify_blobs
from ._serialize import serialize_group
from ._signing import sign_body
from ._writer import GroupSpec, ProgressCallback, ProgressEvent, write_group

__all__ = ["DEFAULT_KEEP", "CheckpointStore", "PackageVersionWarning"]

logger = logging.getLogger(__name__)

DEFAULT_KEEP = 3
DEFAULT_MIN_BLOB_AGE = 600.0
"""Seconds an unreferenced blob is spared by gc, so a concurrent writer keeps its fresh blobs."""


class PackageVersionWarning(UserWarning):
    """A checkpoint was written with other package versions than the ones installed here."""


class CheckpointStore:
    """Signed, content-addressed checkpoints of sessions in a directory or fsspec URL.

    Parameters
    ----------
    url
        A local path or fsspec URL (``memory://x``, ``s3://bucket/prefix``).
    key
        The user's signing secret (see :func:`load_or_create_key`).
    keep
        Checkpoints kept per session; each write prunes older ones.
    storage_options
        Passed to fsspec (e.g. ``{"client_kwargs": {"endpoint_url": ...}}`` for s3fs).
    fsync
        On local disk, sync blobs and directories before publishing a manifest (default), so
        a checkpoint survives a power loss; without it, it survives the death of the process
        only. Object stores ignore it.
    """

    def __init__(
        self,
        url: str,
        *,
        key: bytes,
        keep: int = DEFAULT_KEEP,
        storage_options: Mapping[str, object] | None = None,
        fsync: bool = True,
    ) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1 (the newest checkpoint), got {keep}")
        self._storage_options: dict[str, Any] = dict(storage_options or {})
        self._backend = open_backend(url, self._storage_options, fsync=fsync)
        self._key = key
        self.keep = keep

    @property
    def url(self) -> str:
        """The store's URL."""
        return self._backend.url(self._backend.root)

    @property
    def backend(self) -> Backend:
        """The backend (for bandwidth probes and tools)."""
        return self._backend

    def _session_dir(self, session_key: str) -> str:
        return posixpath.join(self._backend.root, validate_session_key(session_key))

    # Listing ---------------------------------------------------------------------------

    def list_sessions(self) -> list[str]:
        """Session keys that have a directory in the store, sorted."""
        return [n for n in self._backend.list_names(self._backend.root) if is_session_key(n)]

    def list_checkpoints(self, session_key: str) -> list[CheckpointRef]:
        """Complete checkpoints of a session, oldest first."""
        session_dir = self._session_dir(session_key)
        complete, _ = complete_checkpoint_ids(self._backend, session_dir)
        return [self._ref(session_key, ckpt_id) for ckpt_id in complete]

    def latest(self, session_key: str) -> CheckpointRef | None:
        """The newest complete checkpoint of a session, or ``None``."""
        refs = self.list_checkpoints(session_key)
        return refs[-1] if refs else None

    def _ref(self, session_key: str, checkpoint_id: str) -> CheckpointRef:
        ckpt_dir = checkpoint_dir(self._backend.root, session_key, checkpoint_id)
        return CheckpointRef(session_key, checkpoint_id, self._backend.url(ckpt_dir))

    # Reading ---------------------------------------------------------------------------

    def _locate(self, ref_or_url: CheckpointRef | str) -> tuple[Backend, str]:
        """Backend and checkpoint directory for a ref, a URL/path, or ``session/id``."""
        if isinstance(ref_or_url, CheckpointRef):
            target = ref_or_url.url
        else:
            target = ref_or_url.rstrip("/")
            if target.endswith("/" + MANIFEST_NAME):
                target = target[: -len(MANIFEST_NAME) - 1]
            if "://" not in target and not os.path.isabs(target) and not os.path.exists(target):
                parts = target.split("/")
                if len(parts) == 1:
                    latest = self.latest(parts[0])
                    if latest is None:
                        raise CheckpointNotFound(
                            f"no complete checkpoint of session {parts[0]!r} in {self.url}"
                        )
                    target = latest.url
                else:
                    validate_session_key(parts[0])
                    target = self._ref(parts[0], parts[1]).url
        backend = open_backend(target, self._storage_options)
        return backend, backend.root

    def open(
        self, ref_or_url: CheckpointRef | str, *, trust: bool = False, warn_versions: bool = True
    ) -> Manifest:
        """Read a checkpoint's manifest, checking its format version and signature.

        Parameters
        ----------
        ref_or_url
            A :class:`CheckpointRef`, a checkpoint directory (path or URL, also
            ``.../manifest.json``), ``"<session>/<id>"`` in this store, or ``"<session>"`` for
            its latest checkpoint.
        trust
            Load even without a valid signature (the user vouches for the source).
        warn_versions
            Emit a :class:`PackageVersionWarning` naming packages whose versions differ.

        Raises
        ------
        CheckpointNotFound, CorruptCheckpoint, FormatVersionError, SignatureError, StoreError
        """
        backend, ckpt_dir = self._locate(ref_or_url)
        manifest = read_manifest(backend, ckpt_dir, self._key, trust=trust)
        if warn_versions:
            mismatches = compare_versions(manifest)
            if mismatches:
                warnings.warn(
                    f"checkpoint {manifest.url} was written with other versions: "
                    + "; ".join(str(m) for m in mismatches)
                    + " - values may load differently",
                    PackageVersionWarning,
                    stacklevel=2,
                )
        return manifest

    def load_group(self, manifest: Manifest, index: int) -> dict[str, object]:
        """Load group ``index`` of an opened manifest, verifying its blobs' checksums.

        Raises
        ------
        CorruptCheckpoint
            A blob is missing, truncated or corrupted (names blob and checkpoint).
        SerializationError
            The group cannot be unpickled here.
        """
        backend, ckpt_dir = self._locate(manifest.url)
        return load_group(backend, manifest, ckpt_dir, index)

    def prefetch(self, manifest: Manifest, order: Sequence[int]) -> GroupPrefetcher:
        """Start reading the groups of ``manifest`` in ``order`` on a thread, ahead of
        unpickling them (:func:`deserialize_group` of what ``take`` returns). Close it when
        done (it is a context manager).

        ``take`` raises what :meth:`load_group` raises for a damaged blob.
        """
        backend, ckpt_dir = self._locate(manifest.url)
        sizes = {i: group.size for i, group in enumerate(manifest.groups)}
        return GroupPrefetcher(
            lambda index: read_group(backend, manifest, ckpt_dir, index), order, sizes
        )

    def verify(self, ref_or_url: CheckpointRef | str, *, trust: bool = False) -> VerifyReport:
        """Check a checkpoint: signature and format (raising), then every blob (reported)."""
        manifest = self.open(ref_or_url, trust=trust, warn_versions=False)
        backend, ckpt_dir = self._locate(manifest.url)
        return verify_blobs(backend, manifest, ckpt_dir)

    # Writing ---------------------------------------------------------------------------

    def _previous_groups(self, session_key: str) -> dict[tuple[str, ...], GroupRecord]:
        """Groups of the latest checkpoint that can be reused (signed by us, blobs present)."""
        ref = self.latest(session_key)
        if ref is None:
            return {}
        try:
            backend, ckpt_dir = self._locate(ref)
            manifest = read_manifest(backend, ckpt_dir, self._key, trust=False)
        except ElasticError as exc:
            logger.warning("not reusing blobs of %s: %s", ref.url, exc)
            return {}
        return {g.names: g for g in manifest.groups if g.fingerprint is not None}

    @staticmethod
    def _blobs_present(existing: Mapping[str, int], group: GroupRecord) -> bool:
        return all(existing.get(b.checksum) == b.stored_size for b in group.blobs)

    def write_checkpoint(
        self,
        session_key: str,
        groups: Sequence[GroupSpec],
        metadata: Mapping[str, Any],
        *,
        progress: ProgressCallback | None = None,
        taken_at: datetime | None = None,
    ) -> Manifest:
        """Write a checkpoint: blobs first, the signed manifest last, then prune.

        Groups whose fingerprint matches the same names in the previous checkpoint reuse its
        blobs without pickling anything. A crash at any point leaves earlier checkpoints
        intact and no manifest pointing at missing blobs.

        Parameters
        ----------
        session_key
            Names the session (see :func:`safe_session_key`).
        groups
            Linked groups to store.
        metadata
            JSON-serializable data kept in the manifest (graph, plan, fingerprints...).
        progress
            Called with :class:`ProgressEvent` as the write advances.
        taken_at
            When the values were captured, if not now (a forked autosave writes a state of
            some time ago). Checkpoint ids sort by it, so the newest id is the newest state.

        Raises
        ------
        SerializationError
            A group cannot be pickled (names the variable); nothing is published.
        StoreError
            The store cannot be written (disk full, permission, unreachable).
        ValueError
            ``metadata`` is not JSON-serializable or the session key is invalid.
        """
        session_dir = self._session_dir(session_key)
        try:
            canonical_bytes(dict(metadata))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"checkpoint metadata is not JSON-serializable: {exc}") from exc
        ckpt_id = new_checkpoint_id(taken_at)
        ckpt_dir = posixpath.join(session_dir, ckpt_id)
        blobs_dir = blobs_dir_of(ckpt_dir)
        previous = self._previous_groups(session_key) if any(g.fingerprint for g in groups) else {}
        existing = self._backend.list_sizes(blobs_dir) if groups else {}
        records: list[GroupRecord] = []
        # Blobs are synced together when the batch ends, before the manifest is written.
        with self._backend.batch():
            for index, spec in enumerate(groups):
                old = previous.get(tuple(spec.names))
                if (
                    spec.fingerprint is not None
                    and old is not None
                    and old.fingerprint == spec.fingerprint
                    and self._blobs_present(existing, old)
                ):
                    records.append(old)
                    if progress is not None:
                        progress(ProgressEvent("reuse", index, old.size, old.size))
                    continue
                if progress is not None:
                    progress(ProgressEvent("serialize", index, 0, 0))
                serialized = serialize_group({name: spec.values[name] for name in spec.names})
                records.append(
                    write_group(
                        self._backend,
                        blobs_dir,
                        serialized,
                        existing=existing,
                        fingerprint=spec.fingerprint,
                        index=index,
                        progress=progress,
                    )
                )
                del serialized
                existing = {**existing, **{b.checksum: b.stored_size for b in records[-1].blobs}}
        python, packages = collect_versions()
        manifest = Manifest(
            checkpoint_id=ckpt_id,
            session_key=session_key,
            created=datetime.now(timezone.utc).isoformat(),
            python=python,
            packages=packages,
            groups=tuple(records),
            metadata=dict(metadata),
            url=self._backend.url(ckpt_dir),
        )
        if progress is not None:
            progress(ProgressEvent("manifest", None, 0, 0))
        if records:
            self._backend.flush_dir(blobs_dir)
        signed = sign_body(manifest_to_json(manifest), self._key)
        self._backend.write_atomic(manifest_path(ckpt_dir), canonical_bytes(signed))
        self._backend.flush_dir(session_dir)
        logger.info("checkpoint %s: %d groups, %d bytes", manifest.url, len(records), manifest.size)
        try:
            gc_session(
                self._backend, session_dir, self.keep, DEFAULT_MIN_BLOB_AGE, sweep_always=False
            )
        except ElasticError as exc:
            logger.warning("pruning old checkpoints of %s failed: %s", session_key, exc)
        if progress is not None:
            progress(ProgressEvent("done", None, manifest.size, manifest.size))
        return manifest

    # Pruning ---------------------------------------------------------------------------

    def gc(
        self,
        session_key: str | None = None,
        *,
        keep: int | None = None,
        min_blob_age: float = DEFAULT_MIN_BLOB_AGE,
    ) -> GcReport:
        """Keep the newest ``keep`` checkpoints per session and delete unreferenced blobs.

        Parameters
        ----------
        session_key
            One session, or every session of the store when ``None``.
        keep
            Checkpoints to keep per session (default: the store's ``keep``).
        min_blob_age
            Unreferenced blobs younger than this many seconds are spared, since another
            process may be writing a checkpoint that will reference them.
        """
        keep = self.keep if keep is None else keep
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        sessions = [session_key] if session_key is not None else self.list_sessions()
        report = GcReport()
        for session in sessions:
            if session == BLOBS_DIR:
                continue
            session_dir = self._session_dir(session)
            report += gc_session(self._backend, session_dir, keep, min_blob_age, sweep_always=True)
        return report
