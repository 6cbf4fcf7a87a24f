"""A site's template within one cycle: the pages of an organization on one host, judged
against what they all share once each has been fetched.

A page whose template changed shows new lines that no stored page has yet: the footer of
this year, a new entry in the navigation. Judged alone, the first page fetched would
announce them. So each page of a site reports its new content as soon as it is
extracted, and a page with a change that is not yet known as template-only waits for
its siblings before it is judged again against what the site shares, before and now.

No deadlock: a page reports before it waits, waits only after its fetches have ended
(holding no connection, host or fetch slot) and only when its body took no share of the
large-body pool (``SMALL_BODY``), so every sibling can always reach its report.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable

from core.records import Extracted
from monitors.base import Monitor
from monitors.templates import (
    NO_TEMPLATE,
    SHARED_BY,
    SiteTemplate,
    host_of,
    shared,
)
from storage.db import Store
from storage.records import PackedContent
from storage.templates import (
    PageRefs,
    StoredTemplate,
    page_content,
    stored_pages,
    stored_template,
)

#: What is new in this cycle is template only when every page of a site of at least
#: this many pages shows it: a new publication linked from the home page and from the
#: publications page (two pages) is a document, never a template.
NEW_TEMPLATE_PAGES = 3

log = logging.getLogger(__name__)

#: Reads what a site's stored pages share (a worker of the pool does it in a cycle).
ReadTemplate = Callable[[PageRefs], Awaitable[StoredTemplate]]


class SiteRound:
    """One site's pages checked in this cycle; ``before()`` is what their stored versions
    share (the template known when the cycle starts).

    The stored pages are read once, when a page of the site first brings a body to
    compare: a cycle of 304s never reads them.

    ``bring_forward`` is for members nobody is checking yet (the daemon checks one page
    per job): it is called once, with their ids, when a page first waits for the
    template, and must check each of them with this round or report it."""

    def __init__(self, stored: PageRefs, members: Iterable[str], read: ReadTemplate) -> None:
        self._stored = stored
        self._read = read
        self._waiting = set(members)
        self.bring_forward: Callable[[Collection[str]], None] | None = None
        self._fresh: dict[str, tuple[str, Extracted | PackedContent]] = {}
        self._all_in = asyncio.Event()
        self._now: SiteTemplate | None = None
        self._before: asyncio.Future[StoredTemplate] | None = None
        if not self._waiting:
            self._all_in.set()

    async def before(self) -> SiteTemplate:
        return (await self._stored_template()).template

    async def _stored_template(self) -> StoredTemplate:
        if self._before is None:
            self._before = asyncio.ensure_future(self._read_or_none())
        # Shielded: a page cancelled while it waits must not cancel its siblings' read.
        return await asyncio.shield(self._before)

    async def _read_or_none(self) -> StoredTemplate:
        """The stored template; none if it cannot be read (the pages' changes are then
        announced: nothing is lost, and no page's check fails for its siblings)."""
        if not self._stored:  # a new site: nothing stored to share
            return StoredTemplate(NO_TEMPLATE, frozenset())
        try:
            return await self._read(self._stored)
        except Exception:  # any failure means "no template", never a lost check
            log.exception("the template of %d stored page(s) was not read", len(self._stored))
            return StoredTemplate(NO_TEMPLATE, frozenset())

    def report(self, monitor_id: str, url: str,
               content: Extracted | PackedContent | None) -> None:
        """A page's new content (None: unchanged or unreadable, its stored one stands).
        Only its first report counts."""
        if monitor_id not in self._waiting:
            return
        # A site with no stored page keeps no content: each of its pages is checked for
        # the first time, so none has a change to judge against the template, and
        # holding every page's content to the end of an all-new cycle cost 14 MB at
        # 1,000 pages (benchmarks/cycle.py).
        if content is not None and self._stored:
            self._fresh[monitor_id] = (url, content)
        self._waiting.discard(monitor_id)
        if not self._waiting:
            self._all_in.set()

    async def template(self) -> SiteTemplate:
        """What the site's stored pages share, and what every page shows now, once every
        page reported.

        What every page shows now is new template only when every page of the site (of
        NEW_TEMPLATE_PAGES pages or more) has new content in this cycle: a page that did
        not change still shows its stored lines, and whatever it shares with the others
        is in ``before`` already."""
        if self.bring_forward is not None:
            bring_forward, self.bring_forward = self.bring_forward, None
            bring_forward(frozenset(self._waiting))
        await self._all_in.wait()
        stored = await self._stored_template()
        if self._now is None:
            before = stored.template
            fresh = [page_content(url, content) for url, content in self._fresh.values()]
            every_page_new = stored.monitor_ids <= self._fresh.keys()
            now = (shared(fresh, by=len(fresh))
                   if every_page_new and len(fresh) >= NEW_TEMPLATE_PAGES else NO_TEMPLATE)
            self._now = SiteTemplate(before.lines | now.lines, before.links | now.links)
            self._fresh.clear()  # every page has reported: no content is needed again
        return self._now


async def read_in_process(store: Store, refs: PageRefs) -> StoredTemplate:
    return stored_template(store, refs)


def site_rounds(store: Store, monitors: Iterable[Monitor], read: ReadTemplate | None = None,
                ) -> dict[str, SiteRound]:
    """Each page monitor's round, for sites of two pages or more (stored or checked now);
    a page alone on its host has no learned template. ``read`` reads what the stored
    pages share (by default in this process).

    A ``render: browser`` page takes no part: its siblings would wait for the browser,
    which renders a few pages at a time (20 rendered pages held back a plain page's
    change for 20 s), and its DOM is not the HTML its siblings share."""
    checked: dict[tuple[str, str], list[str]] = {}
    rendered: set[str] = set()
    for monitor in monitors:
        if monitor.kind != "page":
            continue
        if monitor.config.render == "browser":
            rendered.add(monitor.id)
            continue
        checked.setdefault((monitor.org_id, host_of(monitor.config.url)), []).append(
            monitor.id)
    stored = stored_pages(store, checked.keys())
    rounds: dict[str, SiteRound] = {}
    for site, members in checked.items():
        pages = {monitor_id: page for monitor_id, page in stored.get(site, {}).items()
                 if monitor_id not in rendered}
        if len(pages.keys() | set(members)) < SHARED_BY:
            continue
        site_round = SiteRound(pages, members,
                               read or (lambda refs: read_in_process(store, refs)))
        rounds.update(dict.fromkeys(members, site_round))
    return rounds
