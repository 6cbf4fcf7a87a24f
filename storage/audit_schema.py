"""The audit migrations: hash chain, prunable bodies, full-text search, Datasette views.

Appended to ``MIGRATIONS`` in storage/migrations.py; runs once inside its transaction and
brings existing rows along (chains computed, texts indexed).
"""

from __future__ import annotations

import sqlite_utils

from storage.chain import rechain_all

FTS_TABLE = "contents_fts"
#: Maps the index's integer rowids to content hashes (storage/search.py).
SEARCH_DOCS = "search_docs"
#: The SQL function the view ``search_text`` of schema 8 and 9 called; govwatch no longer
#: registers it, and schema 10 dropped the view (``plain_search_text``).
TEXT_FUNCTION = "govwatch_text"

# A standalone FTS5 table keyed by the content hash, kept in step by triggers. External
# content (content='contents') would key it by the implicit rowid of `contents`, which
# VACUUM may renumber; the hash never changes.
_FTS_SQL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(hash UNINDEXED, text)",
    f"CREATE TRIGGER contents_fts_insert AFTER INSERT ON contents BEGIN "
    f"INSERT INTO {FTS_TABLE} (hash, text) VALUES (new.hash, coalesce(new.text, '')); END",
    f"CREATE TRIGGER contents_fts_delete AFTER DELETE ON contents BEGIN "
    f"DELETE FROM {FTS_TABLE} WHERE hash = old.hash; END",
    f"CREATE TRIGGER contents_fts_update AFTER UPDATE OF text ON contents BEGIN "
    f"UPDATE {FTS_TABLE} SET text = coalesce(new.text, '') WHERE hash = old.hash; END",
    f"INSERT INTO {FTS_TABLE} (hash, text) SELECT hash, coalesce(text, '') FROM contents",
)

MONITOR_STATUS_VIEW = """
SELECT organizations.name AS organization, monitors.org_id AS organization_id,
       monitors.id AS monitor, monitors.name AS monitor_name, monitors.kind, monitors.url,
       CASE WHEN monitors.enabled THEN 'yes' ELSE 'no' END AS enabled,
       monitors.last_check_at, monitors.last_outcome, monitors.last_status AS last_http_status,
       monitors.consecutive_failures, monitors.last_success_at, monitors.last_change_at,
       monitors.next_due_at,
       (SELECT count(*) FROM checks WHERE checks.monitor_id = monitors.id) AS checks,
       (SELECT count(*) FROM changes WHERE changes.monitor_id = monitors.id) AS changes,
       monitors.chain_head
FROM monitors JOIN organizations ON organizations.id = monitors.org_id
ORDER BY monitors.org_id, monitors.id
"""

CHANGE_LOG_VIEW = """
SELECT changes.id AS change_id, changes.detected_at, organizations.name AS organization,
       monitors.id AS monitor, monitors.name AS monitor_name, monitors.url,
       changes.kind, changes.summary, changes.significance, changes.reasons,
       changes.check_id, checks.final_url, checks.status AS http_status,
       changes.from_snapshot, changes.to_snapshot, changes.diff
FROM changes
JOIN monitors ON monitors.id = changes.monitor_id
JOIN organizations ON organizations.id = monitors.org_id
JOIN checks ON checks.id = changes.check_id
ORDER BY changes.detected_at DESC, changes.id DESC
"""


def audit_trail(db: sqlite_utils.Database) -> None:
    checks = db.table("checks")
    checks.add_column("prev_hash", str)
    checks.add_column("record_hash", str)
    db.table("monitors").add_column("chain_head", str)
    rechain_all(db)
    # A pruned body is NULL with its pruning time; SQLite cannot drop NOT NULL in place.
    snapshots = db.table("snapshots")
    snapshots.add_column("pruned_at", str)
    snapshots.transform(not_null={"body": False})
    for statement in _FTS_SQL:
        db.execute(statement)
    db.create_view("monitor_status", MONITOR_STATUS_VIEW)
    db.create_view("change_log", CHANGE_LOG_VIEW)


def search_index_only(db: sqlite_utils.Database) -> None:
    """The full-text index keeps no copy of the texts: FTS5 reads them, when a snippet
    needs them, from `contents` through a view that decodes them (``TEXT_FUNCTION``).

    The standalone table kept every distinct text a second time, uncompressed: on 10
    revisions of 1000 pages, more than the whole store without it. Contents are indexed
    again by the next search.
    """
    for trigger in ("contents_fts_insert", "contents_fts_delete", "contents_fts_update"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    db.execute(f"CREATE TABLE {SEARCH_DOCS} (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE)")
    db.execute(f"CREATE VIEW search_text AS SELECT id, {TEXT_FUNCTION}(hash) AS text "
               f"FROM {SEARCH_DOCS}")
    db.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(text, content='search_text', "
               "content_rowid='id')")
    db.execute("UPDATE contents SET indexed = NULL")


CONTENT_TEXT_VIEW = f"""
SELECT contents.hash, coalesce(contents.text, {SEARCH_DOCS}.text) AS text
FROM contents LEFT JOIN {SEARCH_DOCS} ON {SEARCH_DOCS}.hash = contents.hash
"""


def plain_search_text(db: sqlite_utils.Database) -> None:
    """Every object of the database reads with plain SQL: the search index keeps each
    extracted text once, uncompressed, in ``search_docs.text``.

    The view that decoded texts through ``govwatch_text()`` failed in Datasette and the
    sqlite3 shell, and took the full-text table down with it there. Contents stay
    compressed; ``content_text`` shows the text of each. Runs copy the texts of new
    contents (``storage.search.store_texts``); a search indexes what is not yet indexed.
    """
    # IF EXISTS: the migration also runs again over a database an older govwatch wrote
    # back to an earlier version (each step must then leave the same schema).
    db.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    db.execute("DROP VIEW IF EXISTS search_text")
    db.execute("DROP VIEW IF EXISTS content_text")
    db.execute(f"DROP TABLE IF EXISTS {SEARCH_DOCS}")
    # ``indexed`` NULL: the text is here, not yet in the full-text index.
    db.execute(f"CREATE TABLE {SEARCH_DOCS} (id INTEGER PRIMARY KEY, hash TEXT NOT NULL "
               "UNIQUE, text TEXT NOT NULL, indexed INTEGER)")
    db.execute(f"CREATE INDEX search_docs_unindexed ON {SEARCH_DOCS} (id) "
               "WHERE indexed IS NULL")
    db.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(text, content='{SEARCH_DOCS}', "
               "content_rowid='id')")
    db.create_view("content_text", CONTENT_TEXT_VIEW)
    db.execute("UPDATE contents SET indexed = NULL")  # the next run copies every text
