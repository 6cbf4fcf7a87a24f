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
import logging
import multiprocessing
import os
import pickle
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from typing import Any, Protocol

from monitors.base import Monitor
from monitors.records import FetchResult
from pipeline import stages
from pipeline.bodies import LARGE_POOL
from pipeline.config import Config
from pipeline.hosts import host_key
from pipeline.launcher import Launch, ShardLauncher
from pipeline.lending import Broker
from pipeline.run import CheckReport, Examined, record_examined
from pipeline.workers import frozen_heap, start_method
from storage.db import Store
from storage.records import iso, utc_now
from storage.robots_cache import CachedRobots, save_robots

log = logging.getLogger(__name__)


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


async def run_sharded(
    config: Config, store: Store, monitors: Sequence[Monitor], shards: int,
    on_check: Callable[[CheckReport], None] | None = None,
    launcher: ShardLauncher | None = None,
) -> list[CheckReport]:
    """Check ``monitors`` in ``shards`` processes; record every check here, in order of
    arrival. Returns one report per monitor, in the order of ``monitors``.

    ``launcher`` forks the shards when given (and alive); else this process does."""
    plans = plan_shards(monitors, shards, config.defaults.concurrency)
    writer = _Writer(store, monitors, Broker(len(plans)), on_check)
    started: _Shards = _ForkedShards()
    try:
        if launcher is not None:
            started = await _launch(launcher, writer, config, monitors, plans,
                                    store.path) or started
        if isinstance(started, _ForkedShards):
            await _fork(started, writer, config, monitors, plans, store.path)
        await writer.finished()
    except BaseException:
        started.kill()  # the writer failed: stop the shards with it
        await started.exitcodes()
        raise
    finally:
        writer.detach()
    exitcodes = await started.exitcodes()
    owners = {index: number for number, plan in enumerate(plans) for index in plan.indexes}
    for index in range(len(monitors)):
        if index not in writer.reports:
            holder = writer.broker.holder.get(index, owners[index])
            report = _record_lost(store, monitors[index], exitcodes[holder],
                                  lent=holder != owners[index])
            writer.reports[index] = report
            if on_check is not None:
                on_check(report)
    return [writer.reports[index] for index in range(len(monitors))]


class _Shards(Protocol):
    def kill(self) -> None: ...

    async def exitcodes(self) -> list[int | None]: ...


class _ForkedShards:
    """Shards this process forked (``multiprocessing``)."""

    def __init__(self) -> None:
        self.processes: list[multiprocessing.process.BaseProcess] = []

    def kill(self) -> None:
        for process in self.processes:
            process.kill()

    async def exitcodes(self) -> list[int | None]:
        for process in self.processes:
            await asyncio.to_thread(process.join)
        return [process.exitcode for process in self.processes]


@dataclass(frozen=True, slots=True)
class _LaunchedShards:
    """Shards the launcher forked: it reports their ends."""

    launcher: ShardLauncher
    pids: Sequence[int]

    def kill(self) -> None:
        self.launcher.kill()

    async def exitcodes(self) -> list[int | None]:
        return await asyncio.to_thread(self.launcher.exitcodes, len(self.pids))


async def _fork(
    started: _ForkedShards, writer: _Writer, config: Config, monitors: Sequence[Monitor],
    plans: Sequence[ShardPlan], database: Path,
) -> None:
    from pipeline.shard_process import run_shard

    context: Any = multiprocessing.get_context(start_method(threading.active_count()))
    for number, plan in enumerate(plans):
        # One shard's pipes at a time: a shard must not inherit another's shard ends,
        # which would hide that other shard's death from the writer.
        reader, sender = context.Pipe(duplex=False)
        inbox, to_inbox = context.Pipe(duplex=False)
        process = context.Process(
            target=run_shard, name="govwatch-shard", daemon=True,
            args=(sender, inbox, config, monitors, plan, database, os.getpid()),
        )
        with frozen_heap():
            process.start()
        sender.close()
        inbox.close()
        started.processes.append(process)
        await writer.attach(number, reader, to_inbox)


async def _launch(
    launcher: ShardLauncher, writer: _Writer, config: Config, monitors: Sequence[Monitor],
    plans: Sequence[ShardPlan], database: Path,
) -> _LaunchedShards | None:
    channels = [Pipe(duplex=False) for _ in plans]  # (writer's reader, shard's sender)
    inboxes = [Pipe(duplex=False) for _ in plans]  # (shard's inbox, writer's to_inbox)
    shard_ends = [fd for (_, sender), (inbox, _) in zip(channels, inboxes, strict=True)
                  for fd in (sender.fileno(), inbox.fileno())]
    pids = launcher.launch(shard_ends, Launch(config, monitors, plans, database, os.getpid()))
    for (reader, sender), (inbox, to_inbox) in zip(channels, inboxes, strict=True):
        sender.close()
        inbox.close()
        if pids is None:
            reader.close()
            to_inbox.close()
    if pids is None:
        return None
    for number, ((reader, _), (_, to_inbox)) in enumerate(zip(channels, inboxes, strict=True)):
        await writer.attach(number, reader, to_inbox)
    return _LaunchedShards(launcher, pids)


