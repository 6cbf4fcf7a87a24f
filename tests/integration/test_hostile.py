"""Hostile inputs: whatever a source sends, it ends as a recorded error or a handled
snapshot, with a message that names the cause, and the other monitors of the cycle
complete normally.

Every fetch case runs a real cycle (``run_cycle`` with the default aiohttp transport)
against a raw-socket server on 127.0.0.1 (``hostile_server.py``: garbage, lies about
lengths, drips) next to the aiohttp ``site`` fixture serving three normal monitors, and
reads back what the SQLite store recorded. Config cases go through ``parse_config`` and
the CLI; the memory case runs the CLI over a few hundred hostile sources and reads its
peak RSS.

No test times the cycle: a loaded machine can make anything slow. "The client gave up"
is the server seeing it hang up (``HostileServer.wait_endings``), and answers that never
end (a drip, an endless compressed stream) turn a client that waits for them into a
cycle that does not finish within ``CYCLE_BOUND``, a failure that names it.
"""

from __future__ import annotations

import json
import tracemalloc

import pytest

from storage.db import Store
from tests.integration.conftest import Site
from tests.integration.hostile_server import (
    LEFT,
    WAIT_SECONDS,
    Connection,
    HostileServer,
    chunked,
    drip,
    endless_bomb,
    head,
    raw,
    redirect,
    respond,
    streamed,
)
from tests.integration.hostile_support import (
    MB,
    assert_stored_nowhere,
    passwd_line,
    run_with_others,
    traced_peak_mb,
)

pytestmark = pytest.mark.integration


# -- the network: timing ---------------------------------------------------------------


