"""Reading groups ahead of unpickling: same values as ``load_group``, errors handed to the taker,
reads ahead bounded in bytes (not in groups), and a promoted group read next."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from elastic_kernel.errors import CorruptCheckpoint
from elastic_kernel.store import (
    CheckpointStore,
    GroupPrefetcher,
    GroupSpec,
    SerializedGroup,
    deserialize_group,
)

from .helpers import simple_groups


def _groups(count: int) -> list[GroupSpec]:
    return [
        GroupSpec((f"a{i}",), {f"a{i}": np.full(10_000 + i, i, dtype=np.int64)}, None)
        for i in range(count)
    ]


def test_prefetched_groups_equal_loaded_groups(local_store: CheckpointStore) -> None:
    manifest = local_store.write_checkpoint("nb", _groups(6) + simple_groups(3), {})
    count = len(manifest.groups)
    with local_store.prefetch(manifest, range(count)) as reads:
        # Out of order: some are read ahead, some are read by the taker.
        for index in [5, 0, 7, 1, 6, 2, 3, 4]:
            got = deserialize_group(reads.take(index))
            want = local_store.load_group(manifest, index)
            assert got.keys() == want.keys()
            for name, value in want.items():
                np.testing.assert_array_equal(np.asarray(got[name], dtype=object), value)
    shared = deserialize_group(local_store.prefetch(manifest, [6]).take(6))
    assert np.shares_memory(shared["arr"], shared["view"])


def test_damaged_blob_raises_for_its_group_only(local_store: CheckpointStore) -> None:
    manifest = local_store.write_checkpoint("nb", _groups(3), {})
    path = Path(manifest.url).parent / "blobs" / manifest.groups[1].blobs[-1].checksum
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with local_store.prefetch(manifest, range(3)) as reads:
        np.testing.assert_array_equal(deserialize_group(reads.take(0))["a0"], np.full(10_000, 0))
        with pytest.raises(CorruptCheckpoint, match=path.name):
            reads.take(1)
        np.testing.assert_array_equal(deserialize_group(reads.take(2))["a2"], np.full(10_002, 2))


def _recording_reader() -> tuple[list[int], Callable[[int], SerializedGroup]]:
    log: list[int] = []

    def read(index: int) -> SerializedGroup:
        log.append(index)
        return SerializedGroup(
            names=(f"g{index}",), stream=memoryview(b""), buffers=(), pickler="cloudpickle"
        )

    return log, read


def _wait_for(log: list[int], count: int) -> None:
    deadline = time.monotonic() + 10
    while len(log) < count:
        assert time.monotonic() < deadline, f"only {log} read"
        time.sleep(0.01)


def test_reads_ahead_stop_at_the_bound_and_follow_promotions() -> None:
    log, read = _recording_reader()
    sizes = dict.fromkeys(range(6), 100)
    reads = GroupPrefetcher(read, range(6), sizes, ahead_bytes=200)
    try:
        _wait_for(log, 2)
        # Two read and not taken: the thread waits for a take before reading more.
        time.sleep(0.2)
        assert log == [0, 1]
        reads.promote([4, 5])
        reads.take(0)
        _wait_for(log, 3)
        assert log[2] == 4
        reads.take(1)
        _wait_for(log, 4)
        assert log[3] == 5
        # A group the thread has not reached is read by the caller at once.
        assert reads.take(3).names == ("g3",)
        assert log.count(3) == 1
    finally:
        reads.close()


def test_byte_bound_lets_one_big_group_through() -> None:
    log, read = _recording_reader()
    sizes = {0: 10_000, 1: 10, 2: 10}
    reads = GroupPrefetcher(read, range(3), sizes, ahead_bytes=1_000)
    try:
        _wait_for(log, 1)
        time.sleep(0.2)
        assert log == [0]
        reads.take(0)
        _wait_for(log, 3)
    finally:
        reads.close()


def test_many_small_groups_do_not_hold_back_a_big_one() -> None:
    # A background restore takes its small groups first; the big ones behind them must be
    # read while the first small group is still being unpickled.
    log, read = _recording_reader()
    sizes = {**dict.fromkeys(range(20), 10), 20: 500}
    reads = GroupPrefetcher(read, range(21), sizes, ahead_bytes=1_000)
    try:
        _wait_for(log, 21)
    finally:
        reads.close()
