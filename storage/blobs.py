"""Compressed, content-addressed bodies and contents, stored as deltas where that pays.

Successive versions of an official page differ by a line or two, so most versions are
stored as a zstd frame compressed with an earlier version of the same monitor as its
dictionary (``zstd-delta``): tens of bytes instead of kilobytes. The earlier version, the
*base*, is always stored whole (``zstd``), so reading any version decompresses at most two
frames, and a base is kept as long as a stored delta needs it (storage/retention.py).
A delta that grows past half of its base's size starts a new base: a page that drifted
far from its base, or was rewritten, is stored whole again.

Both tables hold the same kind of row: ``hash`` is the SHA-256 of the raw bytes (a body,
or a content's canonical JSON), so ``verify`` can decode and re-hash every row.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

import sqlite_utils
import zstandard

from core.errors import StorageError

COMPRESSION = "zstd"
DELTA = "zstd-delta"
#: A delta above this share of its base's compressed size is stored whole instead.
DELTA_SHARE = 0.5
# Level 3 is zstd's default: most of the ratio of higher levels at a fraction of the CPU.
_LEVEL = 3

_THREAD = threading.local()

Table = Literal["snapshots", "contents"]
#: A row as read: (compressed bytes, compression, base hash).
_Row = tuple[bytes | None, str | None, str | None]
# The column holding the compressed bytes in each table.
_BLOB_COLUMN = {"snapshots": "body", "contents": "packed"}


def compress_body(body: bytes) -> bytes:
    """Compress as the store does, in a process of its own (a parsing worker)."""
    compressor: zstandard.ZstdCompressor | None = getattr(_THREAD, "compressor", None)
    if compressor is None:
        # Reused: setting up a compressor was a sixth of compressing a 60 kB page, twice
        # per new version. One per thread, since a compressor may not be shared by two.
        compressor = _THREAD.compressor = zstandard.ZstdCompressor(level=_LEVEL)
    return compressor.compress(body)


@dataclass(frozen=True, slots=True)
class Packed:
    """Bytes as stored: a whole zstd frame, or a delta against the row ``base``."""

    blob: bytes
    compression: str
    base: str | None = None


@dataclass(frozen=True, slots=True)
class Base:
    """A stored version new versions may be compressed against."""

    hash: str
    raw: bytes
    stored_size: int


class BlobCodec:
    """zstd with and without a base. One per store: zstd contexts are not thread-safe."""

    def __init__(self) -> None:
        self._compressor = zstandard.ZstdCompressor(level=_LEVEL)
        self._decompressor = zstandard.ZstdDecompressor()

    def compress(self, raw: bytes) -> bytes:
        return self._compressor.compress(raw)

    def pack(self, raw: bytes, *, full: bytes | None = None, base: Base | None = None) -> Packed:
        """The stored form of ``raw``: a delta against ``base`` when it is small enough.

        ``full`` is ``raw`` already compressed whole (by a parsing worker), if at hand.
        """
        if base is not None:
            dictionary = zstandard.ZstdCompressionDict(
                base.raw, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            delta = zstandard.ZstdCompressor(level=_LEVEL, dict_data=dictionary).compress(raw)
            if len(delta) <= base.stored_size * DELTA_SHARE:
                return Packed(delta, DELTA, base.hash)
        return Packed(full if full is not None else self.compress(raw), COMPRESSION)

    def unpack(self, blob: bytes, compression: str, base_raw: bytes | None = None) -> bytes:
        if not isinstance(blob, bytes):  # SQLite stores whatever type a tamperer writes
            raise StorageError(f"stored data is {type(blob).__name__}, not bytes: the row "
                               "was altered")
        try:
            if compression == COMPRESSION:
                return self._decompressor.decompress(blob)
            if compression == DELTA and base_raw is not None:
                dictionary = zstandard.ZstdCompressionDict(
                    base_raw, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
                return zstandard.ZstdDecompressor(dict_data=dictionary).decompress(blob)
        except zstandard.ZstdError as exc:
            raise StorageError(f"stored data is corrupt: {exc}") from exc
        raise StorageError(f"unknown compression {compression!r}")


class BlobTable:
    """Reads and packs the compressed rows of ``snapshots`` or ``contents``."""

    def __init__(self, db: sqlite_utils.Database, codec: BlobCodec, table: Table) -> None:
        self._db = db
        self._codec = codec
        self.table = table
        self._column = _BLOB_COLUMN[table]
        self._noun = "snapshot" if table == "snapshots" else "content"

    def _row(self, digest: str) -> _Row | None:
        row = self._db.execute(
            f"SELECT {self._column}, compression, base FROM {self.table} WHERE hash = ?",
            [digest]).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def raw(self, digest: str) -> bytes:
        """The raw bytes of a packed row; StorageError when missing, pruned or corrupt."""
        row = self._row(digest)
        if row is None:
            raise StorageError(f"{self._noun} {digest[:12]} is missing from the store")
        return self.decode(digest, *row)

    def decode(
        self, digest: str, blob: bytes | None, compression: str | None, base: str | None
    ) -> bytes:
        if blob is None or compression is None:
            raise StorageError(f"the {self._noun} {digest[:12]} has no stored bytes "
                               "(pruned, or stored before compression)")
        base_raw = None
        if compression == DELTA:
            whole = self._whole(base) if base is not None else None
            if whole is None:
                raise StorageError(f"{self._noun} {digest[:12]} is stored against base "
                                   f"{(base or 'NULL')[:12]}, which is missing, pruned or "
                                   "not whole")
            base_raw = whole.raw
        return self._codec.unpack(blob, compression, base_raw)

    def _whole(self, digest: str, row: _Row | None = None) -> Base | None:
        """The row ``digest`` (read unless given) as a base, if it is stored whole (bases
        always are)."""
        row = row if row is not None else self._row(digest)
        if row is None or row[0] is None or row[1] != COMPRESSION:
            return None
        return Base(digest, self._codec.unpack(row[0], COMPRESSION), len(row[0]))

    def base_after(self, previous: str | None) -> Base | None:
        """The base a monitor's next version is packed against: that of its ``previous``
        (the previous version itself when it is whole)."""
        if previous is None:
            return None
        row = self._row(previous)
        if row is None or row[0] is None:
            return None
        if row[1] == DELTA:
            return self._whole(row[2]) if row[2] is not None else None
        return self._whole(previous, row)

    def pack(self, raw: bytes, previous: str | None, full: bytes | None = None) -> Packed:
        return self._codec.pack(raw, full=full, base=self.base_after(previous))
