"""The checkpoint store on local disk and in memory: write, list, open, load, reuse, prune."""

from __future__ import annotations

import os
import posixpath
import stat
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from elastic_kernel.errors import CheckpointNotFound
from elastic_kernel.store import (
    CheckpointStore,
    GroupSpec,
    ProgressEvent,
    load_or_create_key,
    probe_bandwidth,
    safe_session_key,
)

from .helpers import assert_simple, simple_groups


def _blob_names(store: CheckpointStore, session: str) -> set[str]:
    backend = store.backend
    return set(backend.list_names(posixpath.join(backend.root, session, "blobs")))


def test_write_then_load(store: CheckpointStore) -> None:
    manifest = store.write_checkpoint("nb", simple_groups(1), {"plan": {"store": ["arr"]}})
    ref = store.latest("nb")
    assert ref is not None and ref.checkpoint_id == manifest.checkpoint_id
    opened = store.open(ref)
    assert opened == manifest
    assert opened.metadata == {"plan": {"store": ["arr"]}}
    assert opened.session_key == "nb" and opened.groups[0].names == ("arr", "view")
    assert_simple(store, opened, 1)
    assert store.list_sessions() == ["nb"]


def test_latest_is_newest_and_ids_sort(store: CheckpointStore) -> None:
    ids = [store.write_checkpoint("nb", simple_groups(i), {"i": i}).checkpoint_id for i in range(3)]
    assert ids == sorted(ids)
    assert [r.checkpoint_id for r in store.list_checkpoints("nb")] == ids
    latest = store.latest("nb")
    assert latest is not None
    assert store.open(latest).metadata == {"i": 2}
    assert store.latest("other") is None


def test_open_accepts_session_id_and_manifest_path(local_store: CheckpointStore) -> None:
    manifest = local_store.write_checkpoint("nb", simple_groups(2), {})
    by_id = local_store.open(f"nb/{manifest.checkpoint_id}")
    by_session = local_store.open("nb")
    by_path = local_store.open(os.path.join(manifest.url, "manifest.json"))
    assert by_id == by_session == by_path == manifest
    with pytest.raises(CheckpointNotFound, match="no complete checkpoint of session 'nope'"):
        local_store.open("nope")


def test_unchanged_fingerprint_reuses_blobs(store: CheckpointStore) -> None:
    groups = simple_groups(3)
    first = store.write_checkpoint("nb", groups, {})
    blobs = _blob_names(store, "nb")
    events: list[ProgressEvent] = []
    second = store.write_checkpoint("nb", groups, {}, progress=events.append)
    assert second.groups[0] == first.groups[0]
    assert ("reuse", 0) in [(e.stage, e.group) for e in events]
    assert not any(e.stage == "serialize" and e.group == 0 for e in events)
    assert _blob_names(store, "nb") == blobs
    assert_simple(store, second, 3)


def test_changed_fingerprint_rewrites(store: CheckpointStore) -> None:
    first = store.write_checkpoint("nb", simple_groups(4), {})
    changed = simple_groups(5)
    second = store.write_checkpoint("nb", changed, {})
    assert second.groups[0].buffers != first.groups[0].buffers
    assert_simple(store, second, 5)


def test_same_content_is_stored_once(store: CheckpointStore) -> None:
    arr = np.random.default_rng(0).random(10_000)
    store.write_checkpoint("nb", [GroupSpec(("a",), {"a": arr})], {})
    blobs = _blob_names(store, "nb")
    store.write_checkpoint("nb", [GroupSpec(("b",), {"b": arr.copy()})], {})
    new = _blob_names(store, "nb") - blobs
    assert len(new) == 1  # only the pickle stream (it holds the name "b")


