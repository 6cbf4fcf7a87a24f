"""Schema of the store, as an ordered list of migrations.

``PRAGMA user_version`` records how many have run; each migration runs once, in its own
transaction, so an old database is brought up to date when it is opened.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from storage.outbox_schema import OUTBOX_SCHEMA


def _initial(db: sqlite_utils.Database) -> None:
    db.table("organizations").create(
        {"id": str, "name": str, "homepage": str}, pk="id", not_null={"name"}
    )
    db.table("monitors").create(
        {
            "id": str, "org_id": str, "kind": str, "url": str, "name": str,
            "every_seconds": float, "enabled": int, "options": str,
            # State carried between checks.
            "etag": str, "last_modified": str,
            "last_snapshot_hash": str, "last_content_hash": str,
            "last_check_at": str, "last_outcome": str, "last_status": int,
            "last_success_at": str, "last_change_at": str, "next_due_at": str,
            "consecutive_failures": int,
        },
        pk="id",
        not_null={"org_id", "kind", "url"},
        defaults={"consecutive_failures": 0, "enabled": 1},
        foreign_keys=[("org_id", "organizations", "id")],
    )
    db.table("snapshots").create(
        {
            "hash": str, "size": int, "content_type": str, "compression": str,
            "body": bytes, "first_seen_at": str,
        },
        pk="hash",
        not_null={"size", "compression", "body"},
    )
    db.table("contents").create({"hash": str, "text": str, "data": str}, pk="hash")
    db.table("checks").create(
        {
            "id": int, "monitor_id": str, "started_at": str, "duration_ms": int,
            "url": str, "final_url": str, "redirects": str, "status": int, "headers": str,
            "bytes": int, "outcome": str, "error": str,
            "snapshot_hash": str, "content_hash": str,
        },
        pk="id",
        not_null={"monitor_id", "started_at", "outcome"},
        foreign_keys=[
            ("monitor_id", "monitors", "id"),
            ("snapshot_hash", "snapshots", "hash"),
            ("content_hash", "contents", "hash"),
        ],
    )
    db.table("checks").create_index(["monitor_id", "id"])
    db.table("changes").create(
        {
            "id": int, "monitor_id": str, "check_id": int, "detected_at": str,
            "from_snapshot": str, "to_snapshot": str, "from_content": str, "to_content": str,
            "kind": str, "summary": str, "diff": str, "detail": str,
            "significance": float, "reasons": str,
        },
        pk="id",
        not_null={"monitor_id", "check_id", "kind"},
        defaults={"significance": 1.0, "reasons": "[]"},
        foreign_keys=[("monitor_id", "monitors", "id"), ("check_id", "checks", "id")],
    )
    db.table("changes").create_index(["monitor_id", "id"])


def _outbox(db: sqlite_utils.Database) -> None:
    """Digests: what each channel owes, what was sent, and failure alerts (storage/outbox.py)."""
    for statement in OUTBOX_SCHEMA:
        db.execute(statement)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_initial, _outbox]


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database) -> int:
    """Run the migrations this database has not seen; returns the new version."""
    version = schema_version(db)
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.atomic():
            migration(db)
            db.execute(f"PRAGMA user_version = {number}")
    return schema_version(db)
