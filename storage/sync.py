"""The config's organizations and monitors, written into the store.

Unchanged rows are not written: a run with 1000 unchanged monitors writes nothing here.
When what a monitor extracts changes (its URL, kind or selectors), its validators and
baseline are reset: a 304 from the old URL must not vouch for the new one, and the next
check starts a new baseline instead of diffing two different regions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from core.canonical import canonical_json
from monitors.config import EXTRACTION_KEYS

# The monitors columns written from the config (besides id); options last.
_SYNCED = ("org_id", "kind", "url", "name", "every_seconds", "enabled", "options")


def _extraction(settings: dict[str, Any]) -> list[Any]:
    return [settings.get(key) for key in EXTRACTION_KEYS]


def sync_config(db: sqlite_utils.Database, organizations: Iterable[Any]) -> None:
    """Upsert organizations and monitor settings, keeping each monitor's state."""
    known = {row[0]: row[1:] for row in db.execute(
        f"SELECT id, {', '.join(_SYNCED)} FROM monitors")}
    known_orgs = {row[0]: row[1:] for row in db.execute(
        "SELECT id, name, homepage FROM organizations")}
    organization_rows, monitor_rows, rebased = [], [], []
    for org in organizations:
        if known_orgs.get(org.id) != (org.name, org.homepage):
            organization_rows.append({"id": org.id, "name": org.name, "homepage": org.homepage})
        for monitor in org.monitors:
            settings = monitor.model_dump(mode="json")
            row = {
                "id": monitor.id, "org_id": org.id, "kind": monitor.kind,
                "url": monitor.url, "name": monitor.name,
                "every_seconds": monitor.every.total_seconds(),
                "enabled": int(monitor.enabled), "options": canonical_json(settings),
            }
            before = known.get(monitor.id)
            if before == tuple(row[column] for column in _SYNCED):
                continue
            if before is not None and \
                    _extraction(json.loads(before[-1] or "{}")) != _extraction(settings):
                rebased.append(monitor.id)
            monitor_rows.append(row)
    if not (organization_rows or monitor_rows):
        return
    with db.atomic():
        db.table("organizations").upsert_all(organization_rows, pk="id")
        db.table("monitors").upsert_all(monitor_rows, pk="id")
        for monitor_id in rebased:
            db.execute(
                "UPDATE monitors SET etag = NULL, last_modified = NULL, "
                "last_snapshot_hash = NULL, last_content_hash = NULL, next_due_at = NULL "
                "WHERE id = ?",
                [monitor_id],
            )
