"""Fixtures of the store tests: a signing key, stores on disk and in memory, a moto S3 server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from elastic_kernel.store import CheckpointStore, load_or_create_key


@pytest.fixture
def key(tmp_path: Path) -> bytes:
    return load_or_create_key(tmp_path / "keys" / "secret.key")


@pytest.fixture
def local_store(tmp_path: Path, key: bytes) -> CheckpointStore:
    return CheckpointStore(str(tmp_path / "store"), key=key)


@pytest.fixture
def memory_store(key: bytes) -> Iterator[CheckpointStore]:
    import fsspec

    name = f"store-{uuid.uuid4().hex}"
    yield CheckpointStore(f"memory://{name}", key=key)
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{name}"):
        fs.rm(f"/{name}", recursive=True)


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest) -> CheckpointStore:
    fixture = "local_store" if request.param == "local" else "memory_store"
    result: CheckpointStore = request.getfixturevalue(fixture)
    return result


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore would route the moto endpoint through an HTTP proxy from the environment.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
