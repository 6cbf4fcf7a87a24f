"""The shard launcher: a process that ``govwatch run`` forks once it has imported what it
and its fetch shards both use; it imports what only the shards use while the run reads
its config, then forks the shards.

A first cycle's start was serial, and one of two cores idled through it: the run
imported everything, read its config and planned the shards before it could fork them.
Now the launcher imports the HTTP stack and the fetch layer (0.10 s) on that core while
the run imports its own remaining modules and reads its config (0.10 s), so the shards
start fetching about 0.05 s sooner, and the run's process, which only writes, never
imports the HTTP stack (docs/architecture.md, "The shard launcher").

The run and the launcher talk over a Unix socket pair:

- run to launcher: the shard ends of the shards' pipes (passed as file descriptors), then
  the pickled ``Launch``; closing the socket instead (a cycle too small for shards, an
  error) tells the launcher to exit;
- launcher to run: the shards' process ids, then each shard's exit code as it ends, which
  names the cause in the failed checks of a shard that died (``shards._record_lost``).

This module imports only the standard library, so that importing it does not decide
what the two processes share.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import signal
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitors.base import Monitor
    from pipeline.config import Config
    from pipeline.shards import ShardPlan

log = logging.getLogger(__name__)

# What the shards need and the run's process does not (the run imported the rest before
# the fork: pipeline.shards). Between two, the launcher looks whether the run has let it
# go already, so that a cycle too small for shards wastes little.
PRELOAD = ("aiohttp", "pipeline.fetch", "pipeline.shard_process")
# How long the run waits for the launcher to fork the shards once handed the launch; past
# it the run forks them itself (the launcher is killed first, so none is forked twice).
LAUNCH_TIMEOUT_SECONDS = 30.0
# Two pipe ends per shard; the config allows at most 16 workers.
_MAX_FDS = 64
_HEADER = struct.Struct("!Q")
_FDS_MARK = b"F"


@dataclass(frozen=True, slots=True)
class Launch:
    """What the shards of one cycle need: what a fork of the run would have inherited."""

    config: Config
    monitors: Sequence[Monitor]
    plans: Sequence[ShardPlan]
    database: Path
    owner_pid: int


class ShardLauncher:
    """The run's side of the launcher process (``forked`` starts one)."""

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid, self._sock = pid, sock
        self.launched = False

    @classmethod
    @contextmanager
    def forked(cls) -> Iterator[ShardLauncher | None]:
        """Fork a launcher when one can help (two cores or more, one thread here, and
        fork available), else yield None; on leaving, let it go and reap it."""
        launcher = None
        if _worth_forking():
            try:
                launcher = cls._fork()
            except OSError as exc:  # out of processes or memory: the run forks its shards
                log.warning("cannot start the shard launcher: %s", exc)
        try:
            yield launcher
        finally:
            if launcher is not None:
                launcher.close()

    @classmethod
    def _fork(cls) -> ShardLauncher:
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            code = 1
            try:
                ours.close()
                code = _serve(theirs)
            except BaseException:  # noqa: BLE001 - the run forks its shards itself then
                traceback.print_exc()
            finally:
                os._exit(code)
        theirs.close()
        return cls(pid, ours)

    def launch(self, fds: Sequence[int], launch: Launch) -> list[int] | None:
        """Hand the launcher the shards' pipe ends and what they check; the shards'
        process ids, or None when the launcher is gone (the run then forks them)."""
        payload = pickle.dumps(launch, protocol=pickle.HIGHEST_PROTOCOL)
        self._sock.settimeout(LAUNCH_TIMEOUT_SECONDS)
        try:
            socket.send_fds(self._sock, [_FDS_MARK], list(fds))
            self._sock.sendall(_HEADER.pack(len(payload)) + payload)
            kind, pids = _receive(self._sock)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            log.warning("the shard launcher did not start the fetch shards (%s); the run "
                        "starts them itself", str(exc) or type(exc).__name__)
            self.kill()
            return None
        finally:
            self._sock.settimeout(None)
        assert kind == "started"
        self.launched = True
        return list(pids)

    def exitcodes(self, count: int) -> list[int | None]:
        """Wait for the launcher to report each shard's end: its exit code, negative
        for a signal as in ``multiprocessing``; None if the launcher died first."""
        codes: list[int | None] = [None] * count
        with suppress(OSError, EOFError, pickle.UnpicklingError):
            for _ in range(count):
                _, number, code = _receive(self._sock)
                codes[number] = code
        return codes

    def close(self) -> None:
        """Let the launcher go (at once, if it has no shards to report on) and reap it."""
        if self._sock.fileno() == -1:
            return
        self._sock.close()
        if not self.launched:
            self.kill()
        with suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def kill(self) -> None:
        """Kill the launcher; the shards it forked see it go and exit (within 0.25 s,
        ``workers.exit_with_parent``). Its pid stays ours until ``close`` reaps it, so the
        signal cannot reach another process; a shard's could, once the launcher reaped
        it."""
        with suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


