"""One govwatch at a time per database: ``flock`` on the database file itself, and on a
lock file beside it that says who holds it.

The kernel releases an ``flock`` when its process dies, however it dies, so a lock left
by a killed process is never really held: the next process takes it over and logs whose
it was. The lock file records the holder's pid and start time for the refusal message; it
is never deleted (deleting a lock file races with a process that just opened it).

The lock belongs to the database file, not to a path that names it. Every name of the
file (a symbolic link, ``./`` or ``..``, a hard link in another directory) opens the same
inode, and the exclusive ``flock`` is taken on that inode's own descriptor, so two names
cannot run two cycles at once. The lock file sits beside the resolved path: it is shared
by symbolic links, and still excludes a govwatch of an older version, which locks only
that. A lock file that is itself a symbolic link is refused, never written through.

On Linux an ``flock`` and the POSIX (``fcntl``) record locks SQLite takes are independent:
neither blocks the other, so other processes read and write the database while the run
holds it (tests/integration/test_lock_paths.py checks this). Two cautions follow from
SQLite's POSIX locks: the descriptor is only closed once the run's store is closed
(closing any descriptor of a file drops every POSIX lock this process holds on it), and
the database must be on a local file system (on NFS and SMB, Linux emulates ``flock``
with POSIX locks, which would conflict; SQLite's WAL mode needs a local file system
anyway).
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType

from core.errors import LockHeld, StorageError
from storage.records import iso, utc_now

log = logging.getLogger(__name__)


def lock_path(db_path: str | Path) -> Path:
    """``<database>.lock`` beside the file the path resolves to (links followed)."""
    return Path(f"{Path(db_path).resolve()}.lock")


class RunLock:
    """``with RunLock(db_path, "cron"):`` or raise :class:`LockHeld` at once.

    Enter it before opening the store and leave it after closing it (see the module).
    """

    def __init__(self, db_path: str | Path, mode: str) -> None:
        self.database = Path(db_path)
        self.path = lock_path(db_path)
        self.mode = mode
        self._fd: int | None = None
        self._database_fd: int | None = None

    def acquire(self) -> None:
        fd = _open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, "the lock file")
        if not _try_flock(fd):
            holder = _read(fd) or "an unknown process"
            os.close(fd)
            raise self._held(holder)
        try:
            database_fd = self._lock_database()
        except BaseException:
            os.close(fd)  # releases the lock file's flock; nothing was written to it
            raise
        previous = _read(fd)
        if previous:
            # We got the flock, so its holder is gone: it was killed before it could clean up.
            log.warning("took over the stale lock %s left by %s", self.path, previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} {self.mode} since {iso(utc_now())}\n".encode(), 0)
        self._fd, self._database_fd = fd, database_fd

    def _lock_database(self) -> int:
        """An ``flock`` on the database file's own descriptor, creating an empty file if
        there is none yet (``run`` creates the database; SQLite reads an empty file as a
        new database)."""
        try:
            fd = os.open(self.database, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = _open(self.database, os.O_RDWR | os.O_CREAT, "the database file")
        except OSError as exc:
            raise StorageError(f"cannot open the database file {self.database}: "
                               f"{exc.strerror or exc}") from exc
        if _try_flock(fd):
            return fd
        identity = os.fstat(fd)
        os.close(fd)
        holder = _flock_holder(identity.st_dev, identity.st_ino)
        raise self._held(f"{holder}, through another name of this file (a hard link)"
                         if holder else "a process using another name of this file "
                         "(a hard link)")

    def _held(self, holder: str) -> LockHeld:
        return LockHeld(
            f"another govwatch is running on this database ({holder}; lock {self.path});"
            " exiting without doing anything"
        )

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)  # an empty file says "released cleanly"
        if self._database_fd is not None:
            os.close(self._database_fd)  # the flock goes with its only descriptor
            self._database_fd = None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _open(path: Path, flags: int, what: str) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags | os.O_CLOEXEC, 0o644)
    except OSError as exc:  # a read-only file system, a planted link, no permission
        raise StorageError(f"cannot open {what} {path}: {exc.strerror or exc}") from exc


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read(fd: int) -> str:
    return os.pread(fd, 512, 0).decode("utf-8", "replace").strip()


def _flock_holder(device: int, inode: int) -> str | None:
    """``pid N`` of the process holding an ``flock`` on the file, from Linux's
    /proc/locks (None elsewhere, or if it was released meanwhile)."""
    wanted = f"{os.major(device):02x}:{os.minor(device):02x}:{inode}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF"
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted:
            return f"pid {fields[4]}"
    return None
