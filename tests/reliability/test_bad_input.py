"""``%restore`` of damaged, tampered and foreign checkpoints, and checkpoints to stores that
cannot be used: each gives an ElasticError naming the problem, ``elastic-kernel verify`` exits 1
on each damaged checkpoint, and a malicious pickle never runs unless the user passes --trust."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import xxhash

from tests.reliability.helpers import Kernel, checkpoint_url, signing_key, verify_cli

# ``arr`` comes from OS entropy, so re-running its cell cannot bring it back: a damaged blob of
# it must end in an error, never in a silently different value.
STATE = """
import numpy as np
arr = np.random.default_rng().random(50_000)
view = arr[::5]
rows = [{'i': i, 'sq': i * i} for i in range(500)]
label = 'pristine'
"""


class Payload:
    """Unpickling this creates the marker file: the proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class Checkpoint:
    """A copy of the pristine checkpoint (its session directory) to damage."""

    def __init__(self, pristine: Path, where: Path) -> None:
        shutil.copytree(pristine.parent, where)
        self.dir = where / pristine.name
        self.blobs = where / "blobs"
        self.manifest_path = self.dir / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.manifest_path.read_text())
        return data

    def write_manifest(self, body: dict[str, Any], *, sign: bool = False) -> None:
        from elastic_kernel.store._manifest import canonical_bytes
        from elastic_kernel.store._signing import sign_body

        if sign:
            body = sign_body({k: v for k, v in body.items() if k != "signature"}, signing_key())
        self.manifest_path.write_bytes(canonical_bytes(body))

    def largest_blob(self) -> Path:
        return max(self.blobs.iterdir(), key=lambda p: p.stat().st_size)

    def plant(self, data: bytes) -> dict[str, Any]:
        """Store ``data`` as a blob under its own checksum; the blob reference to use."""
        checksum = xxhash.xxh3_128(data).hexdigest()
        (self.blobs / checksum).write_bytes(data)
        return {
            "checksum": checksum,
            "compression": None,
            "size": len(data),
            "stored_size": len(data),
        }


def malicious_pickle(marker: Path) -> bytes:
    return pickle.dumps(Payload(marker), protocol=5)


def truncate_blob(c: Checkpoint, marker: Path) -> None:
    blob = c.largest_blob()
    blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])


def flip_bit(c: Checkpoint, marker: Path) -> None:
    blob = c.largest_blob()
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x10
    blob.write_bytes(bytes(data))


def delete_blob(c: Checkpoint, marker: Path) -> None:
    c.largest_blob().unlink()


def swap_blobs(c: Checkpoint, marker: Path) -> None:
    first, second = sorted(c.blobs.iterdir(), key=lambda p: p.stat().st_size)[-2:]
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)


def truncate_manifest(c: Checkpoint, marker: Path) -> None:
    c.manifest_path.write_bytes(c.manifest_path.read_bytes()[:-40])


def reorder_groups(c: Checkpoint, marker: Path) -> None:
    body = c.manifest()
    body["groups"].reverse()
    c.write_manifest(body)


def replace_blob_with_pickle(c: Checkpoint, marker: Path) -> None:
    """The attacker overwrites a stored pickle in place (same name)."""
    body = c.manifest()
    stream = body["groups"][0]["stream"]["checksum"]
    (c.blobs / stream).write_bytes(malicious_pickle(marker))


def point_manifest_at_pickle(c: Checkpoint, marker: Path) -> None:
    """The attacker plants a pickle and edits the manifest to load it (no key to re-sign)."""
    body = c.manifest()
    for group in body["groups"]:
        group["stream"] = c.plant(malicious_pickle(marker))
        group["buffers"] = []
    c.write_manifest(body)


def strip_signature(c: Checkpoint, marker: Path) -> None:
    point_manifest_at_pickle(c, marker)
    body = c.manifest()
    del body["signature"]
    c.write_manifest(body)


