"""Tables of the notification outbox, created by the ``_outbox`` migration.

Plain SQL because sqlite-utils cannot declare CHECK constraints or partial unique indexes,
and both carry rules of the outbox: a delivery is for exactly one change or one alert, and
a channel owes a change or an alert at most once.
"""

from __future__ import annotations

OUTBOX_SCHEMA = (
    # A channel starts owing changes from the first time it is seen enabled.
    """CREATE TABLE channels (
        channel TEXT PRIMARY KEY,
        first_enabled_at TEXT NOT NULL,
        start_change_id INTEGER NOT NULL,
        start_alert_id INTEGER NOT NULL
    )""",
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        monitor_id TEXT NOT NULL REFERENCES monitors(id),
        kind TEXT NOT NULL CHECK (kind IN ('failing', 'recovered')),
        check_id INTEGER NOT NULL REFERENCES checks(id),
        created_at TEXT NOT NULL,
        failures INTEGER NOT NULL,
        error TEXT
    )""",
    """CREATE TABLE alert_state (
        monitor_id TEXT PRIMARY KEY REFERENCES monitors(id),
        streak INTEGER NOT NULL,
        alerting INTEGER NOT NULL,
        last_error TEXT
    )""",
    """CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('sending', 'sent')),
        message_id TEXT,
        changes INTEGER NOT NULL,
        alerts INTEGER NOT NULL,
        sent_at TEXT
    )""",
    """CREATE TABLE digest_messages (
        id INTEGER PRIMARY KEY,
        digest_id INTEGER NOT NULL REFERENCES digests(id),
        message_id TEXT,
        recipients TEXT NOT NULL,
        body BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('sending', 'sent')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        refused TEXT,
        sent_at TEXT
    )""",
    """CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        change_id INTEGER REFERENCES changes(id),
        alert_id INTEGER REFERENCES alerts(id),
        state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        digest_id INTEGER REFERENCES digests(id),
        owed_at TEXT NOT NULL,
        delivered_at TEXT,
        CHECK ((change_id IS NULL) != (alert_id IS NULL))
    )""",
    "CREATE UNIQUE INDEX deliveries_change ON deliveries(change_id, channel) "
    "WHERE change_id IS NOT NULL",
    "CREATE UNIQUE INDEX deliveries_alert ON deliveries(alert_id, channel) "
    "WHERE alert_id IS NOT NULL",
    "CREATE INDEX deliveries_state ON deliveries(channel, state)",
    "CREATE INDEX deliveries_digest ON deliveries(digest_id)",
    "CREATE INDEX digest_messages_digest ON digest_messages(digest_id)",
    "CREATE INDEX alerts_monitor ON alerts(monitor_id, id)",
    # Small facts of the notification stage: the instance identity, the alert scan's
    # high-water check id, the last day a timed digest went out.
    "CREATE TABLE notification_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


# The two tables whose ``state`` gains ``failed``: a message the receiver refused for good
# (an HTTP 4xx) and the deliveries its digest carried. Nothing references either table,
# so each is rebuilt in place (SQLite cannot change a CHECK constraint).
_FAILED_STATE_TABLES = {
    "digest_messages": (
        """CREATE TABLE digest_messages (
        id INTEGER PRIMARY KEY,
        digest_id INTEGER NOT NULL REFERENCES digests(id),
        message_id TEXT,
        recipients TEXT NOT NULL,
        body BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        refused TEXT,
        sent_at TEXT
    )""",
        ("CREATE INDEX digest_messages_digest ON digest_messages(digest_id)",),
    ),
    "deliveries": (
        """CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        change_id INTEGER REFERENCES changes(id),
        alert_id INTEGER REFERENCES alerts(id),
        state TEXT NOT NULL
            CHECK (state IN ('pending', 'sending', 'delivered', 'skipped', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        digest_id INTEGER REFERENCES digests(id),
        owed_at TEXT NOT NULL,
        delivered_at TEXT,
        CHECK ((change_id IS NULL) != (alert_id IS NULL))
    )""",
        ("CREATE UNIQUE INDEX deliveries_change ON deliveries(change_id, channel) "
         "WHERE change_id IS NOT NULL",
         "CREATE UNIQUE INDEX deliveries_alert ON deliveries(alert_id, channel) "
         "WHERE alert_id IS NOT NULL",
         "CREATE INDEX deliveries_state ON deliveries(channel, state)",
         "CREATE INDEX deliveries_digest ON deliveries(digest_id)"),
    ),
}


def failed_state_statements() -> list[str]:
    """Rebuild ``digest_messages`` and ``deliveries`` with a ``failed`` state, rows kept."""
    statements = []
    for table, (create, indexes) in _FAILED_STATE_TABLES.items():
        old = f"{table}_before_failed"
        statements += [f"ALTER TABLE {table} RENAME TO {old}", create,
                       f"INSERT INTO {table} SELECT * FROM {old}", f"DROP TABLE {old}",
                       *indexes]
    return statements
