"""Read-only views of the history for the CLI: status, history, one change."""

from __future__ import annotations

import json
from typing import Any

from core.errors import StorageError
from monitors.signals import ADVICE
from storage.db import Store

STATUS_KEYS = (
    "organization", "monitor", "kind", "url", "last_check_at", "last_outcome",
    "consecutive_failures", "last_change_at",
)


def scope_clauses(
    org_ids: tuple[str, ...], monitor_ids: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """SQL conditions on ``monitors`` and ``checks`` keeping only these organizations and
    monitors (none given: everything), with their parameters."""
    clauses: list[str] = []
    params: list[str] = []
    if org_ids:
        clauses.append(f"monitors.org_id IN ({', '.join('?' for _ in org_ids)})")
        params.extend(org_ids)
    if monitor_ids:
        clauses.append(f"checks.monitor_id IN ({', '.join('?' for _ in monitor_ids)})")
        params.extend(monitor_ids)
    return clauses, params


def monitor_status(store: Store) -> list[dict[str, Any]]:
    """One row per known monitor with the stable keys of ``status --json``."""
    rows = store.db.execute(
        "SELECT org_id, id, kind, url, last_check_at, last_outcome, consecutive_failures, "
        "last_change_at, next_due_at, enabled, backoff_until, retry_after, signal "
        "FROM monitors ORDER BY org_id, id"
    ).fetchall()
    result = []
    for row in rows:
        item = dict(zip(STATUS_KEYS, row[:8], strict=True))
        item["consecutive_failures"] = item["consecutive_failures"] or 0
        item["next_due_at"] = row[8]
        item["enabled"] = bool(row[9])
        item["backoff_until"] = row[10]
        item["retry_after"] = row[11]
        #: The status signal the monitor is in (removed, soft-404, blocked, needs-js).
        item["signal"] = row[12]
        item["advice"] = ADVICE.get(row[12]) if row[12] else None
        result.append(item)
    return result


def monitor_exists(store: Store, monitor_id: str) -> bool:
    return store.db.execute(
        "SELECT 1 FROM monitors WHERE id = ?", [monitor_id]
    ).fetchone() is not None


def monitor_history(
    store: Store, monitor_id: str, limit: int = 50, since: str | None = None,
    until: str | None = None,
) -> list[dict[str, Any]]:
    """Checks of one monitor, newest first, each with the change it produced (if any).

    ``since``/``until`` are ISO 8601 UTC bounds (inclusive) on the check's start.
    """
    rows = store.db.query(
        "SELECT checks.id AS check_id, checks.started_at, checks.outcome, checks.status, "
        "checks.duration_ms, checks.bytes, checks.error, checks.snapshot_hash, checks.note, "
        "changes.id AS change_id, changes.kind AS change_kind, changes.summary, "
        "changes.notable "
        "FROM checks LEFT JOIN changes ON changes.check_id = checks.id "
        "WHERE checks.monitor_id = ? AND checks.started_at >= coalesce(?, '') "
        "AND checks.started_at <= coalesce(?, '9') ORDER BY checks.id DESC LIMIT ?",
        [monitor_id, since, until, limit],
    )
    return list(rows)


def change_detail(store: Store, change_id: int) -> dict[str, Any]:
    rows = list(store.db.query(
        "SELECT changes.*, monitors.org_id, monitors.url, checks.started_at AS checked_at "
        "FROM changes JOIN monitors ON monitors.id = changes.monitor_id "
        "JOIN checks ON checks.id = changes.check_id WHERE changes.id = ?",
        [change_id],
    ))
    if not rows:
        raise StorageError(f"no change with id {change_id}")
    row = rows[0]
    row["detail"] = json.loads(row["detail"] or "{}")
    return row
