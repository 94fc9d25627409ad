"""Fixtures: a temporary Jupyter environment with the kernelspec installed, and real kernels."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.utils import flush_iopub, start_kernel, stop_kernel

ROOT = Path(__file__).resolve().parent.parent
CLEARED_ENV = ("ELASTIC_STORE", "ELASTIC_SESSION", "ELASTIC_ALPHA", "JPY_SESSION_NAME")


@pytest.fixture(scope="session", autouse=True)
def jupyter_env() -> Iterator[Path]:
    """Install the kernelspec into a temporary prefix and point Jupyter only at it."""
    from elastic_kernel.install import install_kernelspec

    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="elastic-test-") as tmp:
        root = Path(tmp)
        install_kernelspec(prefix=str(root / "prefix"))
        os.environ["JUPYTER_PATH"] = str(root / "prefix" / "share" / "jupyter")
        os.environ["JUPYTER_DATA_DIR"] = str(root / "data")
        os.environ["JUPYTER_CONFIG_DIR"] = str(root / "config")
        os.environ["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
        os.environ["IPYTHONDIR"] = str(root / "ipython")
        # Background checkpoints are on by default for users; tests that are not about them
        # keep them off so each test's store holds only what it wrote (tests/kernel/
        # test_autosave.py and the differential test turn them on).
        os.environ["ELASTIC_AUTOSAVE"] = "0"
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        )
        # The kernel subprocesses must use this interpreter (the project's venv).
        os.environ["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), os.environ["PATH"]))
        try:
            yield root
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture(autouse=True)
def clean_elastic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with a bucket named ``bucket``; dummy credentials."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.delenv("AWS_PROFILE", raising=False)
        # botocore would route the endpoint through an HTTP proxy from the environment.
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("no_proxy", "127.0.0.1,localhost")
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        try:
            import s3fs

            fs = s3fs.S3FileSystem(
                client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True
            )
            # moto keeps its state per process: another module's server may have made it.
            fs.makedirs("bucket", exist_ok=True)
            yield endpoint
        finally:
            server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def kernel_pair() -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    km, kc = start_kernel("elastic")
    try:
        yield km, kc
    finally:
        stop_kernel(km, kc)


@pytest.fixture
def kernel(kernel_pair: tuple[KernelManager, BlockingKernelClient]) -> BlockingKernelClient:
    """An elastic kernel shared by a module; IOPub flushed between tests."""
    _, kc = kernel_pair
    flush_iopub(kc)
    return kc


@pytest.fixture
def fresh_kernel() -> Iterator[BlockingKernelClient]:
    """A new elastic kernel process for this test alone."""
    km, kc = start_kernel("elastic")
    try:
        yield kc
    finally:
        stop_kernel(km, kc)
