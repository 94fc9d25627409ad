"""The public names of ``elastic_kernel.store`` (anything else may change without notice)."""

from __future__ import annotations

import elastic_kernel.store as store

EXPECTED = {
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
}


def test_exported_names() -> None:
    assert set(store.__all__) == EXPECTED
    for name in store.__all__:
        assert getattr(store, name) is not None


def test_store_is_a_plain_library() -> None:
    # The store must not pull in the kernel stack (layering rule in STYLE.md).
    import subprocess
    import sys

    code = (
        "import sys, elastic_kernel.store; "
        "bad = [m for m in ('IPython', 'ipykernel', 'jupyter_client') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
