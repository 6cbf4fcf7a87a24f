"""What goes wrong in a cycle, on a real local server: unreachable and failing sources
are error checks while the rest completes, redirects (chains, loops, to a file URL),
malformed and truncated answers. Every assertion reads back what the store recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from core.errors import FailureKind
from storage.db import Store
from storage.queries import monitor_status
from tests.integration.conftest import Site, within
from tests.integration.cycle_support import (
    PAGE_V1,
    PDF,
    by_id,
    check_row,
    count,
    cycle,
    make_config,
    monitor_row,
    outcomes,
    page_html,
    standard_site,
)

pytestmark = pytest.mark.integration

# -- failures --------------------------------------------------------------------


async def test_failures_are_error_checks_and_the_rest_completes(
    site: Any, store: Store, refused_url: str
) -> None:
    monitors = standard_site(site)
    site.fail("/broken.html", 500)
    slow = site.hold("/slow.html")  # never answers while the test runs
    site.set("/not-a-feed.xml", page_html(PAGE_V1))  # HTML where a feed is expected
    monitors += [
        {"id": "broken", "kind": "page", "url": site.url("/broken.html")},
        {"id": "slow", "kind": "page", "url": site.url("/slow.html"), "timeout": "1s"},
        {"id": "refused", "kind": "page", "url": refused_url},
        {"id": "bad-feed", "kind": "feed", "url": site.url("/not-a-feed.xml")},
    ]
    config = make_config(monitors)
    failing = ("broken", "slow", "refused", "bad-feed")

    first = await within(cycle(config, store), "the first cycle, past a server that never "
                         "answers (the slow monitor's 1s timeout must end its wait)")

    # The client hung up on the slow server; the server never answered.
    slow.wait(lambda held: held.abandoned == 1, "the slow server sees the client give up")
    assert (slow.arrived, slow.answered) == (1, 0)
    result = outcomes(first)
    assert {m: result[m] for m in ("pubs", "news", "report")} == dict.fromkeys(
        ("pubs", "news", "report"), "new")
    assert {m: result[m] for m in failing} == dict.fromkeys(failing, "error")
    errors = {c.monitor_id: c.error or "" for c in first.checks}
    rows = {c.monitor_id: check_row(store, c.check_id) for c in first.checks}
    for name in failing:
        assert rows[name]["outcome"] == "error" and rows[name]["error"] == errors[name]

    assert FailureKind.of(errors["broken"]) is FailureKind.HTTP_STATUS_FAILED
    assert "500" in errors["broken"]
    assert rows["broken"]["status"] == 500
    assert FailureKind.of(errors["slow"]) is FailureKind.FETCH_TIMEOUT and "1s" in errors["slow"]
    assert rows["slow"]["duration_ms"] >= 900  # it did wait for its timeout
    assert FailureKind.of(errors["refused"]) is FailureKind.CONNECT_FAILED, errors["refused"]
    assert rows["refused"]["status"] is None and rows["refused"]["bytes"] == 0
    assert FailureKind.of(errors["bad-feed"]) is FailureKind.EXTRACT_ERROR
    assert "invalid feed" in errors["bad-feed"]
    assert rows["bad-feed"]["status"] == 200
    # The body that failed extraction is kept as evidence, but no content is recorded.
    assert store.load_body(rows["bad-feed"]["snapshot_hash"]) == page_html(PAGE_V1).encode()
    assert rows["bad-feed"]["content_hash"] is None
    # The server's error page is evidence too: stored, never a baseline.
    assert store.load_body(rows["broken"]["snapshot_hash"]) == b"<h1>500</h1>"
    assert rows["slow"]["snapshot_hash"] is None and rows["refused"]["snapshot_hash"] is None
    for name in failing:
        assert rows[name]["content_hash"] is None
        state = monitor_row(store, name)
        assert state["consecutive_failures"] == 1 and state["last_outcome"] == "error"
        assert state["last_snapshot_hash"] is None and state["etag"] is None

    second = await within(cycle(config, store), "the second cycle")

    result = outcomes(second)
    assert {m: result[m] for m in failing} == dict.fromkeys(failing, "error")
    assert {m: result[m] for m in ("pubs", "news", "report")} == dict.fromkeys(
        ("pubs", "news", "report"), "not-modified")
    status = {row["monitor"]: row for row in monitor_status(store)}
    for name in failing:
        assert status[name]["consecutive_failures"] == 2
        assert status[name]["last_outcome"] == "error"
    for name in ("pubs", "news", "report"):
        assert status[name]["consecutive_failures"] == 0
    assert count(store, "SELECT count(*) FROM checks WHERE outcome = 'error'") == 8

    # Recovery resets the counter; the first good body becomes the baseline.
    site.set("/broken.html", page_html(PAGE_V1))
    third = await within(cycle(config, store), "the third cycle")
    assert outcomes(third)["broken"] == "new"
    assert monitor_row(store, "broken")["consecutive_failures"] == 0
    assert monitor_row(store, "slow")["consecutive_failures"] == 3
    slow.wait(lambda held: held.abandoned == 3, "the client gives up on the slow server "
              "once per cycle")
    assert (slow.arrived, slow.answered) == (3, 0)


# -- redirects -------------------------------------------------------------------


async def test_redirect_chain_is_followed_and_recorded(site: Any, store: Store) -> None:
    site.redirect("/old.html", site.url("/moved.html"), 301)
    site.redirect("/moved.html", "/new/final.html", 302)  # relative Location
    site.set("/new/final.html", '<html><body><p>Moved here</p><a href="doc.html">Doc</a>'
             "</body></html>", validators="weak-etag")
    config = make_config([{"id": "moved", "kind": "page", "url": site.url("/old.html")}])

    report = await cycle(config, store)

    assert outcomes(report) == {"moved": "new"}
    row = check_row(store, report.checks[0].check_id)
    assert row["url"] == site.url("/old.html")
    assert row["final_url"] == site.url("/new/final.html")
    assert row["status"] == 200
    assert json.loads(row["redirects"]) == [
        {"status": 301, "url": site.url("/old.html")},
        {"status": 302, "url": site.url("/moved.html")},
    ]
    # The check and the copy of a first check (a weak ETag) each follow the chain.
    assert [site.hits(p) for p in ("/old.html", "/moved.html", "/new/final.html")] == [2, 2, 2]
    content = store.load_content(row["content_hash"])
    assert content.text == "Moved here\nDoc"
    # Relative links resolve against the final URL, not the configured one.
    assert content.data["links"] == [[site.url("/new/doc.html"), "Doc"]]

    # Next cycle: the validators of the final document travel along the chain -> 304.
    again = await cycle(config, store)
    assert outcomes(again) == {"moved": "not-modified"}
    row = check_row(store, again.checks[0].check_id)
    assert site.requests("/new/final.html")[-1]["if-none-match"] == json.loads(
        check_row(store, report.checks[0].check_id)["headers"])["etag"]
    assert row["status"] == 304 and row["final_url"] == site.url("/new/final.html")
    assert [r["status"] for r in json.loads(row["redirects"])] == [301, 302]


async def test_redirect_loop_is_an_error(site: Any, store: Store) -> None:
    site.redirect("/loop.html", "/loop.html", 302)
    config = make_config([{"id": "loop", "kind": "page", "url": site.url("/loop.html")}])

    report = await cycle(config, store)

    assert outcomes(report) == {"loop": "error"}
    assert FailureKind.of(report.checks[0].error) is FailureKind.TOO_MANY_REDIRECTS
    assert 1 < site.hits("/loop.html") <= config.defaults.max_redirects + 1


async def test_redirect_to_file_url_is_refused(site: Any, store: Store) -> None:
    site.redirect("/trap.html", "file:///etc/passwd", 302)
    site.set("/fine.html", page_html(PAGE_V1))
    config = make_config([
        {"id": "trap", "kind": "page", "url": site.url("/trap.html")},
        {"id": "fine", "kind": "page", "url": site.url("/fine.html")},
    ])

    report = await cycle(config, store)

    assert outcomes(report) == {"trap": "error", "fine": "new"}
    trap = by_id(report)["trap"]
    assert FailureKind.of(trap.error) is FailureKind.UNSUPPORTED_URL
    assert "file://" in (trap.error or "")
    assert "non-http" in (trap.error or "")
    row = check_row(store, trap.check_id)
    assert row["bytes"] == 0 and row["snapshot_hash"] is None and row["content_hash"] is None
    assert site.hits("/trap.html") == 1
    # Nothing from the local disk reached the store.
    bodies = [store.load_body(h) for (h,) in store.db.execute("SELECT hash FROM snapshots")]
    assert bodies == [page_html(PAGE_V1).encode()]
    assert not any(b"root:" in body for body in bodies)
    texts = [store.load_content(h).text for (h,) in store.db.execute("SELECT hash FROM contents")]
    assert texts and not any("root:" in text for text in texts)


# -- bugs found while writing these tests (see the report) ------------------------


async def test_changing_a_monitor_url_does_not_reuse_old_validators(
    site: Any, store: Store
) -> None:
    """Validators belong to the URL they came from.

    After a monitor's ``url`` is edited in the config, the first check of the new URL must
    fetch the new document. The store keeps the old URL's ``Last-Modified`` and the fetch
    layer sends it to the new URL; a server whose document there is older answers 304, and
    the monitor is recorded ``not-modified`` with the *old* URL's snapshot.
    """
    old_pdf, new_pdf = PDF + b"%old edition\n", PDF + b"%relocated edition\n"
    site.set("/archive/report.pdf", new_pdf, content_type="application/pdf",
             validators="last-modified")  # edited first: the older Last-Modified
    site.set("/report.pdf", old_pdf, content_type="application/pdf",
             validators="last-modified")
    await cycle(make_config([{"id": "doc", "kind": "pdf", "url": site.url("/report.pdf")}]),
                store)

    moved = make_config([{"id": "doc", "kind": "pdf", "url": site.url("/archive/report.pdf")}])
    report = await cycle(moved, store)

    row = check_row(store, report.checks[0].check_id)
    assert (row["outcome"], row["status"]) in (("new", 200), ("changed", 200)), row
    assert store.load_body(row["snapshot_hash"]) == new_pdf
    assert site.requests("/archive/report.pdf")[0].get("if-modified-since") is None


async def test_malformed_http_response_is_an_error_check_not_a_crash(
    site: Any, store: Store
) -> None:
    """A server that does not speak HTTP is a bad source: one error check, the rest runs."""

    async def not_http(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.write(b"HELLO THERE\r\n\r\n")
        request.transport.close()
        return web.Response()

    monitors = standard_site(site)
    site.route("/not-http", not_http)
    monitors.append({"id": "garbled", "kind": "page", "url": site.url("/not-http")})
    config = make_config(monitors)

    report = await cycle(config, store)

    assert outcomes(report) == {"pubs": "new", "news": "new", "report": "new",
                                "garbled": "error"}
    error = by_id(report)["garbled"].error or ""
    assert FailureKind.of(error) is FailureKind.PROTOCOL_FAILED, error
    assert "status line" in error.lower(), error
    assert count(store, "SELECT count(*) FROM checks WHERE outcome != 'confirm'") == 4


async def test_truncated_body_is_a_protocol_error_not_a_connect_failure(
    site: Any, store: Store
) -> None:
    """core/errors.py: ConnectFailed = host not reachable; ProtocolFailed = truncated body."""

    async def truncated(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/html", "Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b"<p>only the first bytes</p>")
        assert request.transport is not None
        request.transport.close()
        return response

    site.route("/truncated.html", truncated)
    config = make_config([{"id": "cut", "kind": "page", "url": site.url("/truncated.html")}])

    report = await cycle(config, store)

    assert outcomes(report) == {"cut": "error"}
    error = report.checks[0].error or ""
    assert FailureKind.of(error) is FailureKind.PROTOCOL_FAILED, error
    assert "ConnectFailed" not in error


async def test_304s_are_not_read_and_their_connection_is_reused(site: Site) -> None:
    """A 304 has no content, so its (empty) stream is not read; the connection must still
    go back to the pool: with one connection allowed, every request comes on the same one."""
    from monitors import MonitorConfig, build_monitor
    from pipeline.fetch.client import Fetcher, FetchSettings, build_client
    from storage.records import MonitorState

    peers: list[object] = []

    async def not_modified(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        return web.Response(status=304, headers={"ETag": '"v1"'})

    site.route("/same.html", not_modified)
    settings = FetchSettings(concurrency=1, per_host=1)
    monitor = build_monitor(MonitorConfig(id="m", kind="page", url=site.url("/same.html")), "o")
    state = MonitorState("m", '"v1"', None, "a" * 64, "b" * 64, None, None, 0)
    async with build_client(settings) as client:
        fetcher = Fetcher(client, settings)
        results = [await fetcher.fetch(monitor, state) for _ in range(5)]
    assert [(r.status, r.error, r.bytes_received) for r in results] == [(304, None, 0)] * 5
    assert len(peers) == 5 and len(set(peers)) == 1
