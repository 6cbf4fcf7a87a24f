"""Fetch shards: a large cycle's checks spread over processes, a group of hosts each.

On two cores a cycle of 304s was paced by the one event loop (about 1 ms of CPU per
check: httpx, the check's bookkeeping, its transaction), and a first cycle by that loop
plus the parsing workers it fed. A shard is a process that runs stages 1-3 for the
monitors of its hosts (fetch through its own client, extract and compare in-process) and
hands each check, packed, to the run's process, which stays the only writer: it records
every check in its own transaction and reports it, as a cycle without shards does.

- **Hosts, not monitors, are split**, so each host's limit and spacing hold exactly, and
  robots.txt is read once per host. The global ``concurrency`` is shared out.
- **Shards only read the store** (their own connection, WAL): a monitor's state and its
  previous content. A fetched robots.txt goes to the writer like a check.
- **Nothing owed is lost when a shard dies** (killed, out of memory): every monitor it
  had not handed over gets a failed check naming the cause, and is checked again by the
  next run. A shard exits when the run does (``workers.become_child``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from monitors.base import Monitor
from monitors.records import FetchResult
from pipeline import stages
from pipeline.bodies import LARGE_POOL, BodyPool
from pipeline.config import Config
from pipeline.fetch import build_client, host_key
from pipeline.politeness import polite_fetcher
from pipeline.run import (
    CheckReport,
    Examined,
    examine,
    fetch_settings,
    record_examined,
    schedule_policy,
)
from pipeline.workers import become_child, frozen_heap, pack_outcome, start_method
from storage.crashpoints import crash_point
from storage.db import Store
from storage.records import iso, utc_now
from storage.robots_cache import CachedRobots, save_robots

log = logging.getLogger(__name__)
# A shard's pipe to the writer: room for several packed checks (the default is 64 kB).
PIPE_SIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """One shard's share of a cycle: positions in the cycle's monitor list, and limits."""

    indexes: tuple[int, ...]
    concurrency: int
    large_pool: int


def plan_shards(monitors: Sequence[Monitor], shards: int, concurrency: int) -> list[ShardPlan]:
    """Whole hosts per shard, the busiest host first to the least loaded shard."""
    by_host: dict[str, list[int]] = {}
    for index, monitor in enumerate(monitors):
        by_host.setdefault(host_key(monitor.config.url), []).append(index)
    groups: list[list[int]] = [[] for _ in range(max(1, min(shards, len(by_host))))]
    for indexes in sorted(by_host.values(), key=len, reverse=True):
        min(groups, key=len).extend(indexes)
    groups = [group for group in groups if group]
    share = max(1, concurrency // max(1, len(groups)))
    pool = LARGE_POOL // max(1, len(groups))
    return [ShardPlan(tuple(sorted(group)), share, pool) for group in groups]


def run_shard(
    channel: Connection, config: Config, monitors: Sequence[Monitor], plan: ShardPlan,
    database: Path, parent_pid: int,
) -> None:
    """A shard process: check ``plan``'s monitors and send each one down ``channel``."""
    become_child(parent_pid)
    # Forked from inside the run's event loop, which Python 3.11 still marks as running
    # in the child (3.12 resets it at fork).
    asyncio.events._set_running_loop(None)
    # Parsers load when the first body of their kind arrives (docs/architecture.md,
    # "Start-up"): importing them all first held the first request back 80 ms.

    with contextlib.suppress(OSError):  # a whole packed check fits without a wait
        fcntl.fcntl(channel.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    try:
        asyncio.run(_shard_cycle(channel, config, monitors, plan, database))
    finally:
        channel.close()


async def _shard_cycle(
    channel: Connection, config: Config, monitors: Sequence[Monitor], plan: ShardPlan,
    database: Path,
) -> None:
    settings = replace(fetch_settings(config.defaults), concurrency=plan.concurrency)
    policy = schedule_policy(config.defaults)
    with Store(database, readonly=True) as store:
        async with build_client(settings) as client:
            fetcher = polite_fetcher(config, client, settings, store,
                                     save_robots=lambda robots: channel.send(("robots", robots)))
            fetcher.bodies = BodyPool(plan.large_pool)

            async def one(index: int) -> None:
                monitor = monitors[index]
                async with fetcher.bodies.check():
                    state = store.monitor_state(monitor.id)
                    examined = await examine(monitor, fetcher, state, store.load_content,
                                             policy)
                    outcome = pack_outcome(examined.outcome, state, keep_body=True)
                    channel.send(("check", index, replace(examined, outcome=outcome)))
                crash_point("shard-sent")

            await asyncio.gather(*(one(index) for index in plan.indexes))


async def run_sharded(
    config: Config, store: Store, monitors: Sequence[Monitor], shards: int,
    on_check: Callable[[CheckReport], None] | None = None,
) -> list[CheckReport]:
    """Check ``monitors`` in ``shards`` processes; record every check here, in order of
    arrival. Returns one report per monitor, in the order of ``monitors``."""
    plans = plan_shards(monitors, shards, config.defaults.concurrency)
    method = start_method(threading.active_count())
    context: Any = multiprocessing.get_context(method)
    loop = asyncio.get_running_loop()
    reports: dict[int, CheckReport] = {}
    running: dict[int, asyncio.Future[None]] = {}
    processes = []
    for plan in plans:
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=run_shard, name="govwatch-shard", daemon=True,
            args=(writer, config, monitors, plan, store.path, os.getpid()),
        )
        with frozen_heap():
            process.start()
        writer.close()
        processes.append((process, plan))
        running[reader.fileno()] = loop.create_future()
        loop.add_reader(reader.fileno(), _receive, reader, store, monitors, reports,
                        running[reader.fileno()], on_check)
    try:
        await asyncio.gather(*running.values())
    except BaseException:
        for process, _ in processes:  # the writer failed: stop the shards with it
            process.kill()
        for process, _ in processes:
            await asyncio.to_thread(process.join)
        raise
    finally:
        for fileno in running:
            loop.remove_reader(fileno)
    for process, plan in processes:
        await asyncio.to_thread(process.join)
        lost = [index for index in plan.indexes if index not in reports]
        for index in lost:
            report = _record_lost(store, monitors[index], process.exitcode)
            reports[index] = report
            if on_check is not None:
                on_check(report)
    return [reports[index] for index in range(len(monitors))]


