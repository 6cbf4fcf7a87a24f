"""``feed``: an RSS or Atom feed, kept as a list of entry records."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime
from io import BytesIO
from typing import Any

from core.errors import ExtractError
from core.records import Change, Extracted, Volatile
from monitors.base import Monitor, titles_summary
from monitors.clocks import mask_clocks
from monitors.diffing import unified_text_diff, word_diff
from monitors.html import normalize_text, readable_text
from monitors.keywords import focused
from monitors.learning import learn_fields, learn_links, learn_path_segments
from monitors.normalize import normalize_url
from monitors.significance import Evidence, score
from monitors.sniff import entity_declaration, utf8_xml, xml_readings
from monitors.volatility import FIELD, NO_NOISE, Noise, words

ENTRY_FIELDS = ("id", "link", "title", "published", "summary")
#: Fields whose edit makes an entry updated, in the order a person reads them.
SUBSTANTIVE_FIELDS = ("title", "summary", "link")
#: The order a changed entry's fields are shown in (stored records sort their keys).
SHOWN_FIELDS = (*SUBSTANTIVE_FIELDS, "published")
#: Unchanged words kept on each side of an edit in a field's word diff.
WORD_CONTEXT = 12
#: An updated entry's summary in the change's diff: wrapped, so the diff shows the lines
#: around the edit, and cut, so a rewritten article does not flood it.
SUMMARY_WIDTH = 100
SUMMARY_LINES = 30
#: Where a feed's volatile fields are learned (``Volatile.where``).
ENTRY = "entry"


def _plain(html_or_text: str) -> str:
    if "<" not in html_or_text:
        return normalize_text(html_or_text)
    return readable_text(html_or_text)


def entry_key(entry: dict[str, str], noise: Noise = NO_NOISE, *,
              shared_links: Collection[str] = ()) -> str:
    """Identity of an entry: its guid/id, else its link, else its title (an id or link
    as it compares: without the parameters the feed learned change by themselves). A
    feed whose ids were seen to change by themselves is keyed by link or title: by
    title where other entries share its link (``shared_links``, as it compares)."""
    if (ENTRY, "id") in noise.fields:
        identity = entry.get("link")
        if identity and _link_key(identity, noise) in shared_links and entry.get("title"):
            identity = None
    else:
        identity = entry.get("id") or entry.get("link")
    if identity:
        return _link_key(identity, noise)
    return entry.get("title") or ""


def entry_keys(entries: Sequence[dict[str, str]], noise: Noise = NO_NOISE) -> list[str]:
    """``entry_key`` of each entry of one feed, which knows the links entries share."""
    links = Counter(_link_key(e["link"], noise) for e in entries if e.get("link"))
    shared = {link for link, count in links.items() if count > 1}
    return [entry_key(e, noise, shared_links=shared) for e in entries]


def _link_key(identity: str, noise: Noise) -> str:
    return noise.link_key(normalize_url(identity)) if "://" in identity else identity


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


def _diff_text(entries: dict[str, dict[str, str]], updated: set[str]) -> str:
    """``render_entries`` plus, for the updated entries only, their summary, so an edit
    that touches only a summary still shows in the change's diff."""
    blocks = []
    for key, entry in entries.items():
        lines = [entry["title"] or "(untitled)", entry["link"], entry["published"]]
        if key in updated and entry.get("summary"):
            wrapped = textwrap.wrap(entry["summary"], SUMMARY_WIDTH)
            cut = wrapped[SUMMARY_LINES:]
            lines += ["  " + line for line in wrapped[:SUMMARY_LINES]] + (["  …"] if cut else [])
        blocks.append("\n".join(line for line in lines if line))
    return "\n".join(blocks)


