"""The feed channel: Atom (RFC 4287) and RSS 2.0 files, one global and one per organization.

Feeds are regenerated from the database every time: the entries are the newest
``max_entries`` changes and alerts this channel delivered. Each entry's id is a ``tag:`` URI
made of the instance identity (stored once in the database, or ``id_prefix``), the feed
file's name and the change or alert id: regenerating never changes it, and the same change
in two files (the global and an organization's feed, Atom and RSS) is two entries, so a
reader subscribed to several files keeps them all. Files are written to a temporary file
in the same directory and renamed over the old one, so a reader never sees half a feed.

Links are absolute or left out: the self link needs ``public_url``, an entry links to its
change page on the archive site when the site's ``public_url`` is known (else to the new
document or the monitor's page), and no ``file://`` URL is ever written.

Every title is one clean line (``core.sanitise``) and every content clean text, so a control
character in a fetched title cannot make the XML writer refuse the feed. Should an entry
still fail, it is left out and reported (:class:`ItemFailure`) and the rest is written.
"""

from __future__ import annotations

import glob
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from html import escape
from pathlib import Path

from core.canonical import canonical_json
from core.errors import DeliveryFailed
from core.sanitise import clean_line, clean_text
from notifications.base import ItemFailure, Notifier, OrganizationInfo
from notifications.config import FeedSettings
from notifications.digest import (
    Digest,
    announced,
    entry_updates,
    excerpt,
    is_web_url,
    readable,
    readable_alert,
    template_edits,
    template_line,
    template_only,
)
from notifications.links import SiteLinks, absolute
from notifications.render import render
from storage.chain import current_heads
from storage.db import Store
from storage.outbox import (
    OutgoingMessage,
    OwedAlert,
    OwedChange,
    digests_of,
    get_state,
    published,
    set_state,
)

GLOBAL_NAME = "govwatch"
ORG_DIRECTORY = "org"
EXTENSIONS = {"atom": "atom", "rss": "rss"}
MEDIA_TYPES = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
#: RSS 2.0 needs a channel link and feedgen will not write a channel without one; when no
#: absolute page is known this stand-in is written and then taken out again.
_NO_LINK = "https://govwatch.invalid/no-public-url"
NO_SITE = SiteLinks()


@dataclass(frozen=True, slots=True)
class FeedEntry:
    id: str
    title: str
    link: str
    updated: datetime
    content: str

    def __post_init__(self) -> None:
        # Built from fetched text: one clean line of a title, clean content (HTML).
        object.__setattr__(self, "title", clean_line(self.title))
        object.__setattr__(self, "link", clean_line(self.link, None))
        object.__setattr__(self, "content", clean_text(self.content))


def instance_prefix(store: Store, configured: str | None) -> str:
    """The stable part of every id: ``id_prefix``, else one made once for this database."""
    if configured:
        return configured.rstrip("/")
    identity = get_state(store, "instance_id")
    if identity is None:
        identity = f"{datetime.now().astimezone().date().isoformat()}:{uuid.uuid4().hex}"
        set_state(store, "instance_id", identity)
    day, token = identity.split(":", 1)
    # govwatch.invalid is reserved (RFC 2606), so no real owner's tags can collide.
    return f"tag:govwatch.invalid,{day}:{token}"


def change_entry(prefix: str, change: OwedChange, with_org: bool,
                 site: SiteLinks = NO_SITE) -> FeedEntry:
    change = readable(change)
    docs = [(url, title, is_web_url(url)) for url, title in announced(change)]
    lines, more = excerpt(change, 30)
    web_docs = [d for d in docs if d[2]]
    page = site.change(change.change_id)
    link = page or (web_docs[0][0] if len(docs) == 1 and web_docs else change.monitor_url)
    if len(docs) == 1 and docs[0][1]:
        title = f"New document: {docs[0][1]}"
    else:
        title = f"{change.monitor_name}: {change.summary}"
    if with_org:
        title = f"{change.org_name} - {title}"
    content = render(
        "entry.html", org_name=change.org_name, monitor_name=change.monitor_name,
        monitor_url=change.monitor_url, change=change, alert=None, lines=lines,
        more_lines=more, documents=docs, updates=entry_updates(change), page=page,
    )
    return FeedEntry(f"{prefix}/change/{change.change_id}", title, link,
                     datetime.fromisoformat(change.detected_at), content)


