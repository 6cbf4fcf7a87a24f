"""The crash campaign's truth: which monitor changed in which round, and what it served.

Every source only ever grows. A round that changes a monitor adds one uniquely named item
(a token such as ``tok07r012``: monitor 7, round 12) to it: a list item on a page, an
entry in a feed, a line in a PDF. So whatever the crashes lost, the first change that
govwatch records after a lost one still adds the lost token, and the truth can be checked
exactly: at the end every token must be among the added lines or entries of a change of
its own monitor.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from html import escape

from tests.integration.conftest import Site
from tests.pdfs import make_pdf

ORGANIZATIONS = ("alpha", "beta", "gamma", "delta")
ROUTED_ORG = "beta"  # also mailed to its own desk: digests carry two messages
KIND_COUNTS = (("page", 26), ("feed", 12), ("pdf", 2))


@dataclass(frozen=True)
class Source:
    index: int
    kind: str
    org: str

    @property
    def monitor_id(self) -> str:
        return f"{self.org}-{self.kind}-{self.index:02d}"

    @property
    def path(self) -> str:
        suffix = {"page": "index.html", "feed": "feed.xml", "pdf": "report.pdf"}[self.kind]
        return f"/{self.monitor_id}/{suffix}"


def token(source: Source, round_number: int) -> str:
    return f"tok{source.index:02d}r{round_number:03d}"


def make_sources() -> list[Source]:
    sources, index = [], 0
    for kind, count in KIND_COUNTS:
        for n in range(count):
            sources.append(Source(index, kind, ORGANIZATIONS[n % len(ORGANIZATIONS)]))
            index += 1
    return sources


@dataclass
class Truth:
    """What each source served so far; ``changes`` is the truth: (monitor id, round)."""

    site: Site
    sources: list[Source] = field(default_factory=make_sources)
    round: int = 0
    tokens: dict[str, list[str]] = field(default_factory=dict)
    changes: list[tuple[str, int]] = field(default_factory=list)
    delay: float = 0.0

    def publish(self) -> None:
        """Serve every source as it is now, with the current response delay."""
        for source in self.sources:
            body, content_type = self.render(source)
            self.site.set(source.path, body, content_type=content_type, delay=self.delay)

    def advance(self, rng: random.Random) -> list[str]:
        """Start the next round: about a quarter of the sources gain an item."""
        self.round += 1
        changed = [s for s in self.sources if rng.random() < 0.25]
        if not changed:
            changed = [rng.choice(self.sources)]
        for source in changed:
            self.tokens.setdefault(source.monitor_id, []).append(token(source, self.round))
            self.changes.append((source.monitor_id, self.round))
        self.publish()
        return [s.monitor_id for s in changed]

    def set_delay(self, seconds: float) -> None:
        if seconds != self.delay:
            self.delay = seconds
            self.publish()

    def expected(self) -> dict[tuple[str, int], str]:
        """(monitor id, round) -> the token that round added."""
        by_id = {s.monitor_id: s for s in self.sources}
        return {(monitor_id, n): token(by_id[monitor_id], n) for monitor_id, n in self.changes}

    # -- what a source serves --------------------------------------------------------
    def render(self, source: Source) -> tuple[bytes, str]:
        items = self.tokens.get(source.monitor_id, [])
        if source.kind == "page":
            lines = "".join(f"<li>Report {escape(t)} on oversight of models</li>\n"
                            for t in items)
            html = (f"<!doctype html><html><head><title>{source.monitor_id}</title></head>"
                    f"<body><main><h1>Publications of {source.org}</h1><ul>\n"
                    f"<li>Welcome to the publications list</li>\n{lines}</ul></main>"
                    "</body></html>")
            return html.encode(), "text/html; charset=utf-8"
        if source.kind == "feed":
            link = self.site.url(source.path)
            entries = "".join(
                f"<item><guid isPermaLink=\"false\">{source.monitor_id}/{t}</guid>"
                f"<title>Entry {t}</title><link>{link}#{t}</link>"
                f"<description>News item {t}</description></item>\n"
                for t in ["welcome", *items]
            )
            rss = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel>"
                   f"<title>{source.monitor_id}</title><link>{link}</link>"
                   f"<description>news</description>\n{entries}</channel></rss>")
            return rss.encode(), "application/rss+xml"
        lines = ["Annual report", *(f"Section {t} approved" for t in items)]
        return make_pdf([lines], title=f"Report of {source.org}"), "application/pdf"
