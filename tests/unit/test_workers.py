"""The worker pool on real processes: answers in order, errors, deadlines, deaths,
cancellation and the jobs that wait in a busy worker's pipe."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import AsyncIterator

import pytest

from pipeline.workers import PIPELINED_BYTES, Overrun, WorkerDied, WorkerPool

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="the pool's tests fork their workers")


def square(n: int) -> tuple[int, int]:
    return n * n, os.getpid()


def echo_size(data: bytes) -> int:
    return len(data)


def sleep_then(seconds: float, value: int) -> int:
    time.sleep(seconds)
    return value


def fail(message: str) -> None:
    raise ValueError(message)


def die() -> None:
    os._exit(3)


def noop() -> None:
    return None


def started_at() -> float:
    return time.monotonic()  # one clock for every process of the machine


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    workers = WorkerPool(2, multiprocessing.get_context("fork"), noop)
    workers.start()
    try:
        yield workers
    finally:
        workers.close()


async def test_every_job_is_answered_with_its_own_result(pool: WorkerPool) -> None:
    answers = await asyncio.wait_for(
        asyncio.gather(*(pool.run(10, square, n) for n in range(200))), 30)
    assert [value for value, _ in answers] == [n * n for n in range(200)]
    assert {pid for _, pid in answers} == set(pool.pids())  # both workers took jobs


async def test_a_job_others_wait_on_goes_ahead_of_the_queue() -> None:
    workers = WorkerPool(1, multiprocessing.get_context("fork"), noop)
    workers.start()
    try:
        busy = asyncio.ensure_future(workers.run(10, sleep_then, 0.3, 0))  # running
        piped = asyncio.ensure_future(workers.run(10, started_at))  # waits in the pipe
        queued = [asyncio.ensure_future(workers.run(10, started_at)) for _ in range(5)]
        urgent = asyncio.ensure_future(workers.run(10, started_at, first=True))
        await asyncio.wait_for(asyncio.gather(busy, piped, urgent, *queued), 30)
        assert piped.result() < urgent.result() < min(job.result() for job in queued)
    finally:
        workers.close()


async def test_jobs_too_large_to_wait_in_a_pipe_still_run(pool: WorkerPool) -> None:
    sizes = [10, PIPELINED_BYTES * 3, 20, PIPELINED_BYTES * 2, 30]
    answers = await asyncio.wait_for(
        asyncio.gather(*(pool.run(10, echo_size, b"x" * n) for n in sizes)), 30)
    assert answers == sizes


async def test_an_error_reaches_its_caller_and_the_worker_goes_on(pool: WorkerPool) -> None:
    pids = pool.pids()
    results = await asyncio.wait_for(asyncio.gather(
        pool.run(10, fail, "bad input"), pool.run(10, square, 3), return_exceptions=True), 30)
    assert isinstance(results[0], ValueError) and str(results[0]) == "bad input"
    second = results[1]
    assert isinstance(second, tuple) and second[0] == 9
    assert pool.pids() == pids


async def test_a_job_past_its_deadline_is_killed_and_the_jobs_behind_it_run(
        pool: WorkerPool) -> None:
    pids = pool.pids()
    # The slow job's worker also holds the next jobs in its pipe: they must run elsewhere.
    slow = asyncio.ensure_future(pool.run(0.5, sleep_then, 60, 0))
    rest = [asyncio.ensure_future(pool.run(10, sleep_then, 0.05, n)) for n in range(6)]
    with pytest.raises(Overrun):
        await asyncio.wait_for(slow, 30)
    assert await asyncio.wait_for(asyncio.gather(*rest), 30) == list(range(6))
    assert pool.killed == 1
    assert len(pool.pids()) == 2 and pool.pids() != pids


async def test_a_deadline_counts_from_the_start_of_the_job_not_its_wait(
        pool: WorkerPool) -> None:
    # Four jobs of 1 s on two workers: the last two wait 1 s, then run 1 s, and a
    # deadline of 1.8 s is met by each (counted from the queue, it would not be).
    answers = await asyncio.wait_for(
        asyncio.gather(*(pool.run(1.8, sleep_then, 1.0, n) for n in range(4))), 30)
    assert answers == [0, 1, 2, 3]
    assert pool.killed == 0


async def test_a_job_that_cannot_be_sent_fails_and_the_next_one_runs() -> None:
    pool = WorkerPool(1, multiprocessing.get_context("fork"), noop)
    pool.start()
    try:
        unpicklable = asyncio.ensure_future(pool.run(10, square, lambda: 1))
        behind = asyncio.ensure_future(pool.run(10, square, 5))
        with pytest.raises(Exception, match="pickle"):
            await asyncio.wait_for(unpicklable, 30)
        assert (await asyncio.wait_for(behind, 30))[0] == 25
    finally:
        pool.close()


async def test_a_worker_that_dies_fails_its_job_only(pool: WorkerPool) -> None:
    dying = asyncio.ensure_future(pool.run(10, die))
    others = [asyncio.ensure_future(pool.run(10, square, n)) for n in range(5)]
    with pytest.raises(WorkerDied):
        await asyncio.wait_for(dying, 30)
    assert [v for v, _ in await asyncio.wait_for(asyncio.gather(*others), 30)] == [
        0, 1, 4, 9, 16]
    assert len(pool.pids()) == 2


async def test_a_cancelled_job_frees_its_worker(pool: WorkerPool) -> None:
    running = [asyncio.ensure_future(pool.run(60, sleep_then, 60, n)) for n in range(2)]
    waiting = asyncio.ensure_future(pool.run(60, square, 7))
    await asyncio.sleep(0.2)
    pids = pool.pids()
    for task in running:
        task.cancel()
    # Both workers were busy for a minute: they are replaced, and the job behind runs.
    assert (await asyncio.wait_for(waiting, 30))[0] == 49
    assert not set(pool.pids()) & set(pids)


async def test_closing_fails_the_jobs_not_answered() -> None:
    pool = WorkerPool(1, multiprocessing.get_context("fork"), noop)
    pool.start()
    busy = asyncio.ensure_future(pool.run(60, sleep_then, 60, 0))
    queued = asyncio.ensure_future(pool.run(60, square, 2))
    await asyncio.sleep(0.1)
    pool.close()
    for task in (busy, queued):
        with pytest.raises(WorkerDied):
            await asyncio.wait_for(task, 30)
