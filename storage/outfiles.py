"""Output files named on the command line (exports, backups), written so that nothing else
is ever written through them.

The data goes to a new file beside the target, created exclusively and never through a
symbolic link (``O_EXCL | O_NOFOLLOW``, a random name, so a file or link planted in
advance is neither followed nor reused), is flushed to disk, and is renamed over the target
only when it is complete. The target must be a regular file or nothing: a device (an export
to ``/dev/full`` would otherwise replace the device node), a FIFO, a socket, a directory or
a symbolic link is refused, and an existing file is replaced only when asked (``--force``).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from core.errors import ExportFailed

_NOT_REGULAR = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def check_target(path: Path, *, force: bool) -> None:
    """Raise :class:`ExportFailed` unless ``path`` is nothing, or a regular file and
    ``force``. Symbolic links are not followed: a link is refused, whatever it points at."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ExportFailed(f"cannot write {path}: {exc.strerror or exc}") from exc
    for test, what in _NOT_REGULAR:
        if test(mode):
            raise ExportFailed(f"cannot write {path}: it is {what}, not a regular file; "
                               "name a regular file or a new one")
    if not stat.S_ISREG(mode):
        raise ExportFailed(f"cannot write {path}: it is not a regular file")
    if not force:
        raise ExportFailed(f"{path} exists; pass --force to replace it")


class OutputFile:
    """``with OutputFile(path, force=...) as output:`` write ``output.file`` (or let a
    library write the file at ``output.partial``); ``path`` appears, whole and synced to
    disk, only when the block ends without an error. Failures raise :class:`ExportFailed`.
    """

    def __init__(self, path: Path, *, force: bool, mode: int = 0o666) -> None:
        self.path = path
        self.force = force
        self.mode = mode
        self.partial = path
        self._fd = -1
        self.file: BinaryIO | None = None

    def __enter__(self) -> OutputFile:
        check_target(self.path, force=self.force)
        for _ in range(100):
            candidate = self.path.with_name(
                f".{self.path.name}.{secrets.token_hex(6)}.partial")
            try:
                self._fd = os.open(candidate, _CREATE, self.mode)
            except FileExistsError:
                continue
            except OSError as exc:
                raise ExportFailed(f"cannot write {self.path}: {exc.strerror or exc}") from exc
            self.partial = candidate
            break
        else:
            raise ExportFailed(f"cannot write {self.path}: no free temporary name beside it")
        # A second descriptor for the writer: the first stays open for the final fsync,
        # even when a library (SQLite) writes the file through its path instead.
        self.file = os.fdopen(os.dup(self._fd), "wb")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            if self.file is not None:
                self.file.close()
            if kind is None:
                os.fsync(self._fd)
                self._install()
        except OSError as error:
            raise ExportFailed(f"cannot write {self.path}: {error.strerror or error}") \
                from error
        finally:
            os.close(self._fd)
            if self.partial != self.path:
                self.partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):  # writing failed: the disk is full, a quota, ...
            raise ExportFailed(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def _install(self) -> None:
        """Rename the complete file into place, over a regular file or nothing only."""
        check_target(self.path, force=self.force)  # again: the target may have changed
        if not self.force:
            try:
                # link() refuses any existing name, atomically: nothing can appear at the
                # target between the check and the rename.
                os.link(self.partial, self.path, follow_symlinks=False)
            except FileExistsError:
                raise ExportFailed(f"{self.path} exists; pass --force to replace it") from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                os.replace(self.partial, self.path)  # a file system without hard links
        else:
            os.replace(self.partial, self.path)  # replaces a link itself, never its target
        _sync_directory(self.path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