async def test_slow_drip_is_cut_at_the_monitor_timeout(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    # A byte every half second: the whole body would take a minute.
    url = hostile.route("/drip", drip(b"<p>" + b"x" * 120 + b"</p>", interval=0.5))
    cycle = await run_with_others(
        store, site, [{"id": "drip", "kind": "page", "url": url, "timeout": "2s"}])

    error = cycle.error("drip")
    assert error == "FetchTimeout: no complete answer within 2s"
    assert cycle.row("drip")["duration_ms"] >= 1900  # it waited for its timeout
    assert cycle.row("drip")["snapshot_hash"] is None
    assert hostile.wait_endings("/drip") == [LEFT], "the client hung up mid-drip"


async def test_slow_drip_on_robots_txt_is_bounded_by_the_monitor_timeout(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    # robots.txt used to have its own 30 s deadline, whatever the monitor's timeout. This
    # one drips for 25 s: only a client that gives up at the monitor's 2 s hangs up on it.
    robots = b"User-agent: *\nDisallow: /private\n" + b"# " + b"-" * 12 + b"\n"
    hostile.route("/robots.txt", drip(robots, interval=0.5))
    url = hostile.route("/page.html", respond(b"<p>Behind a slow robots.txt</p>"))
    cycle = await run_with_others(
        store, site, [{"id": "behind", "kind": "page", "url": url, "timeout": "2s"}])

    assert cycle.outcome("behind") == "new"
    assert "Behind a slow robots.txt" in cycle.content("behind").text
    assert hostile.wait_endings("/robots.txt") == [LEFT], \
        "the client waited for the whole robots.txt instead of the monitor's timeout"


# -- the network: broken HTTP ---------------------------------------------------------


async def test_truncated_chunked_body_is_a_protocol_error(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    url = hostile.route("/cut", chunked([b"<p>first chunk", b" second chunk"], finish=False))
    cycle = await run_with_others(store, site, [{"id": "cut", "kind": "page", "url": url}])

    error = cycle.error("cut")
    assert error.startswith("ProtocolFailed: truncated or malformed body: ")
    assert "transfer length" in error
    assert cycle.row("cut")["snapshot_hash"] is None


async def test_body_shorter_than_its_content_length_is_a_protocol_error(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    url = hostile.route("/short", respond(b"<p>only this</p>", content_length=1000))
    cycle = await run_with_others(store, site, [{"id": "short", "kind": "page", "url": url}])

    error = cycle.error("short")
    assert error.startswith("ProtocolFailed: truncated or malformed body: ")
    assert "received 16 of 1000 bytes" in error
    assert cycle.row("short")["snapshot_hash"] is None


async def test_body_longer_than_its_content_length_is_a_protocol_error(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    url = hostile.route("/long", respond(b"<p>more than declared</p>", content_length=5))
    cycle = await run_with_others(store, site, [{"id": "long", "kind": "page", "url": url}])

    error = cycle.error("long")
    assert error.startswith("ProtocolFailed: not a valid HTTP response: ")
    assert "body longer than its Content-Length" in error


async def test_bytes_past_the_content_length_never_answer_another_request(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    """On a kept-alive connection the extra bytes form a whole fake response; the next
    monitor on that host must get its own answer, not the planted one."""
    second_requests: list[bytes] = []

    def smuggle(conn: Connection) -> None:
        conn.send(head(headers=[("Content-Type", "text/html"), ("Content-Length", "12")])
                  + b"<p>hello</p>"
                  + head(headers=[("Content-Type", "text/html"), ("Content-Length", "19")])
                  + b"<p>PLANTED FAKE</p>")
        # Whatever the client sends next on this connection, or b"" once it closes it
        # (at the latest when the cycle ends and the client shuts down).
        conn.sock.settimeout(WAIT_SECONDS)
        try:
            second_requests.append(conn.sock.recv(4096))
        except OSError as exc:
            second_requests.append(f"never closed: {exc!r}".encode())

    first = hostile.route("/first", smuggle)
    real = hostile.route("/real", respond(b"<p>The real second page</p>"))
    cycle = await run_with_others(store, site, [
        {"id": "first", "kind": "page", "url": first, "per_host": 1},
        {"id": "second", "kind": "page", "url": real, "per_host": 1},
    ])

    assert cycle.outcome("first") == "new", cycle.row("first")["error"]
    assert cycle.body("first") == b"<p>hello</p>"
    assert cycle.outcome("second") == "new"
    assert cycle.content("second").text == "The real second page"
    assert_stored_nowhere(store, "PLANTED")
    hostile.wait_endings("/first")
    # The first check and its confirming copy: each connection closed, never asked again.
    assert second_requests == [b"", b""], "the connection was closed, never asked again"


@pytest.mark.parametrize("garbage", [
    b"HTTX/9 banana\r\n\r\nhello",
    b"\x00\x01\x02\xff garbage\r\n\r\n",
    b"<html>no status line at all</html>",
])
async def test_garbage_status_line_is_a_protocol_error(
    hostile: HostileServer, site: Site, store: Store, garbage: bytes
) -> None:
    url = hostile.route("/garbage", raw(garbage))
    cycle = await run_with_others(store, site, [{"id": "garbage", "kind": "page", "url": url}])

    error = cycle.error("garbage")
    assert error.startswith("ProtocolFailed: not a valid HTTP response: Bad status line")
    assert repr(garbage.split(b"\r\n")[0])[:12] in error  # shows what came instead
    assert "400" not in error  # aiohttp's code for "bad message" is not the server's


async def test_garbage_from_every_path_of_a_host_does_not_stop_the_run(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    """robots.txt answered with garbage used to raise out of the fetcher and end the
    whole cycle (aiohttp's error was not among the ones the robots guard caught)."""
    hostile.route("/robots.txt", raw(b"HTTX/9 banana\r\n\r\n"))
    url = hostile.route("/page.html", raw(b"HTTX/9 banana\r\n\r\n"))
    cycle = await run_with_others(store, site, [{"id": "garbled", "kind": "page", "url": url}])

    assert "Bad status line" in cycle.error("garbled")
    assert hostile.hits("/robots.txt") == 1


async def test_connection_closed_without_an_answer_is_not_a_timeout(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    url = hostile.route("/hangup", raw(b""))
    # Every timeout far past the cycle's bound: reported at once, or the cycle fails.
    cycle = await run_with_others(
        store, site, [{"id": "hangup", "kind": "page", "url": url, "timeout": "10m"}],
        connect_timeout="10m", read_timeout="10m")

    error = cycle.error("hangup")
    assert error == ("ProtocolFailed: the server closed the connection without a complete "
                     "answer")


# -- the network: size ----------------------------------------------------------------


@pytest.mark.parametrize(("declared", "expected"), [
    (True, "BodyTooLarge: Content-Length 20000000 exceeds max_bytes 5000000"),
    (False, "BodyTooLarge: body exceeds max_bytes 5000000"),
])
async def test_body_over_max_bytes_is_refused(
    hostile: HostileServer, site: Site, store: Store, declared: bool, expected: str
) -> None:
    url = hostile.route("/big", streamed(20 * MB, declare_length=declared))
    tracemalloc.start()
    try:
        cycle = await run_with_others(
            store, site, [{"id": "big", "kind": "page", "url": url, "max_bytes": "5MB"}])
        peak = traced_peak_mb()
    finally:
        tracemalloc.stop()

    assert cycle.error("big") == expected
    assert cycle.row("big")["snapshot_hash"] is None
    # Past 1 MB a body being read goes to a temporary file, not to memory.
    assert peak < 4, f"{peak:.1f} MB traced while refusing a 20 MB body"


async def test_20_mb_body_under_the_cap_is_a_snapshot_without_blowing_memory(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    url = hostile.route("/big", streamed(20 * MB, piece=b"<p>filler text</p>\n"))
    tracemalloc.start()
    try:
        cycle = await run_with_others(
            store, site, [{"id": "big", "kind": "page", "url": url, "max_bytes": "25MB"}])
        peak = traced_peak_mb()
    finally:
        tracemalloc.stop()

    assert cycle.outcome("big") == "new"
    body = cycle.body("big")
    assert len(body) == 20 * MB and body.startswith(b"<p>filler text</p>\n<p>filler")
    content = cycle.content("big")
    assert content.text.startswith("filler text\nfiller text")
    # A million tiny elements: parsed up to the tag budget, and the content says so.
    assert content.data["unparsed_chars"] > 10 * MB
    assert peak < 160, f"{peak:.0f} MB traced for a 20 MB page"


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
async def test_compression_bomb_is_stopped_at_the_decoded_cap(
    hostile: HostileServer, site: Site, store: Store, coding: str
) -> None:
    # Compressed zeros with no end: a client that did not stop at its cap would read on
    # until its timeout, and say FetchTimeout.
    url = hostile.route("/bomb", endless_bomb(coding))
    tracemalloc.start()
    try:
        cycle = await run_with_others(store, site, [{"id": "bomb", "kind": "page", "url": url}])
        peak = traced_peak_mb()
    finally:
        tracemalloc.stop()

    assert cycle.error("bomb") == (
        f"BodyTooLarge: body exceeds max_bytes 20000000 (decoded from {coding})")
    # Decoded in 256 KiB steps: httpx decoded a network chunk whole (16 MB of gzip, and
    # 1.2 GB of zstd at once).
    assert peak < 8, f"{peak:.1f} MB traced while refusing a {coding} bomb"
    assert hostile.wait_endings("/bomb") == [LEFT], "the client hung up at its cap"


# -- the network: redirects -----------------------------------------------------------


async def test_redirect_loop_is_an_error_that_says_so(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    hostile.route("/a", redirect(hostile.url("/b")))
    hostile.route("/b", redirect(hostile.url("/a")))
    cycle = await run_with_others(
        store, site, [{"id": "loop", "kind": "page", "url": hostile.url("/a")}])

    error = cycle.error("loop")
    assert error.startswith("TooManyRedirects: more than 10 redirects (a loop?)")
    assert hostile.hits("/a") + hostile.hits("/b") == 11


@pytest.mark.parametrize("target", [
    "file:///etc/passwd",
    "ftp://127.0.0.1/pub/file.html",
    "data:text/html,<p>planted</p>",
    "javascript:alert(document.cookie)",
])
async def test_redirect_to_a_non_http_url_is_refused(
    hostile: HostileServer, site: Site, store: Store, target: str
) -> None:
    url = hostile.route("/trap", redirect(target))
    cycle = await run_with_others(store, site, [{"id": "trap", "kind": "page", "url": url}])

    assert cycle.error("trap") == (
        f"UnsupportedURL: refusing non-http(s) URL {target} (redirect from {url})")
    assert cycle.row("trap")["snapshot_hash"] is None
    assert_stored_nowhere(store, passwd_line())
    # The refused URL is named in the error; nothing it points to was fetched.
    assert_stored_nowhere(store, "planted", tables=("contents", "changes"))


@pytest.mark.parametrize("body", ["bomb", "endless"])
async def test_a_redirect_body_is_never_read(
    hostile: HostileServer, site: Site, store: Store, body: str
) -> None:
    """httpx read every redirect's whole body, decoded and uncapped, before the next hop:
    a 302 carrying a gzip bomb took 2 GB."""
    # Both bodies never end: a client that read one would time out instead of arriving.
    final = hostile.route("/final", respond(b"<p>Arrived</p>"))
    if body == "bomb":
        hostile.route("/moved", endless_bomb("gzip", status=302, reason="Found",
                                             headers=[("Location", final)]))
    else:
        def endless(conn: Connection) -> None:
            if not conn.send(head(302, "Found", [("Location", final), ("Connection", "close")])):
                return
            block = b"x" * 65536
            while conn.send(block):  # until the client hangs up
                pass
        hostile.route("/moved", endless)
    tracemalloc.start()
    try:
        cycle = await run_with_others(
            store, site, [{"id": "moved", "kind": "page", "url": hostile.url("/moved")}])
        peak = traced_peak_mb()
    finally:
        tracemalloc.stop()

    assert cycle.outcome("moved") == "new"
    assert cycle.content("moved").text == "Arrived"
    assert cycle.row("moved")["final_url"] == final
    assert json.loads(cycle.row("moved")["redirects"]) == [
        {"status": 302, "url": hostile.url("/moved")}]
    assert peak < 8, f"{peak:.1f} MB traced for a redirect"
    assert hostile.wait_endings("/moved") == [LEFT], "the client hung up on the redirect"
