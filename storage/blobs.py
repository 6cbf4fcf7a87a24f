"""Compressed, content-addressed raw bodies."""

from __future__ import annotations

import zstandard

from monitors.errors import StorageError

COMPRESSION = "zstd"
# Level 3 is zstd's default: most of the ratio of higher levels at a fraction of the CPU.
_LEVEL = 3


def compress_body(body: bytes) -> bytes:
    """Compress as the store does, in a process of its own (a parsing worker)."""
    return zstandard.ZstdCompressor(level=_LEVEL).compress(body)


class BlobCodec:
    """Compresses bodies for storage. One per store: zstd contexts are not thread-safe."""

    def __init__(self) -> None:
        self._compressor = zstandard.ZstdCompressor(level=_LEVEL)
        self._decompressor = zstandard.ZstdDecompressor()

    def compress(self, body: bytes) -> bytes:
        return self._compressor.compress(body)

    def decompress(self, blob: bytes, compression: str) -> bytes:
        if compression != COMPRESSION:
            raise StorageError(f"unknown body compression {compression!r}")
        try:
            return self._decompressor.decompress(blob)
        except zstandard.ZstdError as exc:
            raise StorageError(f"stored body is corrupt: {exc}") from exc
