"""A site's template learned from an organization's own pages on one local host.

Three page monitors of one organization share a header, a navigation and a footer
written in markup that names nothing (random class names, no header/nav/footer tags):
what they share can only be learned by comparing them. When the footer and the
navigation change on every page, no change is announced and the digest says once
"site template changed on 3 pages"; a link added to the shared navigation is not a new
document, a link added to one page's own content is.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Awaitable, Callable
from pathlib import Path

import feedparser
import pytest

from pipeline.config import Config
from pipeline.digest import deliver_owed
from storage.db import Store
from tests.integration.conftest import Site
from tests.integration.cycle_support import cycle, make_config
from tests.integration.digest_support import smtp_server

pytestmark = pytest.mark.integration

PAGES = {"/water": ("Water quality report", "Samples from twelve rivers were analysed."),
         "/tenders": ("Call for tenders", "Bids for the new bridge are open."),
         "/about": ("About the ministry", "The ministry looks after roads and rivers.")}


def name(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=8))


class Template:
    """A site template in markup of random class names (nothing a selector names)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.classes = [name(rng) for _ in range(4)]
        self.nav = [("/", "Home"), ("/news", "News"), ("/contact", "Contact")]
        self.footer = "© 2026 Ministry of Examples · Privacy"

    def page(self, title: str, text: str,
             own_links: tuple[tuple[str, str], ...] | list[tuple[str, str]] = ()) -> str:
        top, menu, main, bottom = self.classes
        nav = "".join(f'<li><a href="{href}">{label}</a></li>' for href, label in self.nav)
        own = "".join(f'<p><a href="{href}">{label}</a></p>' for href, label in own_links)
        return (f"<!doctype html><html><head><title>{title}</title></head><body>"
                f'<div class="{top}">Ministry of Examples</div>'
                f'<div class="{menu}"><ul>{nav}</ul></div>'
                f'<div class="{main}"><h1>{title}</h1><p>{text}</p>{own}</div>'
                f'<div class="{bottom}">{self.footer}</div></body></html>')


def serve(site: Site, template: Template,
          own_links: dict[str, list[tuple[str, str]]] | None = None) -> None:
    for path, (title, text) in PAGES.items():
        site.set(path, template.page(title, text, (own_links or {}).get(path, [])))


def config(site: Site, feeds: Path, smtp_port: int) -> Config:
    monitors = [{"id": path.strip("/"), "kind": "page", "url": site.url(path)} for path in PAGES]
    return make_config(monitors, notifications={
        "email": {"smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none",
                           "timeout": "5s"},
                  "from": "govwatch@example.org", "to": ["analyst@example.org"]},
        "feed": {"directory": str(feeds)},
    })


async def test_a_template_change_on_every_page_is_one_digest_line(
        site: Site, store: Store, tmp_path: Path) -> None:
    template = Template(seed=random.randrange(1 << 30))
    serve(site, template)
    with smtp_server() as mailbox:
        cfg = config(site, tmp_path / "feeds", mailbox.port)
        first = await cycle(cfg, store)
        assert sorted(c.outcome for c in first.checks) == ["new", "new", "new"]
        deliver_owed(cfg, store)  # the channels start owing from here
        sent_before = len(mailbox.messages)

        template.footer = "© 2027 Ministry of Examples · Privacy · Cookies"
        template.nav = [*template.nav[:2], ("/jobs", "Jobs"), template.nav[2]]
        serve(site, template)
        second = await cycle(cfg, store)

        assert sorted(c.outcome for c in second.checks) == ["changed"] * 3
        assert second.changes == [], [c.summary for c in second.changes]
        rows = list(store.db.query("SELECT detail, reasons, notable FROM changes "
                                   "ORDER BY id"))
        assert len(rows) == 3
        for row in rows:
            assert row["notable"] == 0
            assert "not announced: site template only" in json.loads(row["reasons"])
            detail = json.loads(row["detail"])
            assert detail["documents"] == []  # the new navigation link is no document
            assert [url for url, _ in detail["links_added"]] == [site.url("/jobs")]

        deliver_owed(cfg, store)
        assert len(mailbox.messages) == sent_before + 1
        text = mailbox.messages[-1].part("plain")
        # Once in the Ministry's section (the subject and the counts line sum it up).
        assert text.count("site template changed on 3 pages (not shown one by one)") == 1
        # ... with what every page shows changed, once: a banner on every page is read.
        for edit in ("+ Jobs", "+ © 2027 Ministry of Examples · Privacy · Cookies",
                     "- © 2026 Ministry of Examples · Privacy"):
            assert text.splitlines().count(f"    {edit}") == 1, text
        assert mailbox.messages[-1].message["Subject"] == (
            "[govwatch] site template changed on 3 pages: Ministry")
        assert mailbox.messages[-1].change_ids() == []
        assert "New documents" not in text
        feed = feedparser.parse(str(tmp_path / "feeds" / "govwatch.atom"))
        assert [e.title for e in feed.entries] == ["Ministry - site template changed on 3 pages"]
        assert "<li>+ Jobs</li>" in feed.entries[0].content[0].value
        org_feed = feedparser.parse(str(tmp_path / "feeds" / "org" / "ministry.atom"))
        assert [e.title for e in org_feed.entries] == ["site template changed on 3 pages"]
        # One template entry, in each file under that file's own id (issue 19).
        assert re.search(r"/org/ministry\.atom/template/ministry/\d+$", org_feed.entries[0].id)
        assert feed.entries[0].id == org_feed.entries[0].id.replace("/org/ministry.atom/",
                                                                    "/govwatch.atom/")

        serve(site, template, {"/water": [("/docs/rivers-2026.pdf", "Rivers 2026 data")]})
        third = await cycle(cfg, store)
        assert [c.monitor_id for c in third.changes] == ["water"]
        change = json.loads(next(iter(store.db.query(
            "SELECT detail FROM changes WHERE id = ?", [third.changes[0].change_id])))["detail"])
        assert [d["url"] for d in change["documents"]] == [site.url("/docs/rivers-2026.pdf")]
        deliver_owed(cfg, store)
        text = mailbox.messages[-1].part("plain")
        assert "Rivers 2026 data" in text and "site template changed" not in text
        feed = feedparser.parse(str(tmp_path / "feeds" / "govwatch.atom"))
        assert [e.title for e in feed.entries] == [
            "Ministry - New document: Rivers 2026 data",
            "Ministry - site template changed on 3 pages"]

        # A publication linked from two pages of three is a document on both, not template.
        rivers = [("/docs/rivers-2026.pdf", "Rivers 2026 data")]
        bridge = [("/docs/bridge.pdf", "Bridge plans")]
        serve(site, template, {"/water": rivers, "/tenders": bridge, "/about": bridge})
        fourth = await cycle(cfg, store)
        assert sorted(c.monitor_id for c in fourth.changes) == ["about", "tenders"]
        for report in fourth.changes:
            assert report.summary == "1 new document: Bridge plans"


