"""The digests of the outbox: each one's fixed messages and its state, step by step.

Step 1 (``open_digest``) commits a digest with its messages and moves the items it
carries to ``sending``; step 3 (``message_sent``, ``message_failed``, ``close_digest``)
records what happened and closes the digest once none of its messages is left to send.
The protocol (step 2 sends) is in ``notifications/outbox.py``; every write here is one
transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from storage.db import Store
from storage.outbox import OutgoingMessage, StoredMessage, writing


def open_digest(
    store: Store,
    channel: str,
    created_at: str,
    change_ids: Iterable[int],
    alert_ids: Iterable[int],
    messages: Iterable[OutgoingMessage],
) -> int:
    """Step 1 of the protocol: the digest, its fixed messages and its items, committed."""
    change_ids, alert_ids, messages = list(change_ids), list(alert_ids), list(messages)
    with writing(store, f"open a {channel} digest"):
        digest_id = store.db.execute(
            "INSERT INTO digests (channel, created_at, state, message_id, changes, alerts) "
            "VALUES (?, ?, 'sending', ?, ?, ?)",
            [channel, created_at, messages[0].message_id if messages else None,
             len(change_ids), len(alert_ids)]).lastrowid
        for message in messages:
            store.db.execute(
                "INSERT INTO digest_messages (digest_id, message_id, recipients, body, state) "
                "VALUES (?, ?, ?, ?, 'sending')",
                [digest_id, message.message_id, json.dumps(list(message.recipients)),
                 message.body])
        for column, ids in (("change_id", change_ids), ("alert_id", alert_ids)):
            for item_id in ids:
                updated = store.db.execute(
                    f"UPDATE deliveries SET state = 'sending', digest_id = ? "
                    f"WHERE channel = ? AND {column} = ? AND state = 'pending'",
                    [digest_id, channel, item_id]).rowcount
                if updated != 1:
                    # Another process took it: refuse rather than send it twice.
                    raise sqlite3.IntegrityError(f"{column} {item_id} is not pending")
    assert digest_id is not None
    return int(digest_id)


def unsent_messages(store: Store, channel: str) -> list[StoredMessage]:
    """Messages of digests left in ``sending`` (a failure or a crash), oldest first."""
    rows = store.db.execute(
        "SELECT m.id, m.digest_id, m.message_id, m.recipients, m.body, m.attempts "
        "FROM digest_messages m JOIN digests d ON d.id = m.digest_id "
        "WHERE d.channel = ? AND d.state = 'sending' AND m.state = 'sending' ORDER BY m.id",
        [channel]).fetchall()
    return [StoredMessage(r[0], r[1], r[2], tuple(json.loads(r[3])), bytes(r[4]), r[5])
            for r in rows]


def unsent_digest_ids(store: Store, channel: str) -> list[int]:
    rows = store.db.execute(
        "SELECT id FROM digests WHERE channel = ? AND state = 'sending' ORDER BY id", [channel])
    return [int(row[0]) for row in rows]


def message_sent(
    store: Store, message_id: int, now: str, refused: Iterable[str] = ()
) -> bool:
    """Step 3 for one message; closes the digest when it was its last. True if it closed."""
    refused = sorted(refused)
    with writing(store, "record a sent message"):
        store.db.execute(
            "UPDATE digest_messages SET state = 'sent', attempts = attempts + 1, sent_at = ?, "
            "refused = ? WHERE id = ?", [now, json.dumps(refused) if refused else None, message_id])
        digest_id = store.db.execute(
            "SELECT digest_id FROM digest_messages WHERE id = ?", [message_id]).fetchone()[0]
        return _close_if_complete(store, int(digest_id), now)


def message_failed(store: Store, message_id: int, now: str, reason: str) -> bool:
    """A message the receiver refused for good: ``failed`` with the reason, never resent.
    Closes its digest when it was its last, its deliveries ``failed``. True if it closed."""
    with writing(store, "record a refused message"):
        store.db.execute(
            "UPDATE digest_messages SET state = 'failed', attempts = attempts + 1, "
            "last_error = ? WHERE id = ?", [reason, message_id])
        digest_id = store.db.execute(
            "SELECT digest_id FROM digest_messages WHERE id = ?", [message_id]).fetchone()[0]
        return _close_if_complete(store, int(digest_id), now)


def close_digest(store: Store, digest_id: int, now: str) -> bool:
    """Step 3 for a digest with no messages (a feed digest: its files are written)."""
    with writing(store, "close a digest"):
        return _close_if_complete(store, digest_id, now)


def _close_if_complete(store: Store, digest_id: int, now: str) -> bool:
    """Close a digest none of whose messages is left to send: its deliveries are
    ``delivered``, or ``failed`` (with the reason) if a message of it was refused."""
    left = store.db.execute(
        "SELECT COUNT(*) FROM digest_messages WHERE digest_id = ? AND state = 'sending'",
        [digest_id]).fetchone()[0]
    if left:
        return False
    closed = store.db.execute(
        "UPDATE digests SET state = 'sent', sent_at = ? WHERE id = ? AND state = 'sending'",
        [now, digest_id]).rowcount
    if not closed:
        return False
    refusal = store.db.execute(
        "SELECT last_error FROM digest_messages WHERE digest_id = ? AND state = 'failed' "
        "ORDER BY id LIMIT 1", [digest_id]).fetchone()
    if refusal is not None:
        store.db.execute(
            "UPDATE deliveries SET state = 'failed', attempts = attempts + 1, last_error = ? "
            "WHERE digest_id = ? AND state = 'sending'", [refusal[0], digest_id])
        return True
    store.db.execute(
        "UPDATE deliveries SET state = 'delivered', delivered_at = ?, "
        "attempts = attempts + 1, last_error = NULL WHERE digest_id = ? AND state = 'sending'",
        [now, digest_id])
    return True


def delivered_count(store: Store, digest_id: int) -> int:
    row = store.db.execute(
        "SELECT COUNT(*) FROM deliveries WHERE digest_id = ? AND state = 'delivered'",
        [digest_id]).fetchone()
    return int(row[0])
