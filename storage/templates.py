"""The latest stored content of an organization's page monitors, for template learning."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

import zstandard

from core.canonical import read_json
from core.errors import StorageError
from core.records import Extracted
from monitors.templates import PageContent, SiteTemplate, host_of, shared
from storage.db import Store
from storage.records import PackedContent

#: One site's page monitors: each one's URL and stored content hash.
PageRefs = dict[str, tuple[str, str]]
#: Page monitors by (organization, host).
SiteRefs = dict[tuple[str, str], PageRefs]


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    """What a site's stored pages share, and which pages could be read to learn it."""

    template: SiteTemplate
    monitor_ids: frozenset[str]


def page_content(url: str, content: Extracted | PackedContent) -> PageContent:
    """A page's lines and links as template learning counts them."""
    if isinstance(content, PackedContent):  # from a parsing worker: one zstd frame
        try:
            payload = read_json(zstandard.ZstdDecompressor().decompress(content.compressed))
        except zstandard.ZstdError as exc:
            raise StorageError(f"packed content is corrupt: {exc}") from exc
        content = Extracted(text=payload["text"], data=payload["data"])
    links = [pair[0] for pair in content.data.get("links", ()) if pair]
    return PageContent(url, content.text.splitlines(), links)


def stored_pages(store: Store, sites: Collection[tuple[str, str]]) -> SiteRefs:
    """The page monitors of these (organization, host) sites that have a stored content:
    by site, each monitor's URL and content hash (no content is read)."""
    rows = store.db.execute(
        "SELECT id, org_id, url, last_content_hash FROM monitors WHERE kind = 'page' "
        "AND last_content_hash IS NOT NULL ORDER BY org_id, id").fetchall()
    refs: SiteRefs = {}
    for monitor_id, org_id, url, content_hash in rows:
        site = (org_id, host_of(url))
        if site in sites:
            refs.setdefault(site, {})[monitor_id] = (url, content_hash)
    return refs


def load_pages(store: Store, refs: PageRefs) -> Iterator[tuple[str, PageContent]]:
    """Each monitor's stored page content, read one at a time; a page whose content
    cannot be read is left out (``verify`` reports it)."""
    for monitor_id, (url, content_hash) in refs.items():
        try:
            content = store.load_content(content_hash)
        except StorageError:
            continue
        yield monitor_id, page_content(url, content)


def stored_template(store: Store, refs: PageRefs) -> StoredTemplate:
    """What these stored pages share; one page in memory at a time (its lines are
    counted, then dropped)."""
    ids: list[str] = []

    def pages() -> Iterator[PageContent]:
        for monitor_id, page in load_pages(store, refs):
            ids.append(monitor_id)
            yield page

    template = shared(pages())
    return StoredTemplate(template, frozenset(ids))