def _worth_forking() -> bool:
    return (hasattr(os, "fork") and sys.platform.startswith("linux")
            and (os.cpu_count() or 1) >= 2 and threading.active_count() == 1)


def _receive(sock: socket.socket) -> Any:
    size = _HEADER.unpack(_read_exactly(sock, _HEADER.size))[0]
    return pickle.loads(_read_exactly(sock, size))


def _send(sock: socket.socket, message: tuple[Any, ...]) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the socket")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _let_go(sock: socket.socket) -> bool:
    """Whether the run closed the socket without a launch (without waiting)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False


def _serve(sock: socket.socket) -> int:  # pragma: no cover - runs in the launcher
    """The launcher: import, wait for the launch, fork the shards, report their ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle
    for module in PRELOAD:
        if _let_go(sock):
            return 0
        importlib.import_module(module)
    from pipeline.fetch import tls_context

    tls_context()  # built once here, inherited by every shard
    try:
        mark, fds, _, _ = socket.recv_fds(sock, len(_FDS_MARK), _MAX_FDS)
        if mark != _FDS_MARK:
            return 0
        size = _HEADER.unpack(_read_exactly(sock, _HEADER.size))[0]
        launch: Launch = pickle.loads(_read_exactly(sock, size))
    except (OSError, EOFError):  # the run is gone
        return 0
    from pipeline.cli import startup_done

    startup_done()  # as the run does: what the shards inherit, their collectors skip
    pids = [_fork_shard(number, fds, sock, launch) for number in range(len(launch.plans))]
    for fd in fds:
        os.close(fd)
    with suppress(OSError):  # the run is gone: the shards see it too, and exit
        _send(sock, ("started", pids))
    for _ in pids:
        pid, status = os.wait()
        with suppress(OSError):
            _send(sock, ("ended", pids.index(pid), os.waitstatus_to_exitcode(status)))
    return 0


def _fork_shard(  # pragma: no cover - runs in the launcher
    number: int, fds: Sequence[int], sock: socket.socket, launch: Launch
) -> int:
    channel_fd, inbox_fd = fds[2 * number], fds[2 * number + 1]
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        sock.close()
        for fd in fds:  # another shard's pipe held open here would hide its end
            if fd not in (channel_fd, inbox_fd):
                os.close(fd)
        code = _run_shard(channel_fd, inbox_fd, launch, launch.plans[number])
    finally:
        os._exit(code)


def _run_shard(  # pragma: no cover - runs in a shard
    channel_fd: int, inbox_fd: int, launch: Launch, plan: ShardPlan
) -> int:
    """A shard forked by the launcher, ended as ``multiprocessing`` ends one: exit code 0,
    or 1 with the traceback on stderr."""
    from multiprocessing.connection import Connection

    from pipeline.shard_process import run_shard

    code = 0
    try:
        if sys.stdin is not None:  # as multiprocessing does for a child
            sys.stdin.close()
            sys.stdin = open(os.devnull)  # noqa: SIM115
        run_shard(Connection(channel_fd, readable=False), Connection(inbox_fd, writable=False),
                  launch.config, launch.monitors, plan, launch.database, launch.owner_pid)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported as multiprocessing reports it
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):
                stream.flush()
    return code
