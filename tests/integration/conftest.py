"""A real HTTP server on 127.0.0.1 for the integration tests.

The ``site`` fixture starts an aiohttp.web server on its own event loop in a background
thread and hands the test a :class:`Site`: the test decides what each path serves
(``site.set``), may change it between cycles, and can inspect what the server received
(``site.requests``). Conditional GET is honoured per resource: ``ETag``/``If-None-Match``
and ``Last-Modified``/``If-Modified-Since`` answer 304 when the client's validators match.

Tests wait on events, never on the clock: :class:`Hold` is an answer the server keeps back
until the test releases it, and it sees the client give up; :func:`eventually` waits for
a condition with a deadline generous enough for a loaded machine and fails naming what
it waited for.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Protocol, TypeVar

import pytest
from aiohttp import web

from tests.integration.hostile_server import HostileServer, hostile_server

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")
VALIDATOR_MODES = ("both", "etag", "weak-etag", "last-modified", "none")
# Last-Modified comes from a fake clock that moves a minute per edit, so two edits within
# the same wall-clock second still get different (second-resolution) dates.
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
# How long a test waits for something that takes milliseconds on an idle machine: a
# deadline only a hang reaches, even on a loaded CI machine.
WAIT_SECONDS = 30.0
# A held answer is given up after this, so the server can always stop; longer than any
# wait of a test, so a test that forgot to release it fails on its own wait first.
HOLD_LIMIT = 120.0


def eventually(condition: Callable[[], object], what: str | Callable[[], str],
               seconds: float = WAIT_SECONDS) -> None:
    """Wait until ``condition()`` is true; fail naming ``what`` after ``seconds`` (a
    callable ``what`` is asked then, to describe the state the wait ended in)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:g} s: "
                                 f"{what() if callable(what) else what}")
        time.sleep(0.02)


