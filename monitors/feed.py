"""``feed``: an RSS or Atom feed, kept as a list of entry records."""

from __future__ import annotations

from typing import Any

import feedparser

from monitors.base import Monitor
from monitors.diffing import unified_text_diff
from monitors.errors import ExtractError
from monitors.html import normalize_text, parse, readable_text
from monitors.records import Change, Extracted

ENTRY_FIELDS = ("id", "link", "title", "published", "summary")


def _plain(html_or_text: str) -> str:
    if "<" not in html_or_text:
        return normalize_text(html_or_text)
    tree = parse(html_or_text)
    root = tree.body or tree.root
    return readable_text(root) if root is not None else ""


def entry_key(entry: dict[str, str]) -> str:
    """Identity of an entry: its guid/id, else its link, else its title."""
    return entry.get("id") or entry.get("link") or entry.get("title") or ""


def entry_record(raw: Any) -> dict[str, str]:
    return {
        "id": str(raw.get("id") or ""),
        "link": str(raw.get("link") or ""),
        "title": normalize_text(str(raw.get("title") or "")),
        "published": str(raw.get("published") or raw.get("updated") or ""),
        "summary": _plain(str(raw.get("summary") or "")),
    }


def render_entries(entries: list[dict[str, str]]) -> str:
    """One block of lines per entry, the text a person diffs."""
    blocks = []
    for entry in entries:
        lines = [entry["title"] or "(untitled)", entry["link"], entry["published"]]
        blocks.append("\n".join(line for line in lines if line))
    return "\n".join(blocks)


class FeedMonitor(Monitor):
    kind = "feed"
    accept = "application/atom+xml,application/rss+xml,application/xml;q=0.9,*/*;q=0.5"
    description = (
        "RSS or Atom feed read with feedparser: entries kept as records (id, link, title, "
        "published, summary); a change lists the new entries."
    )

    def extract(self, body: bytes, *, content_type: str = "", url: str = "") -> Extracted:
        headers = {"content-type": content_type} if content_type else None
        parsed = feedparser.parse(body, response_headers=headers)
        if not parsed.get("version") and not parsed.entries:
            reason = parsed.get("bozo_exception") or "no RSS or Atom structure found"
            raise ExtractError(f"invalid feed: {reason}")
        entries = [entry_record(raw) for raw in parsed.entries]
        feed_title = normalize_text(str(parsed.feed.get("title") or ""))
        return Extracted(
            text=render_entries(entries), data={"title": feed_title, "entries": entries}
        )

    def compare(self, old: Extracted, new: Extracted) -> Change | None:
        if old.content_hash == new.content_hash:
            return None
        old_entries = {entry_key(e): e for e in old.data.get("entries", [])}
        new_entries = new.data.get("entries", [])
        added = [e for e in new_entries if entry_key(e) not in old_entries]
        new_keys = {entry_key(e) for e in new_entries}
        removed = [e for key, e in old_entries.items() if key not in new_keys]
        if added:
            titles = "; ".join(e["title"] or e["link"] for e in added[:3])
            more = f" (+{len(added) - 3} more)" if len(added) > 3 else ""
            summary = f"{len(added)} new entr{'y' if len(added) == 1 else 'ies'}: {titles}{more}"
        else:
            summary = f"feed content changed ({len(removed)} entries gone)"
        return Change(
            kind="feed",
            summary=summary,
            diff=unified_text_diff(old.text, new.text),
            detail={"entries_added": added, "entries_removed": removed},
        )
