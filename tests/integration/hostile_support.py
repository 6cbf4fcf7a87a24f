"""What the hostile-input tests share: the normal monitors that run beside each hostile
source, a cycle that reads back what the store recorded, and the hostile payloads."""

from __future__ import annotations

import json
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.records import Extracted
from pipeline.config import parse_config
from pipeline.cycle import CycleReport, run_cycle, select_monitors
from storage.db import Store
from tests.conftest import QUICK_CONFIRM
from tests.integration.conftest import Site, within

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
        "defaults": {"every": "1h", "timeout": "30s", "confirm_pause": QUICK_CONFIRM,
                     **defaults},
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


def big_feed(count: int, *, first: str = "") -> bytes:
    items = "".join(
        f"<item><title>Entry {n}</title><link>http://127.0.0.1/e/{n}</link>"
        f"<guid>http://127.0.0.1/e/{n}</guid><description>Summary {n}</description></item>"
        for n in range(count))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
            f"{first}{items}</channel></rss>").encode()
