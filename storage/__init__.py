"""SQLite history of govwatch: schema, migrations, content-addressed snapshots."""

from storage.db import Store
from storage.records import Check, Snapshot

__all__ = ["Check", "Snapshot", "Store"]
