"""Whole monitoring cycles against a real local HTTP server and a real SQLite file.

Nothing of govwatch is mocked: ``run_cycle`` fetches from the ``site`` fixture's server
through the product's own httpx/aiohttp client, and every assertion reads back what the
store recorded (checks, snapshots, contents, changes) or what the CLI printed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from core.errors import FailureKind
from pipeline.cycle import CycleReport
from storage.db import Store
from storage.queries import monitor_status
from tests.integration.conftest import Site, within
from tests.integration.cycle_support import cycle, make_config

pytestmark = pytest.mark.integration

GOVWATCH = Path(sys.executable).parent / "govwatch"

# -- content the site serves --------------------------------------------------------


def page_html(items: list[tuple[str, str]], *, counter: int = 1, menu: str = "Home") -> str:
    """A page whose ``main#content`` holds the list; nav, ad and footer are noise."""
    lis = "\n".join(f'      <li><a href="{href}">{title}</a></li>' for href, title in items)
    return f"""<!doctype html>
<html><head><title>Ministry publications</title>
<script>var tracking = "{counter}";</script></head>
<body>
  <nav>Menu {menu} About</nav>
  <main id="content">
    <h1>Publications</h1>
    <div class="ad">Visitor counter: {counter}</div>
    <ul class="items">
{lis}
    </ul>
  </main>
  <footer>Generated at 12:{counter:02d}</footer>
</body></html>
"""


