"""Online backup of the store with SQLite's backup API, safe while a run is writing."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.errors import ExportFailed
from storage.db import Store
from storage.outfiles import OutputFile


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    pages: int
    bytes: int


def backup_database(store: Store, destination: Path, *, force: bool = False) -> BackupReport:
    """Copy the database to ``destination`` as one consistent snapshot.

    The copy is made in a single step (``pages=-1``): it holds one read transaction, which
    in WAL mode never blocks the writers, and sees no write that commits meanwhile (a
    step-wise copy would restart on every such write). It is written to a new file beside
    the destination and renamed into place (storage/outfiles.py), so a failed backup never
    leaves a half file there, and only a regular file (with ``force``) is ever replaced.
    """
    try:
        # 0600: the history may hold what a config once leaked into an error message.
        with OutputFile(destination, force=force, mode=0o600) as output:
            target = sqlite3.connect(output.partial)
            try:
                # No journal file beside the copy: a failed copy is thrown away whole.
                target.execute("PRAGMA journal_mode = OFF")
                store.db.conn.backup(target, pages=-1)
                pages = int(target.execute("PRAGMA page_count").fetchone()[0])
                problem = target.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                target.close()
            if problem != "ok":
                raise ExportFailed(f"the backup copy failed its integrity check: {problem}")
    except sqlite3.Error as exc:
        raise ExportFailed(f"cannot back up to {destination}: {exc}") from exc
    return BackupReport(destination, pages, destination.stat().st_size)
