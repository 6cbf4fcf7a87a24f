"""Official-looking pages for ``benchmarks/pairs_probe.py``, in four site styles.

Each page is a heavy template (cookie banner, mega-menu, breadcrumbs, sidebars, a footer
of many links, inline CSS and scripts, JSON-LD) around one content model; what changes by
itself between requests (a counter, a request stamp, tokens, a session, an ad slot...) is
a ``State``, so a pair differs in exactly what a case says.
"""

from __future__ import annotations

import html
import json
import random
from dataclasses import dataclass

#: (region, index, new label): one navigation entry renamed or one footer line removed.
TemplateEdit = tuple[str, int, str | None]

STYLES = ("semantic", "legacy", "drupal", "sharepoint")

_WORDS = (
    "artificial intelligence policy framework member states guidance implementation report "
    "committee assessment risk governance transparency accountability trustworthy systems "
    "data protection stakeholders consultation principles adoption review council secretariat "
    "monitoring evaluation standards oversight public sector innovation capacity national "
    "strategies measures recommendation working party experts observatory indicators "
    "cooperation regulatory sandbox procurement skills labour market education research "
    "investment infrastructure compute safety incidents").split()
_SECTIONS = ("Topics", "Countries", "Publications", "Data", "Events", "About", "Newsroom",
             "Careers", "Procurement", "Contact")


def paragraph(rng: random.Random, n: int = 0) -> str:
    words = [rng.choice(_WORDS) for _ in range(n or rng.randrange(25, 70))]
    return " ".join(words).capitalize() + "."


def _slug(text: str) -> str:
    return "-".join(text.lower().split()[:5]).strip(".,()")


@dataclass
class Content:
    title: str
    facts: list[tuple[str, str]]
    deadline: str
    paragraphs: list[str]
    publications: list[tuple[str, str]]
    datasets: list[tuple[str, str]]
    figures: list[tuple[str, str]]
    edition: tuple[str, str]
    events: list[tuple[str, str, str]]

    @classmethod
    def make(cls, style: str) -> Content:
        rng = random.Random(f"content-{style}")
        return cls(
            title="Recommendation of the Council on Artificial Intelligence",
            facts=[("Adopted", "22 May 2019"), ("Entry into force", "2 August 2026"),
                   ("Budget", "EUR 40,000"), ("Parties to the convention", "41"),
                   ("Last reviewed", "3 November 2026"), ("Reference", "C/MIN(2024)16/FINAL")],
            deadline="Written comments must reach the Secretariat by 15 March 2026 at the "
                     "latest, using the online form.",
            paragraphs=[paragraph(rng) for _ in range(36)],
            publications=[(f"/docs/{_slug(t)}.pdf", t) for t in
                          (paragraph(rng, 7).rstrip(".") + " (PDF)" for _ in range(14))],
            datasets=[("/data/ai-incidents-2025.csv", "AI incidents monitor, 2025 (CSV)"),
                      ("/data/national-strategies.xlsx", "National AI strategies (XLSX)"),
                      ("/data/compute-capacity.json", "Public compute capacity (JSON)")],
            figures=[(f"/media/fig{n}.png", f"Figure {n}. {paragraph(rng, 9)}") for n in (1, 2, 3)],
            edition=("/docs/ai-principles-implementation-2026.pdf",
                     "Implementation report, 1st edition (PDF, 2.3 MB)"),
            events=[(f"{d} 2026", paragraph(rng, 6).rstrip("."), p) for d, p in
                    (("3 February", "Paris"), ("14 May", "Geneva"), ("9 June", "Brussels"),
                     ("22 September", "Online"))],
        )


@dataclass
class State:
    views: int = 12408
    request: str = "7F3A09C2D1"
    millis: int = 184
    csrf: str = "9c0e1d2f3a4b5c6d7e8f90a1b2c3d4e5"
    viewstate: str = "00" * 9000
    session: str = "A1B2C3D4E5F60718293A4B5C"
    related_seed: int = 1
    cookie: str = "c0ffee123456"
    asset: str = "3f9a1c2e"
    ad: int = 0
    minutes: int = 14

    @classmethod
    def make(cls, style: str) -> State:
        return cls(viewstate=random.Random(style).randbytes(9000).hex())


_COUNTER = {"semantic": "This page has been consulted {v:,} times",
            "legacy": "You are visitor no. {v:07d} since 1 January 2004",
            "drupal": "Viewed {v:,}\u00d7",
            "sharepoint": "Page views (last 30 days): {v:,}"}
