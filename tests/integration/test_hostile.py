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
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from core.records import Extracted
from monitors.bounds import MAX_DEPTH
from pipeline.config import parse_config
from pipeline.cycle import CycleReport, run_cycle, select_monitors
from storage.db import Store
from tests.integration.conftest import Site, within
from tests.integration.hostile_server import (
    LEFT,
    WAIT_SECONDS,
    Connection,
    HostileServer,
    chunked,
    drip,
    endless_bomb,
    head,
    hostile_server,
    raw,
    redirect,
    respond,
    streamed,
)

pytestmark = pytest.mark.integration

GOVWATCH = Path(sys.executable).parent / "govwatch"
MB = 1_000_000
# A cycle takes seconds; only one that waits for an answer that never ends reaches this.
CYCLE_BOUND = 60.0

NORMAL_PAGE = ("<html><head><title>Guidance</title></head><body><main><h1>Guidance</h1>"
               "<p>The normal page of this cycle.</p></main></body></html>")
NORMAL_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Ministry news</title><link>http://127.0.0.1/</link>
<description>News</description>
<item><title>First notice</title><link>http://127.0.0.1/news/1</link>
<guid>http://127.0.0.1/news/1</guid></item>
</channel></rss>
"""
NORMAL_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)
NORMAL_IDS = ("ok-page", "ok-feed", "ok-pdf")


def billion_laughs(levels: int = 9) -> bytes:
    """The classic: each entity is ten of the one before (10^9 "lol"s at level 9)."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels + 1)
    ]
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rss [{"".join(entities)}]>\n'
            f'<rss version="2.0"><channel><title>&lol{levels};</title>'
            f'<item><title>Laughs &lol{levels};</title><link>http://127.0.0.1/1</link></item>'
            f"</channel></rss>").encode()


def passwd_line() -> str:
    """A line of this machine's /etc/passwd, to prove it never reaches the store."""
    lines = [line for line in Path("/etc/passwd").read_text().splitlines() if line]
    return lines[0]


# -- running a cycle next to normal monitors ------------------------------------------


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with hostile_server() as server:
        yield server


def normal_monitors(site: Site) -> list[dict[str, Any]]:
    site.set("/ok/page.html", NORMAL_PAGE)
    site.set("/ok/feed.xml", NORMAL_FEED, content_type="application/rss+xml")
    site.set("/ok/report.pdf", NORMAL_PDF, content_type="application/pdf")
    return [
        {"id": "ok-page", "kind": "page", "url": site.url("/ok/page.html")},
        {"id": "ok-feed", "kind": "feed", "url": site.url("/ok/feed.xml")},
        {"id": "ok-pdf", "kind": "pdf", "url": site.url("/ok/report.pdf")},
    ]


@dataclass
class Cycle:
    report: CycleReport
    store: Store

    def row(self, monitor_id: str) -> dict[str, Any]:
        check = next(c for c in self.report.checks if c.monitor_id == monitor_id)
        return next(iter(self.store.db.query("SELECT * FROM checks WHERE id = ?",
                                             [check.check_id])))

    def outcome(self, monitor_id: str) -> str:
        return str(self.row(monitor_id)["outcome"])

    def error(self, monitor_id: str) -> str:
        error = self.row(monitor_id)["error"]
        assert error, f"{monitor_id}: no error recorded"
        assert "\n" not in error, f"{monitor_id}: the message spans lines: {error!r}"
        return str(error)

    def content(self, monitor_id: str) -> Extracted:
        return self.store.load_content(self.row(monitor_id)["content_hash"])

    def body(self, monitor_id: str) -> bytes:
        return self.store.load_body(self.row(monitor_id)["snapshot_hash"])

    def assert_others_normal(self) -> None:
        """The three normal monitors of the cycle were checked as if nothing happened."""
        for monitor_id in NORMAL_IDS:
            row = self.row(monitor_id)
            if row["outcome"] == "not-modified":  # a second cycle: validators matched
                assert (row["status"], row["error"]) == (304, None), row
                continue
            assert (row["outcome"], row["status"], row["error"]) == ("new", 200, None), row
        if self.outcome("ok-page") == "not-modified":
            return
        assert "The normal page of this cycle." in self.content("ok-page").text
        entries = self.content("ok-feed").data["entries"]
        assert [e["title"] for e in entries] == ["First notice"]
        assert self.body("ok-pdf") == NORMAL_PDF