def rss(base: str, items: list[tuple[str, str]]) -> str:
    entries = "\n".join(
        f"<item><title>{title}</title><link>{base}{path}</link><guid>{base}{path}</guid>"
        f"<pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>"
        for title, path in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Ministry news</title><link>{base}/</link><description>News</description>
{entries}
</channel></rss>
"""


PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)
PAGE_V1 = [("/docs/a.html", "Guidance A")]
PAGE_V2 = [("/docs/a.html", "Guidance A"), ("/docs/b.html", "Guidance B")]
FEED_V1 = [("First notice", "/news/1")]
FEED_V2 = [("Second notice", "/news/2"), ("First notice", "/news/1")]

# -- helpers ------------------------------------------------------------------------


def outcomes(report: CycleReport) -> dict[str, str]:
    return {check.monitor_id: check.outcome for check in report.checks}


def by_id(report: CycleReport) -> dict[str, Any]:
    return {check.monitor_id: check for check in report.checks}


def check_row(store: Store, check_id: int) -> dict[str, Any]:
    rows = list(store.db.query("SELECT * FROM checks WHERE id = ?", [check_id]))
    assert len(rows) == 1, f"check #{check_id} not stored"
    return rows[0]


def monitor_row(store: Store, monitor_id: str) -> dict[str, Any]:
    return next(iter(store.db.query("SELECT * FROM monitors WHERE id = ?", [monitor_id])))


def count(store: Store, sql: str, params: list[Any] | None = None) -> int:
    return int(store.db.execute(sql, params or []).fetchone()[0])


def standard_site(site: Any) -> list[dict[str, Any]]:
    """Serve version 1 of a page, an RSS feed and a PDF; return their monitors."""
    site.set("/publications.html", page_html(PAGE_V1))
    site.set("/news.xml", rss(site.base_url, FEED_V1), content_type="application/rss+xml")
    site.set("/report.pdf", PDF, content_type="application/pdf")
    return [
        {"id": "pubs", "kind": "page", "url": site.url("/publications.html"),
         "select": "main#content", "exclude": [".ad"]},
        {"id": "news", "kind": "feed", "url": site.url("/news.xml")},
        {"id": "report", "kind": "pdf", "url": site.url("/report.pdf")},
    ]


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

    # The PDF was asked for conditionally and answered 304, after its first check and the
    # copy of it, which asks with the first check's validators (nothing is announced from
    # a first check, so the server's word that nothing changed is enough).
    pdf_requests = site.requests("/report.pdf")
    assert len(pdf_requests) == 3
    assert "if-none-match" not in pdf_requests[0]
    assert pdf_requests[1].get("if-none-match") == pdf_etag
    assert pdf_requests[2].get("if-none-match") == pdf_etag
    copy_row = store.db.execute(
        "SELECT status, note FROM checks WHERE monitor_id = 'report' AND outcome = 'confirm'"
    ).fetchone()
    assert copy_row == (304, "second copy: not modified, the server says")
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


# -- 4. failures --------------------------------------------------------------------


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


# -- 5. redirects -------------------------------------------------------------------


async def test_redirect_chain_is_followed_and_recorded(site: Any, store: Store) -> None:
    site.redirect("/old.html", site.url("/moved.html"), 301)
    site.redirect("/moved.html", "/new/final.html", 302)  # relative Location
    site.set("/new/final.html", '<html><body><p>Moved here</p><a href="doc.html">Doc</a>'
             "</body></html>")
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
    # The check and the copy of a first check each follow the chain.
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


# -- 6. the CLI end to end ----------------------------------------------------------


def govwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GOVWATCH_CONFIG"}
    return subprocess.run(
        [str(GOVWATCH), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=30, check=False,
    )


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


SUMMARY = re.compile(
    r"^checked (\d+): new (\d+), changed (\d+), unchanged (\d+), not-modified (\d+), "
    r"blocked 0, errors (\d+)$", re.MULTILINE,
)


def summary(stdout: str) -> tuple[int, ...]:
    match = SUMMARY.search(stdout)
    assert match, f"no summary line in {stdout!r}"
    return tuple(int(n) for n in match.groups())


def assert_iso_utc(value: str) -> None:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0), value


def test_cli_run_status_history_show(site: Any, tmp_path: Path) -> None:
    standard_site(site)
    db = tmp_path / "cli.db"
    cfg = write_config(tmp_path / "govwatch.yaml", f"""\
database: {db}
defaults:
  every: 1h
  timeout: 5s
organizations:
  - id: ministry
    name: Ministry of Digital Affairs
    monitors:
      - id: pubs
        kind: page
        url: {site.url("/publications.html")}
        select: main#content
        exclude: .ad
      - id: news
        kind: feed
        url: {site.url("/news.xml")}
""")

    first = govwatch("--config", str(cfg), "run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert summary(first.stdout) == (2, 2, 0, 0, 0, 0)
    assert "CHANGE" not in first.stdout and "ERROR" not in first.stdout

    site.set("/publications.html", page_html(PAGE_V2))
    site.set("/news.xml", rss(site.base_url, FEED_V2), content_type="application/rss+xml")
    second = govwatch("--config", str(cfg), "run", "--all", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert summary(second.stdout) == (2, 0, 2, 0, 0, 0)
    feed_change = re.search(r"^CHANGE #(\d+) ministry/news: 1 new entry: Second notice <",
                            second.stdout, re.MULTILINE)
    assert feed_change, second.stdout
    change = re.search(r"^CHANGE #(\d+) ministry/pubs: (.+)$", second.stdout, re.MULTILINE)
    assert change, second.stdout
    assert "1 new document: Guidance B" in change.group(2)
    assert site.url("/publications.html") in change.group(2)
    change_id = change.group(1)

    status = govwatch("--config", str(cfg), "status", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    rows = {row["monitor"]: row for row in json.loads(status.stdout)}
    assert set(rows) == {"pubs", "news"}
    keys = {"organization", "monitor", "kind", "url", "last_check_at", "last_outcome",
            "consecutive_failures", "last_change_at"}
    for row in rows.values():
        assert keys <= set(row), row
        assert row["organization"] == "ministry"
        assert_iso_utc(row["last_check_at"])
        assert row["consecutive_failures"] == 0
    assert rows["pubs"]["kind"] == "page" and rows["news"]["kind"] == "feed"
    assert rows["pubs"]["url"] == site.url("/publications.html")
    assert rows["pubs"]["last_outcome"] == "changed"
    assert rows["news"]["last_outcome"] == "changed"
    for row in rows.values():
        assert_iso_utc(row["last_change_at"])
        assert row["last_change_at"] == row["last_check_at"]

    history = govwatch("--config", str(cfg), "history", "pubs", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    listed = [int(n) for n in re.findall(r"^check #(\d+) ", history.stdout, re.MULTILINE)]
    with Store(db) as store:
        stored = [r[0] for r in store.db.execute(
            "SELECT id FROM checks WHERE monitor_id = 'pubs' ORDER BY id DESC")]
    # Two checks, each with the copy fetched before it was recorded (a first check is
    # copied to learn what changes by itself; the change, to confirm it).
    assert listed == stored and len(listed) == 4
    assert " confirm " in history.stdout.splitlines()[1]
    newest = history.stdout.splitlines()[0]
    assert "changed" in newest and f"change #{change_id}" in newest

    show = govwatch("--config", str(cfg), "show", change_id, cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert show.stdout.startswith(f"change #{change_id} [links] ministry/pubs")
    assert "+Guidance B" in show.stdout.splitlines()
    assert "-Guidance A" not in show.stdout.splitlines()

    show_feed = govwatch("--config", str(cfg), "show", feed_change.group(1), cwd=tmp_path)
    assert show_feed.returncode == 0, show_feed.stderr
    assert f"  + Second notice <{site.url('/news/2')}>" in show_feed.stdout.splitlines()

    missing = govwatch("--config", str(cfg), "history", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "unknown monitor id(s): nope" in missing.stderr


def test_cli_bad_config_names_file_line_and_allowed_keys(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    text = f"""\
database: {db}
organizations:
  - id: ministry
    name: Ministry
    monitors:
      - id: pubs
        kind: page
        url: https://example.org/
        selector: main
"""
    cfg = write_config(tmp_path / "bad.yaml", text)
    line = text.splitlines().index("        selector: main") + 1

    result = govwatch("--config", str(cfg), "run", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{cfg}:{line}:" in result.stderr, result.stderr
    assert "'selector'" in result.stderr
    allowed = re.search(r"allowed keys: (.+)$", result.stderr, re.MULTILINE)
    assert allowed, result.stderr
    assert {"select", "exclude", "url", "every", "timeout"} <= {
        k.strip() for k in allowed.group(1).split(",")}
    assert not db.exists()


def test_cli_run_with_every_source_unreachable_exits_0(tmp_path: Path) -> None:
    urls = []
    for _ in range(2):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            urls.append(f"http://127.0.0.1:{sock.getsockname()[1]}/x")
    cfg = write_config(tmp_path / "govwatch.yaml", f"""\
database: {tmp_path / "down.db"}
organizations:
  - id: ministry
    name: Ministry
    monitors:
      - {{id: one, kind: page, url: "{urls[0]}"}}
      - {{id: two, kind: feed, url: "{urls[1]}"}}
""")

    result = govwatch("--config", str(cfg), "run", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (2, 0, 0, 0, 0, 2)
    for name, url in (("one", urls[0]), ("two", urls[1])):
        line = re.search(rf"^ERROR ministry/{name}: (.+) <{re.escape(url)}>$", result.stdout,
                         re.MULTILINE)
        assert line, result.stdout
        assert FailureKind.of(line.group(1)) is FailureKind.CONNECT_FAILED
    status = json.loads(govwatch("--config", str(cfg), "status", "--json",
                                 cwd=tmp_path).stdout)
    assert {r["monitor"]: r["consecutive_failures"] for r in status} == {"one": 1, "two": 1}


# -- 7. due monitors ----------------------------------------------------------------


def test_cli_run_checks_only_due_monitors(site: Any, tmp_path: Path) -> None:
    for name in ("a1", "a2", "b1"):
        site.set(f"/{name}.html", f"<p>{name}</p>", validators="none")
    db = tmp_path / "due.db"
    cfg = write_config(tmp_path / "govwatch.yaml", f"""\
database: {db}
defaults:
  every: 1h
organizations:
  - id: alpha
    name: Alpha
    monitors:
      - {{id: a1, kind: page, url: "{site.url('/a1.html')}"}}
      - {{id: a2, kind: page, url: "{site.url('/a2.html')}"}}
  - id: beta
    name: Beta
    monitors:
      - {{id: b1, kind: page, url: "{site.url('/b1.html')}"}}
""")

    def run(*args: str) -> tuple[int, ...]:
        result = govwatch("--config", str(cfg), "run", *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return summary(result.stdout)

    def hits() -> list[int]:
        return [site.hits(f"/{name}.html") for name in ("a1", "a2", "b1")]

    # A first check fetches twice (the check, and the copy that learns what changes).
    assert run("--org", "alpha")[:2] == (2, 2)
    assert hits() == [2, 2, 0]
    assert run()[:2] == (1, 1)  # only beta's monitor is still due
    assert hits() == [2, 2, 2]
    assert run()[0] == 0  # every=1h: nothing is due right after
    assert hits() == [2, 2, 2]
    assert run("--monitor", "a2") == (1, 0, 0, 1, 0, 0)  # forced although not due
    assert hits() == [2, 3, 2]
    assert run("--org", "beta")[0] == 0  # --org narrows but does not force
    assert run("--all")[0] == 3
    assert hits() == [3, 4, 3]

    unknown = govwatch("--config", str(cfg), "run", "--org", "gamma", cwd=tmp_path)
    assert unknown.returncode == 2 and "gamma" in unknown.stderr
    assert hits() == [3, 4, 3]


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
