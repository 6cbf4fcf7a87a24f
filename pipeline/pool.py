"""The pure middle of a check on other cores: a small process pool, off the event loop.

On a two-core machine the event loop (HTTP, SQLite) fills one core and parsing and
comparing pages and feeds would fill another; threads would not help, since the parsers
hold the GIL. A pool of worker processes runs ``stages.evaluate`` (signals, extraction,
comparison with the previous content, which each worker reads from the store itself)
and hands back the outcome, with the new body and content compressed whole when the
store will want them so. Small cycles have no pool, but every body is still parsed in a
worker that can be stopped (``Extractor``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from core.errors import FailureKind
from core.records import Extracted, FetchResult, Volatile
from monitors.base import Monitor
from monitors.volatility import NO_NOISE, Noise
from pipeline import stages
from pipeline.jobs import (
    evaluate_job,
    evaluate_stored_job,
    learn_from_copy_job,
    site_template_job,
)
from pipeline.stages import Outcome
from pipeline.workers import Overrun, WorkerDied, WorkerPool
from storage.db import Store
from storage.records import Check, MonitorState, PackedContent, Snapshot
from storage.templates import PageRefs, StoredTemplate, stored_template

T = TypeVar("T")
log = logging.getLogger(__name__)

# Below this many monitors a cycle parses in-process (a worker takes ~0.3 s to start).
POOL_MIN_MONITORS = 40
# Jobs waiting for the workers beyond which fetching pauses (``Extractor.room``).
BACKLOG = 64
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


def start_method(threads: int) -> str:
    """How to start workers: fork a single-threaded parent, else the forkserver.

    A fork of the parent costs milliseconds and shares everything it has imported; the
    forkserver first imports the parsers again (0.35 s of CPU and wall, on a cycle of 1.5
    s). fork copies only the forking thread, so a parent with other threads (the daemon's
    scheduler, an executor) could hand a child a lock held forever: that parent uses the
    forkserver, which forks a clean process of its own.
    """
    methods = multiprocessing.get_all_start_methods()
    if threads == 1 and "fork" in methods:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _worker_context(method: str) -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # The server imports the parsers once; each worker is a fork of it.
        context.set_forkserver_preload([__name__, "monitors.parsers"])
    return context


def become_child(parent_pid: int) -> None:
    """In a worker process: leave Ctrl-C to the parent, and exit with it.

    A child forked from the run inherits its SIGINT handler, which would poke the parent's
    event loop; the parent handles an interrupt and stops its children.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.set_wakeup_fd(-1)
    exit_with_parent(parent_pid)


def _worker_init(parent_pid: int, preload: bool = True) -> None:
    become_child(parent_pid)
    # Forked workers got the parsers from the parent (``Extractor.start``); a worker of
    # the forkserver or of spawn loads them here, before its first job. The one worker
    # of a cycle without a pool loads only the parsers of the bodies it is given.
    if preload:
        import monitors.parsers  # noqa: F401


#: The default deadline of one job in a worker (``defaults.parse_timeout``).
DEFAULT_PARSE_DEADLINE = 60.0


