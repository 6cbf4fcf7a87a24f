"""Hostile bodies (text, feeds, PDFs): whatever a source sends, it ends as a recorded
error or a handled snapshot, with a message that names the cause, and the other monitors
of the cycle complete normally. See test_hostile.py for how a case runs."""

from __future__ import annotations

import json
import os
import tracemalloc

import pytest

from monitors.bounds import MAX_DEPTH
from storage.db import Store
from tests.integration.conftest import Site
from tests.integration.hostile_server import (
    HostileServer,
    respond,
)
from tests.integration.hostile_support import (
    assert_stored_nowhere,
    big_feed,
    billion_laughs,
    passwd_line,
    run_with_others,
    traced_peak_mb,
)

pytestmark = pytest.mark.integration


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