class _Writer:
    """The run's side of the shards' pipes: records checks, relays lent ones."""

    def __init__(self, store: Store, monitors: Sequence[Monitor], broker: Broker,
                 on_check: Callable[[CheckReport], None] | None) -> None:
        self.store, self.monitors, self.broker, self.on_check = store, monitors, broker, on_check
        self.reports: dict[int, CheckReport] = {}
        self._loop = asyncio.get_running_loop()
        self._readers: dict[int, Connection] = {}
        self._inboxes: dict[int, asyncio.WriteTransport] = {}
        self._done: dict[int, asyncio.Future[None]] = {}

    async def attach(self, number: int, reader: Connection, to_inbox: Connection) -> None:
        # The writer must never block on a shard's inbox (that shard may be blocked
        # sending to it): its messages go through a non-blocking transport.
        pipe = os.fdopen(os.dup(to_inbox.fileno()), "wb", buffering=0)
        to_inbox.close()
        transport, _ = await self._loop.connect_write_pipe(asyncio.Protocol, pipe)
        self._inboxes[number] = transport
        self._readers[number] = reader
        self._done[number] = self._loop.create_future()
        self._loop.add_reader(reader.fileno(), self._receive, number)

    async def finished(self) -> None:
        await asyncio.gather(*self._done.values())

    def detach(self) -> None:
        for number, reader in self._readers.items():
            if not self._done[number].done():
                self._loop.remove_reader(reader.fileno())
                reader.close()
        for transport in self._inboxes.values():
            transport.close()

    def _send(self, messages: list[tuple[int, tuple[Any, ...]]]) -> None:
        for number, message in messages:
            transport = self._inboxes[number]
            if number in self.broker.ended or transport.is_closing():
                continue
            payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            transport.write(struct.pack("!i", len(payload)) + payload)  # Connection framing

    def _receive(self, number: int) -> None:
        """Record or relay what shard ``number`` sent (the event loop calls this when its
        pipe is readable).

        A failure to record ends the run as it would without shards (a StorageError is
        the store's, not a source's); an exception left to the event loop would only be
        logged, and the check lost.
        """
        reader = self._readers[number]
        try:
            message: tuple[Any, ...] = reader.recv()
        except (EOFError, OSError):  # the shard finished, or died: the caller looks which
            self._stop_reading(number)
            self._send(self.broker.on_ended(number))
            return
        try:
            kind = message[0]
            if kind == "check":
                _, index, examined = message
                assert isinstance(examined, Examined)
                report = record_examined(self.store, self.monitors[index], examined)
                self.reports[index] = report
                if self.on_check is not None:
                    self.on_check(report)
                self._send(self.broker.on_check(number))
            elif kind == "robots":
                robots: CachedRobots = message[1]
                save_robots(self.store, robots)
            elif kind == "job":
                borrower = self.broker.on_job(number, message[1])
                log.debug("fetch shard %d lends check %d to shard %d", number, message[1],
                          borrower)
                self._send([(borrower, message)])
            elif kind == "lent":
                self._send(self.broker.on_lent(number, message[1]))
            else:  # "idle"
                self._send(self.broker.on_idle(number))
        except Exception as exc:  # noqa: BLE001 - raised again by run_sharded
            self._stop_reading(number, exc)

    def _stop_reading(self, number: int, error: Exception | None = None) -> None:
        reader, done = self._readers[number], self._done[number]
        self._loop.remove_reader(reader.fileno())
        reader.close()
        if done.done():
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


def _record_lost(
    store: Store, monitor: Monitor, exitcode: int | None, *, lent: bool = False
) -> CheckReport:
    """A failed check for a monitor whose shard ended before handing it over."""
    if exitcode is None:
        how = "ended without a report of why (its launcher died)"
    elif exitcode < 0:
        how = f"was killed by signal {-exitcode}"
    else:
        how = f"exited with code {exitcode}"
    shard = (f"the fetch shard that took over this check from the shard for "
             f"{host_key(monitor.config.url)}" if lent
             else f"the fetch shard for {host_key(monitor.config.url)}")
    error = (f"internal error: {shard} {how} before this monitor was checked; it is "
             "checked again next run")
    log.error("%s: %s", monitor.id, error)
    fetched = FetchResult(monitor_id=monitor.id, url=monitor.config.url,
                          started_at=iso(utc_now()), duration_ms=0, error=error,
                          error_kind="InternalError")
    return record_examined(store, monitor, Examined(stages.failed(fetched, error)))
