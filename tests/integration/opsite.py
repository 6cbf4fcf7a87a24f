"""A small local HTTP server for the unattended-operation tests (daemon, cron, politeness).

Each :class:`OpSite` is one host (127.0.0.1 and its own port) served by aiohttp.web on
its own loop in a thread. It records every request with its start and end time and counts
requests in flight, so tests can check concurrency limits, spacing and what was fetched.
A path can be held (:meth:`OpSite.hold`: the answer waits until the test releases it, and
the server sees a client that gives up) or gathered (``gather``: the answer waits until
that many requests to the host are in flight at once), so no test depends on a delay
being long enough.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.integration.conftest import Hold, SiteServer

# A gathered answer goes out anyway after this: a client that never sends that many
# requests at once then shows in ``max_in_flight`` instead of hanging the test.
GATHER_LIMIT = 10.0
# How long a complete group still waits for more: a correct client sends no more, so a
# loaded machine can only hide a broken limit, never fail a correct one.
OVERLAP = 0.2


@dataclass(frozen=True)
class Page:
    body: str = "<p>hello</p>"
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html"
    #: Answer only once this many requests to the host are in flight together.
    gather: int = 0


@dataclass(frozen=True)
class Hit:
    path: str
    started: float
    finished: float
    user_agent: str


class OpSite:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[str, Page] = {}
        self._hits: list[Hit] = []
        self._arrivals: list[str] = []
        self._holds: dict[str, Hold] = {}
        self._gathering: list[asyncio.Future[None]] = []  # only used on the server's loop
        self.in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""

    def url(self, path: str) -> str:
        return self.base_url + path

    def set(self, path: str, body: str = "<p>hello</p>", **options: object) -> None:
        with self._lock:
            self._holds.pop(path, None)
            self._pages[path] = Page(body, **options)  # type: ignore[arg-type]

    def hold(self, path: str, body: str = "<p>released</p>") -> Hold:
        """Hold the answers to ``path`` until the test releases them (see :class:`Hold`)."""
        hold = Hold(body)
        with self._lock:
            self._holds[path] = hold
        return hold

    def release_all(self) -> None:
        with self._lock:
            holds = list(self._holds.values())
        for hold in holds:
            hold.release()

    def hits(self, path: str | None = None) -> list[Hit]:
        with self._lock:
            return [h for h in self._hits if path is None or h.path == path]

    def count(self, path: str) -> int:
        """Requests received for ``path``, finished or still in flight."""
        with self._lock:
            return self._arrivals.count(path)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        with self._lock:
            page = self._pages.get(request.path)
            hold = self._holds.get(request.path)
            self._arrivals.append(request.path)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if hold is not None:
                return await hold.handle(request)
            if page is None:
                return web.Response(status=404, text="not found")
            if page.gather:
                await self._gathered(page.gather)
            if page.delay:
                await asyncio.sleep(page.delay)
            return web.Response(status=page.status, text=page.body,
                                content_type=page.content_type, headers=page.headers)
        finally:
            with self._lock:
                self.in_flight -= 1
                self._hits.append(Hit(request.path, started, time.monotonic(),
                                      request.headers.get("User-Agent", "")))


    async def _gathered(self, count: int) -> None:
        """Return once ``count`` gathered requests are in flight together, and ``OVERLAP``
        more: requests arriving meanwhile join the group, so a client past its limit
        shows in ``max_in_flight``. Runs on the server's loop only.
        """
        loop = asyncio.get_running_loop()
        arrived = loop.create_future()
        self._gathering.append(arrived)
        if len(self._gathering) == count:
            loop.call_later(OVERLAP, self._release_group)
        try:
            await asyncio.wait_for(arrived, GATHER_LIMIT)
        except TimeoutError:
            if arrived in self._gathering:
                self._gathering.remove(arrived)

    def _release_group(self) -> None:
        group, self._gathering = self._gathering, []
        for waiting in group:
            if not waiting.done():
                waiting.set_result(None)


@contextmanager
def serving() -> Iterator[OpSite]:
    site = OpSite()
    server = SiteServer(site)
    server.start()
    try:
        yield site
    finally:
        site.release_all()
        server.stop()
