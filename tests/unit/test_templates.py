"""A site's template learned from an organization's own pages on one host: tables of
pages and what they share, then what the comparison and the digest make of it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.records import TEMPLATE_ONLY, Extracted
from monitors import MonitorConfig, build_monitor
from monitors.templates import PageContent, SiteTemplate, shared, site_templates
from monitors.volatility import Noise
from notifications.digest import Digest, counts, sections
from pipeline.templates import SiteRound
from storage.outbox import OwedChange
from storage.templates import PageRefs, StoredTemplate

HEADER = ["Ministry of Examples", "Home News Contact"]
FOOTER = ["© 2026 Ministry of Examples", "Privacy · Accessibility"]


def page(url: str, body: list[str], links: tuple[str, ...] | list[str] = (), *,
         header: list[str] = HEADER, footer: list[str] = FOOTER) -> PageContent:
    return PageContent(url, [*header, *body, *footer], list(links))


@pytest.mark.parametrize(("pages", "lines", "links"), [
    pytest.param(
        [page("https://a.example/1", ["Report on water", "Published in May"]),
         page("https://a.example/2", ["Call for tenders", "Deadline: 1 June"])],
        {*HEADER, *FOOTER}, set(), id="two pages share header and footer"),
    pytest.param(
        [page("https://a.example/1", ["One"], ["https://a.example/", "https://a.example/x"]),
         page("https://a.example/2", ["Two"], ["https://a.example/", "https://a.example/y"]),
         page("https://a.example/3", ["Three"], ["https://a.example/"])],
        {*HEADER, *FOOTER}, {"https://a.example/"}, id="three pages, a shared link"),
    pytest.param(
        [page("https://a.example/1", ["Shared paragraph", "Only here"]),
         page("https://a.example/2", ["Shared paragraph"], footer=[]),
         page("https://a.example/3", ["Elsewhere"], header=[])],
        {*HEADER, *FOOTER, "Shared paragraph"}, set(),
        id="lines on two of three pages; a line on one page is content"),
    pytest.param(
        [page("https://a.example/1", ["Alone"], ["https://a.example/"])],
        set(), set(), id="a page alone shares nothing"),
    pytest.param([], set(), set(), id="no pages"),
])
def test_what_pages_share_is_the_template(pages: list[PageContent], lines: set[str],
                                         links: set[str]) -> None:
    learned = shared(pages)
    assert learned == SiteTemplate(frozenset(lines), frozenset(links))
    assert "Only here" not in learned.lines


@pytest.mark.parametrize(("pages", "expected"), [
    pytest.param(
        [("org", page("https://a.example/1", ["x"])), ("org", page("https://b.example/1", ["y"]))],
        {}, id="different hosts share nothing"),
    pytest.param(
        [("org", page("https://a.example/1", ["x"])),
         ("other", page("https://a.example/2", ["y"]))],
        {}, id="different organizations share nothing"),
    pytest.param(
        [("org", page("https://A.example/1", ["x"])), ("org", page("https://a.example/2", ["y"])),
         ("org", page("https://b.example/1", ["z"]))],
        {("org", "a.example"): SiteTemplate(frozenset({*HEADER, *FOOTER}))},
        id="one host of two has a template"),
])
def test_templates_are_per_organization_and_host(
        pages: list[tuple[str, PageContent]],
        expected: dict[tuple[str, str], SiteTemplate]) -> None:
    assert site_templates(pages) == expected


def html(body: str, nav: list[tuple[str, str]]) -> bytes:
    links = " ".join(f'<a href="{href}">{text}</a>' for href, text in nav)
    return (f"<html><body><div class=t1>{links}</div><div class=c>{body}</div>"
            f"<div class=t2>© 2026 Ministry</div></body></html>").encode()


NAV = [("/", "Home"), ("/news", "News")]


def test_a_link_of_the_learned_template_is_never_a_new_document() -> None:
    monitor = build_monitor(MonitorConfig(id="m", kind="page", url="https://a.example/p"), "org")
    old = monitor.extract(html("<p>Report</p>", NAV), url="https://a.example/p")
    new = monitor.extract(html("<p>Report</p>", [*NAV, ("/jobs", "Jobs")]),
                          url="https://a.example/p")
    learned = Noise(template=frozenset({"Home News", "Home News Jobs"}),
                    template_links=frozenset({"https://a.example/jobs"}))
    quiet = monitor.compare(old, new, learned)
    assert quiet is not None and quiet.quiet == TEMPLATE_ONLY
    assert quiet.detail["documents"] == []
    assert quiet.detail["links_added"] == [["https://a.example/jobs", "Jobs"]]
    alone = monitor.compare(old, new)
    assert alone is not None and alone.quiet is None
    assert [d["url"] for d in alone.detail["documents"]] == ["https://a.example/jobs"]


def test_a_link_in_the_page_own_content_is_a_document_whatever_the_template() -> None:
    monitor = build_monitor(MonitorConfig(id="m", kind="page", url="https://a.example/p"), "org")
    old = monitor.extract(html("<p>Report</p>", NAV), url="https://a.example/p")
    new = monitor.extract(html('<p>Report</p><a href="/r.pdf">Annual report</a>', NAV),
                          url="https://a.example/p")
    learned = Noise(template=frozenset({"Home News", "© 2026 Ministry"}),
                    template_links=frozenset({"https://a.example/", "https://a.example/news"}))
    change = monitor.compare(old, new, learned)
    assert change is not None and change.quiet is None
    assert [d["url"] for d in change.detail["documents"]] == ["https://a.example/r.pdf"]


def owed(change_id: int, org: str, monitor: str, *, template: bool) -> OwedChange:
    reasons = ("footer changed", f"not announced: {TEMPLATE_ONLY}") if template else ("edit",)
    return OwedChange(
        change_id=change_id, org_id=org, org_name=org.upper(), monitor_id=monitor,
        monitor_name=monitor, monitor_url=f"https://{org}.example/{monitor}",
        monitor_kind="page", kind="text", summary="1 line(s) added, 1 removed",
        diff="--- a\n+++ b\n@@ -1 +1 @@\n-old footer\n+new footer\n", detail={},
        significance=0.1, reasons=reasons, detected_at="2026-12-07T05:00:00+00:00")


def test_the_digest_says_once_per_organization_on_how_many_pages_the_template_changed(
) -> None:
    digest = Digest("email", datetime(2026, 12, 7, tzinfo=UTC), changes=(
        owed(1, "oecd", "a", template=True), owed(2, "oecd", "b", template=True),
        owed(3, "oecd", "a", template=True), owed(4, "oecd", "c", template=False),
        owed(5, "unidir", "x", template=True)))
    by_org = {s.org_id: s for s in sections(digest)}
    assert by_org["oecd"].template_line == "site template changed on 2 pages"
    assert [v.change.change_id for m in by_org["oecd"].monitors for v in m.changes] == [4]
    assert by_org["unidir"].template_line == "site template changed on 1 page"
    assert by_org["unidir"].monitors == ()
    assert counts(digest) == "1 change, site template changed on 3 pages"
    alone = Digest("email", digest.created_at, changes=(owed(1, "oecd", "a", template=True),))
    assert counts(alone) == "site template changed on 1 page"


def lines_of(*body: str) -> Extracted:
    return Extracted("\n".join([*HEADER, *body, *FOOTER]), {"links": []})


def round_of(stored: dict[str, PageContent], members: list[str],
             reads: list[PageRefs] | None = None) -> SiteRound:
    """A round whose stored pages are ``stored``, read as the store would read them."""

    async def read(refs: PageRefs) -> StoredTemplate:
        if reads is not None:
            reads.append(refs)
        await asyncio.sleep(0)  # a worker answers later
        return StoredTemplate(shared(stored[m] for m in refs), frozenset(refs))

    return SiteRound({m: (page.url, f"hash-{m}") for m, page in stored.items()}, members, read)


@pytest.mark.parametrize(("fresh", "now_lines"), [
    pytest.param({"a": ["New footer"], "b": ["New footer"], "c": ["New footer"]},
                 {"New footer"}, id="on every page of three: template"),
    pytest.param({"a": ["New report"], "b": ["New report"], "c": None},
                 set(), id="on two pages of three: content (a document on two pages)"),
])
async def test_a_round_adds_what_every_page_shows_now(
        fresh: dict[str, list[str] | None], now_lines: set[str]) -> None:
    stored = {m: PageContent(f"https://a.example/{m}", [*HEADER, m, *FOOTER])
              for m in ("a", "b", "c")}
    site = round_of(stored, list(stored))
    for monitor_id, body in fresh.items():
        content = None if body is None else lines_of(monitor_id, *body)
        site.report(monitor_id, f"https://a.example/{monitor_id}", content)
        site.report(monitor_id, "ignored", lines_of("only the first report counts"))
    template = await asyncio.wait_for(site.template(), 5)
    before = await site.before()
    assert template.lines == before.lines | now_lines
    assert before.lines == {*HEADER, *FOOTER}


async def test_the_stored_pages_are_read_once_for_every_page_that_asks() -> None:
    stored = {m: PageContent(f"https://a.example/{m}", [*HEADER, m, *FOOTER])
              for m in ("a", "b", "c")}
    reads: list[PageRefs] = []
    site = round_of(stored, list(stored), reads)
    cancelled = asyncio.ensure_future(site.before())
    await asyncio.sleep(0)
    cancelled.cancel()  # a page stopped while it waited: its siblings still get the read
    befores = await asyncio.wait_for(asyncio.gather(site.before(), site.before()), 5)
    assert [b.lines for b in befores] == [{*HEADER, *FOOTER}] * 2
    assert len(reads) == 1 and set(reads[0]) == {"a", "b", "c"}


async def test_a_new_site_reads_nothing() -> None:
    reads: list[PageRefs] = []
    site = round_of({}, ["a", "b", "c"], reads)
    assert await asyncio.wait_for(site.before(), 5) == SiteTemplate()
    assert reads == [], "no worker job for a site with no stored page"


async def test_a_new_site_keeps_none_of_its_first_contents() -> None:
    """Every page of a new site is a first check, with no change to judge against a
    template: its contents are not held to the end of the cycle to build one."""
    site = round_of({}, ["a", "b", "c"])
    for monitor_id in ("a", "b", "c"):
        site.report(monitor_id, f"https://a.example/{monitor_id}", lines_of(monitor_id))
    assert await asyncio.wait_for(site.template(), 5) == SiteTemplate()


async def test_a_template_that_cannot_be_read_is_no_template() -> None:
    async def broken(refs: PageRefs) -> StoredTemplate:
        raise ValueError(f"corrupt content among {len(refs)} pages")

    site = SiteRound({"a": ("https://a.example/a", "h")}, ["a", "b"], broken)
    assert await asyncio.wait_for(site.before(), 5) == SiteTemplate()
    site.report("a", "https://a.example/a", lines_of("a"))
    site.report("b", "https://a.example/b", None)
    assert await asyncio.wait_for(site.template(), 5) == SiteTemplate()


async def test_a_round_waits_for_every_page() -> None:
    site = round_of({}, ["a", "b"])
    site.report("a", "https://a.example/a", lines_of("a"))
    waiting = asyncio.ensure_future(site.template())
    await asyncio.sleep(0)
    assert not waiting.done()
    site.report("b", "https://a.example/b", None)
    assert (await asyncio.wait_for(waiting, 5)) == SiteTemplate()
