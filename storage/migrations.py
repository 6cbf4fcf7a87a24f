"""Schema of the store, as an ordered list of migrations.

``PRAGMA user_version`` records how many have run; each migration runs once, in its own
transaction, so an old database is brought up to date when it is opened.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from core.errors import StorageError
from storage.audit_schema import audit_trail, plain_search_text, search_index_only
from storage.chain import seal_legacy_records
from storage.outbox_schema import OUTBOX_SCHEMA, failed_state_statements


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


def _detection(db: sqlite_utils.Database) -> None:
    """Status signals, notable changes and captured new documents."""
    monitors = db.table("monitors")
    # The status signal a monitor is in (removed, soft-404, blocked, needs-js) or NULL.
    monitors.add_column("signal", str)
    monitors.add_column("last_final_url", str)
    # A change under its monitor's min_significance stays in the history, unannounced.
    db.table("changes").add_column("notable", int, not_null_default=1)
    db.table("captures").create(
        {
            "id": int, "change_id": int, "url": str, "title": str, "fetched_at": str,
            "status": int, "final_url": str, "snapshot_hash": str, "error": str,
        },
        pk="id",
        not_null={"change_id", "url", "fetched_at"},
        foreign_keys=[("change_id", "changes", "id"), ("snapshot_hash", "snapshots", "hash")],
    )
    db.table("captures").create_index(["change_id"])



def _unattended(db: sqlite_utils.Database) -> None:
    """Back-off and Retry-After state, run heartbeats and the robots.txt cache."""
    monitors = db.table("monitors")
    monitors.add_column("backoff_until", str)
    monitors.add_column("retry_after", str)
    db.table("runs").create(
        {
            "id": int, "mode": str, "pid": int, "started_at": str, "finished_at": str,
            "checked": int, "new": int, "changed": int, "unchanged": int,
            "not_modified": int, "errors": int,
        },
        pk="id",
        not_null={"mode", "started_at", "finished_at"},
    )
    db.table("robots").create(
        {"host": str, "url": str, "fetched_at": str, "status": int, "body": str}, pk="host",
        not_null={"url", "fetched_at"},
    )


def _outbox(db: sqlite_utils.Database) -> None:
    """Digests: what each channel owes, what was sent, and failure alerts (storage/outbox.py)."""
    for statement in OUTBOX_SCHEMA:
        db.execute(statement)


def _deferred_search(db: sqlite_utils.Database) -> None:
    """Full-text indexing leaves the write path: `search` indexes what is new first.

    Indexing a page's text cost about as much as storing the whole check; a search is rare
    and can pay for the versions recorded since the last one.
    """
    db.execute("DROP TRIGGER IF EXISTS contents_fts_insert")
    db.table("contents").add_column("indexed", int)
    db.execute("UPDATE contents SET indexed = 1")  # the trigger indexed every row so far
    db.execute("CREATE INDEX contents_unindexed ON contents (hash) WHERE indexed IS NULL")


def _delta_storage(db: sqlite_utils.Database) -> None:
    """Versions stored as zstd deltas against a base version (storage/blobs.py).

    Extracted contents are compressed too, as one canonical JSON document (the bytes their
    hash is computed over) in ``packed``; rows written before keep ``text`` and ``data``.
    """
    db.table("snapshots").add_column("base", str)
    contents = db.table("contents")
    contents.add_column("compression", str)
    contents.add_column("base", str)
    contents.add_column("packed", bytes)


def _learned_noise(db: sqlite_utils.Database) -> None:
    """What each monitor learned changes by itself on its source (monitors/volatility.py),
    and a note on a check saying why it was judged as it was (a confirming copy, noise)."""
    db.table("checks").add_column("note", str)
    db.table("volatility").create(
        {
            "monitor_id": str, "kind": str, "place": str, "what": str,
            "first_seen_at": str, "last_seen_at": str, "seen": int, "learned_by_check": int,
        },
        pk=("monitor_id", "kind", "place", "what"),
        not_null={"first_seen_at", "last_seen_at", "seen"},
        foreign_keys=[("monitor_id", "monitors", "id"), ("learned_by_check", "checks", "id")],
    )


def _seal_legacy_records(db: sqlite_utils.Database) -> None:
    """Captures and snapshot facts enter the chain (storage/chain.py): the records written
    before keep their hashes, and what they cover is sealed into each monitor's next
    record through ``monitors.legacy_seal``."""
    if "legacy_seal" not in db.table("monitors").columns_dict:
        db.table("monitors").add_column("legacy_seal", str)
    seal_legacy_records(db)


def _outside_govwatch(db: sqlite_utils.Database) -> None:
    """The database as others read it and as other channels deliver from it: every view
    and table works without govwatch's SQL functions (Datasette, the sqlite3 shell), and
    a message a receiver refused for good is ``failed``, not retried forever."""
    plain_search_text(db)
    for statement in failed_state_statements():
        db.execute(statement)


def _served_snapshots(db: sqlite_utils.Database) -> None:
    """A page rendered in a browser keeps the HTML its server sent beside the rendered DOM
    (``checks.snapshot_hash``): the audit trail has both. And an alert may tell that a
    page needs a browser (``needs-js``): the alerts table is rebuilt with that kind allowed
    (SQLite cannot alter a CHECK constraint in place)."""
    if "served_snapshot_hash" not in db.table("checks").columns_dict:  # run once, or again
        db.table("checks").add_column("served_snapshot_hash", str)
    # Rebuilding the table would drop rows that deliveries reference; a CHECK constraint
    # is not in the rows' format, so its text is edited instead (sqlite.org/lang_altertable,
    # "making other kinds of table schema changes"), and the schema version bumped.
    version = int(db.execute("PRAGMA schema_version").fetchone()[0])
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_master SET sql = replace(sql, ?, ?) "
               "WHERE type = 'table' AND name = 'alerts'",
               ["CHECK (kind IN ('failing', 'recovered'))",
                "CHECK (kind IN ('failing', 'recovered', 'needs-js'))"])
    db.execute(f"PRAGMA schema_version = {version + 1}")
    db.execute("PRAGMA writable_schema = OFF")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _initial, _detection, audit_trail, _unattended, _outbox, _deferred_search,
    _delta_storage, search_index_only, _learned_noise, _seal_legacy_records,
    _outside_govwatch, _served_snapshots,
]


class SchemaTooNew(StorageError):
    """The database was written by a newer govwatch: this one must not read or write it."""


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def refuse_newer(db: sqlite_utils.Database, path: object) -> int:
    """The database's schema version; :class:`SchemaTooNew` if this code does not know it.

    Called before anything is written: an older govwatch would otherwise switch the journal
    mode and record checks in tables whose meaning it does not know.
    """
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"database {path} has schema version {version}, but this govwatch knows versions "
            f"up to {len(MIGRATIONS)}: it was written by a newer govwatch; upgrade govwatch "
            "to use it (nothing was changed)")
    return version


def migrate(db: sqlite_utils.Database) -> int:
    """Run the migrations this database has not seen; returns the new version."""
    version = refuse_newer(db, "")
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        with db.atomic():
            migration(db)
            db.execute(f"PRAGMA user_version = {number}")
    return schema_version(db)
