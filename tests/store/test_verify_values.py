"""Restored values are compared with checkpoint-time fingerprints only when both were computed the
same way: a checkpoint from a version that describes values differently leaves them unverified,
never "mismatched"."""

from __future__ import annotations

from elastic_kernel.lineage import fingerprint
from elastic_kernel.lineage.fingerprint import FINGERPRINT_VERSION
from elastic_kernel.restore import verify_values
from elastic_kernel.store import CheckpointStore, Manifest


def _manifest_with(store: CheckpointStore, metadata: dict[str, object]) -> Manifest:
    return store.open(store.write_checkpoint("nb", [], metadata).url)


def test_same_version_compares(local_store: CheckpointStore) -> None:
    digest = fingerprint([1, 2, 3])
    assert digest is not None
    metadata = {
        "fingerprints": {"x": digest.hex(), "y": digest.hex()},
        "fingerprint_version": FINGERPRINT_VERSION,
    }
    manifest = _manifest_with(local_store, metadata)
    ns = {"x": [1, 2, 3], "y": [1, 2, 4]}
    assert verify_values(ns, manifest, ["x", "y", "gone"]) == (["gone", "y"], [])


def test_other_or_unknown_version_leaves_values_unverified(local_store: CheckpointStore) -> None:
    digest = fingerprint([1, 2, 3])
    assert digest is not None
    for version in ({}, {"fingerprint_version": FINGERPRINT_VERSION - 1}):
        manifest = _manifest_with(local_store, {"fingerprints": {"x": digest.hex()}, **version})
        ns = {"x": [1, 2, 4]}
        assert verify_values(ns, manifest, ["x", "gone"]) == (["gone"], ["x"])
