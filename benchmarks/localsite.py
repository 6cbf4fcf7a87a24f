"""A local stand-in for many official websites, for benchmarks/cycle.py and peers.py.

One aiohttp.web event loop serves every host (one port per host on 127.0.0.1) with
deterministic HTML pages and RSS feeds, adds a fixed latency to each response, answers
conditional GETs (ETag / If-None-Match, Last-Modified / If-Modified-Since) with 304 and
counts what it sends. Control endpoints (never delayed, never counted) on every port:

    GET  /_control/stats           counters and the server's own CPU time
    POST /_control/reset           every source back to revision 0
    POST /_control/bump?share=0.1  bump the revision of that share of sources; lists URLs
    POST /_control/validators?on=1 send and honour ETag / Last-Modified (on=0: neither)

``--noise`` stamps every page's footer with the time of the request (to the microsecond)
and a request number, in a form no filter names (``2026-12-07 02:45:45.123456 UTC
(request 1234)``), so the body differs on every request while the page's revision, and
so its ETag (then a weak one, as a CMS would send), stays the same. ``--etags off``
starts with validators off. ``--edits append`` makes a page revision add one update and
leave the rest of the page as it was (the default, ``rewrite``, also reshuffles the whole
body, as cycle.py measured it).

Run as a script it prints one ``READY {"ports": [...]}`` line and serves until it is
terminated, its parent goes away or ``--lifetime`` seconds have passed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import random
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html import escape

from aiohttp import web

WORDS = (
    "artificial", "intelligence", "governance", "framework", "regulation", "guidance",
    "consultation", "public", "sector", "transparency", "accountability", "risk", "assessment",
    "oversight", "authority", "ministry", "directive", "implementation", "standard", "conformity",
    "audit", "high-risk", "systems", "providers", "deployers", "obligations", "registry",
    "supervisory", "board", "committee", "report", "annex", "article", "paragraph", "amendment",
    "council", "parliament", "commission", "national", "strategy", "data", "protection",
    "fundamental", "rights", "safety", "evaluation", "benchmark", "model", "general-purpose",
    "incident", "notice", "procurement", "principles", "recommendation", "member", "states",
    "working", "group", "secretariat", "code", "practice", "voluntary", "commitments",
    "disclosure", "impact", "research", "innovation", "sandbox",
)
NAV = ("About us", "Topics", "Publications", "News", "Consultations", "Legislation",
       "Data", "Contact")
BASE_DATE = datetime(2024, 1, 1, tzinfo=UTC)
ROBOTS = "User-agent: *\nDisallow: /search\n"
REQUESTS = itertools.count(1)


def layout(monitors: int, hosts: int, feed_share: float) -> list[tuple[int, int]]:
    """(pages, feeds) per host, monitors spread as evenly as possible."""
    total_feeds = round(monitors * feed_share)
    plan = []
    for h in range(hosts):
        n = monitors // hosts + (1 if h < monitors % hosts else 0)
        feeds = total_feeds // hosts + (1 if h < total_feeds % hosts else 0)
        plan.append((n - min(feeds, n), min(feeds, n)))
    return plan


def page_path(i: int) -> str:
    return f"/publications/page-{i:03d}.html"


def feed_path(i: int) -> str:
    return f"/news/feed-{i:02d}.xml"


class Text:
    """A fixed pool of sentences so that building megabytes of pages stays cheap."""

    def __init__(self, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 26))).capitalize() + "."
            for _ in range(3000)
        ]

    def para(self, rng: random.Random, n: int) -> str:
        return " ".join(rng.choice(self.sentences) for _ in range(n))

    def title(self, rng: random.Random) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize()


def _links(rng: random.Random, text: Text, prefix: str, n: int) -> str:
    return "".join(
        f'<li><a href="{prefix}/{rng.randrange(10**6)}">{escape(text.title(rng))}</a></li>'
        for _ in range(n)
    )


def page_html(text: Text, host: int, i: int, rev: int, edits: str = "rewrite") -> bytes:
    """``edits="rewrite"``: a revision adds an update and rewrites the whole body (every
    random choice after the updates list shifts); ``"append"``: it only adds the update."""
    rng = random.Random(host)  # navigation, sidebar and footer are the same site-wide
    agency = f"National AI Office {host:02d}"
    nav = "".join(
        f'<li><a href="/{name.lower().replace(" ", "-")}/">{name}</a><ul class="sub">'
        f'{_links(rng, text, "/" + name.lower().replace(" ", "-"), 6)}</ul></li>'
        for name in NAV
    )
    footer = (
        '</main><aside class="related"><h2>Related content</h2><ul>'
        f'{_links(rng, text, "/topics", 12)}</ul></aside><footer class="site-footer">'
        + "".join(f"<div class=col><h3>{name}</h3><ul>{_links(rng, text, '/f', 8)}</ul></div>"
                  for name in NAV[:5])
        + f"<address>{agency}, 1 Government Square, Capital City</address><p>&copy; 2024 "
        f'{agency}. <a href="/privacy">Privacy</a> <a href="/accessibility">Accessibility'
        '</a></p></footer><script src="/assets/app.js" defer></script></body></html>'
    )
    rng = random.Random(host * 100_000 + i)
    title = text.title(rng)
    target = rng.randint(20_000, 100_000)
    updates = "".join(
        f"<li><time>{(BASE_DATE + timedelta(days=r)).date()}</time> "
        f'<a href="/news/update-{i}-{r}">Update {r}: '
        f"{escape(text.title(rng if edits == 'rewrite' else random.Random(f'{host}-{i}-{r}')))}"
        "</a></li>"
        for r in range(rev, 0, -1)
    )
    head = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | '
        f'{agency}</title><meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/assets/site.css"><style>.sub{display:none}'
        ".skip-link{position:absolute;left:-999px}.cookie{position:fixed;bottom:0}</style>"
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push("
        "arguments)}gtag('js',new Date());gtag('config','G-XXXX');</script></head><body>"
        '<a class="skip-link" href="#main">Skip to main content</a>'
        '<div class="cookie" hidden><p>We use cookies to improve this site.</p>'
        '<button>Accept</button></div><header class="site-header"><a class="logo" href="/">'
        f'<img src="/assets/logo.svg" alt="{agency}"></a><nav aria-label="Main"><ul>{nav}</ul>'
        '</nav><form role="search" action="/search"><input type="hidden" name="csrf" '
        'value="x1"><input type="search" name="q"><button>Search</button></form></header>'
        '<nav class="breadcrumb"><ol><li><a href="/">Home</a></li><li><a href="/publications/">'
        f'Publications</a></li><li>{escape(title)}</li></ol></nav><main id="main">'
        f'<h1>{escape(title)}</h1><p class="lead">{text.para(rng, 3)}</p>'
        f'<section class="updates"><h2>Latest updates</h2><ul>{updates}</ul></section>'
    )
    parts = [head]
    size = len(head) + len(footer)
    if edits == "append":  # the body keeps every section however long the updates grow
        size -= len(updates)
    s = 0
    while size < target:
        s += 1
        block = f'<section id="s{s}"><h2>{s}. {escape(text.title(rng))}</h2>'
        block += "".join(f"<p>{text.para(rng, rng.randint(2, 6))}</p>" for _ in range(3))
        block += "<ul class=docs>" + "".join(
            f'<li><a href="/documents/{host}-{i}-{s}-{k}.pdf">{escape(text.title(rng))}</a> '
            f"(PDF, {rng.randint(1, 90) / 10} MB)</li>"
            for k in range(rng.randint(3, 10))
        ) + "</ul>"
        if s % 3 == 0:
            block += "<table><thead><tr><th>Date</th><th>Item</th></tr></thead><tbody>" + "".join(
                f"<tr><td>2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}</td>"
                f"<td>{escape(text.title(rng))}</td></tr>" for _ in range(5)
            ) + "</tbody></table>"
        parts.append(block + "</section>")
        size += len(block)
    parts.append(footer)
    return "".join(parts).encode()


def feed_xml(text: Text, host: int, i: int, rev: int) -> bytes:
    items = []
    for k in range(rev + 19, rev - 1, -1):  # 20 items; each bump adds one, drops one
        rng = random.Random(f"{host}-{i}-{k}")
        items.append(
            f"<item><title>{escape(text.title(rng))}</title>"
            f"<link>http://127.0.0.1/news/{host}/{i}/{k}</link>"
            f'<guid isPermaLink="false">news-{host}-{i}-{k}</guid>'
            f"<pubDate>{format_datetime(BASE_DATE + timedelta(days=k), usegmt=True)}</pubDate>"
            f"<description>{escape('<p>' + text.para(rng, 3) + '</p>')}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>National AI Office {host:02d}: news {i}</title><link>http://127.0.0.1/</link>"
        f"<description>News and press releases</description>{''.join(items)}"
        "</channel></rss>"
    ).encode()


@dataclass
class Source:
    host: int
    index: int
    feed: bool
    rev: int = 0
    body: bytes = b""
    etag: str = ""
    modified: datetime = BASE_DATE
    stamp_at: int = -1  # where the noise goes: just before the page's </footer>

    def render(self, text: Text, edits: str = "rewrite") -> None:
        if self.feed:
            self.body = feed_xml(text, self.host, self.index, self.rev)
        else:
            self.body = page_html(text, self.host, self.index, self.rev, edits)
        self.etag = '"' + hashlib.sha1(self.body).hexdigest()[:20] + '"'
        self.modified = BASE_DATE + timedelta(hours=self.rev)
        self.stamp_at = -1 if self.feed else self.body.rfind(b"</footer>")

    def payload(self, noise: bool) -> bytes:
        if not noise or self.stamp_at < 0:
            return self.body
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        stamp = f"<p>{now} UTC (request {next(REQUESTS)})</p>".encode()
        return self.body[:self.stamp_at] + stamp + self.body[self.stamp_at:]


@dataclass
class Site:
    ports: list[int]
    plan: list[tuple[int, int]]
    latency: float
    noise: bool = False
    validators: bool = True
    edits: str = "rewrite"
    text: Text = field(default_factory=Text)
    sources: dict[tuple[int, str], Source] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for host, (pages, feeds) in enumerate(self.plan):
            for i in range(pages):
                self.sources[(self.ports[host], page_path(i))] = Source(host, i, False)
            for i in range(feeds):
                self.sources[(self.ports[host], feed_path(i))] = Source(host, i, True)
        for source in self.sources.values():
            source.render(self.text, self.edits)
        self.zero()

    def zero(self) -> None:
        self.counts = dict.fromkeys(("requests", "ok", "not_modified", "body", "headers"), 0)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        port = request.transport.get_extra_info("sockname")[1] if request.transport else 0
        source = self.sources.get((port, request.path))
        self.counts["requests"] += 1
        await asyncio.sleep(self.latency)
        if source is None and request.path == "/robots.txt":
            return web.Response(text=ROBOTS, headers={"Cache-Control": "max-age=86400"})
        if source is None:
            return web.Response(status=404, text="not found")
        headers = {"Cache-Control": "max-age=300"}
        if self.validators:
            weak = "W/" if self.noise and not source.feed else ""
            headers["ETag"] = weak + source.etag
            headers["Last-Modified"] = format_datetime(source.modified, usegmt=True)
            if _not_modified(request, source):
                self.counts["not_modified"] += 1
                return web.Response(status=304, headers=headers)
        self.counts["ok"] += 1
        kind = "application/rss+xml" if source.feed else "text/html"
        return web.Response(body=source.payload(self.noise), headers=headers, content_type=kind,
                            charset="utf-8")

    async def count_bytes(self, request: web.Request, response: web.StreamResponse) -> None:
        # on_response_prepare runs after aiohttp filled in its own headers, before writing.
        if request.path.startswith("/_control"):
            return
        self.counts["headers"] += len(f"HTTP/1.1 {response.status} {response.reason}\r\n\r\n")
        self.counts["headers"] += sum(len(k) + len(v) + 4 for k, v in response.headers.items())
        if isinstance(response, web.Response) and response.body is not None:
            self.counts["body"] += len(response.body)  # type: ignore[arg-type]

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({**self.counts, "cpu_s": time.process_time()})

    async def reset(self, request: web.Request) -> web.Response:
        for source in self.sources.values():
            if source.rev:
                source.rev = 0
                source.render(self.text, self.edits)
        self.zero()
        return web.json_response({"ok": True})

    async def set_validators(self, request: web.Request) -> web.Response:
        self.validators = request.query.get("on", "1") not in ("0", "off", "false")
        return web.json_response({"validators": self.validators})

    async def bump(self, request: web.Request) -> web.Response:
        share = float(request.query.get("share", "0.1"))
        rng = random.Random(int(request.query.get("seed", "1")))
        keys = sorted(self.sources)
        chosen = rng.sample(keys, round(len(keys) * share))
        for key in chosen:
            self.sources[key].rev += 1
            self.sources[key].render(self.text, self.edits)
        return web.json_response({"urls": [f"http://127.0.0.1:{p}{path}" for p, path in chosen]})


def _not_modified(request: web.Request, source: Source) -> bool:
    tags = request.headers.get("If-None-Match")
    if tags is not None:  # takes precedence over If-Modified-Since (RFC 9110 13.2.2)
        return any(t.strip().removeprefix("W/") in (source.etag, "*") for t in tags.split(","))
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        return source.modified <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


async def main(args: argparse.Namespace) -> None:
    sockets = []
    for _ in range(args.hosts):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    ports = [s.getsockname()[1] for s in sockets]
    site = Site(ports, layout(args.monitors, args.hosts, args.feed_share), args.latency_ms / 1000,
                noise=args.noise, validators=args.etags == "on", edits=args.edits)
    app = web.Application()
    app.on_response_prepare.append(site.count_bytes)
    app.router.add_get("/_control/stats", site.stats)
    app.router.add_post("/_control/reset", site.reset)
    app.router.add_post("/_control/bump", site.bump)
    app.router.add_post("/_control/validators", site.set_validators)
    app.router.add_get("/{tail:.*}", site.serve)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    for sock in sockets:
        await web.SockSite(runner, sock, backlog=1024).start()
    parent = os.getppid()
    print("READY " + json.dumps({"ports": ports}), flush=True)
    try:
        deadline = time.monotonic() + args.lifetime
        while time.monotonic() < deadline and os.getppid() == parent:
            await asyncio.sleep(0.5)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--feed-share", type=float, default=0.2)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--lifetime", type=float, default=600, help="exit after this many s")
    parser.add_argument("--noise", action="store_true",
                        help="stamp each page's footer with the time of the request")
    parser.add_argument("--etags", choices=("on", "off"), default="on",
                        help="send and honour ETag / Last-Modified at start")
    parser.add_argument("--edits", choices=("rewrite", "append"), default="rewrite",
                        help="what a page revision does (feeds: one item in, one out)")
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)
