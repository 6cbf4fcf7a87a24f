"""The digest record and the reader's view of it: grouped, excerpted, documents merged.

Everything here is pure: a :class:`Digest` holds the owed changes and alerts, and
:func:`sections` turns it into what the templates show. All text in it is untrusted
(fetched): the views made here pass it through ``core.sanitise`` (controls, escape
sequences and bidirectional overrides neutralised; titles, summaries and lines folded and
clipped to ``LINE_LIMIT``); escaping is the templates' job (autoescape), never done here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from core.records import TEMPLATE_ONLY
from core.sanitise import LINE_LIMIT, clean_line
from monitors.diffing import WordSegment, format_words, word_segments
from monitors.feed import ordered_changes
from storage.outbox import OwedAlert, OwedChange

MAX_LINE = LINE_LIMIT
#: Unchanged words shown on each side of an edit of a feed entry's field.
FIELD_CONTEXT = 10
#: Characters of one field's word diff in a digest (``govwatch show`` prints it all).
MAX_FIELD = 1200


@dataclass(frozen=True, slots=True)
class Digest:
    """What one channel delivers in one go: changes and alerts, oldest first."""

    channel: str
    created_at: datetime
    changes: tuple[OwedChange, ...] = ()
    alerts: tuple[OwedAlert, ...] = ()
    #: Every monitor's chain head when the digest was made: publishing them lets anyone
    #: check the history later with ``govwatch verify --against``.
    heads: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.alerts

    def for_organizations(self, org_ids: Iterable[str] | None) -> Digest:
        """The part of the digest about ``org_ids`` (``None``: everything)."""
        if org_ids is None:
            return self
        wanted = set(org_ids)
        return replace(
            self, changes=tuple(c for c in self.changes if c.org_id in wanted),
            alerts=tuple(a for a in self.alerts if a.org_id in wanted),
        )

    def organization_names(self) -> list[str]:
        names = {c.org_id: c.org_name for c in self.changes}
        names.update({a.org_id: a.org_name for a in self.alerts})
        return [names[key] for key in sorted(names, key=lambda k: names[k].lower())]


@dataclass(frozen=True, slots=True)
class Document:
    """A new document, once per organization, with every monitor that announced it."""

    url: str
    title: str
    linkable: bool
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExcerptLine:
    sign: str  # "+" added, "-" removed
    text: str


@dataclass(frozen=True, slots=True)
class FieldEdit:
    """One changed field of a feed entry, word by word: the segments are fetched text, so
    a template escapes them and marks the removed and added runs itself."""

    name: str
    segments: tuple[WordSegment, ...]

    @property
    def words(self) -> str:
        """The plain-text notation, as page diffs write it: ``[-old-] {+new+}``."""
        return format_words(self.segments)


@dataclass(frozen=True, slots=True)
class EntryUpdate:
    title: str
    link: str
    linkable: bool
    fields: tuple[FieldEdit, ...]


@dataclass(frozen=True, slots=True)
class ChangeView:
    change: OwedChange
    lines: tuple[ExcerptLine, ...]
    more_lines: int
    documents: tuple[Document, ...]
    updates: tuple[EntryUpdate, ...] = ()


@dataclass(frozen=True, slots=True)
class MonitorSection:
    monitor_id: str
    name: str
    url: str
    changes: tuple[ChangeView, ...]


@dataclass(frozen=True, slots=True)
class OrgSection:
    org_id: str
    name: str
    documents: tuple[Document, ...]
    monitors: tuple[MonitorSection, ...]
    alerts: tuple[OwedAlert, ...]
    #: Pages whose only change since the last digest was the site's template.
    template_pages: int = 0
    #: What every one of those pages shows changed ("+ line", "- line"), the first few.
    template_edits: tuple[str, ...] = ()

    @property
    def template_line(self) -> str:
        return template_line(self.template_pages)


def template_only(change: OwedChange) -> bool:
    """A change only in the site's template: owed to channels, but shown as one line per
    organization, never as a change of its own."""
    return f"not announced: {TEMPLATE_ONLY}" in change.reasons


def announced_and_template(changes: Iterable[OwedChange]) -> tuple[list[OwedChange], int]:
    """The changes shown one by one, and on how many pages the template alone changed."""
    shown = [c for c in changes if not template_only(c)]
    return shown, len({c.monitor_id for c in changes if template_only(c)})


#: At most this many lines say what a site's template change was.
TEMPLATE_EDITS = 6


def template_edits(changes: Iterable[OwedChange]) -> tuple[str, ...]:
    """The lines that every template-only change among ``changes`` added ("+ ...") or
    removed ("- ..."), in the first one's order, at most ``TEMPLATE_EDITS``: a banner
    every page of the site now shows is read once, not as "N pages" alone."""
    order: list[str] = []
    shared: set[str] | None = None
    for change in changes:
        if not template_only(change):
            continue
        edits = [f"{sign} {_clip(str(line))}" for sign, key in (("+", "added"), ("-", "removed"))
                 for line in change.detail.get(key) or () if str(line).strip()]
        if shared is None:
            order, shared = edits, set(edits)
        else:
            shared &= set(edits)
    return tuple(edit for edit in order if shared and edit in shared)[:TEMPLATE_EDITS]


def template_line(pages: int) -> str:
    return f"site template changed on {pages} page{'s' * (pages != 1)}" if pages else ""


def is_web_url(url: str) -> bool:
    """Only http(s) URLs become links; anything else (javascript:, data:) stays text."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _url_key(url: str) -> str:
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       parts.query, ""))


