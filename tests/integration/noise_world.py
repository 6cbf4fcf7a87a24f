"""A noisy world of official sites, its ground truth, and a judge of govwatch's digests.

:class:`World` builds ``orgs`` organizations, each with a listing page, a policy page, a
feed (RSS or Atom) and a PDF report, and renders every answer per request with noise:
kinds of :data:`HTML_NOISE`, :data:`FEED_NOISE` and :data:`PDF_NOISE`, each in several
surface forms, many built from random words, labels and parameter names made at world
build time, so that no list in the engine can name them. ``revise`` applies the next
revision (publications, edits, removals, redirects, PDF editions, template changes) and
returns its ground truth. ``tests/integration/noise_judge.py`` runs govwatch over it and
judges the digests.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from tests.pdfs import make_pdf

SYLLABLES = ("ka", "lo", "mi", "zu", "re", "ta", "vo", "ne", "shi", "pa", "dri", "qu", "el",
             "om", "ba", "ry", "fe", "xo", "gu", "ni")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def word(rng: random.Random, parts: int = 3) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts))


def words(rng: random.Random, count: int) -> str:
    return " ".join(word(rng, rng.randint(2, 4)) for _ in range(count))


@dataclass
class Req:
    """One request's randomness and clock."""

    n: int
    now: datetime
    rng: random.Random
    vocab: dict[str, str]
    #: The world's revision: what changes once per revision, not per request (slow noise).
    revision: int = 0


def _stamp(r: Req, form: int) -> str:
    now = r.now
    return (f"{now:%Y-%m-%d %H:%M:%S.%f} UTC (request {r.n})",
            f"Generated {now.day} {MONTHS[now.month - 1]} {now.year}, {now:%H:%M:%S} · req {r.n}",
            f"{now:%m/%d/%Y %I:%M:%S %p} #{r.n}")[form]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


