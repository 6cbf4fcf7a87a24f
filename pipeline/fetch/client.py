"""The fetch layer: one shared httpx client, limits, conditional GET, deadlines, size caps.

This is the only module that talks HTTP. Every failure becomes a :class:`FetchResult` with
an ``error``; nothing here raises into the pipeline for a bad source.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
import httpx
from aiohttp.http_exceptions import HttpProcessingError, PayloadEncodingError
from httpx_aiohttp import AiohttpTransport

from core.errors import (
    BodyTooLarge,
    ConnectFailed,
    FailureKind,
    FetchError,
    FetchTimeout,
    ProtocolFailed,
    TooManyRedirects,
    UnsupportedURL,
)
from core.records import FetchResult, Redirect
from monitors.base import Monitor
from pipeline.fetch.addresses import AddressRefused, check_hop, fetching_for, guarded_socket
from pipeline.fetch.bodies import BodyPool, Spool
from pipeline.fetch.decoding import ACCEPT_ENCODING, read_decoded
from pipeline.fetch.hosts import parsed_url
from pipeline.fetch.politeness import HostGate, HostPolicy
from pipeline.fetch.robots import RobotsGuard
from storage.records import MonitorState, iso, utc_now

if TYPE_CHECKING:
    from pipeline.config import Config
    from pipeline.fetch.browser import Browser
    from storage.db import Store

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_DEADLINE = timedelta(seconds=30)
DEFAULT_MAX_BYTES = 20_000_000
#: Responses that never have content (RFC 9110, 15.3.5 and 15.4.5).
NO_CONTENT_STATUSES = frozenset({204, 304})
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FetchSettings:
    connect_timeout: timedelta = timedelta(seconds=10)
    read_timeout: timedelta = timedelta(seconds=20)
    max_redirects: int = 10
    user_agent: str = "govwatch"
    concurrency: int = 32
    per_host: int = 2
    #: Before a confirming copy is fetched (``defaults.confirm_pause``).
    confirm_pause: timedelta = timedelta(seconds=1.1)


async def _refuse_other_schemes(request: httpx.Request) -> None:
    # Runs for the first request and for every redirect hop.
    if request.url.scheme not in ALLOWED_SCHEMES:
        raise UnsupportedURL(f"refusing non-http(s) URL {request.url}")
    try:
        check_hop(str(request.url))
    except AddressRefused as exc:
        raise UnsupportedURL(str(exc)) from None


async def _vet_redirect(response: httpx.Response) -> None:
    """Before httpx follows a redirect: refuse other schemes, and never read its body.

    httpx reads a redirect's whole body (decoded) before the next hop, with no cap: a
    302 carrying a gzip bomb took gigabytes. Nothing of a redirect's body is kept, so the
    stream is closed unread (aiohttp then drops the connection) and an empty one put in.
    """
    if not response.has_redirect_location:
        return
    location = response.headers["location"].strip()
    scheme = urlsplit(location).scheme.lower()
    if scheme and scheme not in ALLOWED_SCHEMES:
        shown = location if len(location) <= 200 else location[:200] + "..."
        raise UnsupportedURL(f"refusing non-http(s) URL {shown} (redirect from {response.url})")
    unread = response.stream
    response.stream = httpx.ByteStream(b"")
    if isinstance(unread, httpx.AsyncByteStream):
        await unread.aclose()


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """httpx's TLS defaults (certifi's authorities, verified), built once per process."""
    return httpx.create_ssl_context(trust_env=False)


def build_client(
    settings: FetchSettings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one client of a run. Tests hand in a respx mock transport here."""
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    if transport is None:
        # aiohttp's C parser costs well under half the CPU per request of httpx's default
        # transport; the httpx API above it stays the same (see docs/architecture.md).
        transport = AiohttpTransport(verify=tls_context(), limits=limits, trust_env=False,
                                     client=lambda: _session(limits))
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        timeout=httpx.Timeout(
            connect=settings.connect_timeout.total_seconds(),
            read=settings.read_timeout.total_seconds(),
            write=settings.read_timeout.total_seconds(),
            pool=None,
        ),
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        event_hooks={"request": [_refuse_other_schemes], "response": [_vet_redirect]},
        trust_env=False,
    )


def _session(limits: httpx.Limits) -> aiohttp.ClientSession:
    """The aiohttp session under the transport (made on the event loop, at the first
    request): as httpx-aiohttp makes it, with every socket checked against the address
    policy once the name is resolved (``pipeline.fetch.addresses``)."""
    connector = aiohttp.TCPConnector(
        keepalive_timeout=limits.keepalive_expiry, ssl=tls_context(),
        limit=limits.max_connections or 0, socket_factory=guarded_socket)
    return aiohttp.ClientSession(connector=connector, trust_env=False)


