"""The migration ``_outside_govwatch`` (schema 10) on a database of the schema before it:
outbox rows kept, ``failed`` allowed, every view readable with plain SQL, and the texts of
old contents copied by the next run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from storage.db import Store
from storage.migrations import MIGRATIONS, _outside_govwatch
from storage.search import refresh_index, store_texts

#: The schema version right before the migration under test.
BEFORE = MIGRATIONS.index(_outside_govwatch)


def database_before(path: Path) -> None:
    db = sqlite_utils.Database(path)
    for migration in MIGRATIONS[:BEFORE]:
        with db.atomic():
            migration(db)
    db.execute(f"PRAGMA user_version = {BEFORE}")
    db.execute("INSERT INTO organizations (id, name) VALUES ('o', 'O')")
    db.execute("INSERT INTO monitors (id, org_id, kind, url) VALUES ('m', 'o', 'page', 'u')")
    # A content stored plain (before compression), already in the old index.
    db.execute("INSERT INTO contents (hash, text, data, indexed) VALUES ('h1', "
               "'the quokka report', '{}', 1)")
    db.execute("INSERT INTO search_docs (hash) VALUES ('h1')")
    db.execute("INSERT INTO checks (id, monitor_id, started_at, outcome, content_hash) "
               "VALUES (1, 'm', '2026-01-01T00:00:00+00:00', 'new', 'h1')")
    db.execute("INSERT INTO changes (id, monitor_id, check_id, kind) VALUES (1, 'm', 1, 'text')")
    db.execute("INSERT INTO channels VALUES ('webhook', '2026-01-01', 0, 0)")
    db.execute("INSERT INTO digests (id, channel, created_at, state, message_id, changes, "
               "alerts) VALUES (1, 'webhook', '2026-01-01', 'sending', 'k', 1, 0)")
    db.execute("INSERT INTO digest_messages (digest_id, message_id, recipients, body, state, "
               "attempts) VALUES (1, 'k', '[]', x'7b7d', 'sending', 2)")
    db.execute("INSERT INTO deliveries (channel, change_id, state, attempts, digest_id, "
               "owed_at) VALUES ('webhook', 1, 'sending', 2, 1, '2026-01-01')")
    db.conn.commit()
    db.close()


def test_the_migration_keeps_the_outbox_and_reads_without_functions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    database_before(path)
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.db.execute(
            "SELECT channel, change_id, state, attempts, digest_id FROM deliveries"
        ).fetchall() == [("webhook", 1, "sending", 2, 1)]
        assert store.db.execute("SELECT message_id, state, attempts, body FROM "
                                "digest_messages").fetchall() == [("k", "sending", 2, b"{}")]
        store.db.execute("UPDATE deliveries SET state = 'failed'")
        store.db.execute("UPDATE digest_messages SET state = 'failed'")
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute("UPDATE deliveries SET state = 'lost'")
        # Indexes came back with the rebuilt tables: still one delivery per change.
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute("INSERT INTO deliveries (channel, change_id, state, owed_at) "
                             "VALUES ('webhook', 1, 'pending', 'x')")
        assert store_texts(store) == 1, "the old content's text is copied again"
        assert refresh_index(store) == 1
    plain = sqlite3.connect(path)
    try:
        views = [row[0] for row in plain.execute(
            "SELECT name FROM sqlite_master WHERE type = 'view'")]
        assert "search_text" not in views
        for view in views:
            plain.execute(f'SELECT * FROM "{view}"').fetchall()
        assert plain.execute("SELECT text FROM content_text").fetchall() == [
            ("the quokka report",)]
        assert plain.execute("SELECT count(*) FROM contents_fts WHERE contents_fts "
                             "MATCH 'quokka'").fetchone() == (1,)
        assert plain.execute("PRAGMA foreign_key_check").fetchall() == []
        assert plain.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        plain.close()
