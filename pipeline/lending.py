"""Fetched checks lent by a busy fetch shard to an idle one (pipeline/shards.py).

A cycle's hosts are split between the shards once, so a shard whose hosts weigh more (or
whose core the writer and the site share) ends later, alone on its core: at 1000 sources
on two cores the shards did the same work and still ended 0.02-0.5 s apart. A shard
fetches well ahead of its CPU, so what it has left at the end is fetched checks waiting
to be parsed; those can move. Each shard queues its fetched checks in a ``Backlog`` and
parses them oldest first; a shard that has run out of work tells the writer, the
``Broker`` there asks a busy shard to lend, and that shard sends its newest waiting checks
(the fetch result and the monitor's state), which the idle shard finishes and hands to
the writer as its own.

- **Politeness is untouched.** A lent check is already fetched. A check that may fetch
  again (``capture_new_documents``) stays with its shard, as does a body larger than
  ``SMALL_BODY``, which holds a share of its shard's memory pool.
- **Nothing owed is lost.** A lent check is the borrower's to record: if the borrower
  dies, the writer records it failed, naming that shard (pipeline/shards.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monitors.base import Monitor
from monitors.records import Extracted, FetchResult
from pipeline import stages
from pipeline.bodies import SMALL_BODY
from pipeline.stages import Outcome
from storage.records import MonitorState

#: Checks asked for at a time: a few dozen milliseconds of parsing.
LEND_BATCH = 8
#: A shard that had nothing to lend is asked again only after this many more checks.
DRY_CHECKS = 8

Message = tuple[Any, ...]


@dataclass(slots=True)
class Waiting:
    """A fetched check waiting for its shard's CPU."""

    index: int
    monitor: Monitor
    fetched: FetchResult
    state: MonitorState
    load_content: Callable[[str], Extracted]
    outcome: asyncio.Future[Outcome]

    def lendable(self) -> bool:
        return (not self.monitor.config.capture_new_documents
                and len(self.fetched.body or b"") <= SMALL_BODY)


class Backlog:
    """A shard's fetched checks, parsed one at a time, oldest first; the newest may be lent.

    It is the ``extractor`` of ``run.examine``: a check's coroutine waits here for its
    outcome. A lent check's wait is cancelled, which ends that coroutine without a word to
    the writer; the borrower sends the check.
    """

    def __init__(self, indexes: dict[str, int]) -> None:
        #: Position in the cycle's monitor list, by monitor id.
        self.indexes = indexes
        self._waiting: deque[Waiting] = deque()
        self._arrived = asyncio.Event()

    async def evaluate(
        self, monitor: Monitor, fetched: FetchResult, state: MonitorState,
        load_content: Callable[[str], Extracted],
    ) -> Outcome:
        if not stages.has_body_to_read(fetched):  # nothing to parse: no need to wait
            return stages.evaluate(monitor, fetched, state, load_content)
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append(Waiting(self.indexes[monitor.id], monitor, fetched, state,
                                     load_content, outcome))
        self._arrived.set()
        return await outcome

    async def run(self) -> None:
        """Parse the waiting checks until cancelled (the shard's parsing task)."""
        while True:
            if not self._waiting:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            job = self._waiting.popleft()
            try:
                outcome = stages.evaluate(job.monitor, job.fetched, job.state,
                                          job.load_content)
            except Exception as exc:  # noqa: BLE001 - raised in the check's own coroutine
                job.outcome.set_exception(exc)
            else:
                job.outcome.set_result(outcome)
            await asyncio.sleep(0)  # responses, and the writer's requests, in between

    def lend(self, limit: int) -> list[Waiting]:
        """Up to ``limit`` of the newest lendable checks, taken out of the queue."""
        lent: list[Waiting] = []
        kept: list[Waiting] = []
        while self._waiting and len(lent) < limit:
            job = self._waiting.pop()
            (lent if job.lendable() else kept).append(job)
        self._waiting.extend(reversed(kept))
        for job in lent:
            job.outcome.cancel()
        return lent

    def __len__(self) -> int:
        return len(self._waiting)


@dataclass
class Broker:
    """The writer's side: who lends to whom, and when the shards may stop (no I/O here:
    each call returns the messages to send, as ``(shard, message)`` pairs)."""

    shards: int
    #: Shards with nothing to do, waiting for lent checks, in the order they asked.
    waiting: deque[int] = field(default_factory=deque)
    #: Busy shard -> the idle shard its lent checks go to.
    asked: dict[int, int] = field(default_factory=dict)
    #: Busy shard -> checks it must still send before it is asked again (it had none).
    dry: dict[int, int] = field(default_factory=dict)
    idle: set[int] = field(default_factory=set)
    ended: set[int] = field(default_factory=set)
    #: Lent check (its index) -> the shard that took it.
    holder: dict[int, int] = field(default_factory=dict)
    quitting: bool = False

    def on_idle(self, shard: int) -> list[tuple[int, Message]]:
        self.idle.add(shard)
        if shard not in self.waiting:
            self.waiting.append(shard)
        return self._match()

    def on_check(self, shard: int) -> list[tuple[int, Message]]:
        if shard in self.dry:
            self.dry[shard] -= 1
            if self.dry[shard] <= 0:
                del self.dry[shard]
                return self._match()
        return []

    def on_job(self, donor: int, index: int) -> int:
        """Where a lent check goes: the shard it was asked for, while that one lives."""
        borrower = self.asked.get(donor, donor)
        if borrower in self.ended:
            borrower = next((s for s in self.waiting if s not in self.ended), donor)
        self.idle.discard(borrower)
        if borrower in self.waiting:
            self.waiting.remove(borrower)
        self.holder[index] = borrower
        return borrower

    def on_lent(self, donor: int, count: int) -> list[tuple[int, Message]]:
        borrower = self.asked.pop(donor, None)
        if count == 0:
            self.dry[donor] = DRY_CHECKS
            if borrower is not None and borrower in self.idle and borrower not in self.ended \
                    and borrower not in self.waiting:
                self.waiting.appendleft(borrower)
        return self._match()

    def on_ended(self, shard: int) -> list[tuple[int, Message]]:
        self.ended.add(shard)
        self.idle.discard(shard)
        if shard in self.waiting:
            self.waiting.remove(shard)
        borrower = self.asked.pop(shard, None)
        if borrower is not None and borrower in self.idle and borrower not in self.waiting:
            self.waiting.appendleft(borrower)
        return self._match()

    def _busy(self) -> list[int]:
        return [s for s in range(self.shards) if s not in self.idle and s not in self.ended]

    def _match(self) -> list[tuple[int, Message]]:
        if self.quitting:
            return []
        messages: list[tuple[int, Message]] = []
        busy = self._busy()
        donors = [s for s in busy if s not in self.asked and s not in self.dry]
        while self.waiting and donors:
            borrower, donor = self.waiting.popleft(), donors.pop(0)
            self.asked[donor] = borrower
            messages.append((donor, ("lend", LEND_BATCH)))
        if not busy and not self.asked:
            self.quitting = True
            messages += [(s, ("quit",)) for s in range(self.shards) if s not in self.ended]
        return messages
