"""A tiny write/read probe of a store's bandwidth, for the planner's cost model."""

from __future__ import annotations

import contextlib
import posixpath
import secrets
import time

from elastic_kernel.errors import StoreError

from ._checkpoint import CheckpointStore

__all__ = ["probe_bandwidth"]

_PROBE_DIR = ".probe"
_PROBE_BYTES = 1 << 20
# Smallest time that can be trusted from perf_counter for a 1 MB transfer.
_MIN_SECONDS = 1e-6


def probe_bandwidth(store: CheckpointStore) -> tuple[float, float]:
    """Measure a store's write and read bandwidth with one ~1 MB blob.

    The write goes through the same path as a real blob (temporary name, fsync, rename on
    local disk), so latency and sync costs are included; on a local disk the whole probe
    takes a few milliseconds, on an object store about two round trips.

    Parameters
    ----------
    store
        The store to probe; a file under ``<store>/.probe/`` is written and removed.

    Returns
    -------
    tuple[float, float]
        Write and read bandwidth in bytes per second.

    Raises
    ------
    StoreError
        When the store cannot be written or read.
    """
    backend = store.backend
    path = posixpath.join(backend.root, _PROBE_DIR, secrets.token_hex(8))
    # Random bytes: a store that compresses or deduplicates must not flatter the figure.
    payload = secrets.token_bytes(_PROBE_BYTES)
    try:
        start = time.perf_counter()
        backend.write_blob(path, (payload,))
        written = time.perf_counter() - start
        start = time.perf_counter()
        with backend.open_read(path) as file:
            data = file.read()
        read = time.perf_counter() - start
    except FileNotFoundError as exc:
        raise StoreError(f"bandwidth probe {backend.url(path)} vanished while read") from exc
    finally:
        with contextlib.suppress(StoreError):
            backend.remove(path)
    if len(data) != _PROBE_BYTES:
        raise StoreError(f"bandwidth probe {backend.url(path)} read back {len(data)} bytes")
    return _PROBE_BYTES / max(written, _MIN_SECONDS), _PROBE_BYTES / max(read, _MIN_SECONDS)
