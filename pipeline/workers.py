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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(eq=False)
class _Job:
    function: Callable[..., Any]
    args: tuple[Any, ...]
    deadline: float
    answer: asyncio.Future[Any]
    worker: _Worker | None = None
    timer: asyncio.TimerHandle | None = None


class WorkerPool:
    """``size`` worker processes, each running one job at a time within a deadline.

    Jobs wait in one queue, and a worker that answers is given the next job in the same
    callback that read its answer: handing it back through the event loop (an idle queue,
    the waiting task's turn) left each worker idle 2.6 ms between jobs of 4 ms when the
    loop was busy fetching (cycle.py)."""

    def __init__(self, size: int, context: BaseContext, initializer: Callable[..., None],
                 initargs: tuple[Any, ...] = ()) -> None:
        self.size = size
        self._context = context
        self._initializer = initializer
        self._initargs = initargs
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._jobs: deque[_Job] = deque()
        self._running: set[_Job] = set()
        #: Workers killed at their deadline (and replaced).
        self.killed = 0

    def _new(self) -> _Worker:
        worker = _Worker(self._context, self._initializer, self._initargs)
        self._all.add(worker)
        return worker

    def start(self) -> None:
        """Start every worker now (forking from this thread)."""
        while len(self._all) < self.size:
            self._idle.append(self._new())
        self._dispatch()

    async def start_in_thread(self) -> None:
        """Start every worker from a helper thread (a forkserver's first answer takes
        tenths of a second: the event loop must not wait for it)."""
        missing = self.size - len(self._all)
        workers = await asyncio.to_thread(lambda: [self._new() for _ in range(missing)])
        self._idle.extend(workers)
        self._dispatch()

    def pids(self) -> list[int]:
        return sorted(worker.pid for worker in self._all)

    async def run(self, deadline: float, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker; :class:`Overrun` past ``deadline`` seconds
        from the moment a worker takes the job."""
        job = _Job(function, args, deadline, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        self._dispatch()
        try:
            return cast(T, await job.answer)
        except asyncio.CancelledError:
            if job.worker is None:  # still waiting for a worker
                with contextlib.suppress(ValueError):
                    self._jobs.remove(job)
            elif job in self._running:  # left busy with a job nobody waits for: a new one
                self._end(job)
                self._replace(job.worker)
            raise

    def _dispatch(self) -> None:
        while self._idle and self._jobs:
            self._start(self._idle.pop(), self._jobs.popleft())

    def _start(self, worker: _Worker, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        job.worker = worker
        try:
            # The worker waits on its pipe, so this blocks only while the bytes go across.
            worker.conn.send((job.function, job.args))
        except (BrokenPipeError, EOFError, OSError) as exc:
            job.answer.set_exception(WorkerDied(
                f"the worker process had ended ({type(exc).__name__})"))
            self._replace(worker)
            return
        loop.add_reader(worker.conn.fileno(), self._answered, job)
        job.timer = loop.call_later(job.deadline, self._overrun, job)
        self._running.add(job)

    def _end(self, job: _Job) -> None:
        """Stop watching the job's worker: its answer came, or will never count."""
        assert job.worker is not None
        self._running.discard(job)
        if job.timer is not None:
            job.timer.cancel()
        with contextlib.suppress(ValueError, OSError, RuntimeError):
            asyncio.get_running_loop().remove_reader(job.worker.conn.fileno())

    def _answered(self, job: _Job) -> None:
        worker = job.worker
        assert worker is not None
        self._end(job)
        try:
            ok, value = worker.conn.recv()
        except (EOFError, OSError) as exc:
            if not job.answer.done():
                job.answer.set_exception(WorkerDied(
                    f"the worker process ended during the job ({type(exc).__name__})"))
            self._replace(worker)
            return
        if not job.answer.done():
            if ok:
                job.answer.set_result(value)
            else:
                job.answer.set_exception(cast(BaseException, value))
        self._idle.append(worker)
        self._dispatch()

    def _overrun(self, job: _Job) -> None:
        assert job.worker is not None
        self._end(job)
        self.killed += 1
        if not job.answer.done():
            job.answer.set_exception(Overrun(job.deadline))
        self._replace(job.worker)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        self._all.discard(worker)
        self._idle.append(self._new())
        self._dispatch()

    def close(self) -> None:
        """Stop every worker (an idle one ends at once; a busy one, left by a cancelled
        job, at the end of its grace). Jobs still waiting for a worker fail."""
        for job in list(self._running):
            self._end(job)
        for job in self._jobs:
            if not job.answer.done():
                job.answer.set_exception(WorkerDied("the worker pool was closed"))
        self._jobs.clear()
        self._idle.clear()
        for worker in self._all:
            worker.ask_to_stop()
        for worker in self._all:
            worker.stop()
        self._all.clear()