# Each kind: forms, each form renders (req) -> (where, html). "links" forms return a
# suffix for document links instead. Vocabulary keys name random words built per org.
Form = Callable[[Req], tuple[str, str]]
HTML_NOISE: dict[str, list[Form]] = {
    "counter": [lambda r: ("top", f"<p>{r.vocab['label']} {r.n * 7 + 3}</p>"),
                lambda r: ("aside", f"<p>{r.n + 100} {r.vocab['label2']}</p>")],
    "session": [lambda r: ("links", f"?{r.vocab['param']}={r.rng.getrandbits(64):x}"),
                lambda r: ("links-path", f"s{r.rng.getrandbits(40):x}"),
                lambda r: ("links", f";{r.vocab['param']}={r.rng.getrandbits(64):X}")],
    "related-order": [lambda r: ("aside", "<ul>" + "".join(
                          f"<li>{t}</li>" for t in r.rng.sample(r.vocab["related"].split("|"), 4))
                          + "</ul>"),
                      lambda r: ("mid", "<p>See also: " + " · ".join(
                          r.rng.sample(r.vocab["related"].split("|"), 4)) + "</p>"),
                      # Linked items with a count beside each link.
                      lambda r: ("aside", "<ul>" + "".join(
                          f'<li><a href="rel/{_slug(t)}">{t}</a> ({r.rng.randint(2, 99)})</li>'
                          for t in r.rng.sample(r.vocab["related"].split("|"), 3)) + "</ul>")],
    "rotating-aside": [lambda r: ("aside", f"<p>{r.rng.choice(r.vocab['asides'].split('|'))}</p>"),
                       lambda r: ("mid", f"<p>Tip: {words(r.rng, 5)}</p>")],
    "footer-stamp": [lambda r: ("footer", f"<p>{_stamp(r, 0)}</p>"),
                     lambda r: ("footer", f"<p>{_stamp(r, 1)}</p>"),
                     lambda r: ("footer", f"<p>{_stamp(r, 2)}</p>")],
    "csrf": [lambda r: ("links", f"?{r.vocab['param2']}={r.rng.getrandbits(128):032x}"),
             lambda r: ("nav-param", f"{r.vocab['param2']}={r.rng.getrandbits(96):x}")],
    "cache-buster": [lambda r: ("head", f'<link rel="stylesheet" href="/s.css?{r.vocab["param3"]}'
                                f'={r.rng.getrandbits(32)}">'),
                     lambda r: ("top", f'<img alt="" src="/b.png?{r.vocab["param3"]}='
                                f'{r.rng.getrandbits(32)}">')],
    "promo": [lambda r: ("mid", f"<p>{words(r.rng, 3).capitalize()} now: {words(r.rng, 2)}!</p>"),
              lambda r: ("mid", f"<div>{r.vocab['sponsor']} — {words(r.rng, 4)}</div>")],
    "clock": [lambda r: ("top", f"<p>{r.vocab['label3']} {r.now:%Y-%m-%dT%H:%M:%SZ}</p>"),
              lambda r: ("aside", f"<p>{r.vocab['label3']}: {r.now:%H:%M:%S}</p>")],
    "random-class": [lambda r: ("wrap-class", word(r.rng, 4)),
                     lambda r: ("wrap-id", word(r.rng, 4))],
    "presence": [lambda r: ("aside", f"<p>{r.rng.randint(2, 900)} {r.vocab['label4']}</p>"),
                 lambda r: ("top", f"<p>{r.vocab['label4'].capitalize()}: "
                            f"{r.rng.randint(2, 900)}</p>")],
    "ticker": [lambda r: ("aside", f"<p>{r.vocab['label5'].upper()} "
                          f"{r.rng.uniform(0.5, 2):.4f}</p>"),
               lambda r: ("footer", f"<p>{r.vocab['label5']}: +{r.rng.uniform(0, 9):.2f}%</p>")],
    "trending": [lambda r: ("aside", "<ol>" + "".join(
                     f"<li>{t}</li>" for t in r.rng.sample(r.vocab["pool"].split("|"), 3))
                     + "</ol>"),
                 lambda r: ("aside", "<p>Most read: " + ", ".join(
                     r.rng.sample(r.vocab["pool"].split("|"), 3)) + "</p>"),
                 # Links written in one line.
                 lambda r: ("mid", "<p>Popular: " + " | ".join(
                     f'<a href="read/{_slug(t)}">{t}</a>'
                     for t in r.rng.sample(r.vocab["pool"].split("|"), 3)) + "</p>")],
    "comments": [lambda r: ("mid", f"<p>{r.n % 97 + 2} comments</p>"),
                 lambda r: ("mid", f"<p>Comments ({r.n % 89 + 1})</p>")],
    "relative-time": [lambda r: ("top", f"<p>Updated {r.rng.randint(2, 59)} seconds ago</p>"),
                      lambda r: ("aside", f"<p>{r.rng.randint(2, 59)} min. ago</p>")],
    "quote": [lambda r: ("aside", f"<blockquote>{words(r.rng, 7)}</blockquote>"),
              lambda r: ("footer", f"<p>“{words(r.rng, 6)}” — {word(r.rng).title()}</p>")],
    "nonce": [lambda r: ("head", f'<script nonce="{r.rng.getrandbits(64):x}">var t='
                         f'"{r.rng.getrandbits(64):x}";</script>'),
              lambda r: ("head", f'<meta name="{r.vocab["param"]}" '
                         f'content="{r.rng.getrandbits(64):x}">')],
    "share": [lambda r: ("footer", f'<a href="https://share.example.net/?u=x&amp;t={r.n}">'
                         "Share</a>"),
              lambda r: ("footer", f'<a href="mailto:?subject=page&amp;body=ref{r.n}">'
                         "Email this page</a>")],
    "poll": [lambda r: ("aside", f"<p>Yes {(a := r.rng.randint(1, 99))}% · No {100 - a}%</p>"),
             lambda r: ("aside", f"<p>{r.vocab['label6']}: {r.rng.randint(10, 9999)} votes</p>")],
    "nav-order": [lambda r: ("nav-shuffle", "1"), lambda r: ("footer-shuffle", "1")],
    "weather": [lambda r: ("top", f"<p>{r.vocab['city']}: {r.rng.randint(-5, 35)}°C</p>"),
                lambda r: ("footer", f"<p>{r.vocab['city']} {r.rng.randint(20, 99)}°F, "
                           f"{r.vocab['sky']}</p>")],
    "ad-slot": [lambda r: ("mid", f'<a href="/ads/click?{r.vocab["param4"]}='
                           f'{r.rng.getrandbits(48):x}">Advertisement</a>'),
                lambda r: ("aside", f'<img alt="Advert {r.rng.getrandbits(24):x}" src="/a.png">')],
}
FEED_NOISE = {"feed-build-time": 2, "feed-tracking": 2, "feed-id-token": 2, "feed-counter": 2}
PDF_NOISE = {"pdf-regenerated": 2, "pdf-stamp": 2}
#: Noise in where a page's URL redirects to: a session token, in the last segment (form 0,
#: ``pubs;name=...``) or as a segment of its own (form 1, ``/s.../pubs``).
URL_NOISE = {"redirect-session": 2}
RANDOM_BUILT = ("counter", "session", "related-order", "rotating-aside", "csrf", "cache-buster",
                "promo", "clock", "random-class", "presence", "ticker", "trending", "poll",
                "weather", "ad-slot", "feed-tracking", "feed-id-token", "redirect-session")