def template_entries(prefix: str, changes: Iterable[OwedChange], digests: dict[int, int],
                     with_org: bool, site: SiteLinks = NO_SITE) -> list[FeedEntry]:
    """One entry per organization and digest for changes only in the site's template,
    as in the email: "site template changed on N pages", never one entry per page."""
    groups: dict[tuple[str, int], list[OwedChange]] = {}
    for change in map(readable, changes):
        digest_id = digests.get(change.change_id, -change.change_id)
        groups.setdefault((change.org_id, digest_id), []).append(change)
    entries = []
    for (org_id, digest_id), group in groups.items():
        pages = {c.monitor_id: c for c in group}
        title = template_line(len(pages))
        if with_org:
            title = f"{group[0].org_name} - {title}"
        items = "".join(f'<li><a href="{escape(c.monitor_url)}">{escape(c.monitor_name)}</a>'
                        f" (change #{c.change_id})</li>" for c in pages.values())
        edits = "".join(f"<li>{escape(edit)}</li>" for edit in template_edits(group))
        content = (f"<p><strong>{escape(group[0].org_name)}</strong> &middot; "
                   f"{escape(template_line(len(pages)))}: only what the site's pages share "
                   f"(header, navigation, footer) changed.</p>"
                   + (f"<p>On every page:</p><ul>{edits}</ul>" if edits else "")
                   + f"<ul>{items}</ul>")
        newest = max(group, key=lambda c: c.detected_at)
        entries.append(FeedEntry(
            f"{prefix}/template/{org_id}/{digest_id}", title,
            site.change(newest.change_id) or group[0].monitor_url,
            datetime.fromisoformat(newest.detected_at), content))
    return entries


