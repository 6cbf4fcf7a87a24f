"""The latest stored content of an organization's page monitors, for template learning."""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import StorageError
from monitors.normalize import normalize_url
from monitors.templates import SHARED_BY, PageContent, SiteTemplate, host_of, site_templates
from storage.db import Store


def latest_pages(store: Store, org_ids: Iterable[str] | None = None
                 ) -> list[tuple[str, PageContent]]:
    """(org_id, latest content) of every page monitor that shares its organization and
    host with another page monitor; a page alone on its host is not read."""
    wanted = None if org_ids is None else set(org_ids)
    rows = store.db.execute(
        "SELECT org_id, url, last_content_hash FROM monitors WHERE kind = 'page' "
        "AND last_content_hash IS NOT NULL ORDER BY org_id, id").fetchall()
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for org_id, url, content_hash in rows:
        if wanted is None or org_id in wanted:
            groups.setdefault((org_id, host_of(url)), []).append((url, content_hash))
    pages: list[tuple[str, PageContent]] = []
    for (org_id, _), members in groups.items():
        if len(members) < SHARED_BY:
            continue
        for url, content_hash in members:
            try:
                content = store.load_content(content_hash)
            except StorageError:  # a damaged row teaches nothing; verify reports it
                continue
            links = [normalize_url(pair[0]) for pair in content.data.get("links", ()) if pair]
            pages.append((org_id, PageContent(url, content.text.splitlines(), links)))
    return pages


def templates(store: Store, org_ids: Iterable[str] | None = None
              ) -> dict[tuple[str, str], SiteTemplate]:
    """Each (organization, host)'s learned template, from what is stored now."""
    return site_templates(latest_pages(store, org_ids))