_ADS = [("Join the Global Forum on AI, Paris, 2-3 March", "/events/global-forum"),
        ("New: AI Policy Observatory dashboards", "/observatory"),
        ("Apply now: Young Professionals Programme", "/careers/ypp"),
        ("Podcast: governing frontier models", "/podcast/42"),
        ("Call for experts: working party on AI", "/calls/experts")]


class Page:
    """The pieces of one page; each style's function wraps them in its own markup."""

    def __init__(self, style: str, c: Content, s: State,
                 template_edit: TemplateEdit | None) -> None:
        self.style, self.c, self.s = style, c, s
        self.edit = template_edit or ("", -1, None)

    def u(self, href: str) -> str:
        """A site link, carrying the session the way this style's server does."""
        if not href.startswith("/"):
            return href
        if self.style == "legacy":
            return f"{href};jsessionid={self.s.session}"
        key = "SessionID" if self.style == "sharepoint" else "PHPSESSID"
        return f"{href}?{key}={self.s.session}&lang=en"

    def a(self, href: str, text: str, cls: str = "") -> str:
        klass = f' class="{cls}"' if cls else ""
        return f'<a href="{html.escape(self.u(href))}"{klass}>{html.escape(text)}</a>'

    def nav_label(self, n: int) -> str:
        where, index, label = self.edit
        return label if where == "nav" and n == index and label else _SECTIONS[n]

    def menu(self) -> list[tuple[str, list[tuple[str, str]]]]:
        rng = random.Random(f"menu-{self.style}")
        return [(self.nav_label(n), [(f"/{_SECTIONS[n].lower()}/{k}", paragraph(rng, 3)[:-1])
                                      for k in range(16)]) for n in range(len(_SECTIONS))]

    def footer_lines(self) -> list[list[tuple[str, str]]]:
        rng = random.Random(f"footer-{self.style}")
        cols = [[(f"/f/{c}/{k}", paragraph(rng, 2)[:-1]) for k in range(12)] for c in range(5)]
        extra = [[("/accessibility", "Accessibility statement")],
                 [("https://twitter.com/org", "Follow us on X")],
                 [("https://flickr.com/org", "Photos on Flickr")],
                 [("/legal/cookies", "Cookie policy"), ("/legal/privacy", "Privacy")],
                 [("/sitemap", "Site map")]]
        where, index, _ = self.edit
        if where == "footer":
            extra = extra[:index] + extra[index + 1:]
        return cols + extra

    def stamp(self) -> str:
        return (f"Page generated in {self.s.millis / 1000:.3f} s \u00b7 request "
                f"{self.s.request} \u00b7 node web-0{self.s.millis % 5}")

    def counter(self) -> str:
        text = _COUNTER[self.style].format(v=self.s.views)
        # A narrow no-break space groups the thousands, as French-style sites print them.
        return text.replace(",", "\u202f") if self.style == "semantic" else text

    def updated(self) -> str:
        return f"Updated {self.s.minutes} minutes ago"

    def ad(self) -> tuple[str, str]:
        return _ADS[self.s.ad % len(_ADS)]

    def related(self) -> list[tuple[str, str]]:
        rng = random.Random(f"related-{self.style}")
        items = [(f"/news/{9000 + k}", paragraph(rng, 8)[:-1]) for k in range(8)]
        random.Random(self.s.related_seed).shuffle(items)
        return items

    def head(self) -> str:
        rng = random.Random(f"css-{self.style}")
        css = "\n".join(f".c-{k}{{margin:{rng.randrange(40)}px;color:#{rng.getrandbits(24):06x};"
                        f"padding:{rng.randrange(9)}px {rng.randrange(9)}px}}"
                        for k in range(900))
        config = {"csrf": self.s.csrf, "tags": [paragraph(rng, 4) for _ in range(120)],
                  "gtm": f"GTM-{self.s.asset.upper()}"}
        ld = {"@context": "https://schema.org", "@type": "WebPage", "name": self.c.title,
              "dateModified": "2026-11-03", "publisher": {"@type": "Organization",
                                                           "name": "Example Organisation"}}
        v = self.s.asset
        return (f"<head><meta charset=\"utf-8\"><title>{html.escape(self.c.title)} | Example "
                f"Organisation</title><meta name=\"csrf-token\" content=\"{self.s.csrf}\">"
                f"<link rel=\"stylesheet\" href=\"/assets/site.css?v={v}\">"
                f"<style>{css}</style><script src=\"/assets/vendor.js?v={v}\"></script>"
                f"<script>window.__CONFIG__={json.dumps(config)};</script>"
                f"<script type=\"application/ld+json\">{json.dumps(ld)}</script></head>")

    def cookie(self) -> str:
        return (f'<div id="cookie-{self.s.cookie}" class="cc-banner" data-consent-id='
                f'"{self.s.cookie}"><p>We use cookies to measure the use of this site.</p>'
                f'<button>Accept all</button><button>Refuse</button></div>')

    def search_form(self) -> str:
        return (f'<form action="/search" method="get"><input type="hidden" name="_token" '
                f'value="{self.s.csrf}"><input type="search" name="q" '
                f'aria-label="Search"><button>Search</button></form>')

    def body_content(self) -> str:
        """The article, in the markup every style shares (lists, table, figures)."""
        c = self.c
        paras = [f"<p>{html.escape(p)}</p>" for p in c.paragraphs]
        figs = [f'<figure><img src="{src}" alt=""><figcaption>{html.escape(cap)}</figcaption>'
                f"</figure>" for src, cap in c.figures]
        pubs = "".join(f"<li>{self.a(h, t)}</li>" for h, t in c.publications)
        data = "".join(f"<li>{self.a(h, t)}</li>" for h, t in c.datasets)
        rows = "".join(f"<tr><td>{d}</td><td>{html.escape(t)}</td><td>{p}</td></tr>"
                       for d, t, p in c.events)
        return "\n".join([
            *paras[:6], f"<p>{html.escape(c.deadline)}</p>", figs[0], *paras[6:14],
            *figs[1:-1], *paras[14:22], figs[-1], "<h2>Publications</h2>",
            f"<ul class=\"pubs\">{pubs}</ul>",
            f"<p>Latest edition: {self.a(*c.edition)}</p>", "<h2>Data</h2>",
            f"<ul class=\"datasets\">{data}</ul>", "<h2>Events</h2>",
            f"<table><thead><tr><th>Date</th><th>Event</th><th>Place</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>", *paras[22:]])

    def scripts(self) -> str:
        rng = random.Random(f"js-{self.style}")
        fns = "\n".join(f"function f{k}(a){{return a*{rng.randrange(99)}+'{paragraph(rng, 3)}';}}"
                        for k in range(300))
        return (f"<script>{fns}</script><script src=\"/assets/app.js?v={self.s.asset}\">"
                f"</script>")


