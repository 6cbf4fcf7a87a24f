"""Online backup of the store with SQLite's backup API, safe while a run is writing."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.errors import ExportFailed
from storage.db import Store


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    pages: int
    bytes: int


def backup_database(store: Store, destination: Path) -> BackupReport:
    """Copy the database to ``destination`` as one consistent snapshot.

    The copy is made in a single step (``pages=-1``): it holds one read transaction, which
    in WAL mode never blocks the writers, and sees no write that commits meanwhile (a
    step-wise copy would restart on every such write). It is written beside the
    destination and renamed into place, so a failed backup never leaves a half file there.
    """
    partial = destination.with_name(destination.name + ".partial")
    try:
        partial.unlink(missing_ok=True)
        target = sqlite3.connect(partial)
        try:
            store.db.conn.backup(target, pages=-1)
            pages = int(target.execute("PRAGMA page_count").fetchone()[0])
            problem = target.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            target.close()
        if problem != "ok":
            raise ExportFailed(f"the backup copy failed its integrity check: {problem}")
        os.replace(partial, destination)
    except (sqlite3.Error, OSError) as exc:
        raise ExportFailed(f"cannot back up to {destination}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(destination, pages, destination.stat().st_size)
