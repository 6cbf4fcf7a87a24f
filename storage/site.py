"""Read views for the archive site (``notifications/site``): organizations, monitors, the
changes of a timeline, and a change with the check that found it.

Every function reads; the site builder decides what to render from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from storage.db import Store

_MONITOR_COLUMNS = (
    "monitors.id, monitors.org_id, monitors.kind, monitors.url, "
    "coalesce(monitors.name, monitors.id) AS name, monitors.every_seconds, monitors.enabled, "
    "monitors.options, monitors.last_check_at, monitors.last_outcome, monitors.last_status, "
    "coalesce(monitors.consecutive_failures, 0) AS consecutive_failures, "
    "monitors.last_success_at, monitors.last_change_at, monitors.next_due_at, "
    "monitors.signal, monitors.chain_head"
)

#: The columns of a change in a listing (no diff, no detail: a timeline stays light).
_LISTED = (
    "changes.id, changes.monitor_id, monitors.org_id, changes.detected_at, changes.kind, "
    "changes.summary, changes.significance, changes.notable, changes.reasons"
)


def organizations(store: Store) -> list[dict[str, Any]]:
    return list(store.db.query(
        "SELECT id, coalesce(name, id) AS name, homepage FROM organizations ORDER BY id"))


def monitors(store: Store) -> list[dict[str, Any]]:
    """Every monitor with its state and its number of checks and changes."""
    counts = {row[0]: (row[1], row[2]) for row in store.db.execute(
        "SELECT monitors.id, (SELECT count(*) FROM checks WHERE checks.monitor_id = "
        "monitors.id), (SELECT count(*) FROM changes WHERE changes.monitor_id = "
        "monitors.id) FROM monitors")}
    rows = list(store.db.query(f"SELECT {_MONITOR_COLUMNS} FROM monitors ORDER BY id"))
    for row in rows:
        row["checks"], row["changes"] = counts.get(row["id"], (0, 0))
        row["options"] = json.loads(row["options"] or "{}")
    return rows


def listed_changes(store: Store) -> list[dict[str, Any]]:
    """Every change, oldest first, with what a timeline shows of it."""
    rows = list(store.db.query(
        f"SELECT {_LISTED} FROM changes JOIN monitors ON monitors.id = changes.monitor_id "
        "ORDER BY changes.id"))
    for row in rows:
        row["reasons"] = json.loads(row["reasons"] or "[]")
    return rows


def change_pages(store: Store, change_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Whole changes (diff, detail) with the check that found them and its position in the
    monitor's chain (1 for the first check), in id order."""
    ids = sorted(set(change_ids))
    result: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):  # SQLite's limit on parameters
        chunk = ids[start:start + 500]
        result += store.db.query(
            "SELECT changes.*, monitors.org_id, checks.started_at, checks.duration_ms, "
            "checks.url AS check_url, checks.final_url, checks.redirects, checks.status, "
            "checks.bytes, checks.outcome, checks.snapshot_hash, checks.content_hash, "
            "checks.prev_hash, checks.record_hash, checks.headers, "
            "(SELECT count(*) FROM checks AS earlier WHERE earlier.monitor_id = "
            "checks.monitor_id AND earlier.id <= checks.id) AS chain_position "
            "FROM changes JOIN monitors ON monitors.id = changes.monitor_id "
            "JOIN checks ON checks.id = changes.check_id "
            f"WHERE changes.id IN ({', '.join('?' for _ in chunk)}) ORDER BY changes.id",
            chunk)
    for row in result:
        row["detail"] = json.loads(row["detail"] or "{}")
        row["reasons"] = json.loads(row["reasons"] or "[]")
        row["redirects"] = json.loads(row["redirects"] or "[]")
        row["headers"] = json.loads(row["headers"] or "{}")
    return result


def captures(store: Store, change_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The new documents fetched once for each change (``capture``), by change id."""
    ids = sorted(set(change_ids))
    found: dict[int, list[dict[str, Any]]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in store.db.query(
                "SELECT change_id, url, title, fetched_at, status, final_url, snapshot_hash, "
                f"error FROM captures WHERE change_id IN ({', '.join('?' for _ in chunk)}) "
                "ORDER BY id", chunk):
            found.setdefault(int(row["change_id"]), []).append(row)
    return found


def newest_ids(store: Store) -> tuple[int, int]:
    """The newest change id and check id (0 when there is none)."""
    row = store.db.execute("SELECT (SELECT coalesce(max(id), 0) FROM changes), "
                           "(SELECT coalesce(max(id), 0) FROM checks)").fetchone()
    return int(row[0]), int(row[1])


def monitors_checked_after(store: Store, check_id: int) -> set[str]:
    return {row[0] for row in store.db.execute(
        "SELECT DISTINCT monitor_id FROM checks WHERE id > ?", [check_id])}


def identity(store: Store) -> str | None:
    """What tells this history from another: the record hash of its first check."""
    row = store.db.execute("SELECT record_hash FROM checks ORDER BY id LIMIT 1").fetchone()
    return None if row is None else str(row[0])