def _clip(text: object) -> str:
    return clean_line(text, MAX_LINE)


def _url(url: object) -> str:
    """A fetched URL made safe to show; never clipped (a cut URL would lead elsewhere)."""
    return clean_line(url, None)


def readable(change: OwedChange) -> OwedChange:
    """``change`` with the text every view shows as is made safe: names, URL, summary."""
    return replace(change, org_name=_clip(change.org_name),
                   monitor_name=_clip(change.monitor_name), monitor_url=_url(change.monitor_url),
                   summary=_clip(change.summary))


def readable_alert(alert: OwedAlert) -> OwedAlert:
    """``alert`` with its names, URL and the (often fetched) error made safe to show."""
    return replace(alert, org_name=_clip(alert.org_name), monitor_name=_clip(alert.monitor_name),
                   monitor_url=_url(alert.monitor_url),
                   error=_clip(alert.error) if alert.error is not None else None)


def announced(change: OwedChange) -> list[tuple[str, str]]:
    """(url, title) of the documents a change announces: new documents, entries, links."""
    detail: dict[str, Any] = change.detail
    found: dict[str, tuple[str, str]] = {}
    candidates: list[tuple[Any, Any]] = []
    candidates += [(d.get("url"), d.get("title")) for d in detail.get("documents") or []
                   if isinstance(d, dict)]
    candidates += [(e.get("link"), e.get("title")) for e in detail.get("entries_added") or []
                   if isinstance(e, dict)]
    candidates += [(pair[0], pair[1] if len(pair) > 1 else "")
                   for pair in detail.get("links_added") or []
                   if isinstance(pair, list | tuple) and pair]
    for url, title in candidates:
        if not isinstance(url, str) or not url.strip():
            continue
        key = _url_key(url)
        if key not in found or (not found[key][1] and title):
            found[key] = (_url(url.strip()), _clip(title or "") if title else "")
    return list(found.values())


def _field_edit(name: str, edit: Any) -> FieldEdit | None:
    if not isinstance(edit, dict):
        return None
    old, new = edit.get("old"), edit.get("new")
    if isinstance(old, str) and isinstance(new, str):
        segments = word_segments(old, new, context=FIELD_CONTEXT)
    elif isinstance(edit.get("words"), str):  # only the notation: shown as it is
        segments = [("=", edit["words"])]
    else:
        return None
    kept: list[WordSegment] = []
    size = 0
    for op, text in segments:
        if size + len(text) > MAX_FIELD:
            kept.append((op, text[: max(0, MAX_FIELD - size)] + " …"))
            break
        kept.append((op, text))
        size += len(text)
    return FieldEdit(_clip(name), tuple((op, clean_line(text, None)) for op, text in kept))


def entry_updates(change: OwedChange) -> tuple[EntryUpdate, ...]:
    """The updated entries of a feed change with each changed field's word diff (entries
    recorded before fields were kept have none and are left to the diff lines)."""
    updates = []
    for entry in change.detail.get("entries_updated") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), dict):
            continue
        fields = [_field_edit(name, edit) for name, edit in ordered_changes(entry["changes"])]
        link = _url(entry.get("link") or "")
        updates.append(EntryUpdate(_clip(entry.get("title") or "") or "(untitled)", link,
                                   is_web_url(link), tuple(f for f in fields if f)))
    return tuple(updates)


