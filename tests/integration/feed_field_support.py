"""A feed change as the real feed monitor reports it: one entry whose title (carrying
markup, as fetched text may) and summary were edited."""

from __future__ import annotations

from core.records import Change
from monitors import MonitorConfig, build_monitor

ENTRY_LINK = "https://unidir.org/news/consultation"
OLD_TITLE = "Draft <script>alert(1)</script> rules"
NEW_TITLE = "Final <script>alert(1)</script> rules"
OLD_SUMMARY = "Comments are welcome until 1 March from all member states"
NEW_SUMMARY = "Comments are welcome until 15 March from all member states and observers"


def _rss(title: str, summary: str) -> bytes:
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>UNIDIR</title>"
            f"<item><guid isPermaLink='false'>n-1</guid><title>{escaped}</title>"
            f"<link>{ENTRY_LINK}</link><description>{summary}</description></item>"
            f"</channel></rss>").encode()


def updated_entry_change() -> Change:
    monitor = build_monitor(MonitorConfig(id="unidir-feed", kind="feed",
                                          url="https://unidir.org/feed/"), "unidir")
    change = monitor.compare(monitor.extract(_rss(OLD_TITLE, OLD_SUMMARY)),
                             monitor.extract(_rss(NEW_TITLE, NEW_SUMMARY)))
    assert change is not None
    assert change.detail["entries_updated"][0]["fields"] == ["title", "summary"]
    return change
