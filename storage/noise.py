"""What each monitor learned changes by itself: read, list and forget it.

Rows are written with the confirming copy that taught them (``Store.record``); each says
what (kind, place, what), when it was first and last seen, how often, and which check
taught it, so the history shows why a difference was judged noise.
"""

from __future__ import annotations

from typing import Any

from core.records import Volatile
from storage.db import Store


def learned(store: Store, monitor_id: str, *, unused_for: int | None = None
            ) -> frozenset[Volatile]:
    """What ``monitor_id`` has learned; with ``unused_for``, only what was seen again
    within that many of the monitor's latest checks (older facts are forgotten)."""
    rows = store.db.execute(
        "SELECT kind, place, what, last_seen_at FROM volatility WHERE monitor_id = ?",
        [monitor_id]).fetchall()
    if unused_for is None or not rows:
        return frozenset(Volatile(kind, place, what) for kind, place, what, _ in rows)
    cutoff = store.db.execute(
        "SELECT started_at FROM checks WHERE monitor_id = ? AND outcome != 'confirm' "
        "ORDER BY id DESC LIMIT 1 OFFSET ?", [monitor_id, unused_for - 1]).fetchone()
    return frozenset(Volatile(kind, place, what) for kind, place, what, seen in rows
                     if cutoff is None or seen >= cutoff[0])


def listing(store: Store, monitor_id: str) -> list[dict[str, Any]]:
    """Every learned fact of a monitor, oldest first, for ``govwatch noise``."""
    return list(store.db.query(
        "SELECT kind, place AS 'where', what, first_seen_at, last_seen_at, seen, "
        "learned_by_check FROM volatility WHERE monitor_id = ? "
        "ORDER BY first_seen_at, kind, place, what", [monitor_id]))


def forget(store: Store, monitor_id: str) -> int:
    """Forget everything ``monitor_id`` learned; returns how many facts."""
    with store.db.atomic():
        cursor = store.db.execute("DELETE FROM volatility WHERE monitor_id = ?", [monitor_id])
    return cursor.rowcount
