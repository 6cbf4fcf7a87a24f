"""The SQLite store: one file, WAL mode, one transaction per check."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from monitors.errors import StorageError
from monitors.records import Change, Extracted, canonical_json
from storage.blobs import COMPRESSION, BlobCodec
from storage.migrations import migrate
from storage.records import (
    SUCCESS_OUTCOMES,
    Check,
    MonitorState,
    NextAttempt,
    Recorded,
    Snapshot,
    iso,
    utc_now,
)

# Response headers worth keeping as evidence; the rest is noise (cookies, tracing ids).
KEPT_HEADERS = (
    "content-type", "content-length", "etag", "last-modified", "date", "server",
    "cache-control", "expires", "location", "retry-after", "content-encoding",
)


class Store:
    """Reads and writes govwatch's history. Every public write is one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=30)
            self.db = sqlite_utils.Database(conn)
            self.db.enable_wal()
            # NORMAL is durable across process crashes in WAL mode; only an OS crash can
            # lose the last commits, never corrupt the file.
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self.schema_version = migrate(self.db)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        self._codec = BlobCodec()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- configuration -------------------------------------------------------------
    def sync_monitors(self, organizations: Iterable[Any]) -> None:
        """Upsert organizations and monitor settings; state columns are left alone."""
        with self.db.atomic():
            for org in organizations:
                self.db.table("organizations").upsert(
                    {"id": org.id, "name": org.name, "homepage": org.homepage}, pk="id"
                )
                for monitor in org.monitors:
                    settings = monitor.model_dump(mode="json")
                    self.db.table("monitors").upsert(
                        {
                            "id": monitor.id, "org_id": org.id, "kind": monitor.kind,
                            "url": monitor.url, "name": monitor.name,
                            "every_seconds": monitor.every.total_seconds(),
                            "enabled": int(monitor.enabled),
                            "options": canonical_json(settings),
                        },
                        pk="id",
                    )

    # -- the pipeline's reads --------------------------------------------------------
    def monitor_state(self, monitor_id: str) -> MonitorState:
        row = self.db.execute(
            "SELECT etag, last_modified, last_snapshot_hash, last_content_hash, "
            "last_check_at, next_due_at, consecutive_failures FROM monitors WHERE id = ?",
            [monitor_id],
        ).fetchone()
        if row is None:
            return MonitorState(monitor_id, None, None, None, None, None, None, 0)
        etag, last_modified, snapshot_hash, content_hash, checked_at, due_at, failures = row
        return MonitorState(
            monitor_id, etag, last_modified, snapshot_hash, content_hash, checked_at, due_at,
            failures or 0,
        )

    def due_monitor_ids(self, now: datetime) -> set[str]:
        rows = self.db.execute(
            "SELECT id FROM monitors WHERE enabled AND (next_due_at IS NULL OR next_due_at <= ?)",
            [iso(now)],
        )
        return {row[0] for row in rows}

    def load_content(self, content_hash: str) -> Extracted:
        row = self.db.execute(
            "SELECT text, data FROM contents WHERE hash = ?", [content_hash]
        ).fetchone()
        if row is None:
            raise StorageError(f"content {content_hash[:12]} is missing from the store")
        return Extracted(text=row[0] or "", data=json.loads(row[1] or "{}"))

    def load_body(self, snapshot_hash: str) -> bytes:
        row = self.db.execute(
            "SELECT body, compression FROM snapshots WHERE hash = ?", [snapshot_hash]
        ).fetchone()
        if row is None:
            raise StorageError(f"snapshot {snapshot_hash[:12]} is missing from the store")
        return self._codec.decompress(row[0], row[1])

    # -- the one write of a cycle ----------------------------------------------------
    def record(
        self,
        check: Check,
        *,
        snapshot: Snapshot | None = None,
        content: Extracted | None = None,
        change: Change | None = None,
        every: timedelta | None = None,
        next_attempt: NextAttempt | None = None,
    ) -> Recorded:
        """Commit a check with its snapshot, content and change atomically.

        ``next_attempt`` (back-off, Retry-After, cron) wins over ``started + every``.
        """
        now = iso(utc_now())
        compressed = self._codec.compress(snapshot.body) if snapshot is not None else None
        try:
            with self.db.atomic():
                return self._record(check, snapshot, compressed, content, change, every, now,
                                    next_attempt)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot record check of {check.monitor_id}: {exc}") from exc

    def _record(
        self,
        check: Check,
        snapshot: Snapshot | None,
        compressed: bytes | None,
        content: Extracted | None,
        change: Change | None,
        every: timedelta | None,
        now: str,
        next_attempt: NextAttempt | None = None,
    ) -> Recorded:
        db = self.db
        previous = self.monitor_state(check.monitor_id)
        if snapshot is not None and compressed is not None:
            db.execute(
                "INSERT OR IGNORE INTO snapshots (hash, size, content_type, compression, body, "
                "first_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
                [snapshot.hash, len(snapshot.body), snapshot.content_type, COMPRESSION,
                 compressed, now],
            )
        if content is not None:
            db.execute(
                "INSERT OR IGNORE INTO contents (hash, text, data) VALUES (?, ?, ?)",
                [content.content_hash, content.text, canonical_json(content.data)],
            )
        headers = {k: v for k, v in check.headers.items() if k in KEPT_HEADERS}
        check_id = db.table("checks").insert(
            {
                "monitor_id": check.monitor_id, "started_at": check.started_at,
                "duration_ms": check.duration_ms, "url": check.url,
                "final_url": check.final_url,
                "redirects": json.dumps([asdict(r) for r in check.redirects]),
                "status": check.status, "headers": canonical_json(headers),
                "bytes": check.bytes, "outcome": check.outcome, "error": check.error,
                "snapshot_hash": check.snapshot_hash, "content_hash": check.content_hash,
            }
        ).last_pk
        change_id = None
        if change is not None:
            change_id = db.table("changes").insert(
                {
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
                }
            ).last_pk
        db.execute(*self._state_update(check, previous, change is not None, every,
                                       next_attempt))
        assert check_id is not None
        return Recorded(check_id=int(check_id), change_id=change_id)

    @staticmethod
    def _state_update(
        check: Check, previous: MonitorState, changed: bool, every: timedelta | None,
        next_attempt: NextAttempt | None = None,
    ) -> tuple[str, list[Any]]:
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
            if check.outcome != "not-modified":
                # Validators are only trusted once their body was stored and extracted.
                fields["etag"] = check.headers.get("etag")
                fields["last_modified"] = check.headers.get("last-modified")
                fields["last_snapshot_hash"] = check.snapshot_hash
                fields["last_content_hash"] = check.content_hash
        else:
            fields["consecutive_failures"] = previous.consecutive_failures + 1
        if changed:
            fields["last_change_at"] = check.started_at
        assignments = ", ".join(f"{name} = ?" for name in fields)
        return (
            f"UPDATE monitors SET {assignments} WHERE id = ?",
            [*fields.values(), check.monitor_id],
        )