def _receive(
    reader: Connection, store: Store, monitors: Sequence[Monitor],
    reports: dict[int, CheckReport], done: asyncio.Future[None],
    on_check: Callable[[CheckReport], None] | None,
) -> None:
    """Record what a shard sent (called by the event loop when its pipe is readable).

    A failure to record ends the run as it would without shards (a StorageError is the
    store's, not a source's); an exception left to the event loop would only be logged,
    and the check lost.
    """
    try:
        message: tuple[Any, ...] = reader.recv()
    except (EOFError, OSError):  # the shard finished, or died: the caller looks which
        _stop_reading(reader, done)
        return
    try:
        if message[0] == "robots":
            robots: CachedRobots = message[1]
            save_robots(store, robots)
            return
        _, index, examined = message
        assert isinstance(examined, Examined)
        report = record_examined(store, monitors[index], examined)
    except Exception as exc:  # noqa: BLE001 - raised again by run_sharded
        _stop_reading(reader, done, exc)
        return
    reports[index] = report
    if on_check is not None:
        on_check(report)


def _stop_reading(reader: Connection, done: asyncio.Future[None],
                  error: Exception | None = None) -> None:
    asyncio.get_running_loop().remove_reader(reader.fileno())
    reader.close()
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _record_lost(store: Store, monitor: Monitor, exitcode: int | None) -> CheckReport:
    """A failed check for a monitor whose shard ended before handing it over."""
    how = f"was killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 \
        else f"exited with code {exitcode}"
    error = (f"internal error: the fetch shard for {host_key(monitor.config.url)} {how} "
             "before this monitor was checked; it is checked again next run")
    log.error("%s: %s", monitor.id, error)
    fetched = FetchResult(monitor_id=monitor.id, url=monitor.config.url,
                          started_at=iso(utc_now()), duration_ms=0, error=error,
                          error_kind="InternalError")
    return record_examined(store, monitor, Examined(stages.failed(fetched, error)))
