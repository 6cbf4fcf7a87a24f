"""A small local HTTP server for the unattended-operation tests (daemon, cron, politeness).

Each :class:`OpSite` is one host (127.0.0.1 and its own port) served by aiohttp.web on
its own loop in a thread. It records every request with its start and end time and counts
requests in flight, so tests can check concurrency limits, spacing and what was fetched.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.integration.conftest import SiteServer


@dataclass(frozen=True)
class Page:
    body: str = "<p>hello</p>"
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html"


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
        self.in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""

    def url(self, path: str) -> str:
        return self.base_url + path

    def set(self, path: str, body: str = "<p>hello</p>", **options: object) -> None:
        with self._lock:
            self._pages[path] = Page(body, **options)  # type: ignore[arg-type]

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
            self._arrivals.append(request.path)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if page is None:
                return web.Response(status=404, text="not found")
            if page.delay:
                await asyncio.sleep(page.delay)
            return web.Response(status=page.status, text=page.body,
                                content_type=page.content_type, headers=page.headers)
        finally:
            with self._lock:
                self.in_flight -= 1
                self._hits.append(Hit(request.path, started, time.monotonic(),
                                      request.headers.get("User-Agent", "")))


@contextmanager
def serving() -> Iterator[OpSite]:
    site = OpSite()
    server = SiteServer(site)
    server.start()
    try:
        yield site
    finally:
        server.stop()
