"""The fetch layer: one shared httpx client, limits, conditional GET, deadlines, size caps.

This is the only module that talks HTTP. Every failure becomes a :class:`FetchResult` with
an ``error``; nothing here raises into the pipeline for a bad source.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from monitors.base import Monitor
from monitors.errors import (
    BodyTooLarge,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    ProtocolFailed,
    TooManyRedirects,
    UnsupportedURL,
)
from monitors.records import FetchResult, Redirect
from storage.records import MonitorState, iso, utc_now

if TYPE_CHECKING:
    from pipeline.politeness import HostGate
    from pipeline.robots import RobotsGuard

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_DEADLINE = timedelta(seconds=30)
DEFAULT_MAX_BYTES = 20_000_000
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FetchSettings:
    connect_timeout: timedelta = timedelta(seconds=10)
    read_timeout: timedelta = timedelta(seconds=20)
    max_redirects: int = 10
    user_agent: str = "govwatch"
    concurrency: int = 32
    per_host: int = 2


async def _refuse_other_schemes(request: httpx.Request) -> None:
    # Runs for the first request and for every redirect hop.
    if request.url.scheme not in ALLOWED_SCHEMES:
        raise UnsupportedURL(f"refusing non-http(s) URL {request.url}")


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
        transport = AiohttpTransport(limits=limits, trust_env=False)
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
        headers={"User-Agent": settings.user_agent},
        event_hooks={"request": [_refuse_other_schemes]},
        trust_env=False,
    )


def host_key(url: str) -> str:
    """A host is scheme, name and port: the unit of politeness limits."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}"


class Fetcher:
    """Fetches monitors through one client with a global limit and a per-host gate.

    ``gate`` (per-host limit and spacing) and ``robots`` come from
    ``pipeline.politeness.polite_fetcher``; without them only ``per_host`` applies.
    """

    def __init__(
        self, client: httpx.AsyncClient, settings: FetchSettings, *,
        gate: HostGate | None = None, robots: RobotsGuard | None = None,
    ) -> None:
        from pipeline.politeness import HostGate, HostPolicy  # politeness builds on this

        self.client = client
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.concurrency)
        self.gate = gate or HostGate({}, HostPolicy(settings.per_host, 0.0))
        self.robots = robots

    async def fetch(self, monitor: Monitor, state: MonitorState) -> FetchResult:
        """A conditional GET of the monitor's URL (validators only once a version exists).

        robots.txt is asked first unless the monitor opted out with ``robots: false``.
        """
        url = monitor.config.url
        if self.robots is not None and monitor.config.robots:
            refusal = await self.robots.refusal(url)
            if refusal is not None:
                return FetchResult(
                    monitor_id=monitor.id, url=url, started_at=iso(utc_now()), duration_ms=0,
                    error=f"RobotsDisallowed: {refusal}", error_kind="RobotsDisallowed",
                )
        config = monitor.config
        headers = {"Accept": monitor.accept}
        if state.last_snapshot_hash is not None:
            if state.etag:
                headers["If-None-Match"] = state.etag
            if state.last_modified:
                headers["If-Modified-Since"] = state.last_modified
        return await self.get(
            config.url, monitor_id=monitor.id, headers=headers,
            deadline=(config.timeout or DEFAULT_DEADLINE).total_seconds(),
            max_bytes=config.max_bytes or DEFAULT_MAX_BYTES,
        )

    async def get(
        self, url: str, *, monitor_id: str, headers: dict[str, str], deadline: float,
        max_bytes: int,
    ) -> FetchResult:
        """GET within the limits; any status is a result, only a failed exchange an error."""
        async with self.gate.slot(url), self._slots:
            started = iso(utc_now())
            clock = time.perf_counter()
            try:
                response, body = await self._exchange(url, headers, deadline, max_bytes)
            except FetchError as exc:
                failure: Exception = exc
            except Exception as exc:
                log.exception("unexpected error fetching %s", url)
                failure = ProtocolFailed(f"unexpected {type(exc).__name__}: {exc}")
            else:
                return FetchResult(
                    monitor_id=monitor_id, url=url, started_at=started,
                    duration_ms=_elapsed_ms(clock), final_url=str(response.url),
                    status=response.status_code, reason=response.reason_phrase,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    redirects=tuple(Redirect(r.status_code, str(r.url)) for r in response.history),
                    body=body if response.status_code != 304 else None,
                    bytes_received=len(body),
                )
            return FetchResult(
                monitor_id=monitor_id, url=url, started_at=started,
                duration_ms=_elapsed_ms(clock), error=f"{type(failure).__name__}: {failure}",
                error_kind=type(failure).__name__,
            )

    async def _exchange(
        self, url: str, headers: dict[str, str], deadline: float, max_bytes: int
    ) -> tuple[httpx.Response, bytes]:
        try:
            async with asyncio.timeout(deadline):
                async with self.client.stream("GET", url, headers=headers) as response:
                    return response, await _read_capped(response, max_bytes)
        except TimeoutError as exc:
            raise FetchTimeout(f"no complete answer within {deadline:g}s") from exc
        except FetchError:
            raise
        except (httpx.HTTPError, aiohttp.ClientError) as exc:
            raise _translate(exc) from exc


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"Content-Length {declared} exceeds max_bytes {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    # aiter_bytes yields *decoded* bytes, so the cap also stops decompression bombs.
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(f"body exceeds max_bytes {max_bytes}")
        chunks.append(chunk)
    return b"".join(chunks)


def _translate(exc: httpx.HTTPError | aiohttp.ClientError) -> FetchError:
    message = str(exc) or type(exc).__name__
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


def _elapsed_ms(clock: float) -> int:
    return int((time.perf_counter() - clock) * 1000)