def test_compression_only_when_it_pays(store: CheckpointStore) -> None:
    zeros = np.zeros(500_000)
    noise = np.random.default_rng(1).random(500_000)
    manifest = store.write_checkpoint(
        "nb", [GroupSpec(("zeros", "noise"), {"zeros": zeros, "noise": noise})], {}
    )
    zeros_blob, noise_blob = manifest.groups[0].buffers
    assert zeros_blob.compression == "zstd" and zeros_blob.stored_size < zeros.nbytes // 50
    assert noise_blob.compression is None and noise_blob.stored_size == noise.nbytes
    loaded = store.load_group(store.open("nb"), 0)
    np.testing.assert_array_equal(loaded["zeros"], zeros)  # type: ignore[arg-type]
    np.testing.assert_array_equal(loaded["noise"], noise)  # type: ignore[arg-type]
    assert loaded["zeros"].flags.writeable  # type: ignore[attr-defined]
    assert store.verify("nb").ok


def test_keeps_last_n_and_gc_removes_unreferenced_blobs(store: CheckpointStore) -> None:
    manifests = [store.write_checkpoint("nb", simple_groups(10 + i), {}) for i in range(5)]
    assert [r.checkpoint_id for r in store.list_checkpoints("nb")] == [
        m.checkpoint_id for m in manifests[-3:]
    ]
    report = store.gc("nb", keep=1, min_blob_age=0)
    assert len(report.removed_checkpoints) == 2 and report.removed_blobs > 0
    assert report.freed_bytes > 0
    referenced = {b.checksum for g in manifests[-1].groups for b in g.blobs}
    assert _blob_names(store, "nb") == referenced
    assert_simple(store, store.open("nb"), 14)


def test_gc_spares_young_unreferenced_blobs(local_store: CheckpointStore) -> None:
    local_store.write_checkpoint("nb", simple_groups(20), {})
    local_store.write_checkpoint("nb", simple_groups(21), {})
    before = _blob_names(local_store, "nb")
    report = local_store.gc(keep=1)  # default grace: a concurrent writer may need them
    assert len(report.removed_checkpoints) == 1 and report.removed_blobs == 0
    assert _blob_names(local_store, "nb") == before


def test_progress_events(store: CheckpointStore) -> None:
    events: list[ProgressEvent] = []
    manifest = store.write_checkpoint("nb", simple_groups(6), {}, progress=events.append)
    stages = [e.stage for e in events]
    assert stages[0] == "serialize" and stages[-2:] == ["manifest", "done"]
    writes = [e for e in events if e.stage == "write" and e.group == 0]
    assert writes[-1].done_bytes == writes[-1].total_bytes == manifest.groups[0].size


def test_metadata_must_be_json(store: CheckpointStore) -> None:
    with pytest.raises(ValueError, match="not JSON-serializable"):
        store.write_checkpoint("nb", simple_groups(7), {"bad": object()})
    assert store.latest("nb") is None


def test_session_keys(store: CheckpointStore) -> None:
    with pytest.raises(ValueError, match="invalid session key"):
        store.write_checkpoint("../escape", [], {})
    key = safe_session_key("work/My Notebook (1).ipynb")
    assert key.startswith("My_Notebook_1_.ipynb-")
    assert key != safe_session_key("other/My Notebook (1).ipynb")
    store.write_checkpoint(key, [], {"empty": True})
    assert store.open(key).groups == ()


def test_write_streams_without_copying_buffers(tmp_path: Path, key: bytes) -> None:
    store = CheckpointStore(str(tmp_path / "store"), key=key)
    big = np.random.default_rng(2).random(12_500_000)  # 100 MB
    tracemalloc.start()
    try:
        store.write_checkpoint("nb", [GroupSpec(("big",), {"big": big})], {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"writing 100 MB allocated {peak} bytes"


def test_signing_key_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "data" / "elastic" / "secret.key"
    first = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 32
    assert load_or_create_key(path) == first
    assert load_or_create_key(tmp_path / "other.key") != first


def test_probe_bandwidth(store: CheckpointStore) -> None:
    write, read = probe_bandwidth(store)
    assert write > 0 and read > 0
    assert store.list_sessions() == []