async def test_a_page_alone_on_its_host_learns_no_template(
        site: Site, store: Store, tmp_path: Path) -> None:
    template = Template(seed=random.randrange(1 << 30))
    site.set("/water", template.page(*PAGES["/water"]))
    cfg = make_config([{"id": "water", "kind": "page", "url": site.url("/water")}])
    await cycle(cfg, store)
    template.footer = "© 2027 Ministry of Examples"
    site.set("/water", template.page(*PAGES["/water"]))
    report = await cycle(cfg, store)
    assert [c.monitor_id for c in report.changes] == ["water"]


async def test_a_stamp_in_the_template_is_noise_learned_not_a_change_at_every_check(
        site: Site, store: Store, tmp_path: Path) -> None:
    """The footer of every page (a ``<footer>``, so a change there is the template's)
    carries a number that moves at each request. The first
    checks' copies are answered 304 (a weak ETag that names the revision), so they teach
    nothing; once the site stops sending validators, a check finds only the template
    changed. A second copy shows the number moving: it is learned as noise, and the
    checks after it are unchanged, not a template change recorded at every check."""
    from aiohttp import web

    template = Template(seed=random.randrange(1 << 30))
    label = name(random.Random())
    served = {"n": 0, "validators": True}

    def handler(path: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def respond(request: web.Request) -> web.Response:
            if served["validators"] and request.headers.get("If-None-Match") == 'W/"1"':
                return web.Response(status=304)
            served["n"] += 1
            title, text = PAGES[path]
            template.footer = f"© 2026 Ministry of Examples · {label} {served['n'] * 7 + 13}"
            headers = {"ETag": 'W/"1"'} if served["validators"] else {}
            bottom = template.classes[-1]  # the footer as the page's own element says it
            html = template.page(title, text).replace(
                f'<div class="{bottom}">{template.footer}</div>',
                f"<footer>{template.footer}</footer>")
            return web.Response(text=html, content_type="text/html", headers=headers)
        return respond

    for path in PAGES:
        site.route(path, handler(path))
    with smtp_server() as smtp:
        cfg = config(site, tmp_path / "feeds", smtp.port)
        outcomes = [sorted(c.outcome for c in (await cycle(cfg, store)).checks)]
        served["validators"] = False
        for _ in range(4):
            outcomes.append(sorted(c.outcome for c in (await cycle(cfg, store)).checks))
    assert outcomes[0] == ["new"] * 3
    assert outcomes[3:] == [["unchanged"] * 3] * 2, outcomes
    quiet = store.db.execute("SELECT count(*) FROM changes WHERE notable = 0").fetchone()[0]
    assert quiet <= 3, "at most one quiet change per page, while its stamp was learned"