class Fetcher:
    """Fetches monitors through one client with a global limit and a per-host gate.

    ``gate`` (per-host limit and spacing) and ``robots`` come from
    ``pipeline.fetch.politeness.polite_fetcher``; without them only ``per_host`` applies.
    """

    def __init__(
        self, client: httpx.AsyncClient, settings: FetchSettings, *,
        gate: HostGate | None = None, robots: RobotsGuard | None = None,
        browser: Browser | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.concurrency)
        self.gate = gate or HostGate({}, HostPolicy(settings.per_host, 0.0))
        self.robots = robots
        #: Renders ``render: browser`` pages (``pipeline.fetch.browser``).
        self.browser = browser
        #: Memory for large bodies; ``run.check_monitor`` opens one scope per check.
        self.bodies = BodyPool()
        #: Waits, before each request, while the parsing workers are behind
        #: (``pipeline.pool.Extractor.room``): bodies fetched ahead of them only wait in
        #: memory.
        self.room: Callable[[], Awaitable[None]] | None = None

    async def fetch(self, monitor: Monitor, state: MonitorState) -> FetchResult:
        """A conditional GET of the monitor's URL (validators only once a version exists).

        robots.txt is asked first unless the monitor opted out with ``robots: false``.
        A ``render: browser`` page is fetched whole (what its scripts load may have changed
        when its HTML has not), then rendered: the result is its DOM.
        """
        with fetching_for(monitor.config.url):
            return await self._fetch(monitor, state)

    async def _fetch(self, monitor: Monitor, state: MonitorState) -> FetchResult:
        config = monitor.config
        url = config.url
        deadline = (config.timeout or DEFAULT_DEADLINE).total_seconds()
        if self.robots is not None and config.robots:
            try:
                refusal = await self.robots.refusal(url, deadline)
            except Exception:  # one host's robots.txt must never take the run down
                log.exception("robots.txt check for %s failed; fetching the page anyway", url)
                refusal = None
            if refusal is not None:
                return FetchResult.failure(monitor.id, url, iso(utc_now()), 0,
                                           FailureKind.ROBOTS_DISALLOWED, refusal)
        rendered = config.render == "browser"
        headers = {"Accept": monitor.accept}
        if state.last_snapshot_hash is not None and not rendered:
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
        fetched = await self.get(
            config.url, monitor_id=monitor.id, headers=headers,
            deadline=deadline, max_bytes=config.max_bytes or DEFAULT_MAX_BYTES,
        )
        if not rendered or fetched.error is not None or not 200 <= (fetched.status or 0) < 300 \
                or "html" not in (fetched.content_type or "text/html"):
            return fetched  # a failure, a status or another type is judged as for any page
        if self.browser is None:
            return FetchResult.failure(monitor.id, url, fetched.started_at, fetched.duration_ms,
                                       FailureKind.RENDER_FAILED,
                                       "this command does not render pages in a browser")
        return await self.browser.render(monitor, fetched, deadline, self.gate, self.client)

    async def get(
        self, url: str, *, monitor_id: str, headers: dict[str, str], deadline: float,
        max_bytes: int,
    ) -> FetchResult:
        """GET within the limits; any status is a result, only a failed exchange an error."""
        async with self.gate.slot(url), self._slots:
            if self.room is not None:
                await self.room()
            started = iso(utc_now())
            clock = time.perf_counter()
            try:
                response, spool = await self._exchange(url, headers, deadline, max_bytes)
            except FetchError as exc:
                return _failed(monitor_id, url, started, clock, exc)
            except Exception as exc:
                log.exception("unexpected error fetching %s", url)
                failure = ProtocolFailed(f"unexpected {type(exc).__name__}: {exc}")
                return _failed(monitor_id, url, started, clock, failure)
            duration_ms = _elapsed_ms(clock)
        # Outside every slot: waiting for memory holds no connection (pipeline/bodies.py).
        try:
            body = await self.bodies.load(spool)
        finally:
            spool.close()
        return FetchResult(
            monitor_id=monitor_id, url=url, started_at=started, duration_ms=duration_ms,
            final_url=str(response.url), status=response.status_code,
            reason=response.reason_phrase,
            headers={k.lower(): v for k, v in response.headers.items()},
            redirects=tuple(Redirect(r.status_code, str(r.url)) for r in response.history),
            body=body if response.status_code != 304 else None, bytes_received=len(body),
        )

    async def _exchange(
        self, url: str, headers: dict[str, str], deadline: float, max_bytes: int
    ) -> tuple[httpx.Response, Spool]:
        spool = Spool()
        try:
            response = await self._request(url, headers, deadline, max_bytes, spool)
        except BaseException:
            spool.close()  # the deadline may strike even after the body was read
            raise
        return response, spool

    async def _request(
        self, url: str, headers: dict[str, str], deadline: float, max_bytes: int, spool: Spool
    ) -> httpx.Response:
        try:
            async with asyncio.timeout(deadline):
                async with self.client.stream("GET", parsed_url(url),
                                              headers=headers) as response:
                    await _read_capped(response, max_bytes, spool)
                    return response
        except TimeoutError as exc:
            raise FetchTimeout(f"no complete answer within {deadline:g}s") from exc
        except FetchError:
            raise
        except httpx.TooManyRedirects as exc:
            raise TooManyRedirects(
                f"more than {self.settings.max_redirects} redirects (a loop?); the last one "
                f"pointed to {exc.request.url}") from exc
        except (httpx.HTTPError, aiohttp.ClientError) as exc:
            raise _translate(exc) from exc
        except httpx.InvalidURL as exc:  # a redirect to a URL httpx cannot even build
            raise UnsupportedURL(f"unusable redirect target: {exc}") from exc


