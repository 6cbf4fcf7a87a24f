"""Lending between fetch shards (pipeline/lending.py): the writer's broker as a table of
events and the messages they send, and a shard's backlog of fetched checks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from monitors import MonitorConfig, build_monitor
from monitors.records import Extracted, FetchResult
from pipeline.bodies import SMALL_BODY
from pipeline.lending import DRY_CHECKS, LEND_BATCH, Backlog, Broker
from storage.records import MonitorState

LEND = ("lend", LEND_BATCH)
QUIT = ("quit",)

# Each scenario: shards, then (event, expected messages) steps. Events: ("idle", s),
# ("job", donor, index) -> expected borrower, ("lent", s, count), ("check", s),
# ("ended", s).
SCENARIOS: dict[str, tuple[int, list[tuple[tuple[Any, ...], Any]]]] = {
    "one shard quits once idle": (1, [(("idle", 0), [(0, QUIT)])]),
    "an idle shard gets a busy one asked to lend": (2, [
        (("idle", 1), [(0, LEND)]),
        (("job", 0, 7), 1),
        (("job", 0, 9), 1),
        (("lent", 0, 2), []),                  # the borrower is busy with them
        (("idle", 1), [(0, LEND)]),            # done: asks again
        (("lent", 0, 0), []),                  # nothing to lend: the lender is dry...
        *[(("check", 0), []) for _ in range(DRY_CHECKS - 1)],
        (("check", 0), [(0, LEND)]),           # ...until it has sent more checks
        (("lent", 0, 0), []),
        (("idle", 0), [(0, QUIT), (1, QUIT)]),  # both idle, nothing asked: the end
    ]),
    "a shard asked while it went idle lends nothing and all quit": (2, [
        (("idle", 1), [(0, LEND)]),
        (("idle", 0), []),                     # the request is on its way
        (("lent", 0, 0), [(0, QUIT), (1, QUIT)]),
    ]),
    "checks lent to a shard that died go back to the lender": (2, [
        (("idle", 1), [(0, LEND)]),
        (("ended", 1), []),
        (("job", 0, 3), 0),
        (("lent", 0, 1), []),
        (("idle", 0), [(0, QUIT)]),
    ]),
    "a lender that died frees its borrower to ask another": (3, [
        (("idle", 2), [(0, LEND)]),
        (("ended", 0), [(1, LEND)]),
        (("job", 1, 5), 2),
        (("lent", 1, 1), []),
        (("idle", 2), [(1, LEND)]),
        (("lent", 1, 0), []),
        (("idle", 1), [(1, QUIT), (2, QUIT)]),
    ]),
    "two idle shards are served by two busy ones": (4, [
        (("idle", 2), [(0, LEND)]),
        (("idle", 3), [(1, LEND)]),
        (("job", 1, 4), 3),
        (("job", 0, 8), 2),
    ]),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_broker(name: str) -> None:
    shards, steps = SCENARIOS[name]
    broker = Broker(shards)
    for event, expected in steps:
        kind, *args = event
        handler = getattr(broker, f"on_{kind}")
        assert handler(*args) == expected, (event, broker)
    holders = {args[1]: expected for (kind, *args), expected in steps if kind == "job"}
    assert {i: broker.holder[i] for i in holders} == holders


def monitor(name: str, **options: Any) -> Any:
    return build_monitor(MonitorConfig(id=name, kind="page",
                                       url=f"https://example.org/{name}", **options), "o")


def fetched(name: str, body: bytes) -> FetchResult:
    return FetchResult(monitor_id=name, url=f"https://example.org/{name}",
                       started_at="2026-12-04T00:00:00+00:00", duration_ms=1, status=200,
                       headers={"content-type": "text/html"}, body=body,
                       bytes_received=len(body))


def new_state(name: str) -> MonitorState:
    return MonitorState(monitor_id=name, etag=None, last_modified=None,
                        last_snapshot_hash=None, last_content_hash=None, last_check_at=None,
                        next_due_at=None, consecutive_failures=0)


def no_content(digest: str) -> Extracted:
    raise AssertionError(f"no previous content: {digest}")


async def backlog_scenario() -> tuple[list[str], list[str], list[str]]:
    names = ["a", "b", "capture", "large", "c", "d"]
    monitors = {n: monitor(n, capture_new_documents=n == "capture") for n in names}
    backlog = Backlog({n: i for i, n in enumerate(names)})
    bodies = {n: b"<p>" + n.encode() + b"</p>" for n in names}
    bodies["large"] = b"<p>" + b"x" * SMALL_BODY + b"</p>"
    tasks = {n: asyncio.create_task(backlog.evaluate(monitors[n], fetched(n, bodies[n]),
                                                     new_state(n), no_content)) for n in names}
    await asyncio.sleep(0)  # every check has queued itself
    lent = [job.monitor.id for job in backlog.lend(3)]
    parsing = asyncio.create_task(backlog.run())
    await asyncio.wait(tasks.values())
    parsing.cancel()
    done = [n for n, t in tasks.items() if not t.cancelled()]
    cancelled = [n for n, t in tasks.items() if t.cancelled()]
    return lent, done, cancelled


def test_a_backlog_lends_its_newest_lendable_checks_and_parses_the_rest() -> None:
    lent, done, cancelled = asyncio.run(backlog_scenario())
    # Newest first; a check that may fetch again, or holds a large body, stays.
    assert lent == ["d", "c", "b"]
    assert cancelled == ["b", "c", "d"]
    assert done == ["a", "capture", "large"]


def test_a_backlog_parses_in_arrival_order_and_returns_each_outcome() -> None:
    async def scenario() -> list[str]:
        names = [f"m{n}" for n in range(5)]
        backlog = Backlog({n: i for i, n in enumerate(names)})
        order: list[str] = []
        parsing = asyncio.create_task(backlog.run())

        async def one(name: str) -> None:
            outcome = await backlog.evaluate(monitor(name), fetched(name, b"<p>x</p>"),
                                             new_state(name), no_content)
            assert outcome.check.outcome == "new" and outcome.check.monitor_id == name
            order.append(name)

        await asyncio.gather(*(one(n) for n in names))
        assert len(backlog) == 0
        parsing.cancel()
        return order

    assert asyncio.run(scenario()) == [f"m{n}" for n in range(5)]
