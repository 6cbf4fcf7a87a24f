"""What runs inside a fetch shard: stages 1-3 of its hosts' monitors, each check handed to
the writer (pipeline/shards.py) down a pipe.

Apart from ``shards`` because only a shard needs the HTTP stack and the parsers; the run's
process, which plans the shards and writes, never imports this module when a shard
launcher forks the shards (pipeline/launcher.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from monitors.base import Monitor
from monitors.records import FetchResult
from pipeline.bodies import BodyPool
from pipeline.config import Config
from pipeline.fetch import build_client
from pipeline.lending import Backlog
from pipeline.politeness import polite_fetcher
from pipeline.run import Examined, conclude, examine, fetch_settings, schedule_policy
from pipeline.shards import ShardPlan
from pipeline.workers import become_child, pack_outcome
from storage.crashpoints import crash_point
from storage.db import Store
from storage.records import MonitorState

# A shard's pipe to the writer: room for several packed checks (the default is 64 kB).
PIPE_SIZE = 1 << 20


def run_shard(
    channel: Connection, inbox: Connection, config: Config, monitors: Sequence[Monitor],
    plan: ShardPlan, database: Path, parent_pid: int,
) -> None:
    """A shard process: check ``plan``'s monitors and send each one down ``channel``;
    then finish checks other shards lend it (``inbox``) until the writer says quit."""
    become_child(parent_pid)
    # Forked from inside the run's event loop, which Python 3.11 still marks as running
    # in the child (3.12 resets it at fork).
    asyncio.events._set_running_loop(None)
    # Parsers load when the first body of their kind arrives (docs/architecture.md,
    # "Start-up"): importing them all first held the first request back 80 ms.

    with contextlib.suppress(OSError):  # a whole packed check fits without a wait
        fcntl.fcntl(channel.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    try:
        asyncio.run(_shard_cycle(channel, inbox, config, monitors, plan, database))
    finally:
        channel.close()
        inbox.close()


async def _shard_cycle(
    channel: Connection, inbox: Connection, config: Config, monitors: Sequence[Monitor],
    plan: ShardPlan, database: Path,
) -> None:
    settings = replace(fetch_settings(config.defaults), concurrency=plan.concurrency)
    policy = schedule_policy(config.defaults)
    loop = asyncio.get_running_loop()
    with Store(database, readonly=True) as store:
        async with build_client(settings) as client:
            fetcher = polite_fetcher(config, client, settings, store,
                                     save_robots=lambda robots: channel.send(("robots", robots)))
            fetcher.bodies = BodyPool(plan.large_pool)
            backlog = Backlog({monitor.id: index for index, monitor in enumerate(monitors)})
            adopted: set[asyncio.Task[None]] = set()
            ended: asyncio.Future[None] = loop.create_future()
            own_done = False

            def hand_over(index: int, examined: Examined, state: MonitorState) -> None:
                outcome = pack_outcome(examined.outcome, state, keep_body=True)
                channel.send(("check", index, replace(examined, outcome=outcome)))

            async def one(index: int) -> None:
                monitor = monitors[index]
                async with fetcher.bodies.check():
                    state = store.monitor_state(monitor.id)
                    examined = await examine(monitor, fetcher, state, store.load_content,
                                             policy, backlog)
                    hand_over(index, examined, state)
                crash_point("shard-sent")

            async def adopt(index: int, state: MonitorState, fetched: FetchResult) -> None:
                crash_point("shard-adopted")
                async with fetcher.bodies.check():
                    examined = await conclude(monitors[index], fetcher, fetched, state,
                                              store.load_content, policy)
                    hand_over(index, examined, state)
                crash_point("shard-sent")

            def adopted_one(task: asyncio.Task[None]) -> None:
                adopted.discard(task)
                error = None if task.cancelled() else task.exception()
                if error is not None:  # ends the shard, as a failure of its own checks does
                    if not ended.done():
                        ended.set_exception(error)
                elif own_done and not adopted:
                    channel.send(("idle",))

            def on_message() -> None:
                try:
                    message: tuple[Any, ...] = inbox.recv()
                except (EOFError, OSError):  # the writer is gone: so is the run
                    loop.remove_reader(inbox.fileno())
                    if not ended.done():
                        ended.set_result(None)
                    return
                if message[0] == "lend":
                    lent = backlog.lend(message[1])
                    for job in lent:
                        channel.send(("job", job.index, job.state, job.fetched))
                    channel.send(("lent", len(lent)))
                    if lent:
                        crash_point("shard-lent")
                elif message[0] == "job":
                    task = loop.create_task(adopt(*message[1:]))
                    adopted.add(task)
                    task.add_done_callback(adopted_one)
                elif not ended.done():  # "quit"
                    ended.set_result(None)

            parsing = loop.create_task(backlog.run())
            loop.add_reader(inbox.fileno(), on_message)
            try:
                results = await asyncio.gather(*(one(index) for index in plan.indexes),
                                               return_exceptions=True)
                for result in results:  # a lent check ends cancelled: not an error
                    if isinstance(result, BaseException) and \
                            not isinstance(result, asyncio.CancelledError):
                        raise result
                own_done = True
                if not adopted:
                    channel.send(("idle",))
                await ended
            finally:
                loop.remove_reader(inbox.fileno())
                parsing.cancel()