def _semantic(p: Page) -> str:
    c = p.c
    menu = "".join(f'<li class="mega"><button>{t}</button><ul>'
                   + "".join(f"<li>{p.a(h, x)}</li>" for h, x in items) + "</ul></li>"
                   for t, items in p.menu())
    facts = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in c.facts)
    foot = "".join("<ul>" + "".join(f"<li>{p.a(h, t)}</li>" for h, t in col) + "</ul>"
                   for col in p.footer_lines())
    rel = "".join(f"<li>{p.a(h, t)}</li>" for h, t in p.related())
    ad_t, ad_h = p.ad()
    return (f"<!DOCTYPE html><html lang=\"en\">{p.head()}<body>{p.cookie()}<header>"
            f"{p.a('/', 'Example Organisation', 'brand')}{p.search_form()}</header>"
            f"<nav class=\"mega-menu\"><ul>{menu}</ul></nav><main>"
            f"<nav aria-label=\"Breadcrumb\"><ol><li>{p.a('/', 'Home')}</li><li>"
            f"{p.a('/topics', 'Topics')}</li><li>{p.a('/topics/ai', 'AI')}</li></ol></nav>"
            f"<article><h1>{c.title}</h1><p class=\"meta\">Published 22 May 2019 \u00b7 "
            f"{p.counter()} \u00b7 {p.updated()}</p><dl>{facts}</dl>{p.body_content()}"
            f"</article><aside><h2>Related</h2><ul>{rel}</ul><div class=\"promo\">"
            f"{p.a(ad_h, ad_t)}</div></aside></main><footer>{foot}<p>\u00a9 Example "
            f"Organisation 2026</p><p>{p.stamp()}</p></footer>{p.scripts()}</body></html>")