def excerpt(change: OwedChange, limit: int) -> tuple[tuple[ExcerptLine, ...], int]:
    """Added and removed lines of the diff (or removed entries), at most ``limit``. A feed
    change's new and updated entries say it better than its diff: then the diff is left out."""
    lines: list[ExcerptLine] = []
    feed_entries = (change.detail.get("entries_added") or change.detail.get("documents")
                    or entry_updates(change))
    if not (change.kind == "feed" and feed_entries):
        for raw in change.diff.splitlines():
            if raw.startswith(("+++", "---", "@@")) or raw[:1] not in ("+", "-"):
                continue
            text = _clip(raw[1:])
            if text:
                lines.append(ExcerptLine(raw[0], text))
    for entry in change.detail.get("entries_removed") or []:
        if isinstance(entry, dict):
            lines.append(ExcerptLine("-", _clip(entry.get("title") or entry.get("link") or "")))
    return tuple(lines[:limit]), max(0, len(lines) - limit)


def source_name(change: OwedChange) -> str:
    return f"{change.monitor_name} ({change.monitor_kind})"


def sections(digest: Digest, max_lines: int = 12) -> tuple[OrgSection, ...]:
    """Organizations (by name), then monitors, then changes (oldest first)."""
    by_org: dict[str, list[OwedChange]] = {}
    names: dict[str, str] = {}
    for change in map(readable, digest.changes):
        by_org.setdefault(change.org_id, []).append(change)
        names[change.org_id] = change.org_name
    alerts_by_org: dict[str, list[OwedAlert]] = {}
    for alert in map(readable_alert, digest.alerts):
        alerts_by_org.setdefault(alert.org_id, []).append(alert)
        names[alert.org_id] = alert.org_name
    result = []
    for org_id in sorted(names, key=lambda key: (names[key].lower(), key)):
        changes, template_pages = announced_and_template(by_org.get(org_id, []))
        edits = template_edits(by_org.get(org_id, []))
        documents = _merge_documents(changes)
        doc_by_key = {_url_key(d.url): d for d in documents}
        monitors: dict[str, list[ChangeView]] = {}
        for change in changes:
            lines, more = excerpt(change, max_lines)
            docs = tuple(doc_by_key[_url_key(url)] for url, _ in announced(change))
            monitors.setdefault(change.monitor_id, []).append(
                ChangeView(change, lines, more, docs, entry_updates(change)))
        result.append(OrgSection(
            org_id=org_id, name=names[org_id], documents=documents,
            monitors=tuple(
                MonitorSection(views[0].change.monitor_id, views[0].change.monitor_name,
                               views[0].change.monitor_url, tuple(views))
                for views in monitors.values()),
            alerts=tuple(alerts_by_org.get(org_id, ())), template_pages=template_pages,
            template_edits=edits,
        ))
    return tuple(result)


def _merge_documents(changes: list[OwedChange]) -> tuple[Document, ...]:
    """One document per URL for the organization, naming every source that announced it."""
    merged: dict[str, tuple[str, str, list[str]]] = {}
    for change in changes:
        for url, title in announced(change):
            key = _url_key(url)
            _, known_title, sources = merged.setdefault(key, (url, title, []))
            if not known_title and title:
                merged[key] = (url, title, sources)
            if source_name(change) not in sources:
                sources.append(source_name(change))
    return tuple(Document(url, title, is_web_url(url), tuple(sources))
                 for url, title, sources in merged.values())


def counts(digest: Digest) -> str:
    """``3 changes, 1 alert``; template-only changes as the pages they touched."""
    shown, pages = announced_and_template(digest.changes)
    parts = [f"{len(shown)} change{'s' * (len(shown) != 1)}"] if shown or not pages else []
    if pages:
        parts.append(template_line(pages))
    if digest.alerts:
        parts.append(f"{len(digest.alerts)} alert{'s' * (len(digest.alerts) != 1)}")
    return ", ".join(parts)


def subject(digest: Digest, prefix: str, limit: int = 3) -> str:
    """``[govwatch] 3 changes, 1 alert: OECD, UNIDIR (+2 more)``."""
    names = [_clip(name) for name in digest.organization_names()]
    shown = ", ".join(names[:limit]) + (f" (+{len(names) - limit} more)"
                                          if len(names) > limit else "")
    return _clip(" ".join(part for part in (prefix, counts(digest) + ":", shown) if part))
