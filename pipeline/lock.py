"""One govwatch at a time per database: a lock file beside it, held with ``flock``.

The kernel releases an ``flock`` when its process dies, however it dies, so a lock left
by a killed process is never really held: the next process takes it over and logs whose
it was. The file records the holder's pid and start time for the refusal message; it is
never deleted (deleting a lock file races with a process that just opened it).

The lock belongs to the database file, not to the path that names it: it sits beside the
resolved path, so the same database reached through a symbolic link (or ``./``, ``..``)
takes the same lock. A lock file that is itself a symbolic link is refused, never written
through.
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
    """``with RunLock(db_path, "cron"):`` or raise :class:`LockHeld` at once."""

    def __init__(self, db_path: str | Path, mode: str) -> None:
        self.path = lock_path(db_path)
        self.mode = mode
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o644)
        except OSError as exc:  # a read-only file system, a planted link, no permission
            raise StorageError(f"cannot open the lock file {self.path}: "
                               f"{exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd) or "an unknown process"
            os.close(fd)
            raise LockHeld(
                f"another govwatch is running on this database ({holder}; lock {self.path});"
                " exiting without doing anything"
            ) from None
        previous = _read(fd)
        if previous:
            # We got the flock, so its holder is gone: it was killed before it could clean up.
            log.warning("took over the stale lock %s left by %s", self.path, previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} {self.mode} since {iso(utc_now())}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)  # an empty file says "released cleanly"
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


def _read(fd: int) -> str:
    return os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