def _legacy(p: Page) -> str:
    c = p.c
    menu = "".join(f"<td class=\"mnu\"><b>{t}</b><br>"
                   + "<br>".join(p.a(h, x) for h, x in items) + "</td>"
                   for t, items in p.menu())
    facts = "".join(f"<tr><td><b>{k}:</b></td><td>{v}</td></tr>" for k, v in c.facts)
    foot = "<br>\n".join(" | ".join(p.a(h, t) for h, t in col) for col in p.footer_lines())
    rel = "<br>".join(p.a(h, t) for h, t in p.related())
    ad_t, ad_h = p.ad()
    return (f"<html>{p.head()}<body bgcolor=\"#ffffff\">{p.cookie()}<div id=\"top\">"
            f"<table width=\"100%\"><tr><td>{p.a('/', 'Example Organisation')}</td><td>"
            f"{p.search_form()}</td></tr></table></div><div id=\"menu\"><table><tr>{menu}"
            f"</tr></table></div><div id=\"path\">{p.a('/', 'Home')} &gt; "
            f"{p.a('/dept', 'Departments')} &gt; {p.a('/dept/ai', 'AI')}</div>"
            f"<table width=\"100%\" cellpadding=\"4\"><tr><td id=\"left\" valign=\"top\" "
            f"width=\"180\"><font size=\"2\">{rel}</font><div>{p.counter()}</div></td>"
            f"<td id=\"content\" valign=\"top\"><font face=\"Arial\"><h1>{c.title}</h1>"
            f"<table class=\"facts\">{facts}</table><div>{p.updated()}</div>"
            f"{p.body_content()}</font></td><td id=\"right\" width=\"160\" valign=\"top\">"
            f"<div class=\"banner\">{p.a(ad_h, ad_t)}</div></td></tr></table>"
            f"<div id=\"footer\"><font size=\"1\">{foot}<br>\u00a9 Example Organisation 2026"
            f"<br>{p.stamp()}</font></div>{p.scripts()}</body></html>")


def _drupal(p: Page) -> str:
    c = p.c
    h = f"{random.Random(p.s.csrf).getrandbits(64):016x}"  # a view's dom id, per request

    def block(name: str, inner: str) -> str:
        return (f'<div id="block-{name}" class="block block-{name} contextual-region">'
                f'<div class="content"><div class="field field--type-text-with-summary">'
                f"{inner}</div></div></div>")
    menu = "".join(f'<li class="menu-item menu-item--expanded"><span>{t}</span><ul class="menu">'
                   + "".join(f'<li class="menu-item">{p.a(x, y)}</li>' for x, y in items)
                   + "</ul></li>" for t, items in p.menu())
    facts = "".join(f'<div class="field field--name-field-{_slug(k)} field--label-inline">'
                    f'<div class="field__label">{k}</div><div class="field__item"><time>{v}'
                    f"</time></div></div>" for k, v in c.facts)
    foot = "".join('<div class="region-footer-col"><ul class="menu">'
                   + "".join(f'<li class="menu-item">{p.a(x, y)}</li>' for x, y in col)
                   + "</ul></div>" for col in p.footer_lines())
    rel = "".join(f'<div class="views-row"><div class="views-field views-field-title">'
                  f'<span class="field-content">{p.a(x, y)}</span></div></div>'
                  for x, y in p.related())
    ad_t, ad_h = p.ad()
    return (f"<!DOCTYPE html><html lang=\"en\" dir=\"ltr\">{p.head()}<body class=\"path-node "
            f"page-node-type-page\">{p.cookie()}<div class=\"dialog-off-canvas-main-canvas\">"
            f"<div class=\"layout-container\"><header role=\"banner\"><div class=\"region "
            f"region-header\">{block('branding', p.a('/', 'Example Organisation'))}"
            f"{block('search', p.search_form())}</div></header><nav role=\"navigation\" "
            f"class=\"region-primary-menu\"><ul class=\"menu\">{menu}</ul></nav>"
            f"<div class=\"region region-breadcrumb\">{block('breadcrumbs', p.a('/', 'Home'))}"
            f"</div><main role=\"main\"><div class=\"layout-content\"><div class=\"region "
            f"region-content\"><article class=\"node node--type-page\"><h1 class=\"page-title\">"
            f"<span class=\"field field--name-title\">{c.title}</span></h1>"
            f"<div class=\"node__meta\"><span>{p.counter()}</span> <span>{p.updated()}"
            f"</span></div><div class=\"node__content\">{facts}<div class=\"clearfix "
            f"text-formatted field field--name-body\">{p.body_content()}</div></div></article>"
            f"</div></div><aside class=\"layout-sidebar-second\" role=\"complementary\">"
            f"<div class=\"views-element-container\"><div class=\"view view-related "
            f"js-view-dom-id-{h}\">{rel}</div></div>{block('promo', p.a(ad_h, ad_t))}</aside>"
            f"</main><footer role=\"contentinfo\">{foot}<div class=\"region-footer-bottom\">"
            f"\u00a9 Example Organisation 2026</div><div class=\"region-footer-meta\">"
            f"{p.stamp()}</div></footer></div></div><form class=\"feedback\" action=\"/fb\">"
            f"<input type=\"hidden\" name=\"form_build_id\" value=\"form-{p.s.viewstate[:43]}\">"
            f"</form>{p.scripts()}</body></html>")


