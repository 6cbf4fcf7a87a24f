"""The world of ``benchmarks/masking_probe.py``: random words, pages of a site, a
monitor's life (checks with a confirming copy at every difference, slow noise noted and
promoted) and the registry of scenarios (``masking_lines``, ``masking_facts``,
``masking_feeds``)."""


from __future__ import annotations

import random
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.records import TEMPLATE_ONLY, Change, Extracted, Volatile
from monitors import MonitorConfig, build_monitor
from monitors.recurring import RECURRING, RECURRING_SLOT, promoted
from monitors.volatility import LINE, SLOT, Noise

T0 = datetime(2026, 12, 7, 9, 1, 0, tzinfo=UTC)
COPY_PAUSE = timedelta(seconds=1.1)
URL = "https://site.example/topic/page"

# ---------------------------------------------------------------- random words


def word(rng: random.Random, low: int = 3, high: int = 9) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(low, high)))


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def sentence(rng: random.Random, low: int = 5, high: int = 14) -> str:
    return cap(" ".join(word(rng) for _ in range(rng.randint(low, high)))) + "."


def title(rng: random.Random, n: int = 4) -> str:
    return cap(" ".join(word(rng) for _ in range(n)))


def month(rng: random.Random) -> str:
    return rng.choice(["January", "February", "March", "April", "May", "June", "July",
                       "August", "September", "October", "November"])


# ---------------------------------------------------------------- the page


@dataclass
class Site:
    """One random site: its furniture and the stable content of one page."""

    rng: random.Random
    org: str = ""
    heading: str = ""
    nav: list[tuple[str, str]] = field(default_factory=list)
    paras: list[str] = field(default_factory=list)
    docs: list[tuple[str, str]] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, rng: random.Random) -> Site:
        site = cls(rng)
        site.org = title(rng, 3)
        site.heading = title(rng, 5)
        site.nav = [(f"https://site.example/{word(rng)}/", cap(word(rng)))
                    for _ in range(rng.randint(5, 9))]
        site.paras = [sentence(rng) for _ in range(rng.randint(25, 80))]
        site.docs = [site.doc() for _ in range(rng.randint(4, 10))]
        site.footer = [sentence(rng, 3, 6) for _ in range(3)]
        return site

    def doc(self) -> tuple[str, str]:
        return (f"https://site.example/docs/{word(self.rng)}-{self.rng.randint(1, 999)}.pdf",
                title(self.rng, 5))

    def html(self, main: list[str], footer: list[str] | None = None) -> bytes:
        nav = "".join(f'<li><a href="{u}">{t}</a></li>' for u, t in self.nav)
        foot = "".join(f"<p>{line}</p>" for line in (footer or self.footer))
        body = "\n".join(main)
        return (f"<!doctype html><html><head><title>{self.heading}</title></head><body>"
                f"<header><p>{self.org}</p><nav><ul>{nav}</ul></nav></header>\n"
                f"<main><h1>{self.heading}</h1>\n{body}\n</main>\n"
                f"<footer>{foot}</footer></body></html>").encode()

    def p(self, lo: int, hi: int) -> list[str]:
        return [f"<p>{text}</p>" for text in self.paras[lo:hi]]

    def doclist(self, docs: list[tuple[str, str]] | None = None, query: str = "") -> str:
        items = "".join(f'<li><a href="{u}{query}">{t}</a></li>'
                        for u, t in (self.docs if docs is None else docs))
        return f'<ul class="{word(random.Random(1))}">{items}</ul>'


def links(items: list[tuple[str, str]], tag: str = "ul") -> str:
    return f"<{tag}>" + "".join(f'<li><a href="{u}">{t}</a></li>' for u, t in items) + \
        f"</{tag}>"


def fmt(n: int) -> str:
    return f"{n:,}"


def day(at: datetime, delta: int = 0) -> datetime:
    return at + timedelta(days=delta)


# ---------------------------------------------------------------- the monitor's life


@dataclass
class Life:
    """A monitor checked as the pipeline checks it: a confirming copy at the first check
    and at every difference to announce (judged again with what it taught), slow noise
    noted at each change and promoted as ``storage.noise.learned`` does."""

    kind: str = "page"
    learned: set[Volatile] = field(default_factory=set)
    noted: dict[Volatile, list[int]] = field(default_factory=dict)
    checks: int = 0

    def __post_init__(self) -> None:
        self.monitor = build_monitor(MonitorConfig(id="m", kind=self.kind, url=URL), "org")
        self.previous: Extracted | None = None
        #: The last check's change as judged before its confirming copy taught anything.
        self.before_copy: Change | None = None
        self.previous_at: datetime | None = None

    def extract(self, body: bytes) -> Extracted:
        kind = {"page": "text/html", "feed": "application/rss+xml",
                "pdf": "application/pdf"}[self.kind]
        return self.monitor.extract(body, content_type=kind, url=URL)

    def noise(self) -> Noise:
        facts = set(self.learned)
        for fact, at in self.noted.items():
            if promoted(len(at), at[-1] - at[0] + 1):
                facts.add(Volatile(LINE if fact.kind == RECURRING else SLOT, fact.where,
                                   fact.what))
        return Noise(frozenset(facts))

    def check(self, body: bytes, copy: bytes, at: datetime) -> Change | None:
        self.checks += 1
        new, second = self.extract(body), self.extract(copy)
        previous, previous_at = self.previous, self.previous_at
        self.previous, self.previous_at = new, at
        if previous is None:
            if second.content_hash != new.content_hash:
                self.learned |= self.monitor.learn(new, second, self.noise(), at,
                                                   at + COPY_PAUSE)
            return None
        noise = self.noise()
        change = self.monitor.compare(previous, new, noise, old_at=previous_at, new_at=at)
        self.before_copy = change
        if change is None or change.quiet not in (None, TEMPLATE_ONLY):
            return change
        if second.content_hash != new.content_hash:
            stable = Noise(noise.learned, stable=self.monitor.stood(previous))
            self.learned |= self.monitor.learn(new, second, stable, at, at + COPY_PAUSE)
            noise = self.noise()
            change = self.monitor.compare(previous, new, noise, old_at=previous_at,
                                          new_at=at)
        if change is not None:
            noted = self.monitor.carried(previous, new, noise, previous_at, at)
            if change.quiet is None:
                noted |= self.monitor.recurring(previous, new, change, noise, previous_at,
                                                at)
            for fact in noted:
                if fact.kind in (RECURRING, RECURRING_SLOT):
                    self.noted.setdefault(fact, []).append(self.checks)
                else:
                    self.learned.add(fact)
        return change


# ---------------------------------------------------------------- scenarios

#: render(request rng, fetch time, edited) -> body
Render = Callable[[random.Random, datetime, bool], bytes]


@dataclass
class Scenario:
    name: str
    render: Render
    #: Words the announced change must show (in its diff or summary).
    marker: str
    kind: str = "page"
    #: Hours before T0 of the checks that see noise only (the edit comes at T0).
    before: tuple[float, ...] = (-30, -24, -18, -12, -6)
    #: The fetch time of the edited check (T0 unless said).
    at: datetime = T0
    #: What the docs already say this cannot catch.
    documented: str = ""


SCENARIOS: dict[str, Callable[[random.Random], Scenario]] = {}


def scenario(fn: Callable[[random.Random], Scenario]) -> Callable[[random.Random], Scenario]:
    SCENARIOS[fn.__name__] = fn
    return fn


