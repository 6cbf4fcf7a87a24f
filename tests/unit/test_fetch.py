"""The fetch layer against a respx-faked network (faked only at the httpx transport)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import respx

from core.errors import FailureKind
from core.records import FetchResult
from monitors import MonitorConfig, build_monitor
from pipeline.fetch.client import Fetcher, FetchSettings, build_client, tls_context
from pipeline.fetch.hosts import host_key
from storage.records import MonitorState
from tests import fakes

URL = "https://www.oecd.org/en/topics/ai-principles.html"
EMPTY = MonitorState("m", None, None, None, None, None, None, 0)


def stored(etag: str | None = None, last_modified: str | None = None) -> MonitorState:
    return MonitorState("m", etag, last_modified, "snap", "content", None, None, 0)


@pytest.fixture
def router() -> respx.Router:
    return fakes.router(assert_all_called=False)


async def fetch(
    router: respx.Router,
    state: MonitorState = EMPTY,
    url: str = URL,
    settings: FetchSettings | None = None,
    **options: object,
) -> FetchResult:
    settings = settings or FetchSettings(user_agent="govwatch-test (+https://example.org/contact)")
    monitor = build_monitor(MonitorConfig(id="m", kind="page", url=url, **options), "org")
    transport = httpx.MockTransport(router.async_handler)
    async with build_client(settings, transport) as client:
        return await Fetcher(client, settings).fetch(monitor, state)


async def test_success_records_status_headers_body_and_user_agent(router: respx.Router) -> None:
    route = router.get(URL).respond(200, html="<p>hi</p>", headers={"ETag": '"v1"'})
    result = await fetch(router)
    assert result.ok and result.status == 200
    assert result.body == b"<p>hi</p>"
    assert result.bytes_received == len(b"<p>hi</p>")
    assert result.headers["etag"] == '"v1"'
    assert result.final_url == URL
    assert result.redirects == ()
    request = route.calls.last.request
    assert request.headers["user-agent"] == "govwatch-test (+https://example.org/contact)"
    assert "text/html" in request.headers["accept"]
    assert "if-none-match" not in request.headers


async def test_conditional_get_sends_stored_validators(router: respx.Router) -> None:
    route = router.get(URL).respond(304)
    result = await fetch(router, stored('"v1"', "Mon, 02 Nov 2026 10:00:00 GMT"))
    assert result.not_modified and result.body is None
    request = route.calls.last.request
    assert request.headers["if-none-match"] == '"v1"'
    assert request.headers["if-modified-since"] == "Mon, 02 Nov 2026 10:00:00 GMT"


@pytest.mark.parametrize("status", [204, 304])
async def test_a_response_that_never_has_content_is_not_read(
    router: respx.Router, status: int
) -> None:
    # A server that sends bytes anyway: they are not content (RFC 9110), nor counted.
    router.get(URL).respond(status, content=b"stray bytes")
    result = await fetch(router, stored('"v1"'))
    assert (result.status, result.error, result.bytes_received) == (status, None, 0)
    assert not result.body


async def test_redirect_chain_is_recorded(router: respx.Router) -> None:
    router.get(URL).respond(301, headers={"Location": "https://oecd.org/b"})
    router.get("https://oecd.org/b").respond(302, headers={"Location": "/c"})
    router.get("https://oecd.org/c").respond(200, text="final")
    result = await fetch(router)
    assert result.ok and result.body == b"final"
    assert result.final_url == "https://oecd.org/c"
    assert [(r.status, r.url) for r in result.redirects] == [
        (301, URL), (302, "https://oecd.org/b"),
    ]


async def test_a_cookie_set_on_a_redirect_goes_with_the_next_hop(router: respx.Router) -> None:
    # A consent or session cookie set on the way is sent on; a response that sets none
    # leaves the jar as it was (the jar skips reading it, pipeline/fetch.py).
    router.get(URL).respond(302, headers={"Location": "https://www.oecd.org/gate",
                                          "Set-Cookie": "consent=yes; Path=/"})
    gate = router.get("https://www.oecd.org/gate").respond(
        302, headers={"Location": "https://www.oecd.org/final"})
    final = router.get("https://www.oecd.org/final").respond(200, text="welcome")
    settings = FetchSettings()
    monitor = build_monitor(MonitorConfig(id="m", kind="page", url=URL), "org")
    async with build_client(settings, httpx.MockTransport(router.async_handler)) as client:
        result = await Fetcher(client, settings).fetch(monitor, EMPTY)
        assert result.ok and result.body == b"welcome"
        assert gate.calls.last.request.headers["cookie"] == "consent=yes"
        assert final.calls.last.request.headers["cookie"] == "consent=yes"
        assert dict(client.cookies) == {"consent": "yes"}
        client.cookies = {"other": "1"}
        assert dict(client.cookies) == {"other": "1"}


async def test_redirect_to_a_file_url_is_refused(router: respx.Router) -> None:
    router.get(URL).respond(302, headers={"Location": "file:///etc/passwd"})
    result = await fetch(router)
    assert result.error_kind is FailureKind.UNSUPPORTED_URL
    assert "refusing non-http(s) URL file://" in (result.error or "")
    assert result.body is None


async def test_redirect_loop_is_an_error(router: respx.Router) -> None:
    router.get(URL).respond(302, headers={"Location": URL})
    result = await fetch(router, settings=FetchSettings(max_redirects=5))
    assert result.error_kind is FailureKind.TOO_MANY_REDIRECTS


@pytest.mark.parametrize(("status", "reason"), [(500, "Internal Server Error"), (404, "Not Found"),
                                                (403, "Forbidden")])
async def test_error_status_is_an_answer_with_its_body(
    router: respx.Router, status: int, reason: str
) -> None:
    # Classifying statuses (removed, blocked, error) is the pipeline's job; the fetch
    # layer reports what the server said, body included, as evidence.
    router.get(URL).respond(status, text="nope")
    result = await fetch(router)
    assert result.error is None
    assert (result.status, result.reason, result.body) == (status, reason, b"nope")


async def test_body_over_the_cap_is_refused(router: respx.Router) -> None:
    router.get(URL).respond(200, content=b"x" * 5000)
    result = await fetch(router, max_bytes=1000)
    assert result.error_kind is FailureKind.BODY_TOO_LARGE
    assert "1000" in (result.error or "")


async def test_declared_length_over_the_cap_is_refused_before_reading(router: respx.Router) -> None:
    router.get(URL).respond(200, content=b"x" * 10, headers={"Content-Length": "999999999"})
    result = await fetch(router, max_bytes=1000)
    assert result.error_kind is FailureKind.BODY_TOO_LARGE
    assert "Content-Length 999999999" in (result.error or "")


async def test_gzip_bomb_is_stopped_by_the_decoded_cap(router: respx.Router) -> None:
    bomb = gzip.compress(b"\0" * 5_000_000)
    assert len(bomb) < 10_000
    router.get(URL).respond(200, content=bomb, headers={"Content-Encoding": "gzip"})
    result = await fetch(router, max_bytes=100_000)
    assert result.error_kind is FailureKind.BODY_TOO_LARGE


async def test_read_timeout_is_a_timeout(router: respx.Router) -> None:
    router.get(URL).mock(side_effect=httpx.ReadTimeout("read timed out"))
    result = await fetch(router)
    assert result.error_kind is FailureKind.FETCH_TIMEOUT


async def test_connect_error_is_a_connection_failure(router: respx.Router) -> None:
    router.get(URL).mock(side_effect=httpx.ConnectError("connection refused"))
    result = await fetch(router)
    assert result.error_kind is FailureKind.CONNECT_FAILED
    assert "connection refused" in (result.error or "")


async def test_overall_deadline_stops_a_slow_source(router: respx.Router) -> None:
    abandoned = asyncio.Event()

    async def never(request: httpx.Request) -> httpx.Response:
        try:
            await asyncio.Event().wait()  # no answer, ever
        finally:
            abandoned.set()  # reached only when the fetch gives up on it (cancels it)
        return httpx.Response(200)

    router.get(URL).mock(side_effect=never)
    # A bound only a fetch that waits for the answer reaches, whatever the machine's load.
    async with asyncio.timeout(30):
        result = await fetch(router, timeout=timedelta(seconds=0.2))
    assert result.error_kind is FailureKind.FETCH_TIMEOUT
    assert "0.2s" in (result.error or "")
    assert abandoned.is_set()
    assert result.duration_ms >= 190  # it did wait for its deadline


async def test_slow_drip_body_is_stopped_by_the_deadline(router: respx.Router) -> None:
    class Drip(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            for _ in range(100):
                await asyncio.sleep(0.05)
                yield b"x"

    router.get(URL).mock(return_value=httpx.Response(200, stream=Drip()))
    result = await fetch(router, timeout=timedelta(seconds=0.3))
    assert result.error_kind is FailureKind.FETCH_TIMEOUT


async def test_per_host_limit_is_respected(router: respx.Router) -> None:
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def track(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        in_flight[host] = in_flight.get(host, 0) + 1
        peak[host] = max(peak.get(host, 0), in_flight[host])
        await asyncio.sleep(0.02)
        in_flight[host] -= 1
        return httpx.Response(200, text="ok")

    router.route(host__in=("a.org", "b.org")).mock(side_effect=track)
    settings = FetchSettings(per_host=2, concurrency=10)
    transport = httpx.MockTransport(router.async_handler)
    monitors = [
        build_monitor(MonitorConfig(id=f"m{i}", kind="page", url=f"https://{h}/{i}"), "o")
        for i in range(8) for h in ("a.org", "b.org")
    ]
    async with build_client(settings, transport) as client:
        fetcher = Fetcher(client, settings)
        results = await asyncio.gather(*(fetcher.fetch(m, EMPTY) for m in monitors))
    assert all(r.ok for r in results)
    assert peak == {"a.org": 2, "b.org": 2}


def test_host_key_is_scheme_name_and_port() -> None:
    assert host_key("https://oecd.ai/x") == host_key("https://oecd.ai/y?z=1")
    assert host_key("http://oecd.ai/") != host_key("https://oecd.ai/")
    assert host_key("http://127.0.0.1:8001/") != host_key("http://127.0.0.1:8002/")


async def test_every_client_shares_one_verifying_tls_context() -> None:
    tls_context.cache_clear()
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) > 10  # the authorities are loaded
    clients = [build_client(FetchSettings()) for _ in range(2)]
    try:
        assert tls_context.cache_info().misses == 1  # built once for every client
    finally:
        for client in clients:
            await client.aclose()