def alert_entry(prefix: str, alert: OwedAlert, with_org: bool) -> FeedEntry:
    alert = readable_alert(alert)
    if alert.kind == "failing":
        title = f"{alert.monitor_name} is failing ({alert.failures} checks in a row)"
    elif alert.kind == "needs-js":
        title = f"{alert.monitor_name} needs a browser (render: browser)"
    else:
        title = f"{alert.monitor_name} recovered"
    if with_org:
        title = f"{alert.org_name} - {title}"
    content = render(
        "entry.html", org_name=alert.org_name, monitor_name=alert.monitor_name,
        monitor_url=alert.monitor_url, change=None, alert=alert, lines=(), more_lines=0,
        documents=(), updates=(), page=None,
    )
    return FeedEntry(f"{prefix}/alert/{alert.alert_id}", title, alert.monitor_url,
                     datetime.fromisoformat(alert.created_at), content)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A process killed mid-write (kill -9 runs no cleanup) leaves its temporary behind; the
    next write of the same file removes it, which is safe because one process at a time
    delivers (the delivery lock), so no other writer's temporary can be in flight.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(glob.escape(f".{path.name}.") + "*.tmp"):
        stale.unlink(missing_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def xml_checked(entry: FeedEntry) -> FeedEntry:
    """``entry``, once lxml (which writes the feed) has accepted each of its strings: a
    string it refuses fails this entry here, not the whole feed later."""
    from lxml import etree

    probe = etree.Element("probe")
    for text in (entry.id, entry.title, entry.link, entry.content):
        probe.text = text
    return entry


def _attempt(failures: dict[tuple[str, int], str], items: tuple[tuple[str, int], ...],
             make: Callable[[], FeedEntry | list[FeedEntry]]) -> list[FeedEntry]:
    """The entries ``make`` builds, checked; none if it fails, the error noted for ``items``.

    Any exception: an entry is built from stored, possibly damaged, data (a date that does
    not parse, a detail of the wrong shape), and one bad entry must not stop the feed.
    """
    try:
        made = make()
        return [xml_checked(entry) for entry in (made if isinstance(made, list) else [made])]
    except Exception as exc:  # noqa: BLE001 - reported per item, the feed goes on
        for item in items:
            failures[item] = f"{type(exc).__name__}: {clean_line(exc)}"
        return []


# Published beside the feeds: the chain heads, for `govwatch verify --against`.
HEADS_NAME = "heads.json"


class FeedNotifier(Notifier):
    channel = "feed"
    settings: FeedSettings

    @property
    def directory(self) -> Path:
        return Path(self.settings.directory)

    def feed_paths(self) -> list[Path]:
        names = [Path(GLOBAL_NAME)] + [Path(ORG_DIRECTORY) / o.id for o in self.organizations]
        return [self.directory / f"{name}.{EXTENSIONS[fmt]}"
                for name in names for fmt in self.settings.formats]

    def compose(self, digest: Digest) -> list[OutgoingMessage]:
        return []  # a feed digest has no message: publishing the files delivers it

    def publish(self, store: Store, now: datetime) -> tuple[ItemFailure, ...]:
        failures: dict[tuple[str, int], str] = {}
        try:
            self.write_all(store, now, failures)
        except OSError as exc:
            raise DeliveryFailed(f"cannot write feeds under {self.directory}: {exc}") from exc
        return tuple(ItemFailure(kind, item_id, error)
                     for (kind, item_id), error in sorted(failures.items()))

    def write_all(self, store: Store, now: datetime,
                  failures: dict[tuple[str, int], str]) -> list[Path]:
        """Write every feed; an entry that cannot be made is left out and its items are
        added to ``failures`` (("change" | "alert", id) -> error)."""
        prefix = instance_prefix(store, self.settings.id_prefix)
        written = []
        scopes: list[OrganizationInfo | None] = [None, *self.organizations]
        for org in scopes:
            changes, alerts = published(store, self.channel, self.settings.max_entries,
                                        org.id if org else None)
            with_org = org is None
            template = [c for c in changes if template_only(c)]
            # Ids relative to their file here; each file prefixes them with its own name.
            entries: list[FeedEntry] = []
            for change in changes:
                if not template_only(change):
                    entries += _attempt(failures, (("change", change.change_id),),
                                        partial(change_entry, "", change, with_org, self.links))
            entries += _attempt(
                failures, tuple(("change", c.change_id) for c in template),
                partial(template_entries, "", template,
                        digests_of(store, self.channel, (c.change_id for c in template)),
                        with_org, self.links))
            for alert in alerts:
                entries += _attempt(failures, (("alert", alert.alert_id),),
                                    partial(alert_entry, "", alert, with_org))
            entries.sort(key=lambda e: (e.updated, e.id), reverse=True)
            entries = entries[: self.settings.max_entries]
            for fmt in self.settings.formats:
                name = GLOBAL_NAME if org is None else f"{ORG_DIRECTORY}/{org.id}"
                relative = f"{name}.{EXTENSIONS[fmt]}"
                path = self.directory / relative
                own = [replace(e, id=f"{prefix}/{relative}{e.id}") for e in entries]
                data = self.serialize(prefix, org, fmt, relative, own, now)
                atomic_write(path, data)
                written.append(path)
        heads = self.directory / HEADS_NAME
        atomic_write(heads, canonical_json({"heads": current_heads(store.db)}).encode())
        written.append(heads)
        return written

    def alternate(self, org: OrganizationInfo | None) -> str | None:
        """The web page a feed stands for: the organization's (or the whole) archive on the
        site, else the organization's homepage; ``None`` when no absolute one is known."""
        on_site = self.links.organization(org.id) if org is not None else self.links.index
        return on_site or (org.homepage if org is not None else None)

    def serialize(
        self, prefix: str, org: OrganizationInfo | None, fmt: str, relative: str,
        entries: list[FeedEntry], now: datetime,
    ) -> bytes:
        from feedgen.feed import FeedGenerator

        public = self.settings.public_url
        self_url = absolute(public, relative) if public else None
        generator = FeedGenerator()
        scope = "all" if org is None else f"org/{org.id}"
        generator.id(f"{prefix}/feed/{scope}")
        title = clean_line(self.settings.title if org is None
                           else f"{self.settings.title}: {org.name}")
        generator.title(title)
        generator.description(f"Changes to official sources recorded by govwatch ({title})")
        generator.author({"name": "govwatch"})
        generator.generator("govwatch")
        if self_url:
            generator.link(href=self_url, rel="self", type=MEDIA_TYPES[fmt])
        alternate = self.alternate(org)
        if alternate:
            generator.link(href=alternate, rel="alternate", type="text/html")
        elif fmt == "rss":
            generator.link(href=_NO_LINK, rel="alternate")
        # The newest entry's time: regenerating an unchanged feed leaves it unchanged.
        generator.updated(entries[0].updated if entries else now)
        for entry in reversed(entries):  # feedgen prepends: add oldest first
            item = generator.add_entry()
            item.id(entry.id)
            item.guid(entry.id, permalink=False)
            item.title(entry.title)
            if is_web_url(entry.link):
                item.link(href=entry.link)
            item.updated(entry.updated)
            item.published(entry.updated)
            item.content(entry.content, type="html")
        if fmt == "atom":
            return bytes(generator.atom_str(pretty=True))
        data = bytes(generator.rss_str(pretty=True))
        return data.replace(f"    <link>{_NO_LINK}</link>\n".encode(), b"")

    def preview(self, store: Store, digest: Digest, messages: list[OutgoingMessage]) -> str:
        files = ", ".join(p.as_posix() for p in self.feed_paths())
        return (f"feed: would add {len(digest.changes)} change(s) and {len(digest.alerts)} "
                f"alert(s) and rewrite {files}")