async def _read_capped(response: httpx.Response, max_bytes: int, spool: Spool) -> None:
    if response.status_code in NO_CONTENT_STATUSES:
        # Nothing to read (aiohttp has already ended the payload, so the connection goes
        # back to the pool): iterating the empty stream cost measurable CPU on 304s.
        return
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"Content-Length {declared} exceeds max_bytes {max_bytes}")

    def keep(piece: bytes) -> None:
        # Decoded bytes are counted, piece by piece, so the cap also stops bombs.
        if spool.size + len(piece) > max_bytes:
            coding = response.headers.get("content-encoding")
            how = f" (decoded from {coding})" if coding else ""
            raise BodyTooLarge(f"body exceeds max_bytes {max_bytes}{how}")
        spool.write(piece)

    await read_decoded(response, keep)


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None or isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _one_line(text: str, limit: int = 300) -> str:
    # aiohttp's parser errors span lines and point at the bad byte with a caret line.
    lines = [line.strip() for line in text.splitlines() if line.strip(" ^")]
    flat = re.sub(r"\s+", " ", " ".join(lines)).strip()
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _translate(exc: httpx.HTTPError | aiohttp.ClientError) -> FetchError:
    message = str(exc) or type(exc).__name__
    refused = _cause(exc, AddressRefused)
    if refused is not None:  # the address policy, where the socket was to be made
        return UnsupportedURL(str(refused))
    broken = _cause(exc, HttpProcessingError)
    if isinstance(broken, HttpProcessingError):
        # aiohttp's parser says "400", but that is its code for "bad message", not the
        # server's status: name what was wrong with the answer instead.
        problem = _one_line(broken.message or type(broken).__name__)
        if isinstance(broken, PayloadEncodingError):
            return ProtocolFailed(f"truncated or malformed body: {problem}")
        if problem.startswith("Data after `Connection: close`"):
            problem = f"body longer than its Content-Length ({problem})"
        return ProtocolFailed(f"not a valid HTTP response: {problem}")
    if _cause(exc, aiohttp.ServerDisconnectedError) is not None:
        # httpx-aiohttp maps this to ConnectTimeout; the server hung up, nothing timed out.
        return ProtocolFailed("the server closed the connection without a complete answer")
    if isinstance(exc, aiohttp.ClientError):
        # httpx-aiohttp leaves some aiohttp errors untranslated (a bad status line).
        return ProtocolFailed(f"{type(exc).__name__}: {message}")
    if isinstance(exc.__cause__, aiohttp.ClientConnectorError):
        # httpx-aiohttp maps a refused connection to ConnectTimeout; it is not a timeout.
        return ConnectFailed(message)
    if isinstance(exc.__cause__, aiohttp.ClientPayloadError) or isinstance(
        exc, httpx.ReadError | httpx.RemoteProtocolError | httpx.DecodingError
    ):
        # The server was reached and then broke the response: truncated, bad encoding.
        return ProtocolFailed(message)
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeout(message)
    if isinstance(exc, httpx.ConnectError):
        return ConnectFailed(message)
    if isinstance(exc, httpx.TooManyRedirects):
        return TooManyRedirects(message)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return UnsupportedURL(message)
    if isinstance(exc, httpx.NetworkError):
        return ConnectFailed(message)
    return ProtocolFailed(message)


def _failed(
    monitor_id: str, url: str, started: str, clock: float, failure: FetchError
) -> FetchResult:
    return FetchResult.failure(monitor_id, url, started, _elapsed_ms(clock), failure.kind,
                               str(failure))


def _elapsed_ms(clock: float) -> int:
    return int((time.perf_counter() - clock) * 1000)


@asynccontextmanager
async def rendering(
    config: Config, settings: FetchSettings, *, always: bool = False
) -> AsyncIterator[Browser | None]:
    """The browser of a run (``always``: of a daemon, whose config may gain a rendered
    page): None when no monitor renders, so that Playwright is not even imported."""
    if not (always or config.rendered()):
        yield None
        return
    from pipeline.fetch.browser import browser_for

    async with browser_for(config.browser, settings.user_agent) as browser:
        yield browser


def polite_fetcher(
    config: Config, client: httpx.AsyncClient, settings: FetchSettings, store: Store,
    browser: Browser | None = None,
) -> Fetcher:
    """The fetcher of a run or a daemon: host limits, spacing and robots.txt (and the
    browser that renders ``render: browser`` pages, when there is one)."""
    gate = HostGate.from_config(config)
    robots = RobotsGuard(client, store, gate, ttl=config.defaults.robots_ttl)
    return Fetcher(client, settings, gate=gate, robots=robots, browser=browser)
