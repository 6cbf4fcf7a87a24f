"""Read-only queries for auditing the history: snapshots, versions, the timeline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from core.errors import StorageError
from storage.db import Store
from storage.queries import scope_clauses

MIN_PREFIX = 8
_HEX = re.compile(r"^[0-9a-f]+$")


def is_hash_prefix(value: str) -> bool:
    return len(value) >= MIN_PREFIX and len(value) <= 64 and bool(_HEX.match(value.lower()))


def find_snapshot(store: Store, prefix: str) -> str | None:
    """The full hash of the one snapshot starting with ``prefix`` (None when there is none).

    An ambiguous prefix is an error listing the candidates.
    """
    if not is_hash_prefix(prefix):
        return None
    prefix = prefix.lower()
    rows = store.db.execute(
        "SELECT hash FROM snapshots WHERE hash >= ? AND hash < ? ORDER BY hash LIMIT 6",
        [prefix, prefix + "g"],
    ).fetchall()
    if len(rows) > 1:
        shown = ", ".join(row[0][:16] for row in rows[:5])
        raise StorageError(f"snapshot prefix {prefix} is ambiguous: {shown}")
    return str(rows[0][0]) if rows else None


def snapshot_detail(store: Store, snapshot_hash: str) -> dict[str, Any]:
    """Metadata of a snapshot, the checks that saw it and its extracted texts per monitor."""
    rows = list(store.db.query(
        "SELECT hash, size, content_type, compression, base, first_seen_at, pruned_at, "
        "length(body) AS stored_bytes FROM snapshots WHERE hash = ?", [snapshot_hash]))
    if not rows:
        raise StorageError(f"no snapshot {snapshot_hash[:16]}")
    detail = rows[0]
    detail["seen_by"] = list(store.db.query(
        "SELECT checks.monitor_id, monitors.org_id, count(*) AS checks, "
        "min(checks.id) AS first_check_id, min(checks.started_at) AS first_seen, "
        "max(checks.id) AS last_check_id, max(checks.started_at) AS last_seen, "
        "group_concat(DISTINCT checks.outcome) AS outcomes, checks.final_url "
        "FROM checks JOIN monitors ON monitors.id = checks.monitor_id "
        "WHERE checks.snapshot_hash = ? GROUP BY checks.monitor_id ORDER BY checks.monitor_id",
        [snapshot_hash]))
    detail["contents"] = [_with_text(store, row, "hash") for row in store.db.query(
        "SELECT DISTINCT checks.monitor_id, contents.hash FROM checks "
        "JOIN contents ON contents.hash = checks.content_hash "
        "WHERE checks.snapshot_hash = ? ORDER BY checks.monitor_id", [snapshot_hash])]
    return detail


def _with_text(store: Store, row: dict[str, Any], key: str = "content_hash") -> dict[str, Any]:
    """``row`` with the extracted ``text`` of its content (stored compressed)."""
    row["text"] = store.load_content(row[key]).text
    return row


_VERSION_SELECT = (
    "SELECT checks.id AS check_id, checks.monitor_id, checks.started_at, checks.outcome, "
    "checks.snapshot_hash, checks.content_hash "
    "FROM checks JOIN contents ON contents.hash = checks.content_hash "
)


def version_by_check(store: Store, monitor_id: str, check_id: int) -> dict[str, Any] | None:
    """The version a check of this monitor saw; an error if the check has no content."""
    found = store.db.execute(
        "SELECT outcome, content_hash FROM checks WHERE id = ? AND monitor_id = ?",
        [check_id, monitor_id]).fetchone()
    if found is None:
        return None
    if found[1] is None:
        raise StorageError(f"check #{check_id} of {monitor_id} has no extracted version "
                           f"(outcome {found[0]})")
    rows = list(store.db.query(_VERSION_SELECT + "WHERE checks.id = ?", [check_id]))
    if not rows:
        raise StorageError(f"check #{check_id}: content {found[1][:16]} is missing")
    return _with_text(store, rows[0])


def version_by_snapshot(store: Store, monitor_id: str, snapshot_hash: str) -> dict[str, Any]:
    rows = list(store.db.query(
        _VERSION_SELECT + "WHERE checks.monitor_id = ? AND checks.snapshot_hash = ? "
        "ORDER BY checks.id LIMIT 1", [monitor_id, snapshot_hash]))
    if not rows:
        raise StorageError(f"monitor {monitor_id} has no version with snapshot "
                           f"{snapshot_hash[:16]}")
    return _with_text(store, rows[0])


def version_at(store: Store, monitor_id: str, moment: str) -> dict[str, Any]:
    """The version current at ``moment``: the newest check with content at or before it."""
    rows = list(store.db.query(
        _VERSION_SELECT + "WHERE checks.monitor_id = ? AND checks.started_at <= ? "
        "ORDER BY checks.started_at DESC, checks.id DESC LIMIT 1", [monitor_id, moment]))
    if not rows:
        raise StorageError(f"monitor {monitor_id} had no version at {moment}")
    return _with_text(store, rows[0])


def latest_version(store: Store, monitor_id: str) -> dict[str, Any]:
    rows = list(store.db.query(
        _VERSION_SELECT + "WHERE checks.monitor_id = ? ORDER BY checks.id DESC LIMIT 1",
        [monitor_id]))
    if not rows:
        raise StorageError(f"monitor {monitor_id} has no version yet")
    return _with_text(store, rows[0])


def timeline(
    store: Store,
    org_ids: tuple[str, ...] = (),
    since: str | None = None,
    until: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Changes across monitors in time order (the newest ``limit`` of them)."""
    clauses, scope_params = scope_clauses(org_ids, ())
    where: list[str] = ["1", *clauses]
    params: list[Any] = [*scope_params]
    if since is not None:
        where.append("changes.detected_at >= ?")
        params.append(since)
    if until is not None:
        where.append("changes.detected_at <= ?")
        params.append(until)
    rows = list(store.db.query(
        "SELECT changes.id AS change_id, changes.detected_at, monitors.org_id, "
        "changes.monitor_id, changes.check_id, changes.kind, changes.summary, "
        "changes.significance, monitors.url FROM changes "
        "JOIN monitors ON monitors.id = changes.monitor_id "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY changes.detected_at DESC, changes.id DESC LIMIT ?", [*params, limit]))
    rows.reverse()
    return rows


def organization_exists(store: Store, org_id: str) -> bool:
    return store.db.execute(
        "SELECT 1 FROM organizations WHERE id = ?", [org_id]).fetchone() is not None


def _export_scope(
    org_ids: tuple[str, ...], monitor_ids: tuple[str, ...], since: str | None
) -> tuple[str, list[Any]]:
    clauses, scope_params = scope_clauses(org_ids, monitor_ids)
    where: list[str] = ["1", *clauses]
    params: list[Any] = [*scope_params]
    if since is not None:
        where.append("checks.started_at >= ?")
        params.append(since)
    return " AND ".join(where), params


def export_checks(
    store: Store,
    org_ids: tuple[str, ...] = (),
    monitor_ids: tuple[str, ...] = (),
    since: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Checks in id order with their organization, change (or None) and body state."""
    where, params = _export_scope(org_ids, monitor_ids, since)
    changes = {row["check_id"]: row for row in store.db.query(
        "SELECT changes.* FROM changes JOIN checks ON checks.id = changes.check_id "
        f"JOIN monitors ON monitors.id = checks.monitor_id WHERE {where}", params)}
    for row in store.db.query(
        "SELECT checks.*, monitors.org_id, snapshots.pruned_at AS body_pruned_at FROM checks "
        "JOIN monitors ON monitors.id = checks.monitor_id "
        # The body the server sent: a rendered page's is its served snapshot.
        "LEFT JOIN snapshots ON snapshots.hash = "
        "COALESCE(checks.served_snapshot_hash, checks.snapshot_hash) "
        f"WHERE {where} ORDER BY checks.id", params):
        row["change"] = changes.get(row["id"])
        yield row