def make_config(monitors: list[dict[str, Any]], **defaults: Any) -> Any:
    # Small cycles parse on the event loop: a 10,000-entry feed holds it for seconds, and
    # on a loaded machine the normal monitors' deadlines would run out meanwhile.
    document = {
        "defaults": {"every": "1h", "timeout": "30s", **defaults},
        "organizations": [{"id": "hostile", "name": "Hostile sources", "monitors": monitors}],
    }
    return parse_config(json.dumps(document), "hostile-test.yaml")


async def run_with_others(
    store: Store, site: Site, monitors: list[dict[str, Any]], **defaults: Any
) -> Cycle:
    config = make_config([*monitors, *normal_monitors(site)], **defaults)
    store.sync_monitors(config.organizations)
    report = await within(
        run_cycle(config, store, select_monitors(config, store, run_all=True)),
        "a cycle next to a hostile server (did it wait for an answer that never ends?)",
        CYCLE_BOUND)
    cycle = Cycle(report, store)
    cycle.assert_others_normal()
    return cycle


def traced_peak_mb() -> float:
    return tracemalloc.get_traced_memory()[1] / MB


def assert_stored_nowhere(
    store: Store, secret: str, tables: tuple[str, ...] = ("contents", "checks", "changes")
) -> None:
    """``secret`` is in no stored body, nor in any row of ``tables``."""
    for (snapshot_hash,) in store.db.execute("SELECT hash FROM snapshots").fetchall():
        assert secret.encode() not in store.load_body(snapshot_hash)
    for table in tables:
        for row in store.db.query(f"SELECT * FROM {table}"):
            assert secret not in json.dumps(row, default=str)


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


# -- bodies: text -------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "body", "expected"), [
    # Declares UTF-8, sends Latin-1: the header wins (as in a browser); bad bytes show.
    ("text/html; charset=utf-8", "<p>Déclaration café</p>".encode("latin-1"),
     "D\ufffdclaration caf\ufffd"),
    # A charset name that does not exist: as if none was given.
    ("text/html; charset=x-no-such-charset", "<p>Déclaration café</p>".encode(),
     "Déclaration café"),
    # No charset anywhere: UTF-8 when it is UTF-8, else windows-1252.
    ("text/html", "<p>Déclaration café</p>".encode(), "Déclaration café"),
    ("text/html", "<p>Déclaration café</p>".encode("latin-1"), "Déclaration café"),
    ("", "<p>Déclaration café</p>".encode("cp1252"), "Déclaration café"),
])
async def test_wrong_or_missing_charset_is_a_snapshot(
    hostile: HostileServer, site: Site, store: Store, content_type: str, body: bytes,
    expected: str,
) -> None:
    url = hostile.route("/charset", respond(body, content_type=content_type or None))
    cycle = await run_with_others(store, site, [{"id": "charset", "kind": "page", "url": url}])

    assert cycle.outcome("charset") == "new"
    assert cycle.content("charset").text == expected
    assert cycle.body("charset") == body


