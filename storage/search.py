"""Full-text search (SQLite FTS5) over the extracted text of every version."""

from __future__ import annotations

import sqlite3
from typing import Any

from core.errors import BadSearchQuery
from storage.audit_schema import FTS_TABLE, SEARCH_DOCS
from storage.db import Store
from storage.queries import scope_clauses

SNIPPET_TOKENS = 16


def _scope(org_ids: tuple[str, ...], monitor_ids: tuple[str, ...]) -> tuple[str, list[str]]:
    clauses, params = scope_clauses(org_ids, monitor_ids)
    return "".join(f" AND {c}" for c in clauses), params


def refresh_index(store: Store) -> int:
    """Index the extracted texts recorded since the last refresh; returns how many."""
    pending = [row[0] for row in store.db.execute(
        "SELECT hash FROM contents WHERE indexed IS NULL")]
    conn = store.db.conn
    indexed = 0
    with store.db.atomic():
        for digest in pending:
            added = conn.execute(
                f"INSERT OR IGNORE INTO {SEARCH_DOCS} (hash) VALUES (?)", [digest])
            if added.rowcount:  # a document already in the index is not indexed twice
                conn.execute(f"INSERT INTO {FTS_TABLE} (rowid, text) VALUES (?, ?)",
                             [added.lastrowid, store.load_content(digest).text])
                indexed += 1
            conn.execute("UPDATE contents SET indexed = 1 WHERE hash = ?", [digest])
    return indexed


def search(
    store: Store,
    query: str,
    *,
    org_ids: tuple[str, ...] = (),
    monitor_ids: tuple[str, ...] = (),
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Best matches first: each distinct extracted text with a snippet and its versions.

    ``query`` is FTS5 syntax: words (all must appear), "a phrase", OR, NOT, prefix*.
    A version is a check that saw the text; ``versions`` lists them oldest first.
    """
    refresh_index(store)
    scope, scope_params = _scope(org_ids, monitor_ids)
    in_scope = ("SELECT 1 FROM checks JOIN monitors ON monitors.id = checks.monitor_id "
                f"WHERE checks.content_hash = {SEARCH_DOCS}.hash{scope}")
    try:
        matches = list(store.db.query(
            f"SELECT {SEARCH_DOCS}.hash AS content_hash, "
            f"snippet({FTS_TABLE}, 0, '[', ']', '...', {SNIPPET_TOKENS}) AS snippet "
            f"FROM {FTS_TABLE} JOIN {SEARCH_DOCS} ON {SEARCH_DOCS}.id = {FTS_TABLE}.rowid "
            f"WHERE {FTS_TABLE} MATCH ? AND EXISTS ({in_scope}) "
            f"ORDER BY bm25({FTS_TABLE}) LIMIT ?",
            [query, *scope_params, limit]))
    except sqlite3.OperationalError as exc:
        raise BadSearchQuery(f"bad search query {query!r}: {exc}") from exc
    for match in matches:
        match["versions"] = list(store.db.query(
            "SELECT checks.id AS check_id, checks.started_at, checks.outcome, "
            "checks.monitor_id, monitors.org_id FROM checks "
            "JOIN monitors ON monitors.id = checks.monitor_id "
            f"WHERE checks.content_hash = ?{scope} ORDER BY checks.id",
            [match["content_hash"], *scope_params]))
    return matches