EVENT_KINDS = ("publication", "paragraph", "labelled-date", "sentence-date", "amount",
               "removal", "redirect", "pdf-edition", "template", "entry-edit")


@dataclass(frozen=True)
class Event:
    revision: int
    org: str
    monitor: str
    kind: str
    marker: str


@dataclass
class Org:
    id: str
    name: str
    vocab: dict[str, str]
    page_noise: dict[str, list[tuple[str, int]]]
    docs: list[str]
    feed_entries: list[str]
    paragraph: str
    force: str
    deadline: str
    amount: int
    pdf_lines: list[str]
    nav: list[str]
    footer: str
    policy_path: str = "policy"
    moved_notice: str = ""
    #: What an entry's summary says besides its noise, by title (``entry-edit``).
    entry_notes: dict[str, str] = field(default_factory=dict)


def _vocab(rng: random.Random) -> dict[str, str]:
    return {"label": f"{word(rng).title()} {word(rng)}:", "label2": words(rng, 2),
            "label3": f"{word(rng).title()} {word(rng)}", "label4": words(rng, 2),
            "label5": word(rng), "label6": word(rng).title(), "param": word(rng, 2),
            "param2": "_" + word(rng, 2), "param3": word(rng, 1) + word(rng, 1),
            "param4": word(rng, 2) + "id", "sponsor": f"{word(rng).title()} {word(rng)}",
            "city": word(rng).title(), "sky": word(rng),
            "related": "|".join(words(rng, 3).capitalize() for _ in range(6)),
            "asides": "|".join(words(rng, 6).capitalize() for _ in range(5)),
            "pool": "|".join(words(rng, 3).capitalize() for _ in range(8))}


