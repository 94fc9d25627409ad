"""Per-blob zstd compression, decided from a sample, and the chunked streams around it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Protocol, cast

import zstandard

__all__ = [
    "CHUNK_SIZE",
    "COMPRESSION_ZSTD",
    "iter_chunks",
    "iter_compressed",
    "read_blob_into",
    "should_compress",
]

COMPRESSION_ZSTD = "zstd"
CHUNK_SIZE = 8 << 20
"""Bytes handed to the file system per write; bounds the extra memory of a write."""

_SAMPLE_SIZE = 1 << 20
_MIN_SIZE = 4096
# Compress only when the sample shrinks by at least this fraction: float data typically saves
# a few percent, which does not pay for ~0.5-0.9 GB/s of zstd on the write and read path.
_MIN_SAVING = 0.15
_LEVEL = 1


def should_compress(data: memoryview) -> bool:
    """Decide whether a blob is worth compressing, from its first megabyte.

    Parameters
    ----------
    data
        The blob's bytes (a flat ``B``-format view).

    Returns
    -------
    bool
        True when zstd level 1 shrinks the sample by at least 15%.
    """
    if data.nbytes < _MIN_SIZE:
        return False
    sample = data[:_SAMPLE_SIZE]
    compressed = zstandard.ZstdCompressor(level=_LEVEL).compress(sample)
    return len(compressed) <= (1.0 - _MIN_SAVING) * sample.nbytes


def iter_chunks(data: memoryview, chunk_size: int = CHUNK_SIZE) -> Iterator[memoryview]:
    """Zero-copy slices of ``data`` of at most ``chunk_size`` bytes."""
    for start in range(0, data.nbytes, chunk_size):
        yield data[start : start + chunk_size]


def iter_compressed(data: memoryview, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The zstd frame of ``data``, produced chunk by chunk so memory stays bounded."""
    compressor = zstandard.ZstdCompressor(level=_LEVEL).compressobj(size=data.nbytes)
    for chunk in iter_chunks(data, chunk_size):
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


class _ReadInto(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


def read_blob_into(source: IO[bytes], target: memoryview, *, compressed: bool) -> int:
    """Fill ``target`` from ``source`` (decompressing when asked) and return the bytes read.

    A return value below ``target.nbytes`` means the blob is shorter than recorded.
    """
    reader = cast(
        "_ReadInto",
        zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
        if compressed
        else source,
    )
    filled = 0
    while filled < target.nbytes:
        n = reader.readinto(target[filled : filled + CHUNK_SIZE])
        if not n:
            break
        filled += n
    return filled