def _sharepoint(p: Page) -> str:
    c = p.c
    menu = "".join(f'<li class="static dynamic-children"><span class="menu-item-text">{t}</span>'
                   f'<ul class="dynamic">' + "".join(
                       f'<li class="dynamic">{p.a(x, y, "dynamic menu-item")}</li>'
                       for x, y in items) + "</ul></li>" for t, items in p.menu())
    facts = "".join(f"<p><strong>{k}:</strong> {v}</p>" for k, v in c.facts)
    foot = "".join('<div class="ms-footer-col">' + "".join(
        f"<div>{p.a(x, y)}</div>" for x, y in col) + "</div>" for col in p.footer_lines())
    rel = "".join(f'<div class="cbq-item">{p.a(x, y)}</div>' for x, y in p.related())
    ad_t, ad_h = p.ad()
    digest = f"0x{p.s.csrf.upper()},28 Nov 2026 10:00:00 -0000"
    return (f"<!DOCTYPE html><html dir=\"ltr\" lang=\"en-GB\">{p.head()}<body>"
            f"<form method=\"post\" action=\"./ai-assurance.aspx\" id=\"aspnetForm\">"
            f"<div class=\"aspNetHidden\"><input type=\"hidden\" name=\"__REQUESTDIGEST\" "
            f"id=\"__REQUESTDIGEST\" value=\"{digest}\"><input type=\"hidden\" name="
            f"\"__VIEWSTATE\" id=\"__VIEWSTATE\" value=\"/wEPDwUBMA9kFgJmD2QW{p.s.viewstate}\">"
            f"</div>{p.cookie()}<div id=\"s4-workspace\"><div id=\"s4-bodyContainer\">"
            f"<div id=\"ctl00_PlaceHolderTopNav\" class=\"ms-breadcrumb-top\">"
            f"{p.a('/', 'GOV-like home')}{p.search_form()}</div>"
            f"<div id=\"zz1_TopNavigationMenu\" class=\"ms-core-listMenu-horizontalBox\">"
            f"<ul class=\"root ms-core-listMenu-root static\">{menu}</ul></div>"
            f"<div id=\"ctl00_PlaceHolderTitleBreadcrumb_ContentMap\">{p.a('/', 'Home')} &gt; "
            f"{p.a('/sites/dsit', 'DSIT')}</div><div id=\"contentRow\"><div id=\"contentBox\">"
            f"<div id=\"ctl00_PlaceHolderMain_ctl00__ControlWrapper_RichHtmlField\" "
            f"class=\"ms-rtestate-field\"><h1>{c.title}</h1><div>{p.counter()}</div>"
            f"<div>{p.updated()}</div>{facts}{p.body_content()}</div></div>"
            f"<div id=\"ctl00_PlaceHolderRight_g_5a1b\" class=\"ms-webpart-zone\">{rel}"
            f"<div class=\"ms-promo\">{p.a(ad_h, ad_t)}</div></div></div>"
            f"<div id=\"ctl00_PlaceHolderFooter\" class=\"ms-footer\">{foot}"
            f"<div>\u00a9 Crown copyright 2026</div><div>{p.stamp()}</div></div></div></div>"
            f"</form>{p.scripts()}</body></html>")


_STYLE = {"semantic": _semantic, "legacy": _legacy, "drupal": _drupal, "sharepoint": _sharepoint}


def render(style: str, c: Content, s: State, template_edit: TemplateEdit | None = None) -> str:
    return _STYLE[style](Page(style, c, s, template_edit))
