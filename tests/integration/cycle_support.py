"""Whole cycles against a local server, shared by the tests that drive them: what the site
serves (a page, a feed, a PDF in two versions), a one-organization config, and one
cycle in-process as `govwatch run --all` runs it."""

from __future__ import annotations

import json
from typing import Any

from pipeline.config import Config, parse_config
from pipeline.cycle import CycleReport, run_cycle, select_monitors
from storage.db import Store
from tests.conftest import QUICK_CONFIRM
from tests.integration.conftest import Site


def make_config(monitors: list[dict[str, Any]], **top: Any) -> Config:
    """A config with one organization (``ministry``) checked hourly with a 5 s timeout
    and a short confirm pause; JSON is valid YAML, so the real parser reads it. ``top``
    adds top-level keys (``defaults`` replaces these)."""
    document = {
        "defaults": {"every": "1h", "timeout": "5s", "confirm_pause": QUICK_CONFIRM},
        "organizations": [{"id": "ministry", "name": "Ministry", "monitors": monitors}],
        **top,
    }
    return parse_config(json.dumps(document), "test-config.yaml")


async def cycle(config: Config, store: Store) -> CycleReport:
    """One cycle of every monitor of ``config``, the config synced into the store first."""
    store.sync_monitors(config.organizations)
    return await run_cycle(config, store, select_monitors(config, store, run_all=True))


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


def standard_site(site: Site) -> list[dict[str, Any]]:
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