class FeedMonitor(Monitor):
    kind = "feed"
    accept = "application/atom+xml,application/rss+xml,application/xml;q=0.9,*/*;q=0.5"
    description = (
        "RSS or Atom feed read with feedparser: entries kept as records (id, link, title, "
        "published, summary); a change lists new, updated and removed entries."
    )

    def extract(self, body: bytes, *, content_type: str = "", url: str = "") -> Extracted:
        # Each way the feed claims to be read is checked (its declaration and the HTTP
        # charset may disagree); the parser is given the first, as UTF-8.
        documents = [utf8_xml(text) for text in xml_readings(body, content_type)]
        refusal = next(filter(None, map(entity_declaration, documents)), None)
        document = documents[0]
        del documents[1:]
        if refusal is not None:
            raise ExtractError(f"feed refused: {refusal}; govwatch never expands XML "
                               "entities (they can grow without bound or read local files)")
        import feedparser  # here, not at import: 0.1 s that only feed parsing needs

        media_type = content_type.split(";")[0].strip() or "application/xml"
        headers = {"content-type": f"{media_type}; charset=utf-8"}
        # Summaries are reduced to plain text by our own parser, so feedparser's HTML
        # sanitizing and link rewriting would be work thrown away (a third of its time).
        # A stream, never bytes: feedparser first tries bytes as a file name to open (a
        # body reading "/etc/passwd" would be read from this machine's disk).
        parsed = feedparser.parse(BytesIO(document), response_headers=headers,
                                  sanitize_html=False, resolve_relative_uris=False)
        if not parsed.get("version") and not parsed.entries:
            reason = parsed.get("bozo_exception") or "no RSS or Atom structure found"
            raise ExtractError(f"invalid feed: {reason}")
        entries = [entry_record(raw) for raw in parsed.entries]
        feed_title = normalize_text(str(parsed.feed.get("title") or ""))
        return Extracted(
            text=render_entries(entries), data={"title": feed_title, "entries": entries}
        )

    def recurring(self, old: Extracted, new: Extracted, change: Change,
                  noise: Noise = NO_NOISE, old_at: datetime | None = None,
                  new_at: datetime | None = None) -> set[Volatile]:
        """Never: a feed's entries are its publications (its volatile fields are learned
        from two copies)."""
        return set()

    def carried(self, old: Extracted, new: Extracted, noise: Noise = NO_NOISE,
                old_at: datetime | None = None, new_at: datetime | None = None
                ) -> set[Volatile]:
        """Nothing: a feed learns fields and links, never facts placed after a line."""
        return set()

    def learn(self, a: Extracted, b: Extracted, noise: Noise = NO_NOISE,
              at_a: datetime | None = None, at_b: datetime | None = None) -> set[Volatile]:
        entries_a, entries_b = a.data.get("entries", []), b.data.get("entries", [])
        urls_a = [normalize_url(e["link"]) for e in entries_a if e.get("link")]
        urls_b = [normalize_url(e["link"]) for e in entries_b if e.get("link")]
        learned = learn_path_segments(urls_a, urls_b)
        keyed = Noise(noise.learned | frozenset(learned))
        learned |= learn_links([keyed.link_key(u) for u in urls_a],
                               [keyed.link_key(u) for u in urls_b])
        keyed = Noise(noise.learned | frozenset(learned))
        learned |= learn_ids(entries_a, entries_b, keyed)
        keyed = Noise(noise.learned | frozenset(learned))
        return learned | learn_fields(
            ENTRY, dict(zip(entry_keys(entries_a, keyed), entries_a, strict=True)),
            dict(zip(entry_keys(entries_b, keyed), entries_b, strict=True)), at_a, at_b,
            templated=("title", "summary"))

    def compare(self, old: Extracted, new: Extracted, noise: Noise = NO_NOISE, *,
                old_at: datetime | None = None, new_at: datetime | None = None
                ) -> Change | None:
        if old.content_hash == new.content_hash:
            return None
        old_list, new_list = old.data.get("entries", []), new.data.get("entries", [])
        old_entries = dict(zip(entry_keys(old_list, noise), old_list, strict=True))
        new_entries = dict(zip(entry_keys(new_list, noise), new_list, strict=True))
        added = [e for key, e in new_entries.items() if key not in old_entries]
        removed = [e for key, e in old_entries.items() if key not in new_entries]
        updated = []
        updated_keys = set()
        for key, entry in new_entries.items():
            before = old_entries.get(key)
            if before is not None:
                fields = changed_fields(before, entry, noise, old_at, new_at)
                if fields:
                    updated_keys.add(key)
                    updated.append({**entry, "fields": fields,
                                    "changes": field_changes(before, entry, fields, noise)})
        config = self.config
        if config.keywords or config.exclude_keywords:
            def matches(e: dict[str, Any]) -> bool:
                return focused((e["title"], e["summary"]), config.keywords,
                               config.exclude_keywords)

            added, updated, removed = (
                [e for e in group if matches(e)] for group in (added, updated, removed)
            )
        if not (added or updated or removed):
            return None
        significance, reasons = score(Evidence(
            entries_added=len(added), entries_updated=len(updated), entries_removed=len(removed),
        ))
        return Change(
            kind="feed",
            summary=_summary(added, updated, removed),
            diff=unified_text_diff(_diff_text(old_entries, updated_keys),
                                   _diff_text(new_entries, updated_keys)),
            detail={
                "entries_added": added, "entries_updated": updated, "entries_removed": removed,
                "documents": [{"url": e["link"], "title": e["title"]} for e in added if e["link"]],
            },
            significance=significance,
            reasons=reasons,
        )


