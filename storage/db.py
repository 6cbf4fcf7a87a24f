"""The SQLite store: one file, WAL mode, one transaction per check."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from core.canonical import canonical_json, read_json
from core.errors import StorageError
from core.records import Change, Extracted, Volatile
from storage.blobs import COMPRESSION, BlobCodec, BlobTable, Packed
from storage.chain import chain_check
from storage.crashpoints import crash_point
from storage.opening import open_database
from storage.records import (
    SEARCHED_OUTCOMES,
    SUCCESS_OUTCOMES,
    Capture,
    Check,
    Copy,
    MonitorState,
    NextAttempt,
    PackedContent,
    Recorded,
    Snapshot,
    iso,
    utc_now,
)
from storage.sync import sync_config

# Response headers worth keeping as evidence; the rest is noise (cookies, tracing ids).
KEPT_HEADERS = (
    "content-type", "content-length", "etag", "last-modified", "date", "server",
    "cache-control", "expires", "location", "retry-after", "content-encoding",
)


def _check_row(check: Check) -> dict[str, Any]:
    headers = {k: v for k, v in check.headers.items() if k in KEPT_HEADERS}
    return {
        "monitor_id": check.monitor_id, "started_at": check.started_at,
        "duration_ms": check.duration_ms, "url": check.url, "final_url": check.final_url,
        "redirects": json.dumps([asdict(r) for r in check.redirects]),
        "status": check.status, "headers": canonical_json(headers),
        "bytes": check.bytes, "outcome": check.outcome, "error": check.error,
        "snapshot_hash": check.snapshot_hash, "content_hash": check.content_hash,
        "note": check.note, "served_snapshot_hash": check.served_snapshot_hash,
    }


class Store:
    """Reads and writes govwatch's history. Every public write is one transaction."""

    def __init__(self, path: str | Path, *, readonly: bool = False, create: bool = True) -> None:
        """Open (creating and migrating) the store; ``readonly`` opens it untouched.

        ``create=False`` opens an existing database only: a missing one raises
        :class:`DatabaseMissing` and nothing is created, not even its directory.
        """
        self.path = Path(path)
        self._codec = BlobCodec()
        self._synced: Iterable[Any] | None = None
        self.db, self.schema_version = open_database(
            self.path, readonly=readonly, create=create)

    def close(self) -> None:
        self.db.close()

    @cached_property
    def bodies(self) -> BlobTable:
        return BlobTable(self.db, self._codec, "snapshots")

    @cached_property
    def packed_contents(self) -> BlobTable:
        return BlobTable(self.db, self._codec, "contents")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- configuration -------------------------------------------------------------
    def sync_monitors(self, organizations: Iterable[Any]) -> None:
        """Upsert organizations and monitor settings, keeping each monitor's state
        (``storage.sync``). The very list synced last (``govwatch run`` syncs, then its
        cycle does) is not compared again: 20 ms at 1000 monitors."""
        if organizations is self._synced:
            return
        sync_config(self.db, organizations)
        self._synced = organizations  # only once written: a failed sync is retried

    # -- the pipeline's reads --------------------------------------------------------
    def monitor_state(self, monitor_id: str) -> MonitorState:
        row = self.db.execute(
            "SELECT etag, last_modified, last_snapshot_hash, last_content_hash, "
            "last_check_at, next_due_at, consecutive_failures, signal, last_final_url, "
            # When the baseline was fetched: its clocks read as that time.
            "(SELECT started_at FROM checks WHERE checks.monitor_id = monitors.id "
            " AND checks.content_hash = monitors.last_content_hash "
            " AND checks.outcome != 'confirm' ORDER BY checks.id DESC LIMIT 1) "
            "FROM monitors WHERE id = ?",
            [monitor_id],
        ).fetchone()
        if row is None:
            return MonitorState(monitor_id, None, None, None, None, None, None, 0)
        (etag, last_modified, snapshot_hash, content_hash, checked_at, due_at, failures,
         signal, final_url, content_at) = row
        return MonitorState(
            monitor_id, etag, last_modified, snapshot_hash, content_hash, checked_at, due_at,
            failures or 0, signal, final_url, content_at,
        )

    def without_validators(self, monitor_ids: Sequence[str]) -> int:
        """How many of ``monitor_ids`` have no ETag and no Last-Modified stored (their next
        fetch cannot be answered 304)."""
        row = self.db.execute(
            "SELECT count(*) FROM json_each(?) LEFT JOIN monitors ON monitors.id = value "
            "WHERE monitors.etag IS NULL AND monitors.last_modified IS NULL",
            [json.dumps(list(monitor_ids))]).fetchone()
        return int(row[0])

    def due_monitor_ids(self, now: datetime) -> set[str]:
        rows = self.db.execute(
            "SELECT id FROM monitors WHERE enabled AND (next_due_at IS NULL OR next_due_at <= ?)",
            [iso(now)],
        )
        return {row[0] for row in rows}

    def load_content(self, content_hash: str) -> Extracted:
        row = self.db.execute(
            "SELECT text, data, compression, packed, base FROM contents WHERE hash = ?",
            [content_hash],
        ).fetchone()
        if row is None:
            raise StorageError(f"content {content_hash[:12]} is missing from the store")
        text, data, compression, packed, base = row
        if compression is None:  # stored before contents were compressed
            return Extracted(text=text or "", data=json.loads(data or "{}"))
        payload = read_json(self.packed_contents.decode(content_hash, packed, compression, base))
        return Extracted(text=payload["text"], data=payload["data"])

    def load_body(self, snapshot_hash: str) -> bytes:
        row = self.db.execute(
            "SELECT body IS NULL FROM snapshots WHERE hash = ?", [snapshot_hash]
        ).fetchone()
        if row is None:
            raise StorageError(f"snapshot {snapshot_hash[:12]} is missing from the store")
        if row[0]:
            raise StorageError(f"the body of snapshot {snapshot_hash[:12]} was pruned")
        return self.bodies.raw(snapshot_hash)

    # -- the one write of a cycle ----------------------------------------------------
    def record(
        self,
        check: Check,
        *,
        snapshot: Snapshot | None = None,
        content: Extracted | PackedContent | None = None,
        change: Change | None = None,
        every: timedelta | None = None,
        signal: str | None = None,
        notable: bool = True,
        captures: Sequence[Capture] = (),
        next_attempt: NextAttempt | None = None,
        copy: Copy | None = None,
        noted: Sequence[Volatile] = (),
    ) -> Recorded:
        """Commit a check with its snapshot, content, change and captures atomically.

        ``signal`` is the status signal the monitor is in after this check (None: normal).
        ``next_attempt`` (back-off, Retry-After, cron) wins over ``started + every``.
        ``copy``, a confirming copy, is recorded just before the check, in the same
        transaction, with what the two copies taught the monitor. ``noted``: facts noted
        for the monitor with a real change (``monitors.recurring``).
        """
        now = iso(utc_now())
        try:
            with self.db.atomic():
                if copy is not None:
                    self._record_copy(copy, now)
                recorded = self._record(
                    check, snapshot, content, change, every, now, notable, signal,
                    next_attempt, captures,
                )
                self._note_volatile(check.monitor_id, noted, check.started_at,
                                    recorded.check_id)
                crash_point("check-uncommitted")
                return recorded
        except sqlite3.Error as exc:
            raise StorageError(f"cannot record check of {check.monitor_id}: {exc}") from exc

    def record_copy(self, copy: Copy) -> None:
        """Commit a confirming copy taken after the check it confirms (a first check's:
        that check is new whatever the copy shows, so it is stored first)."""
        try:
            with self.db.atomic():
                self._record_copy(copy, iso(utc_now()))
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot record the copy of {copy.check.monitor_id}: {exc}") from exc

    def _record(
        self,
        check: Check,
        snapshot: Snapshot | None,
        content: Extracted | PackedContent | None,
        change: Change | None,
        every: timedelta | None,
        now: str,
        notable: bool,
        signal: str | None,
        next_attempt: NextAttempt | None = None,
        captures: Sequence[Capture] = (),
    ) -> Recorded:
        db = self.db
        previous = self.monitor_state(check.monitor_id)
        if snapshot is not None:
            self._store_snapshot(snapshot, now, previous.last_snapshot_hash)
        if content is not None:
            self._store_content(content, previous.last_content_hash)
            if check.outcome in SEARCHED_OUTCOMES:  # a text left out of search, now a version
                db.execute("UPDATE contents SET indexed = NULL WHERE hash = ? AND indexed = 0",
                           [check.content_hash])
        check_id = self._insert("checks", _check_row(check))
        change_id = None
        if change is not None:
            change_id = self._insert(
                "changes", {
                    "monitor_id": check.monitor_id, "check_id": check_id,
                    "detected_at": check.started_at,
                    "from_snapshot": previous.last_snapshot_hash,
                    "to_snapshot": check.snapshot_hash,
                    "from_content": previous.last_content_hash,
                    "to_content": check.content_hash,
                    "kind": change.kind, "summary": change.summary, "diff": change.diff,
                    "detail": canonical_json(change.detail),
                    "significance": change.significance,
                    "reasons": canonical_json(list(change.reasons)),
                    "notable": int(notable),
                }
            )
            for capture in captures:  # before the chain link, which covers them
                self._capture(change_id, capture, now)
        head = chain_check(db, check_id, check.monitor_id, with_change=change is not None)
        state = self._state_update(check, previous, change is not None, every, next_attempt)
        state["signal"], state["chain_head"] = signal, head
        assignments = ", ".join(f"{name} = ?" for name in state)
        db.execute(f"UPDATE monitors SET {assignments} WHERE id = ?",
                   [*state.values(), check.monitor_id])
        return Recorded(check_id=check_id, change_id=change_id)

    def _record_copy(self, copy: Copy, now: str) -> None:
        """A confirming copy's check, chained like any check; the monitor's state (its
        baseline, validators, due time) stays that of the check it confirms."""
        check = copy.check
        previous = self.monitor_state(check.monitor_id)
        if copy.snapshot is not None:
            self._store_snapshot(copy.snapshot, now, previous.last_snapshot_hash)
        if copy.content is not None:
            self._store_content(copy.content, previous.last_content_hash)
        check_id = self._insert("checks", _check_row(check))
        head = chain_check(self.db, check_id, check.monitor_id, with_change=False)
        self.db.execute("UPDATE monitors SET chain_head = ? WHERE id = ?",
                        [head, check.monitor_id])
        self._note_volatile(check.monitor_id, copy.learned, check.started_at, check_id)

    def _note_volatile(self, monitor_id: str, items: Iterable[Volatile], seen_at: str,
                       check_id: int) -> None:
        """What a monitor learned (or noted) changes by itself, seen at ``seen_at``."""
        for item in items:
            self.db.execute(
                "INSERT INTO volatility (monitor_id, kind, place, what, first_seen_at, "
                "last_seen_at, seen, learned_by_check) VALUES (?, ?, ?, ?, ?, ?, 1, ?) "
                "ON CONFLICT DO UPDATE SET last_seen_at = excluded.last_seen_at, "
                "seen = seen + 1",
                [monitor_id, item.kind, item.where, item.what, seen_at, seen_at, check_id])

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        """One row, through the connection: sqlite-utils' insert() costs 0.1 ms more."""
        columns = ", ".join(row)
        cursor = self.db.conn.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _store_snapshot(
        self, snapshot: Snapshot, now: str, previous: str | None = None
    ) -> None:
        if snapshot.served is not None:
            self._store_snapshot(snapshot.served, now)
        if self.db.execute("SELECT 1 FROM snapshots WHERE hash = ? AND body IS NOT NULL",
                           [snapshot.hash]).fetchone():
            return
        packed = self.bodies.pack(snapshot.body, previous, snapshot.compressed)
        # A body seen again after it was pruned is stored again.
        self.db.execute(
            "INSERT INTO snapshots (hash, size, content_type, compression, body, base, "
            "first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET "
            "body = excluded.body, compression = excluded.compression, "
            "base = excluded.base, pruned_at = NULL WHERE snapshots.body IS NULL",
            [snapshot.hash, snapshot.size, snapshot.content_type, packed.compression,
             packed.blob, packed.base, now],
        )

    def _store_content(self, content: Extracted | PackedContent, previous: str | None) -> None:
        digest = content.hash if isinstance(content, PackedContent) else content.content_hash
        if self.db.execute("SELECT 1 FROM contents WHERE hash = ?", [digest]).fetchone():
            return
        if isinstance(content, PackedContent):
            base = self.packed_contents.base_after(previous)
            if base is None:
                packed = Packed(content.compressed, COMPRESSION)
            else:
                raw = self._codec.unpack(content.compressed, COMPRESSION)
                packed = self._codec.pack(raw, full=content.compressed, base=base)
        else:
            packed = self.packed_contents.pack(content.payload, previous)
        self.db.execute(
            "INSERT INTO contents (hash, compression, base, packed) VALUES (?, ?, ?, ?)",
            [digest, packed.compression, packed.base, packed.blob],
        )

    def _capture(self, change_id: int, capture: Capture, now: str) -> None:
        if capture.snapshot is not None:
            self._store_snapshot(capture.snapshot, now)
        self.db.table("captures").insert({
            "change_id": change_id, "url": capture.url, "title": capture.title,
            "fetched_at": capture.fetched_at, "status": capture.status,
            "final_url": capture.final_url, "error": capture.error,
            "snapshot_hash": capture.snapshot.hash if capture.snapshot else None,
        })

    @staticmethod
    def _state_update(
        check: Check, previous: MonitorState, changed: bool, every: timedelta | None,
        next_attempt: NextAttempt | None = None,
    ) -> dict[str, Any]:
        started = datetime.fromisoformat(check.started_at)
        next_due = iso(started + every) if every is not None else None
        fields: dict[str, Any] = {
            "last_check_at": check.started_at, "last_outcome": check.outcome,
            "last_status": check.status, "next_due_at": next_due,
        }
        if next_attempt is not None:
            fields["next_due_at"] = next_attempt.next_due_at
            fields["backoff_until"] = next_attempt.backoff_until
            fields["retry_after"] = next_attempt.retry_after
        if check.outcome in SUCCESS_OUTCOMES:
            fields["consecutive_failures"] = 0
            fields["last_success_at"] = check.started_at
            if check.final_url:
                fields["last_final_url"] = check.final_url
            if check.outcome != "not-modified" and check.content_hash is not None:
                # Validators are only trusted once their body was stored and extracted;
                # a 404 page or a block page never becomes the baseline.
                fields["etag"] = check.headers.get("etag")
                fields["last_modified"] = check.headers.get("last-modified")
                fields["last_snapshot_hash"] = check.snapshot_hash
                fields["last_content_hash"] = check.content_hash
        else:
            fields["consecutive_failures"] = previous.consecutive_failures + 1
        if changed:
            fields["last_change_at"] = check.started_at
        return fields
