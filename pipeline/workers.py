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
    died (found by the crash campaign, tests/integration/test_crash_campaign.py). A worker
    forked by the forkserver has the server as its parent, so the pool's owner is also
    watched directly.
    """
    forked_by = os.getppid()

    def owner_alive() -> bool:
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def watch() -> None:
        while os.getppid() == forked_by and owner_alive():
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


def _worker_context() -> multiprocessing.context.BaseContext:
    """forkserver with the parsers preloaded: the server imports them once and each worker
    is forked from it, instead of every spawned worker importing them again (0.6 s each).
    Forking the server, not this process, keeps our threads out of the children."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class Extractor:
    """Extracts in worker processes when it has any, in-process otherwise."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the workers now, so they are ready when the first bodies arrive.

        Starting takes longer than the first round trips of a cycle; started lazily, the
        workers would make the first responses wait.
        """
        pool = self._ensure_pool()
        if pool is not None:
            for _ in range(self.workers):
                pool.submit(os.getpid)

    def _ensure_pool(self) -> ProcessPoolExecutor | None:
        if self.workers > 0 and self._pool is None:
            # Not fork: the parent has threads (resolver, executor) that fork copies badly.
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=_worker_context(),
                initializer=exit_with_parent, initargs=(os.getpid(),),
            )
        return self._pool

    async def extract(
        self, monitor: Monitor, fetched: FetchResult
    ) -> tuple[Snapshot, Extracted | str]:
        pool = self._ensure_pool()
        if pool is None:
            return stages.extract(monitor, fetched)
        loop = asyncio.get_running_loop()
        body_hash, compressed, extracted = await loop.run_in_executor(
            pool, extract_job, monitor, fetched
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
