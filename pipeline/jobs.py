"""What a worker of the pool runs: the pure middle of a check, and the reads of the store
it does itself (reading, decompressing and sending them would cost the parent as much
again). Each function takes and returns plain, picklable values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from core.errors import StorageError
from core.records import Extracted, FetchResult, Volatile
from monitors.base import Monitor
from monitors.volatility import NO_NOISE, Noise
from pipeline import stages
from pipeline.stages import Outcome
from storage.blobs import compress_body
from storage.db import Store
from storage.records import Check, MonitorState, PackedContent
from storage.templates import PageRefs, StoredTemplate, stored_template

#: In a worker: one read-only connection per database, opened by its first job.
_READERS: dict[str, Store] = {}


def read_previous(database: str, state: MonitorState) -> Extracted | None:
    """In a worker: the monitor's previous content, read from the store by the worker
    itself (reading, decompressing and sending it would cost the parent as much again)."""
    if state.last_content_hash is None:
        return None
    return _reader(database).load_content(state.last_content_hash)


def _reader(database: str) -> Store:
    reader = _READERS.get(database)
    if reader is None:
        reader = _READERS[database] = Store(database, readonly=True)
    return reader


def site_template_job(database: str, refs: PageRefs) -> StoredTemplate:
    """In a worker: what a site's stored pages share, read from the store by the worker
    (800 stored pages took the event loop 0.8 s to read and count)."""
    return stored_template(_reader(database), refs)


def evaluate_stored_job(
    monitor: Monitor, fetched: FetchResult, state: MonitorState, database: str,
    noise: Noise = NO_NOISE,
) -> Outcome:
    """``evaluate_job`` for a worker that reads the previous content itself."""
    return evaluate_job(monitor, fetched, state, read_previous(database, state), noise)


def evaluate_job(
    monitor: Monitor, fetched: FetchResult, state: MonitorState, previous: Extracted | None,
    noise: Noise = NO_NOISE,
) -> Outcome:
    """Runs in a worker: ``stages.evaluate``, then what the store would compress.

    The body goes back only compressed, not raw: the parent has it. A monitor with a
    stored version gets a delta against it (made by the store), so only first versions are
    compressed here. The content goes back packed (hash and compressed JSON): a sixth of
    the bytes of its text and data, which cost more to pickle than to compress.
    """
    outcome = stages.evaluate(monitor, fetched, state, _previous_loader(state, previous),
                              noise)
    return pack_outcome(outcome, state, keep_body=False)


def learn_from_copy_job(
    monitor: Monitor, first_check: Check, first: Extracted | PackedContent,
    copy: FetchResult, noise: Noise, state: MonitorState, database: str | None,
    before: Extracted | None,
) -> tuple[Outcome, frozenset[Volatile]]:
    """Runs in a worker: ``stages.learn_from_copy``, the version before read by the
    worker itself when it has the database. The copy's body stays with the parent, which
    has it; its content goes back packed."""
    if database is not None:
        before = read_previous(database, state)
    outcome, learned = stages.learn_from_copy(monitor, first_check, first, copy, noise,
                                              before)
    snapshot = outcome.snapshot
    if snapshot is not None:
        snapshot = replace(snapshot, body=b"")
    return replace(outcome, snapshot=snapshot, content=pack_content(outcome.content)), learned


def pack_outcome(outcome: Outcome, state: MonitorState, *, keep_body: bool) -> Outcome:
    """An outcome as another process hands it to the writer: a first version's body
    compressed whole instead of raw (later ones become deltas against an earlier version,
    made by the store from the raw body), the content packed. ``keep_body=False`` drops
    every raw body, for a parent that has it already."""
    snapshot, content = outcome.snapshot, outcome.content
    if snapshot is not None:
        if state.last_snapshot_hash is None:
            snapshot = replace(snapshot, body=b"", compressed=compress_body(snapshot.body),
                               raw_size=len(snapshot.body))
        elif not keep_body:
            snapshot = replace(snapshot, body=b"")
    return replace(outcome, snapshot=snapshot, content=pack_content(content))


def pack_content(content: Extracted | PackedContent | None) -> PackedContent | None:
    """Hash and compressed JSON: a sixth of the bytes of the text and data, which cost
    more to pickle than to compress."""
    if isinstance(content, Extracted):
        return PackedContent(content.content_hash, compress_body(content.payload))
    return content


def _previous_loader(
    state: MonitorState, previous: Extracted | None
) -> Callable[[str], Extracted]:
    def load(content_hash: str) -> Extracted:
        if previous is None or content_hash != state.last_content_hash:
            raise StorageError(f"content {content_hash[:12]} was not sent to the worker")
        return previous
    return load
