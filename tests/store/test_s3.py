"""The store on S3, through s3fs, against a moto server on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest

from elastic_kernel.errors import CorruptCheckpoint, StoreError
from elastic_kernel.store import CheckpointStore, GroupSpec, probe_bandwidth

from .helpers import assert_simple, free_port, s3_options, simple_groups


@pytest.fixture
def s3_store(s3_endpoint: str, key: bytes, request: pytest.FixtureRequest) -> CheckpointStore:
    prefix = request.node.name.replace("[", "-").replace("]", "")
    return CheckpointStore(
        f"s3://bucket/{prefix}", key=key, storage_options=s3_options(s3_endpoint)
    )


def test_roundtrip_reuse_and_gc(s3_store: CheckpointStore) -> None:
    first = s3_store.write_checkpoint("nb", simple_groups(40), {"n": 40})
    assert first.url.startswith("s3://bucket/")
    second = s3_store.write_checkpoint("nb", simple_groups(40), {"n": 41})
    assert second.groups[0] == first.groups[0]
    latest = s3_store.latest("nb")
    assert latest is not None and latest.checkpoint_id == second.checkpoint_id
    assert_simple(s3_store, s3_store.open(latest), 40)
    for seed in (42, 43, 44):
        s3_store.write_checkpoint("nb", simple_groups(seed), {})
    assert len(s3_store.list_checkpoints("nb")) == 3
    report = s3_store.gc("nb", keep=1, min_blob_age=0)
    assert len(report.removed_checkpoints) == 2 and report.removed_blobs > 0
    assert_simple(s3_store, s3_store.open("nb"), 44)
    assert s3_store.list_sessions() == ["nb"]


def test_large_compressible_blob(s3_store: CheckpointStore) -> None:
    # Larger than s3fs's upload block, so it goes up as a multipart upload.
    arr = np.tile(np.arange(1000, dtype=np.float64), 8_000)  # 64 MB, compresses well
    noise = np.random.default_rng(3).random(1_000_000)
    manifest = s3_store.write_checkpoint(
        "big", [GroupSpec(("arr", "noise"), {"arr": arr, "noise": noise})], {}
    )
    assert manifest.groups[0].buffers[0].compression == "zstd"
    loaded = s3_store.load_group(s3_store.open("big"), 0)
    np.testing.assert_array_equal(loaded["arr"], arr)  # type: ignore[arg-type]
    np.testing.assert_array_equal(loaded["noise"], noise)  # type: ignore[arg-type]


def test_missing_blob_on_s3(s3_store: CheckpointStore) -> None:
    manifest = s3_store.write_checkpoint("nb", simple_groups(45), {})
    blob = manifest.groups[0].buffers[0]
    fs = s3_store.backend.fs  # type: ignore[attr-defined]
    fs.rm_file(f"{s3_store.backend.root}/nb/blobs/{blob.checksum}")
    with pytest.raises(CorruptCheckpoint, match=f"s3://bucket/.*{blob.checksum} .* is missing"):
        s3_store.load_group(s3_store.open("nb"), 0)


def test_probe_bandwidth_s3(s3_store: CheckpointStore) -> None:
    write, read = probe_bandwidth(s3_store)
    assert write > 0 and read > 0


def test_unreachable_store(key: bytes) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    options = {
        "client_kwargs": {"endpoint_url": endpoint},
        "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}},
        "key": "testing",
        "secret": "testing",
    }
    store = CheckpointStore("s3://bucket/x", key=key, storage_options=options)
    with pytest.raises(StoreError, match="store unreachable") as info:
        store.write_checkpoint("nb", simple_groups(46), {})
    assert "s3://bucket/x" in str(info.value)
