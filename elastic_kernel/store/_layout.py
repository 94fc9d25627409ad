"""Where things live in a store: ``<store>/<session key>/<checkpoint id>/manifest.json``, blobs
shared by the checkpoints of a session in ``<store>/<session key>/blobs/<xxh3-128 hex>``."""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass

from ._manifest import MANIFEST_NAME

__all__ = [
    "BLOBS_DIR",
    "CheckpointRef",
    "blob_path",
    "blobs_dir_of",
    "checkpoint_dir",
    "is_session_key",
    "manifest_path",
    "safe_session_key",
    "validate_session_key",
]

BLOBS_DIR = "blobs"
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True, slots=True)
class CheckpointRef:
    """A complete checkpoint in a store: its session key, its id and its directory's URL."""

    session_key: str
    checkpoint_id: str
    url: str


def is_session_key(name: str) -> bool:
    """Whether ``name`` is a valid session key (a safe directory name)."""
    return _KEY_RE.match(name) is not None and name != BLOBS_DIR


def validate_session_key(session_key: str) -> str:
    """Return ``session_key`` if it is a safe directory name, else raise ``ValueError``."""
    if not is_session_key(session_key):
        raise ValueError(
            f"invalid session key {session_key!r}: use 1-128 letters, digits, '.', '_' or '-' "
            "starting with a letter or digit (see safe_session_key)"
        )
    return session_key


def safe_session_key(text: str) -> str:
    """Turn any text (a notebook path, say) into a readable, collision-free session key.

    ``"work/My Notebook.ipynb"`` becomes ``"My_Notebook.ipynb-<8 hex of a hash of the text>"``.
    """
    stem = posixpath.basename(text.replace("\\", "/").rstrip("/")) or "session"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:96] or "session"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


def checkpoint_dir(root: str, session_key: str, checkpoint_id: str) -> str:
    """Directory of one checkpoint."""
    return posixpath.join(root, session_key, checkpoint_id)


def manifest_path(ckpt_dir: str) -> str:
    """The manifest of the checkpoint in ``ckpt_dir``."""
    return posixpath.join(ckpt_dir, MANIFEST_NAME)


def blobs_dir_of(ckpt_dir: str) -> str:
    """The blob directory shared by the session a checkpoint directory belongs to."""
    return posixpath.join(posixpath.dirname(ckpt_dir.rstrip("/")), BLOBS_DIR)


def blob_path(blobs_dir: str, checksum: str) -> str:
    """Path of a content-addressed blob."""
    return posixpath.join(blobs_dir, checksum)
