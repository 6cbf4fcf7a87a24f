"""Bodies and contents stored whole or as deltas against an earlier version (storage/blobs.py)."""

from __future__ import annotations

import hashlib
import random

import pytest
import zstandard

from core.errors import StorageError
from core.records import Extracted
from pipeline.config import parse_config
from storage.blobs import COMPRESSION, DELTA, Base, BlobCodec, compress_body
from storage.db import Store
from storage.records import Check, Snapshot


def page(lines: int, seed: int = 1, extra: str = "") -> bytes:
    rng = random.Random(seed)
    words = [f"w{rng.randrange(10_000)}" for _ in range(2_000)]
    body = "".join(f"<p>{' '.join(rng.choices(words, k=10))}</p>\n" for _ in range(lines))
    return f"<html><body>{extra}{body}</body></html>".encode()


def base_of(raw: bytes, codec: BlobCodec) -> Base:
    return Base(hashlib.sha256(raw).hexdigest(), raw, len(codec.compress(raw)))


CASES = [
    # (name, base, new, stored form)
    ("first version, no base", None, page(300), COMPRESSION),
    ("one line added", page(300), page(300, extra="<p>New report</p>"), DELTA),
    ("identical", page(300), page(300), DELTA),
    ("rewritten page", page(300, seed=1), page(300, seed=2), COMPRESSION),
    ("tiny page, one word changed", b"<p>Revision 1</p>", b"<p>Revision 2</p>", COMPRESSION),
    ("empty body", page(10), b"", DELTA),
]


@pytest.mark.parametrize(("name", "base", "new", "form"), CASES, ids=[c[0] for c in CASES])
def test_pack_chooses_the_smaller_form_and_unpacks_exactly(
    name: str, base: bytes | None, new: bytes, form: str
) -> None:
    codec = BlobCodec()
    packed = codec.pack(new, base=None if base is None else base_of(base, codec))
    assert packed.compression == form
    assert (packed.base is not None) == (form == DELTA)
    assert codec.unpack(packed.blob, packed.compression, base) == new
    if base is not None and form == DELTA:
        assert len(packed.blob) <= base_of(base, codec).stored_size / 2


def test_a_small_edit_costs_tens_of_bytes() -> None:
    codec = BlobCodec()
    old, new = page(1000), page(1000, extra="<p>Call for comments, 28 November 2026</p>")
    packed = codec.pack(new, base=base_of(old, codec))
    assert packed.compression == DELTA and len(packed.blob) < 150, len(packed.blob)


@pytest.mark.parametrize(("blob", "compression", "base"), [
    (b"not zstd at all", COMPRESSION, None),
    (b"not zstd at all", DELTA, b"base"),
    (BlobCodec().compress(b"x"), "gzip", None),
    (BlobCodec().compress(b"x"), DELTA, None),
])
def test_unreadable_bytes_are_a_storage_error(
    blob: bytes, compression: str, base: bytes | None
) -> None:
    with pytest.raises(StorageError):
        BlobCodec().unpack(blob, compression, base)


@pytest.fixture
def synced(store: Store) -> Store:
    config = parse_config("organizations:\n  - id: o\n    name: O\n    monitors:\n"
                          "      - {id: m, kind: page, url: 'https://o.org/'}\n")
    store.sync_monitors(config.organizations)
    return store


def record(store: Store, n: int, body: bytes, text: str) -> None:
    snapshot, content = Snapshot.of(body, "text/html"), Extracted(text=text, data={"n": n})
    store.record(Check(monitor_id="m", started_at=f"2026-11-28T10:{n:02d}:00.000+00:00",
                       duration_ms=1, url="https://o.org/", outcome="changed",
                       snapshot_hash=snapshot.hash, content_hash=content.content_hash),
                 snapshot=snapshot, content=content)


def test_versions_are_stored_against_the_first_and_read_back(synced: Store) -> None:
    versions = [page(400, extra=f"<p>update {n}</p>" * n) for n in range(6)]
    texts = [f"text of version {n}\n" + "the same long paragraph. " * 400 for n in range(6)]
    for n, (body, text) in enumerate(zip(versions, texts, strict=True)):
        record(synced, n, body, text)
    rows = synced.db.execute(
        "SELECT hash, compression, base FROM snapshots ORDER BY first_seen_at, rowid").fetchall()
    first = hashlib.sha256(versions[0]).hexdigest()
    assert rows[0] == (first, COMPRESSION, None)
    assert [(c, b) for _, c, b in rows[1:]] == [(DELTA, first)] * 5, "depth one: all on the base"
    contents = synced.db.execute(
        "SELECT compression, base IS NOT NULL, text FROM contents ORDER BY rowid").fetchall()
    assert contents[0] == (COMPRESSION, 0, None)
    assert set(contents[1:]) == {(DELTA, 1, None)}
    for body in versions:
        assert synced.load_body(hashlib.sha256(body).hexdigest()) == body
    for (content_hash,) in synced.db.execute("SELECT content_hash FROM checks ORDER BY id"):
        loaded = synced.load_content(content_hash)
        assert loaded.content_hash == content_hash
    assert [synced.load_content(h).text for (h,) in synced.db.execute(
        "SELECT content_hash FROM checks ORDER BY id")] == texts


def test_a_page_that_drifts_far_from_its_base_starts_a_new_base(synced: Store) -> None:
    record(synced, 0, page(400, seed=1), "a")
    record(synced, 1, page(400, seed=2), "b")   # rewritten: stored whole
    record(synced, 2, page(400, seed=2, extra="<p>new</p>"), "c")
    forms = synced.db.execute(
        "SELECT compression, base FROM snapshots ORDER BY first_seen_at, rowid").fetchall()
    second = hashlib.sha256(page(400, seed=2)).hexdigest()
    assert forms[1] == (COMPRESSION, None)
    assert forms[2] == (DELTA, second)


def test_compress_body_reuses_a_compressor_per_thread_and_stays_exact() -> None:
    """Each thread keeps its own compressor (one may not be shared); every frame still
    decodes to its own body, however the calls interleave."""
    from concurrent.futures import ThreadPoolExecutor

    bodies = [(f"<p>version {n}</p>" * (50 + n)).encode() for n in range(200)]
    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(compress_body, bodies))
    decompressor = zstandard.ZstdDecompressor()
    assert [decompressor.decompress(frame) for frame in frames] == bodies
    assert compress_body(bodies[0]) == frames[0]  # deterministic, reused or not
