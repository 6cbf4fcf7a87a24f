"""What each monitor learned changes by itself: read, list and forget it.

Rows are written with the confirming copy that taught them (``Store.record``); each says
what (kind, place, what), when it was first and last seen, how often, and which check
taught it, so the history shows why a difference was judged noise.
"""

from __future__ import annotations

from typing import Any

from core.records import Volatile
from monitors.recurring import RECURRING, RECURRING_SLOT, promoted
from monitors.volatility import LINE, SLOT
from storage.db import Store


def learned(store: Store, monitor_id: str, *, unused_for: int | None = None
            ) -> frozenset[Volatile]:
    """What ``monitor_id`` has learned; with ``unused_for``, only what was seen again
    within that many of the monitor's latest checks (older facts are forgotten).

    A place noted as ``recurring`` is a line learned once it changed at nearly every
    check while it was noted (``monitors.recurring.promoted``); until then it applies to
    nothing."""
    rows = store.db.execute(
        "SELECT kind, place, what, first_seen_at, last_seen_at, seen FROM volatility "
        "WHERE monitor_id = ?", [monitor_id]).fetchall()
    cutoff = None
    if unused_for is not None and rows:
        row = store.db.execute(
            "SELECT started_at FROM checks WHERE monitor_id = ? AND outcome != 'confirm' "
            "ORDER BY id DESC LIMIT 1 OFFSET ?", [monitor_id, unused_for - 1]).fetchone()
        cutoff = row[0] if row else None
    facts = set()
    for kind, place, what, first_seen, last_seen, seen in rows:
        if kind in (RECURRING, RECURRING_SLOT):
            # Judged over the checks while it was being noted: once applied, a slow place
            # no longer shows as a change, so it is not noted again, and stays applied
            # until ``govwatch noise --forget``.
            if promoted(seen, _checks_between(store, monitor_id, first_seen, last_seen)):
                facts.add(Volatile(LINE if kind == RECURRING else SLOT, place, what))
        elif cutoff is None or last_seen >= cutoff:
            facts.add(Volatile(kind, place, what))
    return frozenset(facts)


def _checks_between(store: Store, monitor_id: str, first: str, last: str) -> int:
    row = store.db.execute(
        "SELECT count(*) FROM checks WHERE monitor_id = ? AND outcome != 'confirm' "
        "AND started_at BETWEEN ? AND ?", [monitor_id, first, last]).fetchone()
    return int(row[0])


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