def learn_ids(a: list[dict[str, str]], b: list[dict[str, str]], noise: Noise
              ) -> set[Volatile]:
    """The entries' ids change by themselves when one entry, known by its link (or, with
    no link, its title), carries another id in a copy fetched moments later. Only a link
    (or title) that one entry alone has in each copy knows an entry: where entries share
    one, their ids are what tells them apart."""
    unkeyed = Noise(noise.learned | {Volatile(FIELD, ENTRY, "id")})
    keys_a, keys_b = entry_keys(a, unkeyed), entry_keys(b, unkeyed)
    alone = {k for k, n in Counter(keys_a).items() if n == 1}
    alone &= {k for k, n in Counter(keys_b).items() if n == 1}
    ids_a = {key: e.get("id") for key, e in zip(keys_a, a, strict=True) if key in alone}
    for key, entry in zip(keys_b, b, strict=True):
        before = ids_a.get(key)
        if before and entry.get("id") and entry["id"] != before:
            return {Volatile(FIELD, ENTRY, "id")}
    return set()


def changed_fields(
    old: dict[str, str], new: dict[str, str], noise: Noise = NO_NOISE,
    old_at: datetime | None = None, new_at: datetime | None = None,
) -> list[str]:
    """Fields of an entry that changed in substance: not a field the feed learned changes
    by itself, not a clock of its fetch, and never the date the entry carries."""
    fields = []
    for name in ("title", "link", "summary"):
        if (ENTRY, name) in noise.fields:
            continue
        before = mask_clocks(words(old.get(name, "")), old_at)
        after = mask_clocks(words(new.get(name, "")), new_at)
        if name == "link":
            before = noise.link_key(normalize_url(before)) if before else before
            after = noise.link_key(normalize_url(after)) if after else after
        if not noise.same_field(ENTRY, name, before, after):
            fields.append(name)
    return fields


def field_changes(
    old: dict[str, str], new: dict[str, str], fields: list[str], noise: Noise = NO_NOISE,
) -> dict[str, dict[str, str]]:
    """What each changed field said before and after, and the edit word by word. The date
    the entry carries is shown beside a substantive edit, never as one of its own."""
    shown = [name for name in SUBSTANTIVE_FIELDS if name in fields]
    if (shown and (ENTRY, "published") not in noise.fields
            and old.get("published", "") != new.get("published", "")):
        shown.append("published")
    changes = {}
    for name in shown:
        before, after = old.get(name) or "", new.get(name) or ""
        changes[name] = {"old": before, "new": after,
                         "words": word_diff(before, after, context=WORD_CONTEXT)}
    return changes


def ordered_changes(changes: dict[str, Any]) -> list[tuple[str, Any]]:
    """An updated entry's ``changes`` in reading order, as stored records lose it."""
    rank = {name: n for n, name in enumerate(SHOWN_FIELDS)}
    return sorted(changes.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))


def _summary(
    added: list[dict[str, str]], updated: list[dict[str, Any]], removed: list[dict[str, str]]
) -> str:
    if added:
        noun = "new entry" if len(added) == 1 else "new entries"
        return titles_summary(len(added), noun, [e["title"] or e["link"] for e in added])
    if updated:
        titles = "; ".join(e["title"] or e["link"] for e in updated[:3])
        return f"{len(updated)} updated: {titles}"
    return f"{len(removed)} entr{'y' if len(removed) == 1 else 'ies'} removed"