class World:
    """The sites, their revisions and what each request served."""

    def __init__(self, seed: int, orgs: int = 20, *, etags: bool = False,
                 page_noise: dict[str, list[Form]] | None = None) -> None:
        self.seed = seed
        #: The kinds of page noise served (default :data:`HTML_NOISE`).
        self.html_noise = HTML_NOISE if page_noise is None else page_noise
        self.rng = random.Random(seed)
        self.etags = etags
        self.revision = 0
        self.requests = 0
        self.path_requests: Counter[str] = Counter()
        self.base_url = ""
        self.served: Counter[tuple[str, int]] = Counter()
        self.fragments: dict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()
        kinds = list(self.html_noise)
        self.orgs: list[Org] = []
        for i in range(orgs):
            rng = self.rng
            picked = {page: [kinds[(i * 4 + j + shift) % len(kinds)] for j in range(4)]
                      for page, shift in (("pubs", 0), ("policy", 11))}
            noise = {page: [(kind, (i + j) % len(self.html_noise[kind]))
                            for j, kind in enumerate(names)]
                     for page, names in picked.items()}
            noise["feed"] = [("feed-build-time", i % 2), ("feed-tracking", (i // 2) % 2)]
            if i % 3 == 1:  # ids that carry a token of the request: a feed field learned
                noise["feed"].append(("feed-id-token", (i // 9 + i // 3) % 2))
            if i % 3 == 2:  # a count of readers in each entry's summary
                noise["feed"].append(("feed-counter", (i // 9 + i // 3) % 2))
            if i % 4 == 3:  # the site sends each request to a URL with a session in it
                noise["site"] = [("redirect-session", (i // 4) % 2)]
            noise["report"] = [("pdf-regenerated", i % 2), ("pdf-stamp", (i // 2) % 2)]
            self.orgs.append(Org(
                id=f"o{i:02d}", name=f"{word(rng).title()} Agency {i:02d}", vocab=_vocab(rng),
                page_noise=noise, docs=[self._title() for _ in range(3)], feed_entries=[],
                paragraph=f"The board adopted {words(rng, 6)} in plenary.",
                force=f"{rng.randint(1, 28)} {rng.choice(MONTHS)} 2026",
                deadline=f"{rng.randint(1, 28)} {rng.choice(MONTHS)} 2025",
                amount=rng.randint(10, 900) * 1000,
                pdf_lines=[f"Annual report of {word(rng).title()}", words(rng, 8)],
                nav=["Home", "About us", "Publications", "Contact"],
                footer=f"© {word(rng).title()} Agency. All rights reserved."))
            self.orgs[-1].feed_entries = list(self.orgs[-1].docs)

    def _title(self) -> str:
        return f"Report on {words(self.rng, 3)}"

    # -- serving ----------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.requests += 1
            # Numbered per path, not per site: what a page shows must not depend on how
            # the requests of other pages interleaved with its own (a loaded machine
            # interleaves them otherwise).
            self.path_requests[request.path] += 1
            n = self.path_requests[request.path]
            # The world's seed too: else every seed draws the same samples, in other words.
            req = Req(n, datetime.now(UTC), random.Random(f"{self.seed}-{n}-{request.path}"),
                      {}, self.revision)
            parts = request.path.strip("/").split("/")
            org = next((o for o in self.orgs if parts and o.id == parts[0]), None)
            if org is None:
                return web.Response(status=404, text="not found")
            session = self._session(org, parts, req)
            if session is not None:
                raise web.HTTPFound(session)
            if len(parts) == 3 and parts[1].startswith("s"):  # a session segment
                del parts[1]
            if len(parts) != 2:
                return web.Response(status=404, text="not found")
            req.vocab = org.vocab
            name = parts[1].split(";")[0]
            if name == "policy" and org.policy_path != "policy":
                raise web.HTTPMovedPermanently(f"/{org.id}/{org.policy_path}")
            if name in ("pubs", org.policy_path):
                body = self._page(org, "pubs" if name == "pubs" else "policy", req).encode()
                ctype = "text/html"
            elif name == "feed":
                body, ctype = self._feed(org, req).encode(), "application/xml"
            elif name == "report.pdf":
                body, ctype = self._pdf(org, req), "application/pdf"
            else:
                return web.Response(status=404, text="not found")
        headers = {"Content-Type": ctype}
        if self.etags:
            tag = f'W/"{hashlib.sha1(body).hexdigest()[:16]}"'
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
        return web.Response(body=body, headers=headers)

    def _session(self, org: Org, parts: list[str], req: Req) -> str | None:
        """Where a request without a session is sent, when the site adds one to every
        page's URL (``redirect-session``)."""
        if "site" not in org.page_noise or len(parts) != 2 or ";" in parts[1] \
                or parts[1] not in ("pubs", "policy", org.policy_path):
            return None
        ((kind, form),) = org.page_noise["site"]
        self.served[(kind, form)] += 1
        token = f"{req.rng.getrandbits(64):X}"
        if form == 0:
            return f"/{org.id}/{parts[1]};{org.vocab['param']}={token}"
        return f"/{org.id}/s{token}/{parts[1]}"

    def _noise(self, org: Org, page: str, req: Req) -> dict[str, list[str]]:
        slots: dict[str, list[str]] = defaultdict(list)
        for kind, form in org.page_noise[page]:
            where, html = self.html_noise[kind][form](req)
            slots[where].append(html)
            self.served[(kind, form)] += 1
            pieces = [t.strip() for t in re.split(r"<[^>]+>", html) if t.strip()]
            self.fragments[kind].update(pieces or [html])
        return slots

    def _page(self, org: Org, page: str, req: Req) -> str:
        slots = self._noise(org, page, req)
        link_suffix = "".join(slots.get("links", []))
        path_session = "".join(f"/{s}" for s in slots.get("links-path", []))
        nav = list(org.nav)
        footer = [org.footer, "Privacy", "Terms", "Accessibility"]
        if slots.get("nav-shuffle"):
            req.rng.shuffle(nav)
        if slots.get("footer-shuffle"):
            req.rng.shuffle(footer)
        nav_param = "".join(f"?{p}" for p in slots.get("nav-param", []))
        nav_html = "".join(f'<li><a href="/{org.id}/{n.lower().replace(" ", "-")}{nav_param}">'
                           f"{n}</a></li>" for n in nav)
        if page == "pubs":
            content = "<h2>Latest publications</h2><ul>" + "".join(
                f'<li><a href="/{org.id}{path_session}/docs/{self.slug(t)}.pdf{link_suffix}">'
                f"{t}</a></li>" for t in org.docs) + "</ul>"
        else:
            content = (f"<h2>Overview</h2><p>{org.paragraph}</p>{org.moved_notice}"
                       f"<h2>Key dates</h2><p>Entry into force: {org.force}</p>"
                       f"<p>The consultation deadline was extended to {org.deadline}.</p>"
                       f"<h2>Funding</h2><p>Budget: EUR {org.amount:,}</p>")
        mid = "".join(slots.get("mid", []))
        content = content.replace("</ul>", "</ul>" + mid, 1) if page == "pubs" else \
            content.replace("<h2>Key dates</h2>", mid + "<h2>Key dates</h2>", 1)
        wrap = " ".join([f'class="{c}"' for c in slots.get("wrap-class", [])]
                        + [f'id="{c}"' for c in slots.get("wrap-id", [])])
        return (f"<html><head><title>{org.name} — {page}</title>{''.join(slots['head'])}</head>"
                f"<body><header><nav><ul>{nav_html}</ul></nav></header>"
                f"<main {wrap}><h1>{org.name}: {page}</h1>{''.join(slots['top'])}{content}</main>"
                f"<aside>{''.join(slots['aside'])}</aside><footer>"
                + "".join(f"<p>{f}</p>" for f in footer) + "".join(slots["footer"])
                + "</footer></body></html>")

    @staticmethod
    def slug(title: str) -> str:
        return _slug(title)

    def _feed(self, org: Org, req: Req) -> str:
        (_, build), (_, tracking), *extra = org.page_noise["feed"]
        id_token = [form for kind, form in extra if kind == "feed-id-token"]
        counter = [form for kind, form in extra if kind == "feed-counter"]
        for kind, form in org.page_noise["feed"]:
            self.served[(kind, form)] += 1
        now = req.now.strftime("%Y-%m-%dT%H:%M:%SZ")
        base = f"{self.base_url}/{org.id}"

        def link(title: str) -> str:
            token = f"{req.rng.getrandbits(48):x}"
            return (f"{base}/docs/{self.slug(title)}.pdf?{org.vocab['param']}={token}"
                    if tracking == 0 else f"{base}/t{token}/docs/{self.slug(title)}.pdf")

        def ids(title: str, stable: str) -> tuple[str, str]:
            """An entry's link and id. With ids that carry a token of the request, form 0
            puts one after the id, form 1 makes the id the link (which carries one)."""
            url = link(title)
            if not id_token:
                return url, stable
            return url, (f"{stable}-{req.rng.getrandbits(40):x}" if id_token[0] == 0
                         else url)

        def summary(title: str) -> str:
            note = org.entry_notes.get(title, "")
            if not counter:
                return note
            n = req.rng.randint(2, 9000)
            return note + (f" Read {n} times." if counter[0] == 0
                           else f" {n} {org.vocab['label4']} of the {title.lower()}")

        if org.id[-1] in "02468":  # RSS
            items = "".join(
                f"<item><title>{t}</title><link>{url}</link>"
                f"<guid isPermaLink=\"false\">{entry_id}</guid>"
                f"<description>{summary(t)}</description>"
                + (f"<pubDate>{req.now:%a, %d %b %Y %H:%M:%S} GMT</pubDate>"
                   if build == 1 and k == 0 else "") + "</item>"
                for k, t in enumerate(reversed(org.feed_entries))
                for url, entry_id in [ids(t, f"{org.id}-{self.slug(t)}")])
            build_date = f"<lastBuildDate>{req.now:%a, %d %b %Y %H:%M:%S} GMT</lastBuildDate>"
            return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{org.name}</title>'
                    f"<link>{base}/pubs</link><description>News</description>"
                    f"{build_date if build == 0 else ''}{items}</channel></rss>")
        entries = "".join(
            f"<entry><title>{t}</title><link href=\"{url}\"/><id>{entry_id}</id>"
            f"<summary>{summary(t)}</summary>"
            f"<updated>{now if build == 1 and k == 0 else '2026-01-01T00:00:00Z'}</updated>"
            "</entry>" for k, t in enumerate(reversed(org.feed_entries))
            for url, entry_id in [ids(t, f"urn:{org.id}:{self.slug(t)}")])
        return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>{org.name}</title><id>urn:{org.id}</id>"
                f"<updated>{now if build == 0 else '2026-01-01T00:00:00Z'}</updated>"
                f"{entries}</feed>")

    def _pdf(self, org: Org, req: Req) -> bytes:
        (_, regen), (_, stamp) = org.page_noise["report"]
        for kind, form in org.page_noise["report"]:
            self.served[(kind, form)] += 1
        lines = list(org.pdf_lines)
        lines.append(_stamp(req, 0 if stamp == 0 else 1))
        modified = (f"D:{req.now:%Y%m%d%H%M%S}Z" if regen == 0 else req.now.isoformat())
        return make_pdf([lines], title=f"{org.name} report {req.rng.getrandbits(32):x}",
                        modified=modified)

    # -- revisions --------------------------------------------------------------------
    def revise(self) -> list[Event]:
        """Apply the next revision; return its ground truth."""
        with self._lock:
            self.revision += 1
            rev, events = self.revision, []
            for i, org in enumerate(self.orgs):
                if (i + rev) % 3 == 0:
                    continue  # this organization does not change in this revision
                kind = EVENT_KINDS[(i * 2 + rev) % len(EVENT_KINDS)]
                if kind == "redirect" and org.policy_path != "policy":
                    kind = "paragraph"
                if kind == "removal" and len(org.docs) < 2:
                    kind = "publication"
                if kind == "entry-edit" and not org.feed_entries:
                    kind = "publication"
                events += self._apply(org, kind, rev)
            return events

    def _apply(self, org: Org, kind: str, rev: int) -> list[Event]:
        rng = self.rng

        def event(monitor: str, marker: str) -> Event:
            return Event(rev, org.id, f"{org.id}-{monitor}", kind, marker)

        if kind == "publication":
            title = self._title()
            org.docs.insert(0, title)
            org.feed_entries.append(title)
            return [event("pubs", title), event("feed", title)]
        if kind == "removal":
            return [event("pubs", org.docs.pop(rng.randrange(len(org.docs))))]
        if kind == "paragraph":
            new = words(rng, 3)
            org.paragraph = f"The board adopted {new} after {words(rng, 2)} in plenary."
            return [event("policy", new)]
        if kind == "labelled-date":
            day, month, year = org.force.split()
            org.force = f"{day} {month} {int(year) + 1}"
            return [event("policy", org.force)]
        if kind == "sentence-date":
            day, month, year = org.deadline.split()
            org.deadline = f"{day} {MONTHS[(MONTHS.index(month) + 1) % 12]} {year}"
            return [event("policy", org.deadline)]
        if kind == "amount":
            org.amount += rng.randint(1, 90) * 1000
            return [event("policy", f"{org.amount:,}")]
        if kind == "redirect":
            org.policy_path = f"policy-{rev}"
            org.moved_notice = f"<p>This page moved: {words(rng, 3)}.</p>"
            return [event("policy", re.sub(r"<[^>]+>", "", org.moved_notice))]
        if kind == "entry-edit":  # the summary of a feed entry published before
            title = rng.choice(org.feed_entries)
            note = f"Deadline extended: {words(rng, 3)}."
            org.entry_notes[title] = note
            return [event("feed", note.split(": ")[1].rstrip("."))]
        if kind == "pdf-edition":
            org.pdf_lines[1] = words(rng, 8)
            return [event("report", org.pdf_lines[1].split()[0])]
        # template: navigation renamed and extended, footer reworded, on every page
        org.nav = [n if n != "About us" else "Who we are" for n in org.nav] + [word(rng).title()]
        org.footer = f"© {word(rng).title()} {rev}. {words(rng, 2)}."
        return [event("pubs", "template"), event("policy", "template")]
