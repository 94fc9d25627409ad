"""Helpers shared by the store tests."""

from __future__ import annotations

import socket

import numpy as np

from elastic_kernel.store import (
    CheckpointStore,
    GroupSpec,
    Manifest,
    SerializedGroup,
    deserialize_group,
    serialize_group,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def s3_options(endpoint: str) -> dict[str, object]:
    return {"client_kwargs": {"endpoint_url": endpoint}}


def simple_groups(seed: int, size: int = 50_000) -> list[GroupSpec]:
    """Two groups whose content depends on ``seed``: random floats (a raw blob) and a list."""
    rng = np.random.default_rng(seed)
    arr = rng.random(size)
    view = arr[::3]
    return [
        GroupSpec(("arr", "view"), {"arr": arr, "view": view}, f"fp-arr-{seed}"),
        GroupSpec(("items",), {"items": [seed, "x" * seed, {"k": seed}]}, None),
    ]


def assert_simple(
    store: CheckpointStore, manifest: Manifest, seed: int, *, trust: bool = False
) -> None:
    """The checkpoint written from ``simple_groups(seed)`` loads back intact."""
    expected = simple_groups(seed)
    loaded = store.load_group(manifest, 0)
    np.testing.assert_array_equal(loaded["arr"], expected[0].values["arr"])
    assert np.shares_memory(loaded["arr"], loaded["view"])
    assert store.load_group(manifest, 1)["items"] == expected[1].values["items"]
    assert store.verify(manifest.url, trust=trust).ok


def roundtrip(values: dict[str, object]) -> dict[str, object]:
    """Serialize, copy every byte into fresh writable buffers (as a load from disk does), load."""
    group = serialize_group(values)
    fresh = SerializedGroup(
        names=group.names,
        stream=memoryview(bytearray(group.stream)),
        buffers=tuple(memoryview(bytearray(b)) for b in group.buffers),
        pickler=group.pickler,
    )
    return deserialize_group(fresh)
