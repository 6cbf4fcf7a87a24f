"""Response bodies decoded (gzip, deflate, zstd) in bounded steps.

httpx decodes each network chunk whole: a 16 KB chunk of a gzip bomb became 16 MB at
once, and a 64 KB zstd bomb took 1.2 GB before the byte cap could look at it. Here every
decoder hands its output on in pieces of at most ``STEP`` bytes (zlib's ``max_length``,
zstandard's ``write_size``), and the receiver stops the read by raising, so memory stays
at one piece whatever the compression ratio.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import IO, cast

import httpx
import zstandard

from core.errors import ProtocolFailed

STEP = 256 * 1024
#: What govwatch asks for, and so what it must be able to decode.
ACCEPT_ENCODING = "gzip, deflate, zstd"

Write = Callable[[bytes], None]


class _Inflate:
    """gzip or deflate. "deflate" is meant to be zlib-wrapped, yet some servers send it
    raw: the first bytes decide, as browsers do."""

    def __init__(self, write: Write, gzip: bool) -> None:
        self._write = write
        self._gzip = gzip
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
        self._started = False

    def __call__(self, data: bytes) -> None:
        if not self._started and not self._gzip:
            self._started = True
            try:
                zlib.decompressobj().decompress(data[:64])
            except zlib.error:
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        while data and not self._inflater.eof:
            piece = self._inflater.decompress(data, STEP)
            data = self._inflater.unconsumed_tail
            if piece:
                self._write(piece)

    def finish(self) -> None:
        rest = self._inflater.flush(STEP)
        if rest:
            self._write(rest)


class _Unzstd:
    def __init__(self, write: Write) -> None:
        receiver = cast(IO[bytes], _Receiver(write))
        self._writer = zstandard.ZstdDecompressor().stream_writer(
            receiver, write_size=STEP, closefd=False)

    def __call__(self, data: bytes) -> None:
        self._writer.write(data)

    def finish(self) -> None:
        self._writer.flush()  # type: ignore[no-untyped-call]


class _Receiver:
    """The file-like end of zstandard's stream writer."""

    def __init__(self, write: Write) -> None:
        self._write = write

    def write(self, data: bytes) -> int:
        self._write(bytes(data))
        return len(data)


def _decoder(coding: str, write: Write) -> _Inflate | _Unzstd:
    if coding in ("gzip", "x-gzip"):
        return _Inflate(write, gzip=True)
    if coding == "deflate":
        return _Inflate(write, gzip=False)
    if coding == "zstd":
        return _Unzstd(write)
    raise ProtocolFailed(
        f"unsupported Content-Encoding {coding!r} (govwatch asks for {ACCEPT_ENCODING})")


async def read_decoded(response: httpx.Response, write: Write) -> int:
    """Feed the body, decoded, to ``write`` in pieces of at most STEP bytes.

    ``write`` stops the read by raising. Returns the bytes received on the wire.
    """
    if response.is_stream_consumed:
        # Built in memory (httpx.MockTransport in tests): httpx has decoded it already.
        content = response.content
        for start in range(0, len(content), STEP):
            write(content[start:start + STEP])
        return len(content)
    codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    decoders: list[_Inflate | _Unzstd] = []
    sink = write
    # Codings are listed in the order they were applied: the last is undone first.
    for coding in codings:
        decoder = _decoder(coding, sink)
        decoders.insert(0, decoder)
        sink = decoder
    received = 0
    try:
        async for raw in response.aiter_raw():
            received += len(raw)
            sink(raw)
        for decoder in decoders:
            decoder.finish()
    except (zlib.error, zstandard.ZstdError) as exc:
        raise ProtocolFailed(f"cannot decode the {', '.join(codings)} body: {exc}") from exc
    return received