class Extractor:
    """Evaluates every body in a worker process, within a deadline (``parse_timeout``):
    past it the worker is killed and replaced, and the check is recorded as failed,
    naming the source.

    A cycle too small for a pool (``workers`` 0) still gets one worker, forked by its
    first body: every kind can be made to work for minutes on a body under ``max_bytes``,
    and in the main process nothing could stop it. A PDF whose 3,000 pages share one
    content stream of 200,000 text operations (357 kB) takes pypdf an hour; feedparser
    is pure Python (100,000 entries, 9 MB: 22 s; a million unclosed elements, 3 MB: 35
    s); lexbor's cost grows with the square of one element's attributes (40,000 in 349
    kB: 2.7 s; 500,000 in 4 MB: minutes); difflib, comparing two versions of a 32 kB page
    whose lines alternate between two values, took 144 s to learn from a copy and over
    two minutes to look for recurring edits. No size or kind is safe, so no rule short of
    every body bounds them. The worker costs a fork and the pickling of each body
    (benchmarks/results/hostile-suite-2026-12-07.md).
    """

    def __init__(self, workers: int, database: str | Path | None = None,
                 deadline: float = DEFAULT_PARSE_DEADLINE) -> None:
        self.workers = workers
        #: A database the workers read previous contents from themselves (WAL lets them
        #: read while this process writes); without one, this process sends them along.
        self.database = str(database) if database is not None else None
        self.deadline = deadline
        self._pool: WorkerPool | None = None
        self._ready: asyncio.Future[None] | None = None
        #: "fork", "forkserver" or "spawn", chosen when the pool is made.
        self.start_method: str | None = None
        self._queued = 0
        self._freed: asyncio.Event | None = None

    async def room(self) -> None:
        """Wait while BACKLOG jobs wait for the workers.

        Fetching runs faster than two workers parse: without a pause the bodies pile up
        in this process (1,000 pages of 100 kB and their copies held 150 MB). A fetch
        waits here holding its host and fetch slots, which is safe: the backlog drains by
        the workers alone, so the wait always ends, and while it lasts the workers are
        the bottleneck anyway."""
        while self._queued >= BACKLOG:
            if self._freed is None:
                self._freed = asyncio.Event()
            await self._freed.wait()

    def start(self) -> None:
        """Start the workers now (from the event loop), without waiting for them.

        A cycle that expects bodies calls it before fetching; otherwise the first body
        that needs a worker does. A single-threaded parent imports
        the parsers, which its forked workers then share, and forks them on the spot
        (milliseconds). A parent with other threads (the daemon's scheduler, a DNS lookup
        in aiohttp's executor) uses the forkserver, which takes 0.2-0.4 s to import the
        parsers, so the processes are started from a helper thread: from the event
        loop's thread, the loop would stop while the forkserver answers.
        """
        pool = self._ensure_pool()
        if pool is None or self._ready is not None:
            return
        if self.start_method == "fork":
            if self.workers > 0:  # a pool: its workers share the parsers' pages
                import monitors.parsers  # noqa: F401

            pool.start()  # all processes fork now
            self._ready = asyncio.get_running_loop().create_future()
            self._ready.set_result(None)
        else:
            self._ready = asyncio.ensure_future(pool.start_in_thread())

    def _ensure_pool(self, parsing: bool = False) -> WorkerPool | None:
        """The pool; made now if the cycle has workers or a body is to be parsed."""
        if self._pool is None and (self.workers > 0 or parsing):
            if self.start_method is None:
                self.start_method = start_method(threading.active_count())
            self._pool = WorkerPool(max(1, self.workers), _worker_context(self.start_method),
                                    _worker_init, (os.getpid(), self.workers > 0))
        return self._pool

    def worker_pids(self) -> list[int]:
        return self._pool.pids() if self._pool is not None else []

    async def _run(self, pool: WorkerPool, function: Callable[..., T], *args: object,
                   first: bool = False) -> T:
        self._queued += 1
        try:
            self.start()
            assert self._ready is not None
            await asyncio.shield(self._ready)
            return await pool.run(self.deadline, function, *args, first=first)
        finally:
            self._queued -= 1
            if self._freed is not None:
                self._freed.set()
                self._freed = None

    async def learn_from_copy(
        self, monitor: Monitor, first_check: Check, first: Extracted | PackedContent,
        copy: FetchResult, noise: Noise, state: MonitorState,
        load_content: Callable[[str], Extracted],
    ) -> tuple[Outcome, frozenset[Volatile]]:
        """``stages.learn_from_copy`` in a worker, against the version stored before
        (``state``); an overrun raises: the copy is then unusable (``copies.take_copy``)."""
        if not stages.copy_to_read(first_check, copy):  # nothing to parse: no worker
            return stages.learn_from_copy(monitor, first_check, first, copy, noise)
        pool = self._ensure_pool(parsing=True)
        assert pool is not None
        before = None
        if self.database is None and state.last_content_hash is not None:
            before = load_content(state.last_content_hash)
        outcome, learned = await self._run(pool, learn_from_copy_job, monitor, first_check,
                                           first, copy, noise, state, self.database, before)
        if outcome.snapshot is not None:
            outcome = replace(outcome, snapshot=replace(outcome.snapshot,
                                                        body=copy.body or b""))
        return outcome, learned

    async def evaluate(
        self, monitor: Monitor, fetched: FetchResult, state: MonitorState,
        load_content: Callable[[str], Extracted], noise: Noise = NO_NOISE,
    ) -> Outcome:
        """``stages.evaluate`` in a worker; in-process only when there is no body to read."""
        if not stages.has_body_to_read(fetched):  # a 304, an error: nothing to parse
            return stages.evaluate(monitor, fetched, state, load_content, noise)
        pool = self._ensure_pool(parsing=True)
        assert pool is not None
        outcome: Outcome
        try:
            if self.database is not None:
                outcome = await self._run(pool, evaluate_stored_job, monitor, fetched, state,
                                          self.database, noise)
            else:
                previous = None
                if state.last_content_hash is not None:
                    previous = load_content(state.last_content_hash)
                outcome = await self._run(pool, evaluate_job, monitor, fetched, state,
                                          previous, noise)
        except (Overrun, WorkerDied) as exc:
            return stopped(monitor, fetched, state, exc)
        if outcome.snapshot is None:
            return outcome
        body = fetched.body or b""
        return replace(outcome, snapshot=replace(outcome.snapshot, body=body))

    async def read_template(self, store: Store, refs: PageRefs) -> StoredTemplate:
        """What a site's stored pages share (``storage.templates.stored_template``), read
        in a worker when the workers can read the store. A read that fails raises
        (``SiteRound`` then judges the site's pages with no template)."""
        pool = self._ensure_pool(parsing=True)
        if self.database is None or pool is None:
            return stored_template(store, refs)
        # First in the queue: every page of the site fetched so far waits for it, holding
        # its body, and none of them counts in the backlog that pauses fetching.
        return await self._run(pool, site_template_job, self.database, refs, first=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Extractor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def stopped(monitor: Monitor, fetched: FetchResult, state: MonitorState,
            why: Overrun | WorkerDied) -> Outcome:
    """A check whose parsing was stopped: a failed check that names the source; the body
    is kept as evidence."""
    source = f"{monitor.kind} {fetched.final_url or fetched.url}"
    if isinstance(why, Overrun):
        detail = (f"parsing the {source} took longer than parse_timeout ({why.seconds:g}s); "
                  "it was stopped")
    else:
        detail = f"parsing the {source} failed: {why} (out of memory?)"
    log.warning("%s: %s", monitor.id, detail)
    snapshot = Snapshot.of(fetched.body or b"", fetched.content_type)
    return stages.failed(fetched, FailureKind.EXTRACT_ERROR.message(detail), snapshot,
                         signal=state.signal)
