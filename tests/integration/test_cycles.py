"""Whole monitoring cycles against a real local HTTP server and a real SQLite file.

Nothing of govwatch is mocked: ``run_cycle`` fetches from the ``site`` fixture's server
through the product's own httpx/aiohttp client, and every assertion reads back what the
store recorded (checks, snapshots, contents, changes). The same cycles through the
command line are in test_cli_cycles.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from storage.db import Store
from tests.integration.cycle_support import (
    FEED_V1,
    FEED_V2,
    PAGE_V1,
    PAGE_V2,
    PDF,
    by_id,
    check_row,
    count,
    cycle,
    make_config,
    monitor_row,
    outcomes,
    page_html,
    rss,
    standard_site,
)

pytestmark = pytest.mark.integration

# -- 1. baselines -------------------------------------------------------------------


async def test_first_cycle_stores_baselines_as_new(site: Any, store: Store) -> None:
    config = make_config(standard_site(site))
    served = {
        "pubs": page_html(PAGE_V1).encode(),
        "news": rss(site.base_url, FEED_V1).encode(),
        "report": PDF,
    }

    clock = time.perf_counter()
    report = await cycle(config, store)
    cycle_ms = (time.perf_counter() - clock) * 1000

    assert outcomes(report) == {"pubs": "new", "news": "new", "report": "new"}
    assert report.changes == [] and count(store, "SELECT count(*) FROM changes") == 0
    assert count(store, "SELECT count(*) FROM snapshots") == 3
    for monitor_id, body in served.items():
        check = by_id(report)[monitor_id]
        row = check_row(store, check.check_id)
        assert row["monitor_id"] == monitor_id
        assert row["status"] == 200
        assert row["final_url"] == check.url
        assert row["bytes"] == len(body)
        # Milliseconds of this fetch: within the cycle that made it (not micro-, not nano-).
        assert isinstance(row["duration_ms"], int) and 0 <= row["duration_ms"] <= cycle_ms
        assert json.loads(row["redirects"]) == []
        headers = json.loads(row["headers"])
        assert headers["etag"] and headers["last-modified"]
        assert headers["content-type"].startswith(
            {"pubs": "text/html", "news": "application/rss+xml", "report": "application/pdf"}[
                monitor_id]
        )
        assert row["error"] is None
        # The raw body is kept byte for byte, addressed by its hash.
        assert store.load_body(row["snapshot_hash"]) == body
        state = monitor_row(store, monitor_id)
        assert state["last_outcome"] == "new"
        assert state["etag"] == headers["etag"]
        assert state["last_snapshot_hash"] == row["snapshot_hash"]
        assert state["consecutive_failures"] == 0
        assert state["next_due_at"] > state["last_check_at"]

    # select/exclude: only the main region, without the ad, scripts, nav or footer.
    page = store.load_content(check_row(store, by_id(report)["pubs"].check_id)["content_hash"])
    assert "Guidance A" in page.text and "Publications" in page.text
    for noise in ("Visitor counter", "Menu", "Generated at", "tracking"):
        assert noise not in page.text
    assert page.data["links"] == [[site.url("/docs/a.html"), "Guidance A"]]
    feed = store.load_content(check_row(store, by_id(report)["news"].check_id)["content_hash"])
    assert [(e["title"], e["link"]) for e in feed.data["entries"]] == [
        ("First notice", site.url("/news/1"))
    ]


@pytest.mark.parametrize(("validators", "copy_asks", "copy_status"), [
    pytest.param("both", None, None, id="strong ETag: not copied"),
    pytest.param("etag", None, None, id="strong ETag alone: not copied"),
    pytest.param("weak-etag", "if-none-match", 304, id="weak ETag: copied, asked with it"),
    pytest.param("last-modified", "if-modified-since", 304, id="a date: copied, asked with it"),
    pytest.param("none", "", 200, id="no validator: copied whole"),
])
async def test_a_first_check_is_copied_unless_a_strong_etag_vouches_for_its_bytes(
        site: Any, store: Store, validators: str, copy_asks: str | None,
        copy_status: int | None) -> None:
    site.set("/page.html", page_html(PAGE_V1), validators=validators)
    await cycle(make_config([{"id": "pubs", "kind": "page", "url": site.url("/page.html")}]),
                store)
    requests = site.requests("/page.html")
    copies = store.db.execute(
        "SELECT status FROM checks WHERE monitor_id = 'pubs' AND outcome = 'confirm'"
    ).fetchall()
    if copy_asks is None:
        assert len(requests) == 1 and copies == []
        return
    assert len(requests) == 2 and copies == [(copy_status,)]
    asked = {"if-none-match", "if-modified-since"} & requests[1].keys()
    assert asked == ({copy_asks} if copy_asks else set())


# -- 2. changes ---------------------------------------------------------------------


async def test_second_cycle_reports_page_and_feed_changes(site: Any, store: Store) -> None:
    config = make_config(standard_site(site))
    first = by_id(await cycle(config, store))
    pdf_etag = monitor_row(store, "report")["etag"]

    # A new list item with a link; the excluded counter and the nav change too (noise).
    site.set("/publications.html", page_html(PAGE_V2, counter=2, menu="Start"))
    site.set("/news.xml", rss(site.base_url, FEED_V2), content_type="application/rss+xml")
    report = await cycle(config, store)

    result = outcomes(report)
    assert result["pubs"] == "changed" and result["news"] == "changed"
    assert result["report"] in ("not-modified", "unchanged")
    assert sorted(c.monitor_id for c in report.changes) == ["news", "pubs"]
    assert count(store, "SELECT count(*) FROM changes") == 2

    changes = {r["monitor_id"]: r for r in store.db.query("SELECT * FROM changes")}
    page_change = changes["pubs"]
    diff_lines = page_change["diff"].splitlines()
    assert "+Guidance B" in diff_lines
    assert not any(line.startswith("-") and "Guidance A" in line for line in diff_lines)
    assert "counter" not in page_change["diff"] and "Start" not in page_change["diff"]
    assert page_change["check_id"] == by_id(report)["pubs"].check_id
    assert page_change["from_snapshot"] == check_row(store, first["pubs"].check_id)[
        "snapshot_hash"]
    assert page_change["to_snapshot"] == check_row(store, by_id(report)["pubs"].check_id)[
        "snapshot_hash"]
    new_page = store.load_content(page_change["to_content"])
    assert [site.url("/docs/b.html"), "Guidance B"] in new_page.data["links"]

    feed_change = changes["news"]
    detail = json.loads(feed_change["detail"])
    assert [(e["title"], e["link"]) for e in detail["entries_added"]] == [
        ("Second notice", site.url("/news/2"))
    ]
    assert detail["entries_removed"] == []
    assert "Second notice" in feed_change["summary"]
    assert "Second notice" in by_id(report)["news"].summary

    # The PDF was asked for conditionally and answered 304. Its first check was not
    # copied: its strong ETag says the bytes stay the same until the tag changes.
    pdf_requests = site.requests("/report.pdf")
    assert len(pdf_requests) == 2
    assert "if-none-match" not in pdf_requests[0]
    assert pdf_requests[1].get("if-none-match") == pdf_etag
    assert count(store, "SELECT count(*) FROM checks WHERE monitor_id = 'report' "
                        "AND outcome = 'confirm'") == 0
    pdf_check = check_row(store, by_id(report)["report"].check_id)
    assert pdf_check["status"] == 304 and result["report"] == "not-modified"
    assert pdf_check["bytes"] == 0
    assert pdf_check["snapshot_hash"] == check_row(store, first["report"].check_id)[
        "snapshot_hash"]
    assert count(store, "SELECT count(*) FROM snapshots") == 5


async def test_changes_only_in_excluded_regions_are_unchanged(site: Any, store: Store) -> None:
    config = make_config(standard_site(site))
    await cycle(config, store)
    # New bytes (so a 200, not a 304), but only outside `select` or inside `exclude`.
    site.set("/publications.html", page_html(PAGE_V1, counter=7, menu="Start"))
    report = await cycle(config, store)

    check = check_row(store, by_id(report)["pubs"].check_id)
    assert check["status"] == 200
    assert outcomes(report)["pubs"] == "unchanged"
    assert count(store, "SELECT count(*) FROM changes") == 0
    # The new raw body is still kept as evidence.
    assert store.load_body(check["snapshot_hash"]) == page_html(
        PAGE_V1, counter=7, menu="Start").encode()


# -- 3. conditional GET -------------------------------------------------------------


async def test_unchanged_sources_are_not_modified_and_snapshots_shared(
    site: Any, store: Store
) -> None:
    monitors = standard_site(site)
    # Validators of different kinds: the feed only has an ETag, the PDF only Last-Modified.
    site.set("/news.xml", rss(site.base_url, FEED_V1), content_type="application/rss+xml",
             validators="etag")
    site.set("/report.pdf", PDF, content_type="application/pdf", validators="last-modified")
    site.set("/plain.html", page_html(PAGE_V1), validators="none")
    monitors.append({"id": "plain", "kind": "page", "url": site.url("/plain.html")})
    config = make_config(monitors)

    await cycle(config, store)
    site.set("/publications.html", page_html(PAGE_V2))
    site.set("/news.xml", rss(site.base_url, FEED_V2), content_type="application/rss+xml",
             validators="etag")
    second = await cycle(config, store)
    assert outcomes(second) == {
        "pubs": "changed", "news": "changed", "report": "not-modified", "plain": "unchanged"
    }
    snapshots_before = count(store, "SELECT count(*) FROM snapshots")

    third = await cycle(config, store)

    assert outcomes(third) == {
        "pubs": "not-modified", "news": "not-modified", "report": "not-modified",
        "plain": "unchanged",
    }
    assert third.changes == []
    # The validators the client sent in cycle 3 are the ones of cycle 2's bodies.
    assert site.requests("/news.xml")[-1]["if-none-match"] == monitor_row(store, "news")["etag"]
    assert "if-modified-since" not in site.requests("/news.xml")[-1]
    pdf_request = site.requests("/report.pdf")[-1]
    assert pdf_request["if-modified-since"] == monitor_row(store, "report")["last_modified"]
    assert "if-none-match" not in pdf_request
    page_request = site.requests("/publications.html")[-1]
    assert page_request["if-none-match"] == monitor_row(store, "pubs")["etag"]
    for name in ("pubs", "news", "report"):
        row = check_row(store, by_id(third)[name].check_id)
        assert row["status"] == 304 and row["bytes"] == 0 and row["error"] is None
        assert row["snapshot_hash"] == check_row(store, by_id(second)[name].check_id)[
            "snapshot_hash"]
        assert row["snapshot_hash"] == monitor_row(store, name)["last_snapshot_hash"]

    # Without validators the server answers 200 with the same bytes every time.
    plain_requests = site.requests("/plain.html")
    assert len(plain_requests) == 4, "three checks and the copy of the first"
    assert all("if-none-match" not in r and "if-modified-since" not in r
               for r in plain_requests)
    plain_checks = list(store.db.query(
        "SELECT status, bytes, snapshot_hash, outcome FROM checks WHERE monitor_id = 'plain' "
        "AND outcome != 'confirm' ORDER BY id"))
    assert [c["outcome"] for c in plain_checks] == ["new", "unchanged", "unchanged"]
    assert {c["status"] for c in plain_checks} == {200}
    assert all(c["bytes"] == len(page_html(PAGE_V1).encode()) for c in plain_checks)
    hashes = {c["snapshot_hash"] for c in plain_checks}
    assert len(hashes) == 1 and None not in hashes
    assert count(store, "SELECT count(*) FROM snapshots WHERE hash = ?", [hashes.pop()]) == 1
    # Content-addressed: cycle 3 added no snapshot rows at all.
    assert count(store, "SELECT count(*) FROM snapshots") == snapshots_before
