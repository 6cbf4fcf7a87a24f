"""Extraction on the second core: a small process pool for parsing, off the event loop.

On a two-core machine the event loop (HTTP, SQLite) fills one core and parsing pages and
feeds would fill another; threads would not help, since the parsers hold the GIL. A pool
of worker processes runs ``stages.extract`` and hands back the snapshot and content (with
its hash already computed). Small cycles skip the pool: starting a worker costs more
than a few dozen parses.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from monitors.base import Monitor
from monitors.records import Extracted, FetchResult
from pipeline import stages
from storage.blobs import compress_body
from storage.records import Snapshot

# Below this many monitors a cycle parses in-process (a worker takes ~0.3 s to start).
POOL_MIN_MONITORS = 40
# How often a worker looks whether its parent is still there.
PARENT_POLL_SECONDS = 0.25


def exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: exit when the parent is gone instead of lingering forever.

    A parent killed with SIGKILL (OOM killer, a timeout, kill -9) cannot shut its pool
    down, and an idle worker blocks on its call queue, whose write end it holds itself, so
    it would never see EOF: every crashed cron run would leave a worker (and its resource
    tracker) behind. The orphan is re-parented, so a changed parent pid means the parent
    died (found by the crash campaign, tests/integration/test_crash_campaign.py).
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="govwatch-parent-watch", daemon=True).start()


def extract_job(
    monitor: Monitor, fetched: FetchResult
) -> tuple[str, bytes, Extracted | str]:
    """Runs in a worker: extract, hash and compress there too.

    The body's hash and its compressed form go back, not the body: the parent has it, and
    the compressed copy is what it stores. The content travels with its hash and JSON.
    """
    snapshot, extracted = stages.extract(monitor, fetched)
    if isinstance(extracted, Extracted):
        _ = extracted.content_hash
    return snapshot.hash, compress_body(snapshot.body), extracted


def worker_count(monitors: int, configured: int | None) -> int:
    """Workers for a cycle of ``monitors``: the configured number, else one per core.

    One per core, not per spare core: the main process mostly waits on the network, and on
    two cores one worker left it idle while the worker was the bottleneck (cycle.py).
    """
    if configured is not None:
        return configured
    if monitors < POOL_MIN_MONITORS:
        return 0
    return max(1, min(4, os.cpu_count() or 1))


class Extractor:
    """Extracts in worker processes when it has any, in-process otherwise."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def extract(
        self, monitor: Monitor, fetched: FetchResult
    ) -> tuple[Snapshot, Extracted | str]:
        if self.workers <= 0:
            return stages.extract(monitor, fetched)
        if self._pool is None:
            # spawn: the parent has threads (resolver, executor) that fork would copy badly.
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent, initargs=(os.getpid(),),
            )
        loop = asyncio.get_running_loop()
        body_hash, compressed, extracted = await loop.run_in_executor(
            self._pool, extract_job, monitor, fetched
        )
        body = fetched.body or b""
        return Snapshot(body_hash, body, fetched.content_type, compressed), extracted

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Extractor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
