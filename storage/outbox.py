"""The notification outbox: what each channel owes and the state of each delivery.

The digests that carry what is owed, with their messages, are in ``storage/digests.py``.
Every write here is one transaction. The protocol that uses these writes (and why it
delivers each change exactly once per channel) is in ``notifications/outbox.py`` and in
docs/architecture.md.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core.errors import StorageError
from core.records import TEMPLATE_ONLY
from storage.db import Store

#: A change only in the site's template is owed (whatever its significance) so that the
#: digest can say once per organization that the template changed; it is never shown
#: as a change of its own (notifications.digest).
TEMPLATE_OWED = f'%"not announced: {TEMPLATE_ONLY}"%'


@dataclass(frozen=True, slots=True)
class OwedChange:
    """A change with what a digest needs to show it (organization, monitor, excerpt)."""

    change_id: int
    org_id: str
    org_name: str
    monitor_id: str
    monitor_name: str
    monitor_url: str
    monitor_kind: str
    kind: str
    summary: str
    diff: str
    detail: dict[str, Any]
    significance: float
    reasons: tuple[str, ...]
    detected_at: str


@dataclass(frozen=True, slots=True)
class OwedAlert:
    """A monitor that started failing (``failing``), answered again (``recovered``), or
    turned out to need a browser (``needs-js``, with the advice as ``error``)."""

    alert_id: int
    org_id: str
    org_name: str
    monitor_id: str
    monitor_name: str
    monitor_url: str
    kind: str
    failures: int
    error: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message of a digest, fixed before it is sent so a resend is byte-identical."""

    message_id: str | None
    recipients: tuple[str, ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    digest_id: int
    message_id: str | None
    recipients: tuple[str, ...]
    body: bytes
    attempts: int


@contextmanager
def writing(store: Store, what: str) -> Iterator[None]:
    """One transaction; a failure of SQLite is a ``StorageError`` naming ``what``."""
    try:
        with store.db.atomic():
            yield
    except sqlite3.Error as exc:
        raise StorageError(f"cannot {what}: {exc}") from exc


def in_memory_copy(store: Store) -> Store:
    """A private copy of the whole store in memory: a dry run works on it and writes nothing."""
    copy = Store(":memory:")
    store.db.conn.backup(copy.db.conn)
    return copy


# -- small state -------------------------------------------------------------------------
def get_state(store: Store, key: str) -> str | None:
    row = store.db.execute("SELECT value FROM notification_state WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_state(store: Store, key: str, value: str) -> None:
    with writing(store, f"save {key}"):
        store.db.execute(
            "INSERT INTO notification_state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])


# -- what is owed ------------------------------------------------------------------------
def register_channels(store: Store, channels: Iterable[str], now: str) -> list[str]:
    """Start the channels seen for the first time; returns the ones that were new.

    A new channel owes what is recorded from now on, not the whole history (which would
    arrive as one enormous first digest). Once started, a channel never forgets: while it is
    disabled nothing is marked, and when it is enabled again it owes everything since.
    """
    started = []
    with writing(store, "register channels"):
        for channel in channels:
            cursor = store.db.execute(
                "INSERT OR IGNORE INTO channels (channel, first_enabled_at, start_change_id, "
                "start_alert_id) VALUES (?, ?, (SELECT COALESCE(MAX(id), 0) FROM changes), "
                "(SELECT COALESCE(MAX(id), 0) FROM alerts))", [channel, now])
            if cursor.rowcount:
                started.append(channel)
    return started


def add_owed(store: Store, channel: str, now: str, min_significance: float = 0.0) -> int:
    """Insert a delivery row for every change and alert the channel owes and has no row for.

    Done from the changes table itself (not from a list handed over by the run), so a change
    recorded by any process, while the channel was down or disabled, cannot be missed.
    Changes below ``min_significance`` or not notable are recorded as ``skipped``, except
    template-only changes (``TEMPLATE_OWED``). Returns rows added.
    """
    with writing(store, f"mark what {channel} owes"):
        changes = store.db.execute(
            "INSERT INTO deliveries (channel, change_id, state, owed_at) "
            "SELECT ?, changes.id, CASE WHEN changes.reasons LIKE ? THEN 'pending' "
            "WHEN changes.significance < ? OR changes.notable = 0 THEN 'skipped' "
            "ELSE 'pending' END, ? FROM changes, channels "
            "WHERE channels.channel = ? AND changes.id > channels.start_change_id "
            "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.change_id = changes.id "
            "AND d.channel = ?) ORDER BY changes.id",
            [channel, TEMPLATE_OWED, min_significance, now, channel, channel]).rowcount
        alerts = store.db.execute(
            "INSERT INTO deliveries (channel, alert_id, state, owed_at) "
            "SELECT ?, alerts.id, 'pending', ? FROM alerts, channels "
            "WHERE channels.channel = ? AND alerts.id > channels.start_alert_id "
            "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = alerts.id "
            "AND d.channel = ?) ORDER BY alerts.id",
            [channel, now, channel, channel]).rowcount
    return int(changes) + int(alerts)


_CHANGE_COLUMNS = (
    "changes.id, monitors.org_id, COALESCE(organizations.name, monitors.org_id), "
    "monitors.id, COALESCE(monitors.name, monitors.id), monitors.url, monitors.kind, "
    "changes.kind, changes.summary, changes.diff, changes.detail, changes.significance, "
    "changes.reasons, changes.detected_at "
    "FROM deliveries JOIN changes ON changes.id = deliveries.change_id "
    "JOIN monitors ON monitors.id = changes.monitor_id "
    "LEFT JOIN organizations ON organizations.id = monitors.org_id "
)
_ALERT_COLUMNS = (
    "alerts.id, monitors.org_id, COALESCE(organizations.name, monitors.org_id), "
    "monitors.id, COALESCE(monitors.name, monitors.id), monitors.url, alerts.kind, "
    "alerts.failures, alerts.error, alerts.created_at "
    "FROM deliveries JOIN alerts ON alerts.id = deliveries.alert_id "
    "JOIN monitors ON monitors.id = alerts.monitor_id "
    "LEFT JOIN organizations ON organizations.id = monitors.org_id "
)


def _change(row: tuple[Any, ...]) -> OwedChange:
    return OwedChange(
        change_id=row[0], org_id=row[1], org_name=row[2], monitor_id=row[3],
        monitor_name=row[4], monitor_url=row[5], monitor_kind=row[6], kind=row[7],
        summary=row[8] or "", diff=row[9] or "", detail=json.loads(row[10] or "{}"),
        significance=float(row[11] if row[11] is not None else 1.0),
        reasons=tuple(json.loads(row[12] or "[]")), detected_at=row[13],
    )


def _alert(row: tuple[Any, ...]) -> OwedAlert:
    return OwedAlert(
        alert_id=row[0], org_id=row[1], org_name=row[2], monitor_id=row[3],
        monitor_name=row[4], monitor_url=row[5], kind=row[6], failures=row[7],
        error=row[8], created_at=row[9],
    )


def pending(store: Store, channel: str) -> tuple[list[OwedChange], list[OwedAlert]]:
    """What the channel owes and no digest carries yet, oldest first."""
    where = "WHERE deliveries.channel = ? AND deliveries.state = 'pending' ORDER BY 1"
    changes = store.db.execute(f"SELECT {_CHANGE_COLUMNS}{where}", [channel]).fetchall()
    alerts = store.db.execute(f"SELECT {_ALERT_COLUMNS}{where}", [channel]).fetchall()
    return [_change(r) for r in changes], [_alert(r) for r in alerts]


def published(
    store: Store, channel: str, limit: int, org_id: str | None = None
) -> tuple[list[OwedChange], list[OwedAlert]]:
    """The newest ``limit`` changes and alerts the channel delivered or is delivering."""
    where = "WHERE deliveries.channel = ? AND deliveries.state IN ('sending', 'delivered') "
    args: list[Any] = [channel]
    if org_id is not None:
        where += "AND monitors.org_id = ? "
        args.append(org_id)
    order = "ORDER BY 1 DESC LIMIT ?"
    changes = store.db.execute(f"SELECT {_CHANGE_COLUMNS}{where}{order}", [*args, limit])
    alerts = store.db.execute(f"SELECT {_ALERT_COLUMNS}{where}{order}", [*args, limit])
    return [_change(r) for r in changes.fetchall()], [_alert(r) for r in alerts.fetchall()]


def digests_of(store: Store, channel: str, change_ids: Iterable[int]) -> dict[int, int]:
    """The digest that carried each of these changes on ``channel`` (by change id)."""
    ids = list(change_ids)
    if not ids:
        return {}
    rows = store.db.execute(
        f"SELECT change_id, digest_id FROM deliveries WHERE channel = ? AND digest_id IS NOT "
        f"NULL AND change_id IN ({', '.join('?' for _ in ids)})", [channel, *ids]).fetchall()
    return {int(change_id): int(digest_id) for change_id, digest_id in rows}


def skip(store: Store, channel: str, change_ids: Iterable[int], alert_ids: Iterable[int]) -> None:
    """Owed items this channel has nobody to send to (no recipient for the organization)."""
    with writing(store, f"skip items on {channel}"):
        for column, ids in (("change_id", change_ids), ("alert_id", alert_ids)):
            for item_id in ids:
                store.db.execute(
                    f"UPDATE deliveries SET state = 'skipped' WHERE channel = ? AND {column} = ? "
                    "AND state = 'pending'", [channel, item_id])


def note_failure(store: Store, channel: str, error: str) -> None:
    """A channel could not be reached: count the attempt on everything it still owes."""
    with writing(store, f"record the failure of {channel}"):
        store.db.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = ? "
            "WHERE channel = ? AND state IN ('pending', 'sending')", [error, channel])
        store.db.execute(
            "UPDATE digest_messages SET attempts = attempts + 1, last_error = ? "
            "WHERE state = 'sending' AND digest_id IN "
            "(SELECT id FROM digests WHERE channel = ? AND state = 'sending')",
            [error, channel])


def note_item_failures(store: Store, channel: str,
                       failures: Iterable[tuple[str, int, str]]) -> None:
    """The changes and alerts (kind, id, error) the channel could not publish this time:
    their deliveries keep the error; a delivered item published again loses its old one."""
    columns = {"change": "change_id", "alert": "alert_id"}
    with writing(store, f"record the failed items of {channel}"):
        store.db.execute("UPDATE deliveries SET last_error = NULL WHERE channel = ? AND "
                         "state = 'delivered' AND last_error IS NOT NULL", [channel])
        for kind, item_id, error in failures:
            store.db.execute(f"UPDATE deliveries SET last_error = ? WHERE channel = ? AND "
                             f"{columns[kind]} = ?", [error, channel, item_id])


def _failure_key(channel: str) -> str:
    return f"channel_failure:{channel}"


def set_channel_failure(store: Store, channel: str, at: str, error: str | None) -> None:
    """Remember the channel's last failure (``None``: it just succeeded, forget it)."""
    with writing(store, f"record the state of {channel}"):
        if error is None:
            store.db.execute("DELETE FROM notification_state WHERE key = ?",
                             [_failure_key(channel)])
        else:
            store.db.execute(
                "INSERT INTO notification_state (key, value) VALUES (?, ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value",
                [_failure_key(channel), json.dumps({"at": at, "error": error})])


def channel_failure(store: Store, channel: str) -> tuple[str, str] | None:
    """(when, error) of the channel's last delivery if it failed; ``None`` if it succeeded."""
    value = get_state(store, _failure_key(channel))
    if value is None:
        return None
    try:
        recorded = json.loads(value)
        return str(recorded["at"]), str(recorded["error"])
    except (ValueError, TypeError, KeyError):
        return "?", value


def delivery_counts(store: Store) -> dict[tuple[str, str], int]:
    """(channel, state) -> number of deliveries, for reports and tests."""
    rows = store.db.execute(
        "SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state")
    return {(row[0], row[1]): int(row[2]) for row in rows}
