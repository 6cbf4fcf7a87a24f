"""robots.txt: fetched once per host through the run's client, cached in memory and in the DB.

Rules follow RFC 9309 where it is practical for a monitor of a few hundred pages:
2xx is parsed (at most 512 KiB), 4xx means no restrictions, 5xx means "assume everything
is disallowed" (cached for this process only, for at most an hour). A robots.txt that
cannot be reached at all (refused, timeout) is *not* taken as a disallow: the page's own
fetch then fails and records the real cause, which is what an operator needs to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.robotparser
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import aiohttp
import httpx

from core.errors import GovwatchError
from pipeline.fetch.decoding import read_decoded
from pipeline.fetch.hosts import host_key
from storage.db import Store
from storage.records import iso, utc_now
from storage.robots_cache import CachedRobots, load_robots, save_robots

if TYPE_CHECKING:
    from pipeline.fetch.politeness import HostGate

log = logging.getLogger(__name__)

AGENT = "govwatch"
MAX_ROBOTS_BYTES = 512 * 1024
ROBOTS_DEADLINE = 30.0
# How long an answer that is not worth keeping (5xx, unreachable) stays in memory.
SHORT_MEMORY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class _Rules:
    url: str
    status: int | None
    parser: urllib.robotparser.RobotFileParser | None  # None: no rules could be read
    expires: float  # time.monotonic()


def _parser(status: int, body: str) -> urllib.robotparser.RobotFileParser:
    parser = urllib.robotparser.RobotFileParser()
    if 200 <= status < 300:
        parser.parse(body.splitlines())
    elif status >= 500:
        parser.parse(["User-agent: *", "Disallow: /"])
    else:
        parser.parse([])  # no rules: everything is allowed
    return parser


class RobotsGuard:
    """Answers "may govwatch fetch this URL?" for every monitor that respects robots.txt."""

    def __init__(
        self, client: httpx.AsyncClient, store: Store, gate: HostGate, ttl: timedelta,
        save: Callable[[CachedRobots], None] | None = None,
    ) -> None:
        self.client = client
        self.store = store
        #: Where a fetched robots.txt goes (a fetch shard hands it to the writer).
        self.save = save or partial(save_robots, store)
        self.gate = gate
        self.ttl = ttl
        self._rules: dict[str, _Rules] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def refusal(self, url: str, deadline: float = ROBOTS_DEADLINE) -> str | None:
        """None when allowed; otherwise why not, naming the robots.txt.

        ``deadline`` is the asking monitor's own ``timeout``, when shorter: a robots.txt
        that drips must not hold a monitor longer than its page could.
        """
        host = host_key(url)
        async with self._locks[host]:  # one fetch per host, however many monitors wait
            rules = self._rules.get(host)
            if rules is None or rules.expires <= time.monotonic():
                rules = await self._load(url, host, min(deadline, ROBOTS_DEADLINE))
                self._rules[host] = rules
        if rules.parser is None or rules.parser.can_fetch(AGENT, url):
            return None
        if rules.status is not None and rules.status >= 500:
            return (f"robots.txt at {rules.url} answered HTTP {rules.status}, which means "
                    f"'disallow everything' (RFC 9309); {url} not fetched")
        return f"robots.txt at {rules.url} disallows {url} for {AGENT}; not fetched"

    async def _load(self, url: str, host: str, deadline: float) -> _Rules:
        robots_url = str(httpx.URL(url).copy_with(path="/robots.txt", query=None,
                                                  fragment=None))
        cached = load_robots(self.store, host)
        if cached is not None:
            age = utc_now() - datetime.fromisoformat(cached.fetched_at)
            if age < self.ttl:
                left = (self.ttl - age).total_seconds()
                return _Rules(cached.url, cached.status, _parser(cached.status, cached.body),
                              time.monotonic() + left)
        short = time.monotonic() + min(self.ttl, SHORT_MEMORY).total_seconds()
        try:
            status, body = await self._fetch(robots_url, deadline)
        except (httpx.HTTPError, httpx.InvalidURL, aiohttp.ClientError, TimeoutError, OSError,
                GovwatchError) as exc:
            # A host that answers garbage here is the page fetch's business, not the run's.
            log.info("robots.txt at %s unreachable (%s); not treated as a disallow",
                     robots_url, type(exc).__name__)
            return _Rules(robots_url, None, None, short)
        if status >= 500:
            return _Rules(robots_url, status, _parser(status, body), short)
        self.save(CachedRobots(host, robots_url, iso(utc_now()), status, body))
        return _Rules(robots_url, status, _parser(status, body),
                      time.monotonic() + self.ttl.total_seconds())

    async def _fetch(self, robots_url: str, deadline: float) -> tuple[int, str]:
        chunks: list[bytes] = []
        size = 0

        def keep(piece: bytes) -> None:
            nonlocal size
            chunks.append(piece)
            size += len(piece)
            if size >= MAX_ROBOTS_BYTES:  # RFC 9309: parse at least 500 KiB
                raise _Enough

        async with (
            self.gate.slot(robots_url),
            asyncio.timeout(deadline),
            self.client.stream("GET", robots_url) as response,
        ):
            with contextlib.suppress(_Enough):
                await read_decoded(response, keep)  # decoded in bounded steps
        body = b"".join(chunks)[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")
        return response.status_code, body


class _Enough(Exception):
    """Stops reading a robots.txt at MAX_ROBOTS_BYTES."""
