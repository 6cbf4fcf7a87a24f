"""Worker processes that can be stopped: every job has a deadline, and a worker that
overruns it is killed and replaced.

A parser can be made to work for an hour on a small input (a PDF of 3,000 pages that
share one content stream of 200,000 text operations: pypdf spends about 4 s a page). A
thread cannot be stopped and ``ProcessPoolExecutor`` cannot stop one job: killing its
worker breaks the whole pool. Here each worker is a process with a pipe of its own; a job
is one message out and one back, awaited on the event loop with a deadline. Past it the
worker gets SIGKILL, a fresh one takes its place and the caller gets :class:`Overrun`,
which it records as a failed check: the cycle goes on and ends, so its lock is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any, TypeVar, cast

T = TypeVar("T")
#: How long a worker that was asked to stop may take before it is killed.
STOP_GRACE = 2.0


class Overrun(Exception):
    """A job ran past its deadline; its worker was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"still running after {seconds:g}s")
        self.seconds = seconds


class WorkerDied(Exception):
    """The worker process ended during a job (killed by the OOM killer, a crash)."""


def _serve(conn: Connection, initializer: Callable[..., None], initargs: tuple[Any, ...]
           ) -> None:
    """A worker's life: run each job it is sent and send back its result or error."""
    initializer(*initargs)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if job is None:  # asked to stop
            return
        function, args = job
        try:
            answer: tuple[bool, Any] = (True, function(*args))
        except Exception as exc:  # noqa: BLE001 - the parent decides what it means
            answer = (False, exc)
        try:
            conn.send(answer)
        except (TypeError, AttributeError, ValueError) as exc:  # an answer that won't pickle
            conn.send((False, RuntimeError(f"{type(answer[1]).__name__} could not be sent "
                                           f"back: {exc}")))


class _Worker:
    def __init__(self, context: BaseContext, initializer: Callable[..., None],
                 initargs: tuple[Any, ...]) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, initializer, initargs), daemon=True,
            name="govwatch-worker")
        self.process.start()
        child.close()

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(STOP_GRACE)
        self.conn.close()

    def ask_to_stop(self) -> None:
        # A message, not EOF: a worker forked later holds a copy of this pipe's end, so
        # closing ours would not end the read of this one.
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)

    def stop(self) -> None:
        """Once asked: wait a moment for the worker to end, then kill it."""
        self.process.join(STOP_GRACE)
        if self.process.is_alive():
            self.kill()
        self.conn.close()


class WorkerPool:
    """``size`` worker processes, each running one job at a time within a deadline."""

    def __init__(self, size: int, context: BaseContext, initializer: Callable[..., None],
                 initargs: tuple[Any, ...] = ()) -> None:
        self.size = size
        self._context = context
        self._initializer = initializer
        self._initargs = initargs
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        #: Workers killed at their deadline (and replaced).
        self.killed = 0

    def _new(self) -> _Worker:
        worker = _Worker(self._context, self._initializer, self._initargs)
        self._all.add(worker)
        return worker

    def start(self) -> None:
        """Start every worker now (forking from this thread)."""
        while len(self._all) < self.size:
            self._idle.put_nowait(self._new())

    async def start_in_thread(self) -> None:
        """Start every worker from a helper thread (a forkserver's first answer takes
        tenths of a second: the event loop must not wait for it)."""
        missing = self.size - len(self._all)
        workers = await asyncio.to_thread(lambda: [self._new() for _ in range(missing)])
        for worker in workers:
            self._idle.put_nowait(worker)

    def pids(self) -> list[int]:
        return sorted(worker.pid for worker in self._all)

    async def run(self, deadline: float, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker; :class:`Overrun` past ``deadline`` seconds."""
        worker = await self._idle.get()
        try:
            result = await self._exchange(worker, deadline, function, args)
        except (Overrun, WorkerDied, asyncio.CancelledError):
            # Killed, dead, or left busy with a job nobody waits for: a new one.
            self._replace(worker)
            raise
        except BaseException:  # the job raised: the worker itself is fine
            self._idle.put_nowait(worker)
            raise
        self._idle.put_nowait(worker)
        return result

    async def _exchange(self, worker: _Worker, deadline: float,
                        function: Callable[..., T], args: tuple[Any, ...]) -> T:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[bool, Any]] = loop.create_future()
        fd = worker.conn.fileno()

        def readable() -> None:
            loop.remove_reader(fd)
            if answer.done():
                return
            try:
                answer.set_result(worker.conn.recv())
            except (EOFError, OSError) as exc:
                answer.set_exception(WorkerDied(
                    f"the worker process ended during the job ({type(exc).__name__})"))

        try:
            # The worker waits on its pipe, so this blocks only while the bytes go across.
            worker.conn.send((function, args))
        except (BrokenPipeError, EOFError, OSError) as exc:
            raise WorkerDied(f"the worker process had ended ({type(exc).__name__})") from exc
        loop.add_reader(fd, readable)
        try:
            async with asyncio.timeout(deadline):
                ok, value = await answer
        except TimeoutError:
            self.killed += 1
            raise Overrun(deadline) from None
        finally:
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(fd)
        if not ok:
            raise cast(BaseException, value)
        return cast(T, value)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self._all.discard(worker)
        self._idle.put_nowait(self._new())

    def close(self) -> None:
        """Stop every worker (an idle one ends at once; a busy one, left by a cancelled
        job, at the end of its grace)."""
        for worker in self._all:
            worker.ask_to_stop()
        for worker in self._all:
            worker.stop()
        self._all.clear()
