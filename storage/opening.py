"""Opening the SQLite file for the store: for writing (``run``, ``daemon``), for reading an
existing database (every other command), and as it is when it cannot be written.

A database that cannot be written (a read-only file, a read-only file system, a directory
this user cannot create files in) still serves the read commands: it is opened read-only,
and when SQLite cannot create the WAL's shared-memory file beside it, as ``immutable``,
which is sound only while no other process writes it, so only when no WAL file holds
writes. A writer checks up front that it can write, so ``run`` fails with one clear line
instead of at its first check.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import sqlite_utils

from core.errors import DatabaseMissing, StorageError
from storage.migrations import MIGRATIONS, migrate, refuse_newer

BUSY_SECONDS = 30


def open_database(path: Path, *, readonly: bool, create: bool
                  ) -> tuple[sqlite_utils.Database, int]:
    """The store's database and its schema version, migrated unless ``readonly``.

    ``create=False`` opens an existing database only: a missing one raises
    :class:`DatabaseMissing` and nothing is created, not even its directory.
    A database of a newer schema is refused before anything is written.
    """
    if readonly:
        try:
            reader = _database(connect_for_reading(path))
        except sqlite3.Error as exc:
            _raise_missing_or(path, exc)
        return reader, _checked(reader, path, lambda: refuse_newer(reader, path))
    db: sqlite_utils.Database | None = None
    try:
        db = _database(connect_for_writing(path, create=create))
        refuse_newer(db, path)  # before the first write, WAL mode included
        db.enable_wal()
        # NORMAL is durable across process crashes in WAL mode; only an OS crash can lose
        # the last commits, never corrupt the file.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        version = migrate(db)
        if create:  # a writer: fail now, in one line, rather than at its first check
            ensure_writable(db.conn, path, version)
        return db, version
    except StorageError:
        if db is not None:
            db.close()
        raise
    except (sqlite3.Error, OSError) as exc:
        if db is not None:
            db.close()
        if create:
            raise StorageError(f"cannot open database {path}: {exc}") from exc
        return _open_unwritable(path, exc)


def _database(conn: sqlite3.Connection) -> sqlite_utils.Database:
    return sqlite_utils.Database(conn)


def _checked(db: sqlite_utils.Database, path: Path, check: Callable[[], int]) -> int:
    try:
        return check()
    except (StorageError, sqlite3.Error) as exc:
        db.close()
        if isinstance(exc, StorageError):
            raise
        raise StorageError(f"cannot read database {path}: {exc}") from exc


def _open_unwritable(path: Path, exc: Exception) -> tuple[sqlite_utils.Database, int]:
    """A reader's database that cannot be opened for writing: read it as it is, if its
    schema is this code's (an older one cannot be migrated without writing)."""
    if not path.exists():
        raise DatabaseMissing(f"database {path} does not exist") from exc
    try:
        db = _database(connect_for_reading(path, unwritable=True))
    except sqlite3.Error:
        _raise_missing_or(path, exc)
    version = _checked(db, path, lambda: refuse_newer(db, path))
    if version < len(MIGRATIONS):
        db.close()
        raise StorageError(
            f"database {path} has schema version {version} and must be upgraded to "
            f"{len(MIGRATIONS)}, but it cannot be written ({exc}); run govwatch once where "
            "it can write it") from exc
    return db, version


def _raise_missing_or(path: Path, exc: Exception) -> NoReturn:
    """Why an existing-only open failed: the file is missing, or something else."""
    if not path.exists():
        raise DatabaseMissing(f"database {path} does not exist") from exc
    raise StorageError(f"cannot open database {path}: {exc}") from exc


def connect_for_writing(path: Path, *, create: bool) -> sqlite3.Connection:
    """A read-write connection; ``create=False`` never creates the file (``mode=rw``)."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite3.connect(str(path), timeout=BUSY_SECONDS)
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True,
                           timeout=BUSY_SECONDS)


def connect_for_reading(path: Path, *, unwritable: bool = False) -> sqlite3.Connection:
    """A read-only connection. ``unwritable``: the file cannot be written by anyone here,
    so without a WAL beside it the file alone is the database (``immutable``)."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS)
    try:
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.Error:
        conn.close()
        wal = Path(f"{path}-wal")
        if not unwritable or (wal.exists() and wal.stat().st_size > 0):
            raise
    conn = sqlite3.connect(f"{uri}&immutable=1", uri=True)
    conn.execute("PRAGMA user_version").fetchone()
    return conn


def ensure_writable(conn: sqlite3.Connection, path: Path, version: int) -> None:
    """Raise :class:`StorageError` now if the database cannot be written, by writing the
    header in a transaction that is rolled back."""
    try:
        conn.execute("BEGIN")
        try:
            conn.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StorageError(
            f"cannot write database {path}: {exc} (a read-only file or file system?); "
            "read commands such as status, history, show, verify and export still work on "
            "it") from exc
