"""Pages built by JavaScript, rendered in one headless Chromium per run or daemon.

The server's HTML is fetched like any page's (robots.txt, politeness, size cap, in
``client.Fetcher``). The browser then loads that very response (its document request is
answered with it, never sent twice), runs the page's scripts and hands back the DOM once
the network is idle or a ``wait_for`` selector is there. The DOM is what is extracted and
compared; the server's HTML is stored beside it (``FetchResult.served_body``).

Bounded and polite: at most ``browser.pages`` pages at once, each within its monitor's
``timeout``; images, fonts and media refused; the page's own requests capped
(``max_requests``), each made inside the per-host gate of its host like any fetch; the DOM
capped (``max_dom_bytes``).

Where a page may reach: nowhere the monitor's own fetches may not. Every request of the
page is made by govwatch's client (``forward``), under the address policy of the monitor
(``addresses``: a public page never reaches a private address; a private monitor only its
own host and port), http(s) only; WebSockets are refused; and Chromium itself resolves no
name, so what the route cannot hold (a ``preconnect`` hint) reaches nothing.

The browser is Chromium from the operating system, driven by
Playwright; nothing downloads one. It is launched on the first page that needs it, kept
for the run or the daemon, and launched again after a crash or a hang (which fail the
pages that were in it). Its main process carries ``OWNER_ENV`` in its environment, and
the others descend from it: that is how a hung one is killed whole, and how tests find
what is left of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.errors import FetchError, RenderFailed, UnsupportedURL
from core.records import FetchResult
from monitors.base import Monitor
from pipeline.config import BrowserSettings
from pipeline.fetch.addresses import fetching_for
from pipeline.fetch.forward import forward
from pipeline.fetch.politeness import HostGate

if TYPE_CHECKING:
    import httpx
    from playwright.async_api import Browser as Chromium
    from playwright.async_api import BrowserContext, Page, Playwright, Route, WebSocketRoute

log = logging.getLogger(__name__)

#: Program names of Chromium on the PATH (Debian's package is ``chromium``).
BROWSER_NAMES = ("chromium", "chromium-browser")
INSTALL_HINT = ("install the operating system's package (Debian: apt-get install chromium) "
                "or set browser.executable")
#: Every process of a browser launched here has this variable set to a token naming the
#: launch: ``<govwatch pid>-<n>``.
OWNER_ENV = "GOVWATCH_BROWSER_OWNER"
#: How long closing a page or the browser may take before it is taken for hung.
CLOSE_GRACE = 5.0
#: How long the browser may take to start (seconds).
LAUNCH_TIMEOUT = 60.0
#: The serialized DOM's length in characters, measured in the page before it is copied.
_DOM_LENGTH = "() => document.documentElement ? document.documentElement.outerHTML.length : 0"
_tokens = itertools.count(1)
#: What a page's own requests may use, as every fetch (data: and blob: never leave the
#: browser; file:, ws: and the rest are refused).
PAGE_SCHEMES = frozenset({"http", "https"})


def find_browser(executable: str | None) -> str | None:
    """The browser to launch: ``executable`` if it exists, else Chromium on the PATH."""
    if executable is not None:
        found = shutil.which(executable)
        return found or (executable if Path(executable).is_file() else None)
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def owned_pids(token: str) -> list[int]:
    """Live processes of the browser launched as ``token`` (Linux /proc): those whose
    environment carries ``OWNER_ENV=token`` and every process they started (Chromium's
    zygotes clear the environment of what they start: the renderers, the GPU process)."""
    marker = f"{OWNER_ENV}={token}".encode()
    roots: set[int] = set()
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            pid = int(entry.name)
            parents[pid] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes()
        except (OSError, ValueError, IndexError):  # gone, or not ours to read
            continue
        if marker in environ.split(b"\0"):
            roots.add(pid)
    found = set(roots)
    while more := {pid for pid, parent in parents.items() if parent in found} - found:
        found |= more
    return sorted(found)


class _PageBudget:
    """What one page may still do: its requests, counted as the browser makes them."""

    def __init__(self, max_requests: int) -> None:
        self.max_requests = max_requests
        self.requests = 0
        self.over = False
        self.document_served = False
        #: The page's requests being made now: stopped with the page.
        self.running: set[asyncio.Task[object]] = set()


class Browser:
    """One Chromium, launched on first use, shared by every page of a run or a daemon."""

    def __init__(self, settings: BrowserSettings, user_agent: str) -> None:
        self.settings = settings
        self.user_agent = user_agent
        #: The token of the running browser's processes (a new one for every launch).
        self.token = ""
        self.launches = 0
        self._pages = asyncio.Semaphore(settings.pages)
        self._launching = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._chromium: Chromium | None = None

    # -- one page ---------------------------------------------------------------------
    async def render(
        self, monitor: Monitor, served: FetchResult, deadline: float, gate: HostGate,
        client: httpx.AsyncClient,
    ) -> FetchResult:
        """The page's DOM after its scripts ran, as a fetch result carrying ``served``.

        Never raises for a bad page: a missing browser, a crash or the deadline is a
        failed fetch (``RenderFailed``), which fails this check and no other."""
        # Playwright is imported by the first page that needs it: at the start of a run
        # its import (0.15 s) would hold up every plain page of the run.
        from playwright.async_api import Error as PlaywrightError

        async with self._pages:  # waiting for a free page is not the page's time
            clock = time.perf_counter()
            try:
                chromium = await self._running()  # a start-up is not the page's time either
                async with asyncio.timeout(deadline):
                    dom = await self._render(chromium, monitor, served, gate, client)
            except TimeoutError:
                await self._after_deadline()
                return self._failed(served, clock, f"page not rendered within its deadline "
                                    f"of {deadline:g}s (it never settled, or the browser hung)")
            except RenderFailed as exc:
                return self._failed(served, clock, str(exc))
            except PlaywrightError as exc:  # a crash, a closed target, a page error
                if self._chromium is None or not self._chromium.is_connected():
                    reason = "the browser crashed or was killed while rendering the page"
                else:
                    reason = f"{type(exc).__name__}: {_first_line(str(exc))}"
                log.warning("rendering %s failed: %s", served.final_url or served.url, exc)
                return self._failed(served, clock, reason)
            except Exception as exc:  # one broken page must not stop the run
                log.exception("unexpected error rendering %s", served.final_url or served.url)
                return self._failed(served, clock, f"unexpected {type(exc).__name__}: {exc}")
        body = dom.encode("utf-8")
        return replace(served, body=body, served_body=served.body,
                       duration_ms=served.duration_ms + _elapsed_ms(clock))

    async def _render(
        self, chromium: Chromium, monitor: Monitor, served: FetchResult, gate: HostGate,
        client: httpx.AsyncClient,
    ) -> str:
        context = await chromium.new_context(user_agent=self.user_agent,
                                             service_workers="block")
        budget = _PageBudget(self.settings.max_requests)
        try:
            page = await context.new_page()
            await context.route("**/*", self._router(page, monitor, served, budget, gate,
                                                     client))
            # A WebSocket would be opened by the browser itself, past the address policy
            # and the politeness gate: refused (closed before it connects).
            await context.route_web_socket("**/*", _refuse_socket)
            url = served.final_url or served.url
            await page.goto(url, wait_until="load", timeout=0)
            if monitor.config.wait_for:
                await page.wait_for_selector(monitor.config.wait_for, state="attached",
                                             timeout=0)
            else:
                await page.wait_for_load_state("networkidle", timeout=0)
            if budget.over:
                raise RenderFailed(f"the page made more than {budget.max_requests} requests "
                                   "(browser.max_requests): not compared half-rendered")
            return await self._dom(page)
        finally:
            for task in budget.running:  # requests still open hold their host's slots
                task.cancel()
            await _close_quietly(context)

    async def _dom(self, page: Page) -> str:
        limit = self.settings.max_dom_bytes
        too_large = RenderFailed(f"the rendered DOM exceeds browser.max_dom_bytes ({limit})")
        if int(await page.evaluate(_DOM_LENGTH)) > limit:
            raise too_large
        dom = await page.content()
        if len(dom.encode("utf-8")) > limit:
            raise too_large
        return dom

    def _router(
        self, page: Page, monitor: Monitor, served: FetchResult, budget: _PageBudget,
        gate: HostGate, client: httpx.AsyncClient,
    ) -> Callable[[Route], Awaitable[None]]:
        blocked = frozenset(self.settings.block)
        # Each answer is capped like the page's own (a hand-built monitor has no cap:
        # the DOM's cap then).
        max_bytes = monitor.config.max_bytes or self.settings.max_dom_bytes

        async def route(route: Route) -> None:
            request = route.request
            this = asyncio.current_task()
            try:
                if (not budget.document_served and request.is_navigation_request()
                        and request.frame == page.main_frame):
                    budget.document_served = True  # the server's answer, already fetched
                    await route.fulfill(status=served.status or 200,
                                        headers=_replayed_headers(served.headers),
                                        body=served.body or b"")
                    return
                if request.resource_type in blocked \
                        or urlsplit(request.url).scheme.lower() not in PAGE_SCHEMES:
                    await route.abort("blockedbyclient")
                    return
                budget.requests += 1
                if budget.requests > budget.max_requests:
                    budget.over = True
                    await route.abort("blockedbyclient")
                    return
                if this is not None:
                    budget.running.add(this)
                # Made by govwatch's client, not by the browser: the address policy of
                # the monitor's own fetches holds for every hop (redirects are followed
                # there), checked again where the socket is made.
                async with gate.slot(request.url):  # the host's limit and spacing
                    with fetching_for(monitor.config.url):
                        answer = await forward(client, request, max_bytes)
                await route.fulfill(status=answer.status, headers=answer.headers,
                                    body=answer.body)
            except FetchError as exc:  # refused by the address policy, or a failed fetch
                refused = isinstance(exc, UnsupportedURL)  # the address policy said no
                log.log(logging.WARNING if refused else logging.INFO,
                        "request %s of the rendered page %s not made: %s", request.url,
                        monitor.id, exc)
                with contextlib.suppress(Exception):  # the page may be closed already
                    await route.abort("accessdenied" if refused else "failed")
            except Exception as exc:  # noqa: BLE001 - a failed request fails in the page
                log.debug("request %s of a rendered page failed: %s", request.url, exc)
                with contextlib.suppress(Exception):
                    await route.abort("failed")
            finally:
                if this is not None:
                    budget.running.discard(this)

        return route

    def _failed(self, served: FetchResult, clock: float, detail: str) -> FetchResult:
        failure = RenderFailed(detail)
        result = FetchResult.failure(served.monitor_id, served.url, served.started_at,
                                     served.duration_ms + _elapsed_ms(clock), failure.kind,
                                     str(failure))
        return replace(result, final_url=served.final_url, status=served.status,
                       headers=served.headers, redirects=served.redirects,
                       bytes_received=served.bytes_received)

    # -- the browser process ----------------------------------------------------------
    async def _running(self) -> Chromium:
        """The browser, launched now if it is not running (first use, or after a crash)."""
        async with self._launching:
            if self._chromium is not None and self._chromium.is_connected():
                return self._chromium
            if self._chromium is not None:
                log.warning("the browser is gone (crashed or killed): launching it again")
                await self._discard()
            executable = find_browser(self.settings.executable)
            if executable is None:
                where = (f"browser.executable {self.settings.executable!r} not found"
                         if self.settings.executable else
                         f"no {' or '.join(BROWSER_NAMES)} on the PATH")
                raise RenderFailed(f"no browser to render the page: {where}; {INSTALL_HINT}")
            self.token = f"{os.getpid()}-{next(_tokens)}"
            self._chromium = await self._launch(executable)
            self.launches += 1
            return self._chromium

    async def _launch(self, executable: str) -> Chromium:
        from playwright.async_api import async_playwright

        if self._playwright is None:
            self._playwright = await async_playwright().start()
        try:
            chromium = await self._playwright.chromium.launch(
                executable_path=executable, headless=True,
                env={**os.environ, OWNER_ENV: self.token},
                # Crash reports and background networking would be processes and requests
                # nobody asked for. No name resolves and no address is reached from the
                # browser itself: what the page asks for is made by govwatch (the route),
                # and what the route cannot hold (a preconnect hint) must go nowhere.
                args=["--host-resolver-rules=MAP * ~NOTFOUND", "--disable-breakpad",
                      "--disable-background-networking", "--disable-component-update",
                      "--no-first-run"],
                timeout=LAUNCH_TIMEOUT * 1000,
            )
        except Exception as exc:
            raise RenderFailed(f"cannot start the browser {executable}: "
                               f"{_first_line(str(exc))}; {INSTALL_HINT}") from exc
        log.info("browser started: %s (%s)", executable, chromium.version)
        return chromium

    async def _after_deadline(self) -> None:
        """After a page's deadline: a browser that cannot even answer is killed."""
        chromium = self._chromium
        if chromium is None or not chromium.is_connected():
            return
        from playwright.async_api import Error as PlaywrightError

        try:
            async with asyncio.timeout(CLOSE_GRACE):  # a live browser answers at once
                probe = await chromium.new_context()
                await probe.close()
        except (PlaywrightError, TimeoutError):
            if self._chromium is chromium:  # not replaced meanwhile by another page
                log.warning("the browser does not answer: killing it (it is launched again)")
                await self._discard()

    async def _discard(self) -> None:
        """Close the browser, killing whatever of it does not close in time."""
        chromium, self._chromium = self._chromium, None
        token = self.token
        if chromium is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_GRACE):
                    await chromium.close()
        for pid in owned_pids(token) if token else ():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    async def close(self) -> None:
        """Stop the browser and its driver; nothing of either is left running."""
        await self._discard()
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_GRACE):
                    await playwright.stop()


@contextlib.asynccontextmanager
async def browser_for(settings: BrowserSettings, user_agent: str) -> AsyncIterator[Browser]:
    """A browser for a run or a daemon: nothing starts until a page needs it, and
    everything that started is stopped on the way out."""
    browser = Browser(settings, user_agent)
    try:
        yield browser
    finally:
        await browser.close()


# Hop-by-hop and transfer headers describe the exchange that was already decoded.
_NOT_REPLAYED = frozenset({"content-encoding", "content-length", "transfer-encoding",
                           "connection", "keep-alive"})


def _replayed_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in _NOT_REPLAYED}


async def _refuse_socket(socket: WebSocketRoute) -> None:
    log.info("WebSocket %s of a rendered page refused", socket.url)
    await socket.close(code=1008, reason="WebSockets are not opened for rendered pages")


async def _close_quietly(context: BrowserContext) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_GRACE):
            await context.close()


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]


def _elapsed_ms(clock: float) -> int:
    return int((time.perf_counter() - clock) * 1000)
