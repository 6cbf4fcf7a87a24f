"""Failure alerts: replay the checks since the last scan and note streak starts and ends.

A monitor whose checks failed ``threshold`` times in a row gets one ``failing`` alert; the
first successful check after that gets one ``recovered`` alert. A monitor entering a signal
there is something to do about (``needs-js``: set ``render: browser``) gets one alert of
that signal's name, with the advice as its text. The scan replays every check
in id order from a high-water mark, so a streak that began and ended between two digests
still produces both alerts, however rarely digests are sent.
"""

from __future__ import annotations

import sqlite3

from core.errors import StorageError
from monitors.signals import ADVICE
from storage.db import Store
from storage.records import CONFIRM, SUCCESS_OUTCOMES

SCAN_KEY = "alerts_scanned_check_id"


def scan_alerts(store: Store, threshold: int) -> int:
    """Record the alerts the new checks imply; returns how many were recorded."""
    try:
        with store.db.atomic():
            return _scan(store, threshold)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot scan checks for failure alerts: {exc}") from exc


def _scan(store: Store, threshold: int) -> int:
    db = store.db
    row = db.execute("SELECT value FROM notification_state WHERE key = ?", [SCAN_KEY]).fetchone()
    last_id = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM checks").fetchone()[0])
    if row is None:
        # First scan: start from the monitors' current streaks instead of replaying years
        # of history into alerts nobody asked for; a monitor failing now is still alerted.
        db.execute(
            "INSERT OR IGNORE INTO alert_state (monitor_id, streak, alerting, last_error) "
            "SELECT id, COALESCE(consecutive_failures, 0), 0, NULL FROM monitors")
        checks = db.execute(
            "SELECT c.id, c.monitor_id, 'error', c.error, c.started_at, NULL FROM checks c "
            "JOIN alert_state s ON s.monitor_id = c.monitor_id WHERE s.streak >= ? AND c.id = "
            "(SELECT MAX(id) FROM checks WHERE monitor_id = c.monitor_id) ORDER BY c.id",
            [threshold]).fetchall()
        db.execute("UPDATE alert_state SET streak = streak - 1 WHERE streak >= ?", [threshold])
        # And a monitor in a signal there is something to do about is told so.
        advised = ", ".join("?" for _ in ADVICE)
        checks += db.execute(
            "SELECT ch.check_id, ch.monitor_id, 'changed', NULL, ch.detected_at, ch.kind "
            "FROM changes ch JOIN monitors m ON m.id = ch.monitor_id "
            f"WHERE ch.kind = m.signal AND ch.kind IN ({advised}) AND ch.id = "
            "(SELECT MAX(id) FROM changes WHERE monitor_id = ch.monitor_id)",
            list(ADVICE)).fetchall()
        checks.sort()
    else:
        checks = db.execute(
            "SELECT checks.id, checks.monitor_id, outcome, error, started_at, changes.kind "
            "FROM checks LEFT JOIN changes ON changes.check_id = checks.id "
            "WHERE checks.id > ? AND checks.id <= ? ORDER BY checks.id",
            [int(row[0]), last_id]).fetchall()
    recorded = 0
    for check_id, monitor_id, outcome, error, started_at, change_kind in checks:
        if outcome == CONFIRM:  # a second copy, not an attempt: it neither fails nor heals
            continue
        if change_kind in ADVICE:  # entering a signal there is something to do about
            _alert(store, monitor_id, change_kind, check_id, started_at, 0,
                   ADVICE[change_kind])
            recorded += 1
        state = db.execute(
            "SELECT streak, alerting FROM alert_state WHERE monitor_id = ?", [monitor_id]
        ).fetchone()
        streak, alerting = (0, 0) if state is None else (int(state[0]), int(state[1]))
        if outcome in SUCCESS_OUTCOMES:
            if alerting:
                _alert(store, monitor_id, "recovered", check_id, started_at, streak, None)
                recorded += 1
            streak, alerting = 0, 0
        else:
            streak += 1
            if streak >= threshold and not alerting:
                _alert(store, monitor_id, "failing", check_id, started_at, streak, error)
                recorded += 1
                alerting = 1
        db.execute(
            "INSERT INTO alert_state (monitor_id, streak, alerting, last_error) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(monitor_id) DO UPDATE SET streak = excluded.streak, "
            "alerting = excluded.alerting, last_error = excluded.last_error",
            [monitor_id, streak, alerting, error])
    db.execute(
        "INSERT INTO notification_state (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [SCAN_KEY, str(last_id)])
    return recorded


def _alert(
    store: Store, monitor_id: str, kind: str, check_id: int, at: str, failures: int,
    error: str | None,
) -> None:
    store.db.execute(
        "INSERT INTO alerts (monitor_id, kind, check_id, created_at, failures, error) "
        "VALUES (?, ?, ?, ?, ?, ?)", [monitor_id, kind, check_id, at, failures, error])
