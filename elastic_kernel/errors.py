"""Every error elastic_kernel raises on purpose.

The tree::

    ElasticError
    ├── StoreError               the store cannot be read or written (unreachable, full, permission)
    ├── CheckpointNotFound       no checkpoint at that URL / for that session key
    ├── CorruptCheckpoint        truncated blob, bad checksum, unreadable manifest
    ├── SignatureError           manifest signature missing or wrong (payloads are pickles)
    ├── FormatVersionError       manifest written by an unknown format version
    ├── SerializationError       a group of variables could not be pickled
    ├── PlanError                no feasible replication plan
    └── RestoreError             a restore did not bring back the whole session

The class name is what comm replies send as ``error.type``.
"""

from __future__ import annotations

__all__ = [
    "CheckpointNotFound",
    "CorruptCheckpoint",
    "ElasticError",
    "FormatVersionError",
    "PlanError",
    "RestoreError",
    "SerializationError",
    "SignatureError",
    "StoreError",
]


class ElasticError(Exception):
    """Base class of every error raised on purpose by elastic_kernel."""


class StoreError(ElasticError):
    """The store cannot be reached, read or written."""


class CheckpointNotFound(ElasticError):
    """No checkpoint exists at the given URL or for the given session key."""


class CorruptCheckpoint(ElasticError):
    """A checkpoint's manifest or blobs are damaged (truncated, bad checksum)."""


class SignatureError(ElasticError):
    """A manifest's signature is missing or does not match the user's key."""


class FormatVersionError(ElasticError):
    """A manifest was written with a format version this release cannot read."""


class SerializationError(ElasticError):
    """A group of variables could not be serialized (or deserialized).

    ``variable`` names the variable at fault when it is known.
    """

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class PlanError(ElasticError):
    """No feasible replication plan exists for the current graph."""


class RestoreError(ElasticError):
    """A restore did not bring back the whole session."""