@pytest.mark.parametrize(("body", "named"), [
    (b"\x89PNG\r\n\x1a\n" + os.urandom(4000), "a PNG image"),
    (b"GIF89a" + os.urandom(4000), "a GIF image"),
    (os.urandom(8000), "binary data"),
])
async def test_binary_served_as_html_is_refused_and_kept_as_evidence(
    hostile: HostileServer, site: Site, store: Store, body: bytes, named: str
) -> None:
    url = hostile.route("/binary", respond(body, content_type="text/html; charset=utf-8"))
    cycle = await run_with_others(store, site, [{"id": "binary", "kind": "page", "url": url}])

    assert cycle.error("binary") == (
        f"ExtractError: not HTML: the body is {named} (served as text/html; charset=utf-8)")
    assert cycle.body("binary") == body  # the raw answer is kept
    assert cycle.row("binary")["content_hash"] is None


async def test_empty_200_is_an_error(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    url = hostile.route("/empty", respond(b""))
    cycle = await run_with_others(store, site, [{"id": "empty", "kind": "page", "url": url}])

    assert cycle.error("empty") == "empty body: the server answered 200 with no content"
    assert (cycle.row("empty")["status"], cycle.row("empty")["bytes"]) == (200, 0)


@pytest.mark.parametrize("tag", ["div", "span", "table", "a href='/x'"])
async def test_100k_nested_tags_are_flattened_quickly(
    hostile: HostileServer, site: Site, store: Store, tag: str
) -> None:
    """100,000 nested <div> took 25 s in the HTML parser (its scope checks cost depth
    squared); tags deeper than 512 are now dropped, keeping their text."""
    name = tag.split()[0]
    body = (f"<html><body><p>Top</p>{f'<{tag}>' * 100_000}deep text"
            f"{f'</{name}>' * 100_000}<p>Bottom</p></body></html>").encode()
    url = hostile.route("/nested", respond(body))
    cycle = await run_with_others(store, site, [{"id": "nested", "kind": "page", "url": url}])

    assert cycle.outcome("nested") == "new"
    content = cycle.content("nested")
    assert content.text.splitlines()[0] == "Top" and "deep text" in content.text
    assert content.text.splitlines()[-1] == "Bottom"
    # The depth cap is what keeps the parser linear: every tag past it was dropped.
    assert content.data["flattened_tags"] == 2 * (100_000 - MAX_DEPTH)


# -- bodies: feeds ------------------------------------------------------------------


async def test_billion_laughs_feed_is_refused_before_parsing(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    url = hostile.route("/laughs.xml", respond(billion_laughs(),
                                               content_type="application/rss+xml"))
    tracemalloc.start()
    try:
        cycle = await run_with_others(store, site, [{"id": "laughs", "kind": "feed", "url": url}])
        peak = traced_peak_mb()
    finally:
        tracemalloc.stop()

    assert cycle.error("laughs") == (
        "ExtractError: feed refused: the document declares XML entity 'lol0'; govwatch "
        "never expands XML entities (they can grow without bound or read local files)")
    assert cycle.body("laughs") == billion_laughs()
    assert peak < 8, f"{peak:.1f} MB traced while refusing a billion laughs"


async def test_external_entity_is_never_resolved(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    feed = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
            b'<rss version="2.0"><channel><title>T</title><item><title>Leak: &x;</title>'
            b"<description>&x;</description><link>http://127.0.0.1/1</link></item>"
            b"</channel></rss>")
    url = hostile.route("/xxe.xml", respond(feed, content_type="application/rss+xml"))
    cycle = await run_with_others(store, site, [{"id": "xxe", "kind": "feed", "url": url}])

    assert cycle.error("xxe").startswith(
        "ExtractError: feed refused: the document declares XML entity 'x' from "
        "'file:///etc/passwd'")
    assert_stored_nowhere(store, passwd_line())


async def test_entity_text_inside_cdata_is_an_ordinary_feed(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>XML notes</title>'
            b"<item><title>About DTDs</title><link>http://127.0.0.1/dtd</link>"
            b'<description><![CDATA[Write <!ENTITY x "y"> in the DTD.]]></description>'
            b"</item></channel></rss>")
    url = hostile.route("/notes.xml", respond(feed, content_type="application/rss+xml"))
    cycle = await run_with_others(store, site, [{"id": "notes", "kind": "feed", "url": url}])

    assert cycle.outcome("notes") == "new"
    assert [e["title"] for e in cycle.content("notes").data["entries"]] == ["About DTDs"]


def big_feed(count: int, *, first: str = "") -> bytes:
    items = "".join(
        f"<item><title>Entry {n}</title><link>http://127.0.0.1/e/{n}</link>"
        f"<guid>http://127.0.0.1/e/{n}</guid><description>Summary {n}</description></item>"
        for n in range(count))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
            f"{first}{items}</channel></rss>").encode()


async def test_feed_with_10000_entries_is_handled_in_bounded_time(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    url = hostile.route("/big.xml", respond(big_feed(10_000),
                                            content_type="application/rss+xml"))
    cycle = await run_with_others(store, site, [{"id": "big", "kind": "feed", "url": url}])

    assert cycle.outcome("big") == "new"
    entries = cycle.content("big").data["entries"]
    # Bounded time is CYCLE_BOUND (run_with_others): a hang fails, a slow machine does not.
    assert len(entries) == 10_000 and entries[9_999]["title"] == "Entry 9999"

    newer = "<item><title>Brand new</title><link>http://127.0.0.1/new</link></item>"
    hostile.route("/big.xml", respond(big_feed(10_000, first=newer),
                                      content_type="application/rss+xml"))
    again = await run_with_others(store, site, [{"id": "big", "kind": "feed", "url": url}])

    assert again.outcome("big") == "changed"
    change = next(iter(store.db.query("SELECT * FROM changes WHERE monitor_id = 'big'")))
    detail = json.loads(change["detail"])
    assert [e["title"] for e in detail["entries_added"]] == ["Brand new"]
    assert detail["entries_removed"] == [] and detail["entries_updated"] == []


# -- bodies: PDFs -------------------------------------------------------------------


async def test_pdf_that_is_html_is_an_error(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    body = b"<html><body><h1>Document moved</h1></body></html>"
    url = hostile.route("/report.pdf", respond(body, content_type="text/html; charset=utf-8"))
    cycle = await run_with_others(store, site, [{"id": "report", "kind": "pdf", "url": url}])

    assert cycle.error("report") == (
        f"ExtractError: not a PDF: body has no %PDF- header (text/html, {len(body)} bytes)")
    assert cycle.body("report") == body


@pytest.mark.parametrize("body", [
    b"%PDF-1.7\n",
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pa",
    b"%PDF-1.4\n" + bytes(range(256)) * 40,
])
async def test_truncated_or_corrupt_pdf_is_a_snapshot_that_names_the_damage(
    hostile: HostileServer, site: Site, store: Store, body: bytes
) -> None:
    url = hostile.route("/broken.pdf", respond(body, content_type="application/pdf"))
    cycle = await run_with_others(store, site, [{"id": "broken", "kind": "pdf", "url": url}])

    assert cycle.outcome("broken") == "new"
    data = cycle.content("broken").data
    assert data["size"] == len(body) and data["pages"] is None
    assert data["text_error"].startswith("PdfStreamError")  # the damage, named
    assert cycle.body("broken") == body


# -- configuration ------------------------------------------------------------------

GOOD_CONFIG = """\
organizations:
  - id: unidir
    name: UNIDIR
    monitors:
      - id: pubs
        kind: page
        url: https://unidir.org/publications
"""

BAD_CONFIGS = {
    "invalid YAML": (GOOD_CONFIG + "      - id: [unclosed\n", 9, "invalid YAML: expected ','"),
    "a wrong type": (GOOD_CONFIG.replace("kind: page", "kind: page\n        enabled: maybe"),
                     7, "organizations[0].monitors[0].enabled: Input should be a valid "
                        "boolean, unable to interpret input (got 'maybe')"),
    "a tab": (GOOD_CONFIG.replace("        kind: page", "\tkind: page"), 6,
              "invalid YAML: found character '\\t' that cannot start any token (indent with "
              "spaces; YAML does not allow tabs there)"),
    "a duplicate key": (GOOD_CONFIG.replace("kind: page", "kind: page\n        kind: feed"), 7,
                        'invalid YAML: found duplicate key "kind" (a key may appear once per '
                        "mapping)"),
    "a control character": (GOOD_CONFIG.replace("UNIDIR", "UNI\x00DIR"), 3,
                            "invalid YAML: unacceptable character #x0000"),
    "an alias bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n"
        for n in range(8)) + GOOD_CONFIG, 5,
        "the config expands to more than 100000 values here (aliases repeating aliases?)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_line_is_named(case: str) -> None:
    text, line, message = BAD_CONFIGS[case]
    # The alias bomb would be 10^9 values: its message shows expansion stopped at the cap.
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "govwatch.yaml")
    assert str(caught.value).startswith(f"govwatch.yaml:{line}: {message}"), str(caught.value)


def test_config_nested_too_deeply_is_a_config_error_not_a_recursion_error() -> None:
    # ruamel's composer recurses per level: this raised RecursionError out of the loader.
    text = "a: " + "[" * 600 + "]" * 600 + "\n" + GOOD_CONFIG
    with pytest.raises(ConfigError, match=r"^govwatch.yaml: invalid YAML: nested too deeply$"):
        parse_config(text, "govwatch.yaml")


@pytest.mark.parametrize("case", ["a duplicate key", "a tab", "an alias bomb"])
@pytest.mark.parametrize("command", ["check-config", "run"])
def test_cli_exits_2_naming_the_file_and_line(tmp_path: Path, case: str, command: str) -> None:
    text, line, message = BAD_CONFIGS[case]
    config = tmp_path / "bad.yaml"
    config.write_text(text, encoding="utf-8")

    result = subprocess.run(
        [str(GOVWATCH), "--config", str(config), "--db", str(tmp_path / "g.db"), command],
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"config error: {config}:{line}: {message}")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "g.db").exists()  # nothing was started


# -- memory over a run of hostile sources ----------------------------------------------

PEAK_RSS_LIMIT_MB = 400
RUN_BOUND = 100.0  # seconds; the run takes about 15 on two idle cores


def hostile_mix(server: HostileServer) -> list[dict[str, Any]]:
    """Monitors over every kind of bad answer above, several of each."""
    nested = b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000
    cases: dict[str, tuple[str, Any, dict[str, Any], int]] = {
        "drip": ("page", drip(b"<p>" + b"x" * 50), {"timeout": "2s"}, 5),
        "chunked": ("page", chunked([b"<p>one", b"two"], finish=False), {}, 30),
        "short": ("page", respond(b"<p>short</p>", content_length=1000), {}, 30),
        "long": ("page", respond(b"<p>longer than declared</p>", content_length=5), {}, 30),
        "garbage": ("page", raw(b"HTTX/9 banana\r\n\r\n"), {}, 30),
        "hangup": ("page", raw(b""), {}, 15),
        "big-ok": ("page", streamed(20 * MB), {"max_bytes": "25MB"}, 3),
        "big-over": ("page", streamed(20 * MB, declare_length=False), {"max_bytes": "5MB"}, 10),
        "gzip-bomb": ("page", endless_bomb("gzip"), {}, 10),
        "zstd-bomb": ("page", endless_bomb("zstd"), {}, 10),
        "laughs": ("feed", respond(billion_laughs(), content_type="application/rss+xml"), {}, 20),
        "to-file": ("page", redirect("file:///etc/passwd"), {}, 15),
        "loop": ("page", redirect("/loop"), {}, 5),
        "charset": ("page", respond("<p>café</p>".encode("latin-1"),
                                    content_type="text/html; charset=utf-8"), {}, 20),
        "binary": ("page", respond(os.urandom(5000), content_type="text/html"), {}, 15),
        "empty": ("page", respond(b""), {}, 15),
        "nested": ("page", respond(nested), {}, 3),
        "big-feed": ("feed", respond(big_feed(10_000), content_type="application/rss+xml"),
                     {}, 1),
        "not-pdf": ("pdf", respond(b"<html>moved</html>", content_type="text/html"), {}, 15),
        "cut-pdf": ("pdf", respond(b"%PDF-1.7\n", content_type="application/pdf"), {}, 15),
    }
    monitors: list[dict[str, Any]] = []
    for name, (kind, behaviour, options, count) in cases.items():
        server.route(f"/{name}", behaviour)
        monitors.extend({"id": f"{name}-{n}", "kind": kind, **options,
                         "url": server.url(f"/{name}?n={n}")} for n in range(count))
    return monitors


def session_memory_kb(session: int) -> int:
    """Sum of PSS (RSS where smaps_rollup is missing) of every process in a session.

    PSS splits a page shared by n processes into n parts: summing RSS would count the
    parser libraries the workers share with their fork server once per process.
    """
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[3]) != session:
                continue
            rollup = Path(entry.path, "smaps_rollup")
            text = rollup.read_text() if rollup.exists() else Path(entry.path, "status").read_text()
        except (OSError, ValueError, IndexError):
            continue
        for line in text.splitlines():
            if line.startswith(("Pss:", "VmRSS:")):
                total += int(line.split()[1])
                break
    return total


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_peak_memory_of_a_run_over_hundreds_of_hostile_sources(
    hostile: HostileServer, tmp_path: Path
) -> None:
    monitors = hostile_mix(hostile)
    config = tmp_path / "hostile.yaml"
    config.write_text(json.dumps({
        "defaults": {"every": "1h", "timeout": "10s", "per_host": 64},
        "organizations": [{"id": "hostile", "name": "Hostile", "monitors": monitors}],
    }), encoding="utf-8")
    database = tmp_path / "hostile.db"
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    started = time.perf_counter()
    # Output to files: a pipe nobody reads while the loop samples memory could fill up.
    with out.open("wb") as stdout_file, err.open("wb") as stderr_file:
        run = subprocess.Popen(
            [str(GOVWATCH), "--config", str(config), "--db", str(database), "run", "--all"],
            stdout=stdout_file, stderr=stderr_file, start_new_session=True)
    peak_mb = 0.0
    try:
        while run.poll() is None:
            # A bound below pytest's own timeout, so a hang fails here, saying so.
            assert time.perf_counter() - started < RUN_BOUND, \
                f"the run did not finish within {RUN_BOUND:g} s"
            # The whole run: govwatch, its worker fork server and the parsing workers.
            peak_mb = max(peak_mb, session_memory_kb(run.pid) / 1024)
            time.sleep(0.05)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, 9)
            run.wait()
    seconds = time.perf_counter() - started
    stdout, stderr = out.read_text("utf-8"), err.read_text("utf-8")
    returncode, summary = str(run.returncode), stdout.splitlines()[0]
    print(f"\npeak memory (sum of PSS over its processes) of `govwatch run --all` over "
          f"{len(monitors)} hostile sources: {peak_mb:.0f} MB in {seconds:.1f} s")

    assert returncode == "0", stderr
    assert summary.startswith(f"checked {len(monitors)}: ")
    with Store(database) as store:
        outcomes = dict(store.db.execute(
            "SELECT outcome, count(*) FROM checks WHERE outcome != 'confirm' "
            "GROUP BY outcome").fetchall())
        assert sum(outcomes.values()) == len(monitors)
        # big-ok, charset, nested, big-feed and cut-pdf are snapshots; the rest errors.
        assert outcomes["new"] == 3 + 20 + 3 + 1 + 15, outcomes
    assert peak_mb < PEAK_RSS_LIMIT_MB, f"peak memory {peak_mb:.0f} MB"