async def within(awaitable: Awaitable[T], what: str, seconds: float = WAIT_SECONDS) -> T:
    """Await ``awaitable``; fail naming ``what`` if it has not finished after ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise AssertionError(f"not within {seconds:g} s: {what}") from None


class Hold:
    """An answer the server keeps back until the test releases it or the client leaves.

    While it holds a request the handler watches the connection: a client that gives up
    (a timeout, a cancelled check, a killed process) is counted as ``abandoned``, so a test
    proves "the client did not wait for the server" by an event instead of a stopwatch.
    """

    def __init__(self, body: str = "<p>released</p>", content_type: str = "text/html") -> None:
        self.body = body
        self.content_type = content_type
        self._changed = threading.Condition()
        self._released = threading.Event()
        self._arrived = 0
        self._abandoned = 0
        self._answered = 0

    @property
    def arrived(self) -> int:
        with self._changed:
            return self._arrived

    @property
    def abandoned(self) -> int:
        """Requests whose client hung up while the answer was held."""
        with self._changed:
            return self._abandoned

    @property
    def answered(self) -> int:
        with self._changed:
            return self._answered

    def release(self) -> None:
        """Answer every held request and every later one at once."""
        self._released.set()

    def wait(self, condition: Callable[[Hold], bool], what: str,
             seconds: float = WAIT_SECONDS) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: condition(self), seconds):
                raise AssertionError(
                    f"not within {seconds:g} s: {what} (arrived {self._arrived}, abandoned "
                    f"{self._abandoned}, answered {self._answered})")

    def _count(self, name: str) -> None:
        with self._changed:
            setattr(self, name, getattr(self, name) + 1)
            self._changed.notify_all()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self._count("_arrived")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HOLD_LIMIT
        while not self._released.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                self._count("_abandoned")
                return web.Response(status=499)  # nobody is left to read it
            if loop.time() > deadline:
                return web.Response(status=504, text="held answer never released")
            await asyncio.sleep(0.01)
        self._count("_answered")
        return web.Response(text=self.body, content_type=self.content_type)


@dataclass(frozen=True)
class Resource:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    validators: str = "both"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    etag: str = ""
    last_modified: datetime = _EPOCH


class Site:
    """What the server serves; safe to change from the test thread between cycles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resources: dict[str, Resource] = {}
        self._requests: dict[str, list[dict[str, str]]] = {}
        self._edits = 0
        self._handlers: dict[str, Handler] = {}
        self._holds: list[Hold] = []
        self.base_url = ""  # set once the server is listening

    # -- configuring ----------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base_url + path

    def set(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        validators: str = "both",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve ``body`` at ``path``; a changed body gets a new ETag and Last-Modified."""
        if validators not in VALIDATOR_MODES:
            raise ValueError(f"validators must be one of {VALIDATOR_MODES}")
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            old = self._resources.get(path)
            if old is not None and old.body == data:
                last_modified = old.last_modified
            else:
                self._edits += 1
                last_modified = _EPOCH + timedelta(minutes=self._edits)
            self._resources[path] = Resource(
                body=data, content_type=content_type, status=status, validators=validators,
                headers=dict(headers or {}), delay=delay,
                etag='"' + hashlib.sha256(data).hexdigest()[:20] + '"',
                last_modified=last_modified,
            )

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        self.set(path, b"", status=status, validators="none", headers={"Location": location})

    def slow(self, path: str, seconds: float, body: bytes | str = "<p>late</p>") -> None:
        """A path that waits ``seconds`` before it sends its headers."""
        self.set(path, body, delay=seconds)

    def route(self, path: str, handler: Handler) -> None:
        """Serve ``path`` with a raw aiohttp handler (for broken-protocol behaviours)."""
        with self._lock:
            self._handlers[path] = handler

    def hold(self, path: str, body: str = "<p>released</p>") -> Hold:
        """Serve ``path`` with a :class:`Hold` (released at the latest when the site stops)."""
        hold = Hold(body)
        with self._lock:
            self._holds.append(hold)
        self.route(path, hold.handle)
        return hold

    def release_all(self) -> None:
        with self._lock:
            holds = list(self._holds)
        for hold in holds:
            hold.release()

    def fail(self, path: str, status: int = 500) -> None:
        self.set(path, f"<h1>{status}</h1>", status=status, validators="none")

    # -- inspecting -----------------------------------------------------------------
    def requests(self, path: str) -> list[dict[str, str]]:
        """Headers (lower-cased names) of every request the server got for ``path``."""
        with self._lock:
            return [dict(r) for r in self._requests.get(path, [])]

    def hits(self, path: str) -> int:
        return len(self.requests(path))

    # -- serving (server thread) ----------------------------------------------------
    def _lookup(self, path: str, headers: dict[str, str]) -> Resource | None:
        with self._lock:
            self._requests.setdefault(path, []).append(headers)
            resource = self._resources.get(path)
            return replace(resource) if resource is not None else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        resource = self._lookup(request.path, headers)
        custom = self._handlers.get(request.path)
        if custom is not None:
            return await custom(request)
        if resource is None:
            return web.Response(status=404, text="not found")
        if resource.delay:
            await asyncio.sleep(resource.delay)
        out = dict(resource.headers)
        use_etag = resource.validators in ("both", "etag", "weak-etag") and resource.status == 200
        use_date = resource.validators in ("both", "last-modified") and resource.status == 200
        if use_etag:
            out["ETag"] = ("W/" if resource.validators == "weak-etag" else "") + resource.etag
        if use_date:
            out["Last-Modified"] = format_datetime(resource.last_modified, usegmt=True)
        if _not_modified(resource, headers, use_etag, use_date):
            return web.Response(status=304, headers=out)
        out["Content-Type"] = resource.content_type
        return web.Response(status=resource.status, body=resource.body, headers=out)


def _not_modified(
    resource: Resource, headers: dict[str, str], use_etag: bool, use_date: bool
) -> bool:
    if "if-none-match" in headers:
        # RFC 9110 13.1.3: If-None-Match wins; If-Modified-Since is then ignored.
        if not use_etag:
            return False
        tags = {t.strip().removeprefix("W/") for t in headers["if-none-match"].split(",")}
        return "*" in tags or resource.etag in tags
    if "if-modified-since" in headers and use_date:
        try:
            since = parsedate_to_datetime(headers["if-modified-since"])
        except (TypeError, ValueError):
            return False
        return resource.last_modified <= since
    return False


class Served(Protocol):
    """What a test server serves: every request goes to ``handle``; the server sets
    ``base_url`` once it listens."""

    base_url: str

    async def handle(self, request: web.Request) -> web.StreamResponse: ...


class SiteServer:
    """aiohttp.web on 127.0.0.1 with its own loop in a thread; ``stop`` closes all of it."""

    def __init__(self, site: Served) -> None:
        self.site = site
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="site-server", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        if self._thread.is_alive():
            raise RuntimeError("test server did not stop")

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.site.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        try:
            tcp = web.TCPSite(runner, "127.0.0.1", 0)
            await tcp.start()
            port = runner.addresses[0][1]
            self.site.base_url = f"http://127.0.0.1:{port}"
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()


@contextmanager
def serving_site() -> Iterator[Site]:
    """A :class:`Site` served until the block ends (for fixtures of a wider scope)."""
    site = Site()
    server = SiteServer(site)
    server.start()
    try:
        yield site
    finally:
        site.release_all()
        server.stop()


@pytest.fixture
def site() -> Iterator[Site]:
    with serving_site() as serving:
        yield serving


@pytest.fixture
def refused_url() -> str:
    """A URL on a port nothing listens on: bind a socket, note its port, close it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    """A raw-socket server on 127.0.0.1 that answers as a hostile source would
    (``hostile_server.py``)."""
    with hostile_server() as server:
        yield server
