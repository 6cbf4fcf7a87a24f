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
import pickle
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
        #: The jobs sent to it, in order: the first is running, the next waits in the pipe.
        self.jobs: deque[_Job] = deque()

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


#: A job is sent to a worker still busy with the one before (it waits in the pipe, so
#: the worker starts it without waiting for the event loop) only when its pickle is this
#: small: the kernel buffers it without blocking the loop (a socket pair buffers 208 kB).
PIPELINED_BYTES = 128 * 1024


@dataclass(eq=False)
class _Job:
    function: Callable[..., Any]
    args: tuple[Any, ...]
    deadline: float
    answer: asyncio.Future[Any]
    pickled: bytes | None = None
    sent: bool = False
    refused: int = 0
    timer: asyncio.TimerHandle | None = None


class WorkerPool:
    """``size`` worker processes, each running one job at a time within a deadline.

    Jobs wait in one queue. Each worker is sent a job, and a second one while it works
    on the first, so that it goes on without waiting for the event loop: a worker handed
    its next job only once the loop had read its answer sat idle 2.6 ms between jobs of
    4 ms while the loop was busy fetching (cycle.py). A job's deadline runs from the
    moment its worker starts it."""

    def __init__(self, size: int, context: BaseContext, initializer: Callable[..., None],
                 initargs: tuple[Any, ...] = ()) -> None:
        self.size = size
        self._context = context
        self._initializer = initializer
        self._initargs = initargs
        self._all: set[_Worker] = set()
        self._jobs: deque[_Job] = deque()
        #: Workers killed at their deadline (and replaced).
        self.killed = 0

    def _new(self) -> _Worker:
        worker = _Worker(self._context, self._initializer, self._initargs)
        self._all.add(worker)
        return worker

    def start(self) -> None:
        """Start every worker now (forking from this thread)."""
        while len(self._all) < self.size:
            self._new()
        self._dispatch()

    async def start_in_thread(self) -> None:
        """Start every worker from a helper thread (a forkserver's first answer takes
        tenths of a second: the event loop must not wait for it)."""
        missing = self.size - len(self._all)
        await asyncio.to_thread(lambda: [self._new() for _ in range(missing)])
        self._dispatch()

    def pids(self) -> list[int]:
        return sorted(worker.pid for worker in self._all)

    async def run(self, deadline: float, function: Callable[..., T], *args: Any,
                  first: bool = False) -> T:
        """``function(*args)`` in a worker; :class:`Overrun` past ``deadline`` seconds
        from the moment the worker starts it. ``first`` puts the job ahead of those
        waiting (one that other checks wait on)."""
        job = _Job(function, args, deadline, asyncio.get_running_loop().create_future())
        if first:
            self._jobs.appendleft(job)
        else:
            self._jobs.append(job)
        self._dispatch()
        try:
            return cast(T, await job.answer)
        except asyncio.CancelledError:
            if not job.sent:
                with contextlib.suppress(ValueError):
                    self._jobs.remove(job)
            # Left running with nobody waiting for it: a new worker. A job still in a
            # worker's pipe runs when its turn comes, and its answer is dropped.
            for worker in list(self._all):
                if worker.jobs and worker.jobs[0] is job:
                    worker.jobs.popleft()
                    self._replace(worker)
            raise

    def _dispatch(self) -> None:
        """A job for every idle worker, then one in the pipe of every busy one."""
        for depth in (0, 1):
            for worker in list(self._all):
                if len(worker.jobs) == depth and worker in self._all:
                    self._send(worker, pipelined=depth > 0)

    def _send(self, worker: _Worker, *, pipelined: bool) -> None:
        job = self._next_job()
        if job is None or job.pickled is None:
            return
        if pipelined and len(job.pickled) > PIPELINED_BYTES:
            return  # a large job waits for an idle worker
        self._jobs.popleft()
        try:
            # An idle worker reads at once, and a small job fits in the pipe's buffer:
            # this blocks only while the bytes go across.
            worker.conn.send_bytes(job.pickled)
        except (BrokenPipeError, EOFError, OSError) as exc:
            # The worker died before its death was read: the job never ran, and goes to
            # its replacement (once: a worker that dies as it starts fails the job).
            job.refused += 1
            if job.refused > 1:
                job.answer.set_exception(WorkerDied(
                    f"the worker process had ended ({type(exc).__name__})"))
            else:
                self._jobs.append(job)
            self._replace(worker)
            return
        job.pickled, job.sent = None, True
        worker.jobs.append(job)
        if len(worker.jobs) == 1:
            asyncio.get_running_loop().add_reader(worker.conn.fileno(), self._answered,
                                                  worker)
            self._started(worker)

    def _next_job(self) -> _Job | None:
        """The job at the head of the queue, pickled; jobs cancelled while they waited are
        dropped, and one that cannot be pickled fails at once."""
        while self._jobs:
            job = self._jobs[0]
            if job.answer.done():  # cancelled while waiting
                self._jobs.popleft()
                continue
            if job.pickled is None:
                try:
                    job.pickled = pickle.dumps((job.function, job.args),
                                               pickle.HIGHEST_PROTOCOL)
                except Exception as exc:  # noqa: BLE001 - the caller decides what it means
                    self._jobs.popleft()
                    job.answer.set_exception(exc)
                    continue
            return job
        return None

    def _started(self, worker: _Worker) -> None:
        """The first of the worker's jobs is running: its deadline starts now."""
        job = worker.jobs[0]
        job.timer = asyncio.get_running_loop().call_later(job.deadline, self._overrun,
                                                          worker)

    def _answered(self, worker: _Worker) -> None:
        job = worker.jobs.popleft()
        if job.timer is not None:
            job.timer.cancel()
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
        if worker.jobs:
            self._started(worker)
        else:
            self._unwatch(worker)
        self._dispatch()

    def _overrun(self, worker: _Worker) -> None:
        job = worker.jobs.popleft()
        self.killed += 1
        if not job.answer.done():
            job.answer.set_exception(Overrun(job.deadline))
        self._replace(worker)

    def _unwatch(self, worker: _Worker) -> None:
        with contextlib.suppress(ValueError, OSError, RuntimeError):
            asyncio.get_running_loop().remove_reader(worker.conn.fileno())

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` (its running job, if any, is settled by the caller) and start
        another; the jobs in its pipe, never started, go back to the head of the queue."""
        self._unwatch(worker)
        waiting = list(worker.jobs)
        worker.jobs.clear()
        for job in waiting:
            if job.timer is not None:
                job.timer.cancel()
            job.sent = False
        self._jobs.extendleft(reversed(waiting))
        worker.kill()
        self._all.discard(worker)
        self._new()
        self._dispatch()

    def close(self) -> None:
        """Stop every worker (an idle one ends at once; a busy one, left by a cancelled
        job, at the end of its grace). Jobs not answered yet fail."""
        for worker in self._all:
            self._unwatch(worker)
            self._jobs.extend(worker.jobs)
            worker.jobs.clear()
        for job in self._jobs:
            if job.timer is not None:
                job.timer.cancel()
            if not job.answer.done():
                job.answer.set_exception(WorkerDied("the worker pool was closed"))
        self._jobs.clear()
        for worker in self._all:
            worker.ask_to_stop()
        for worker in self._all:
            worker.stop()
        self._all.clear()
