"""Every kind of bad checkpoint gives its own error, naming the file; earlier ones stay intact."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from elastic_kernel.errors import (
    CheckpointNotFound,
    CorruptCheckpoint,
    ElasticError,
    FormatVersionError,
    SignatureError,
    StoreError,
)
from elastic_kernel.store import (
    CheckpointStore,
    GroupSpec,
    Manifest,
    PackageVersionWarning,
    compare_versions,
)
from elastic_kernel.store._signing import sign_body

from .helpers import assert_simple, simple_groups

OTHER_KEY = b"\x01" * 32


def _manifest_file(manifest: Manifest) -> Path:
    return Path(manifest.url) / "manifest.json"


def _blob_file(manifest: Manifest) -> Path:
    blob = manifest.groups[0].buffers[0]
    return Path(manifest.url).parent / "blobs" / blob.checksum


def _edit_body(
    manifest: Manifest, edit: Callable[[dict[str, Any]], None], key: bytes | None
) -> None:
    """Rewrite the manifest after ``edit``; re-sign with ``key`` or keep the old signature."""
    path = _manifest_file(manifest)
    body = json.loads(path.read_text())
    signature = body.pop("signature")
    edit(body)
    signed = sign_body(body, key) if key is not None else {**body, "signature": signature}
    path.write_text(json.dumps(signed))


def _remove_manifest(m: Manifest, key: bytes) -> None:
    _manifest_file(m).unlink()


def _truncate_manifest(m: Manifest, key: bytes) -> None:
    path = _manifest_file(m)
    path.write_bytes(path.read_bytes()[:100])


def _newer_format(m: Manifest, key: bytes) -> None:
    _edit_body(m, lambda b: b.update(format_version=2), key)


def _older_format(m: Manifest, key: bytes) -> None:
    _edit_body(m, lambda b: b.update(format_version=0), key)


def _tamper(m: Manifest, key: bytes) -> None:
    _edit_body(m, lambda b: b["metadata"].update(cells=["import os; os.system('evil')"]), None)


def _other_key(m: Manifest, key: bytes) -> None:
    _edit_body(m, lambda b: None, OTHER_KEY)


def _unsigned(m: Manifest, key: bytes) -> None:
    path = _manifest_file(m)
    body = json.loads(path.read_text())
    del body["signature"]
    path.write_text(json.dumps(body))


def _truncate_blob(m: Manifest, key: bytes) -> None:
    path = _blob_file(m)
    os.truncate(path, path.stat().st_size // 2)


def _flip_byte(m: Manifest, key: bytes) -> None:
    path = _blob_file(m)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def _remove_blob(m: Manifest, key: bytes) -> None:
    _blob_file(m).unlink()


CASES = [
    ("missing-manifest", _remove_manifest, "open", CheckpointNotFound, "no manifest.json"),
    ("truncated-manifest", _truncate_manifest, "open", CorruptCheckpoint, "not valid JSON"),
    ("newer-format", _newer_format, "open", FormatVersionError, "format 2, newer"),
    ("older-format", _older_format, "open", FormatVersionError, "format 0, older"),
    ("tampered-manifest", _tamper, "open", SignatureError, "modified (tampered with)"),
    ("wrong-signature", _other_key, "open", SignatureError, "signed with another key"),
    ("missing-signature", _unsigned, "open", SignatureError, "not signed"),
    ("truncated-blob", _truncate_blob, "load", CorruptCheckpoint, "is truncated"),
    ("flipped-byte", _flip_byte, "load", CorruptCheckpoint, "fails its checksum"),
    ("missing-blob", _remove_blob, "load", CorruptCheckpoint, "is missing"),
]


@pytest.mark.parametrize(
    ("damage", "stage", "error", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_checkpoint_gives_specific_error(
    local_store: CheckpointStore,
    key: bytes,
    damage: Callable[[Manifest, bytes], None],
    stage: str,
    error: type[ElasticError],
    fragment: str,
) -> None:
    old = local_store.write_checkpoint("nb", simple_groups(30), {"n": 30})
    new = local_store.write_checkpoint("nb", simple_groups(31), {"n": 31})
    damage(new, key)
    with pytest.raises(error, match=re.escape(fragment)) as info:
        manifest = local_store.open(new.url)
        assert stage == "load"
        local_store.load_group(manifest, 0)
    # The message names the damaged file.
    named = _manifest_file(new) if stage == "open" else _blob_file(new)
    assert str(named) in str(info.value)
    if stage == "load":
        report = local_store.verify(new.url)
        assert not report.ok and fragment in report.problems[0]
    assert_simple(local_store, local_store.open(old.url), 30)


def test_missing_manifest_is_not_latest(local_store: CheckpointStore, key: bytes) -> None:
    old = local_store.write_checkpoint("nb", simple_groups(32), {})
    new = local_store.write_checkpoint("nb", simple_groups(33), {})
    _remove_manifest(new, key)
    latest = local_store.latest("nb")
    assert latest is not None and latest.checkpoint_id == old.checkpoint_id


def test_trust_loads_unsigned_checkpoint(local_store: CheckpointStore, key: bytes) -> None:
    manifest = local_store.write_checkpoint("nb", simple_groups(34), {})
    _unsigned(manifest, key)
    with pytest.raises(SignatureError, match="--trust"):
        local_store.open(manifest.url)
    trusted = local_store.open(manifest.url, trust=True)
    assert_simple(local_store, trusted, 34, trust=True)


def test_corrupt_compressed_blob(local_store: CheckpointStore) -> None:
    manifest = local_store.write_checkpoint("nb", [GroupSpec(("z",), {"z": np.zeros(200_000)})], {})
    blob = manifest.groups[0].buffers[0]
    assert blob.compression == "zstd"
    path = Path(manifest.url).parent / "blobs" / blob.checksum
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptCheckpoint, match=blob.checksum):
        local_store.load_group(local_store.open(manifest.url), 0)
    assert not local_store.verify(manifest.url).ok


def test_package_version_mismatch_warns(local_store: CheckpointStore, key: bytes) -> None:
    manifest = local_store.write_checkpoint("nb", simple_groups(35), {})

    def edit(body: dict[str, Any]) -> None:
        body["packages"].update(numpy="0.0.1", notapackage="1.0")
        body["python"] = "2.7.18"

    _edit_body(manifest, edit, key)
    with pytest.warns(PackageVersionWarning, match=r"numpy 0\.0\.1 \(checkpoint\) vs") as info:
        opened = local_store.open(manifest.url)
    text = str(info[0].message)
    assert "notapackage 1.0 (checkpoint) vs not installed" in text
    assert "python 2.7.18" in text and manifest.url in text
    names = {m.name for m in compare_versions(opened)}
    assert names == {"python", "numpy", "notapackage"}
    assert_simple(local_store, opened, 35)


def test_unknown_protocol(key: bytes) -> None:
    with pytest.raises(StoreError, match="cannot open the store 'nosuchproto://x'"):
        CheckpointStore("nosuchproto://x", key=key)


def test_store_below_a_regular_file(tmp_path: Path, key: bytes) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = CheckpointStore(str(blocker / "store"), key=key)
    with pytest.raises(StoreError, match=str(blocker)):
        store.write_checkpoint("nb", simple_groups(36), {})