def foreign_key(c: Checkpoint, marker: Path) -> None:
    """Signed, but with someone else's key."""
    from elastic_kernel.store._manifest import canonical_bytes
    from elastic_kernel.store._signing import sign_body

    point_manifest_at_pickle(c, marker)
    body = {k: v for k, v in c.manifest().items() if k != "signature"}
    c.manifest_path.write_bytes(canonical_bytes(sign_body(body, b"attacker" * 4)))


def old_format(c: Checkpoint, marker: Path) -> None:
    body = c.manifest()
    body["format_version"] = 0
    c.write_manifest(body, sign=True)


def newer_format(c: Checkpoint, marker: Path) -> None:
    body = c.manifest()
    body["format_version"] = body["format_version"] + 1
    c.write_manifest(body, sign=True)


# A damaged blob fails its group; the restore re-runs the group's cells when it can, and says
# RestoreError (naming the variable and the blob's problem) when that cannot give the value back.
BLOB_ERRORS = "CorruptCheckpoint|RestoreError"

# name -> (damage, accepted error classes, fragment of the error text)
DAMAGE: dict[str, tuple[Callable[[Checkpoint, Path], None], str, str]] = {
    "truncated blob": (truncate_blob, BLOB_ERRORS, "truncated"),
    "bit-flipped blob": (flip_bit, BLOB_ERRORS, "checksum"),
    "missing blob": (delete_blob, BLOB_ERRORS, "missing"),
    "swapped blobs": (swap_blobs, BLOB_ERRORS, "CorruptCheckpoint"),
    "truncated manifest": (truncate_manifest, "CorruptCheckpoint", "not valid JSON"),
    "reordered groups": (reorder_groups, "SignatureError", "tampered"),
    "pickle replaced in place": (replace_blob_with_pickle, BLOB_ERRORS, "CorruptCheckpoint"),
    "manifest pointed at a planted pickle": (
        point_manifest_at_pickle,
        "SignatureError",
        "tampered",
    ),
    "signature stripped": (strip_signature, "SignatureError", "not signed"),
    "signed with another key": (foreign_key, "SignatureError", "another key"),
    "old format version": (old_format, "FormatVersionError", "format"),
    "newer format version": (newer_format, "FormatVersionError", "upgrade elastic_kernel"),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    store = tmp_path_factory.mktemp("pristine")
    kernel = Kernel.start(store, "bad", ELASTIC_AUTOSAVE="off")
    try:
        kernel.ok(STATE)
        url = checkpoint_url(kernel.ok("%checkpoint --mode store-all"))
    finally:
        kernel.stop()
    yield Path(url)


@pytest.fixture(scope="module")
def restorer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    # These tests judge the error ``%restore`` itself reports: restore blocking (a background
    # restore reports load failures at the next cell, see tests/kernel/test_background_restore.py).
    kernel = Kernel.start(
        tmp_path_factory.mktemp("unused"),
        "restorer",
        ELASTIC_AUTOSAVE="off",
        ELASTIC_RESTORE="blocking",
    )
    try:
        yield kernel
    finally:
        kernel.stop()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damaged_checkpoint_is_refused(
    name: str, pristine: Path, restorer: Kernel, tmp_path: Path, tally: Counter[str]
) -> None:
    damage, error, fragment = DAMAGE[name]
    marker = tmp_path / "payload-ran"
    copy = Checkpoint(pristine, tmp_path / "session")
    damage(copy, marker)
    tally["bad inputs tried"] += 1
    result = restorer.run(f"%restore {copy.dir}")
    assert result.error is not None, f"{name}: restore reported success: {result.stdout}"
    text = result.error["evalue"] + result.stdout + result.stderr
    assert result.error["ename"] in error.split("|"), (name, text)
    assert fragment in text, (name, result.stdout, result.stderr)
    assert not marker.exists(), f"{name}: the planted pickle RAN during %restore"
    verified = verify_cli(str(copy.dir))
    assert verified.returncode == 1, f"{name}: verify accepted it: {verified.stdout}"
    assert not marker.exists(), f"{name}: the planted pickle RAN during verify"
    tally["tamperings verify rejected"] += 1


@pytest.mark.slow
def test_the_planted_pickle_is_real_and_runs_only_with_trust(
    pristine: Path, restorer: Kernel, tmp_path: Path
) -> None:
    """Positive control: the payload the tests above refuse does run when the user says
    --trust, so their 'marker absent' proves the signature check stopped it."""
    marker = tmp_path / "payload-ran"
    copy = Checkpoint(pristine, tmp_path / "session")
    point_manifest_at_pickle(copy, marker)
    result = restorer.run(f"%restore {copy.dir} --trust")
    assert marker.exists(), result.stdout + result.stderr


@pytest.mark.slow
def test_manifest_from_a_newer_release_restores_and_says_so(
    pristine: Path, restorer: Kernel, tmp_path: Path, tally: Counter[str]
) -> None:
    copy = Checkpoint(pristine, tmp_path / "session")
    body = copy.manifest()
    body["packages"]["elastic_kernel"] = "99.0.0"
    body["packages"]["numpy"] = "99.1.0"
    copy.write_manifest(body, sign=True)
    tally["bad inputs tried"] += 1
    result = restorer.run(f"%restore {copy.dir}")
    assert result.ok, result.error
    assert "99.0.0" in result.stdout + result.stderr, result.stdout
    assert restorer.value("label") == "pristine"


@pytest.mark.slow
def test_unreachable_s3_store_is_a_store_error(restorer: Kernel, tally: Counter[str]) -> None:
    from tests.conftest import free_port

    # Nothing listens on this port; botocore's retries are bounded, so this ends.
    restorer.ok(
        "import os\n"
        f"os.environ['FSSPEC_S3_ENDPOINT_URL'] = 'http://127.0.0.1:{free_port()}'\n"
        "os.environ.update(AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='x', "
        "AWS_DEFAULT_REGION='us-east-1', AWS_MAX_ATTEMPTS='1', AWS_RETRY_MODE='standard')"
    )
    tally["bad inputs tried"] += 2
    for magic in ("%restore s3://bucket/nowhere", "%checkpoint s3://bucket/nowhere"):
        result = restorer.run(magic, timeout=120)
        assert result.error is not None, result.stdout
        assert result.error["ename"] in ("StoreError", "CheckpointNotFound"), result.error
        assert "s3://bucket/nowhere" in result.error["evalue"], result.error["evalue"]


@pytest.mark.slow
def test_store_without_write_permission_is_a_store_error(
    restorer: Kernel, tally: Counter[str]
) -> None:
    # Even root may not create files in sysfs: a permission error on every machine.
    tally["bad inputs tried"] += 1
    result = restorer.run("%checkpoint /sys/elastic-store")
    assert result.error is not None, result.stdout
    assert result.error["ename"] == "StoreError", result.error
    assert "/sys/elastic-store" in result.error["evalue"]
    assert "ermission" in result.error["evalue"], result.error["evalue"]


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_checkpoint_is_a_store_error(
    pristine: Path, restorer: Kernel, tmp_path: Path, tally: Counter[str]
) -> None:
    copy = Checkpoint(pristine, tmp_path / "session")
    copy.largest_blob().chmod(0)
    tally["bad inputs tried"] += 1
    try:
        result = restorer.run(f"%restore {copy.dir}")
    finally:
        copy.largest_blob().chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert result.error is not None and result.error["ename"] == "StoreError", result.error


@pytest.mark.slow
def test_missing_checkpoint_is_checkpoint_not_found(
    restorer: Kernel, tmp_path: Path, tally: Counter[str]
) -> None:
    tally["bad inputs tried"] += 2
    for target in (tmp_path / "nothing-here", tmp_path):
        result = restorer.run(f"%restore {target}")
        assert result.error is not None and result.error["ename"] == "CheckpointNotFound", (
            result.error
        )
