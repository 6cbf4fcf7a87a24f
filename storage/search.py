"""Full-text search (SQLite FTS5) over the extracted text of every version."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from core.errors import BadSearchQuery, StorageError
from storage.audit_schema import FTS_TABLE, SEARCH_DOCS
from storage.db import Store
from storage.queries import scope_clauses
from storage.records import SEARCHED_OUTCOMES

SNIPPET_TOKENS = 16
# A "quoted phrase" (optionally followed by * for a prefix), else a run of non-blanks.
_CHUNK = re.compile(r'"([^"]*)"(\*?)|(\S+)')


def plain_query(text: str) -> str:
    """The FTS5 expression that searches ``text`` as a person typed it.

    Every blank-separated word, and every "quoted phrase", becomes an FTS5 string, which
    the tokenizer splits as it split the indexed text: ``high-risk`` is the phrase
    "high risk", ``AI Act's`` the words "ai" and the phrase "act s". All must appear.
    A word ending in ``*`` is a prefix. Operators (OR, NOT, NEAR, column:) are plain words.
    """
    phrases = []
    # FTS5 ends a query at NUL, leaving a string unterminated: NUL separates words.
    for match in _CHUNK.finditer(text.replace("\0", " ")):
        quoted, star, word = match.groups()
        if word is not None:
            star = "*" if len(word) > 1 and word.endswith("*") else ""
            quoted = word[:-1] if star else word
        phrases.append('"' + quoted.replace('"', '""') + '"' + star)
    return " ".join(phrases)


def _scope(org_ids: tuple[str, ...], monitor_ids: tuple[str, ...]) -> tuple[str, list[str]]:
    clauses, params = scope_clauses(org_ids, monitor_ids)
    return "".join(f" AND {c}" for c in clauses), params


def store_texts(store: Store) -> int:
    """Copy the text of every content recorded since the last copy into ``search_docs``,
    where plain SQL reads it (``content_text``); returns how many. Runs call it after
    their checks, so the texts are not written on the path of each check."""
    pending = [row[0] for row in store.db.execute(
        "SELECT hash FROM contents WHERE indexed IS NULL")]
    if not pending:
        return 0
    # Only what a reader could find new is copied: the texts of new and changed versions.
    # A confirming copy's content is evidence of noise, and a check judged unchanged read
    # as the version before it but for what changes by itself (a stamp, a counter): on a
    # source that sends no validators every check has such a text, and copying each
    # would grow the store by a page of text per check and fill every search with
    # near-copies of one page. They are left out (``indexed`` 0); ``Store.record`` puts
    # one back when a later new or changed version has the same text.
    searched = ", ".join(f"'{outcome}'" for outcome in sorted(SEARCHED_OUTCOMES))
    versions = {row[0] for row in store.db.execute(
        f"SELECT DISTINCT content_hash FROM checks WHERE outcome IN ({searched}) AND "
        "content_hash IN (SELECT hash FROM contents WHERE indexed IS NULL)")}
    conn = store.db.conn
    with store.db.atomic():
        for digest in pending:
            if digest not in versions:
                conn.execute("UPDATE contents SET indexed = 0 WHERE hash = ?", [digest])
                continue
            conn.execute(f"INSERT OR IGNORE INTO {SEARCH_DOCS} (hash, text) VALUES (?, ?)",
                         [digest, store.load_content(digest).text])
            conn.execute("UPDATE contents SET indexed = 1 WHERE hash = ?", [digest])
    return len(versions)


def refresh_index(store: Store) -> int:
    """Index the texts not yet in the full-text index; returns how many."""
    store_texts(store)
    pending = [row[0] for row in store.db.execute(
        f"SELECT id FROM {SEARCH_DOCS} WHERE indexed IS NULL")]
    conn = store.db.conn
    with store.db.atomic():
        for doc_id in pending:  # one text in memory at a time
            conn.execute(f"INSERT INTO {FTS_TABLE} (rowid, text) SELECT id, text FROM "
                         f"{SEARCH_DOCS} WHERE id = ?", [doc_id])
            conn.execute(f"UPDATE {SEARCH_DOCS} SET indexed = 1 WHERE id = ?", [doc_id])
    return len(pending)


def search(
    store: Store,
    query: str,
    *,
    org_ids: tuple[str, ...] = (),
    monitor_ids: tuple[str, ...] = (),
    limit: int = 20,
    fts: bool = False,
) -> list[dict[str, Any]]:
    """Best matches first: each distinct extracted text with a snippet and its versions.

    ``query`` is plain words (:func:`plain_query`), or with ``fts`` FTS5 syntax: words,
    "a phrase", OR, NOT, NEAR, prefix*; only the latter can be invalid
    (:class:`BadSearchQuery`). A version is a check that saw the text; ``versions`` lists
    them oldest first.
    """
    expression = query if fts else plain_query(query)
    if not expression.strip():
        return []
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
            [expression, *scope_params, limit]))
    except sqlite3.OperationalError as exc:
        if fts:  # SQLite's own words ("no such column: risk") would only mislead
            raise BadSearchQuery(f"not a valid FTS5 query: {query!r}") from exc
        raise StorageError(f"search for {query!r} failed: {exc}") from exc
    for match in matches:
        match["versions"] = list(store.db.query(
            "SELECT checks.id AS check_id, checks.started_at, checks.outcome, "
            "checks.monitor_id, monitors.org_id FROM checks "
            "JOIN monitors ON monitors.id = checks.monitor_id "
            f"WHERE checks.content_hash = ?{scope} ORDER BY checks.id",
            [match["content_hash"], *scope_params]))
    return matches
