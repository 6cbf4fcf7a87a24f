"""Page noise the test world does not serve, for ``benchmarks/noise.py --kinds``: forms
written after the code, to see what it does with noise nobody wrote it for.

- ``unseen``: noise that changes at each request, in forms the world has none of (a
  countdown, reactions, a greeting, a table of figures, an SVG chart, request references,
  a consent id, a counter inside a document link's text, a tracking parameter on a
  document link, a time in a list of tickers, an image of the day). Two copies moments
  apart show it: it should be learned, and never announced.
- ``uncertain``: noise that two copies moments apart often show the same (one of two or
  three variants, a banner shown at some requests, a list of varying length without list
  markup). A difference the pair does not show is announced until a pair shows it.
- ``slow``: noise that changes once per revision of the world, not per request (a build
  date, a count of the day, a rate, a weekly "most read" list). Only the history shows
  it: learned once a place changed at three checks.
- ``fresh``: per-request noise of real CMSs and CDNs in yet other forms
  (``benchmarks/fresh_noise.py``).

Each kind has two forms, as the world's own kinds; all words come from the
organization's random vocabulary.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from benchmarks.fresh_noise import FRESH
from tests.integration.noise_world import Form, Org, Req, World, words

_END = datetime(2027, 3, 1, tzinfo=UTC)


def _left(r: Req) -> tuple[int, int, int, int]:
    seconds = int((_END - r.now).total_seconds())
    return seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60, seconds % 60


def _pool(r: Req, key: str) -> list[str]:
    return r.vocab[key].split("|")


def _weekly(r: Req) -> random.Random:
    """The same draw for every request of one revision."""
    return random.Random(f"{r.vocab['pool']}-{r.revision}")


UNSEEN: dict[str, list[Form]] = {
    "countdown": [
        lambda r: ("top", "<p>{} closes in {} days {} hours {} minutes {} seconds</p>".format(
            r.vocab["label3"], *_left(r))),
        lambda r: ("aside", "<p>{2:02d}:{3:02d} left · {0} days to go</p>".format(*_left(r)))],
    "reactions": [
        lambda r: ("aside", f"<p>👍 {r.rng.randint(1, 999)} · ❤️ {r.rng.randint(1, 99)}</p>"),
        lambda r: ("footer", f"<p>Rated {r.rng.uniform(1, 5):.1f}/5 by "
                             f"{r.rng.randint(3, 9999):,} {r.vocab['label4']}</p>")],
    "greeting": [
        lambda r: ("top", f"<p>{r.rng.choice(['Good morning', 'Welcome back', 'Hello'])}, "
                          f"{r.rng.choice(_pool(r, 'related'))}!</p>"),
        lambda r: ("aside", f"<p>You are {r.vocab['label2']} number "
                            f"{r.rng.randint(1000, 999999):,}</p>")],
    "stats-table": [
        lambda r: ("aside", "<table>" + "".join(
            f"<tr><td>{t}</td><td>{r.rng.uniform(0, 500):.2f}</td></tr>"
            for t in _pool(r, "pool")[:4]) + "</table>"),
        lambda r: ("mid", "<dl>" + "".join(f"<dt>{t}</dt><dd>{r.rng.randint(1, 99)}%</dd>"
                                           for t in _pool(r, "related")[:3]) + "</dl>")],
    "svg-chart": [
        lambda r: ("aside", f'<svg viewBox="0 0 100 20"><text>{r.vocab["label3"]} '
                            f"{r.rng.randint(100, 9999)}</text><text>{r.rng.randint(1, 99)}%"
                            "</text></svg>"),
        lambda r: ("mid", f"<figure><svg><text>{r.rng.uniform(0, 50):.1f}</text></svg>"
                          f"<figcaption>{r.vocab['label4']}</figcaption></figure>")],
    "request-ref": [
        lambda r: ("footer", f"<p>Ref. {r.rng.getrandbits(16):04x}-{r.rng.getrandbits(16):04x}"
                             f" · {r.vocab['label4']}</p>"),
        lambda r: ("top", f"<small>{r.vocab['label6']} #{r.rng.randint(10**6, 10**7)}</small>")],
    "consent-id": [
        lambda r: ("top", f"<div>{r.vocab['label2'].capitalize()}: "
                          f"{uuid.UUID(int=r.rng.getrandbits(128))}</div>"),
        lambda r: ("footer", f"<p>{r.vocab['label3']} ({r.rng.getrandbits(40):x})</p>")],
    "link-counter": [
        lambda r: ("aside", f'<p><a href="/files/{r.vocab["label5"]}-annual.pdf">'
                            f"{r.vocab['label3']} ({r.n * 3 + 11} downloads)</a></p>"),
        lambda r: ("mid", f'<p><a href="/media/{r.vocab["label5"]}.mp4">'
                          f"{r.vocab['label4'].capitalize()}</a> · {r.n + 40} views</p>")],
    "tracking-doc-link": [
        lambda r: ("mid", f'<p><a href="/files/{r.vocab["label5"]}-brief.pdf?'
                          f'{r.vocab["param"]}={r.rng.getrandbits(32):x}">'
                          f"{r.vocab['label3']} brief</a></p>"),
        lambda r: ("aside", f'<p><a href="/go/{r.rng.getrandbits(24):x}/{r.vocab["label5"]}">'
                            f"{r.vocab['label4'].capitalize()}</a></p>")],
    "ticker-list": [
        lambda r: ("aside", "<ul>" + "".join(f"<li>{r.now:%H:%M} {t}</li>"
                                             for t in r.rng.sample(_pool(r, "pool"), 3))
                   + "</ul>"),
        lambda r: ("mid", "<div>" + "".join(
            f'<p><a href="/live/{r.rng.getrandbits(20)}">{t}</a> {r.rng.randint(1, 59)}m</p>'
            for t in r.rng.sample(_pool(r, "pool"), 2)) + "</div>")],
    "image-caption": [
        lambda r: ("aside", f'<figure><img src="/img/{r.rng.getrandbits(32):x}.jpg" '
                            f'alt="{words(r.rng, 3)}"><figcaption>Photo of the day: '
                            f"{words(r.rng, 4)}</figcaption></figure>"),
        lambda r: ("top", f'<div><img src="/hero.jpg?v={r.rng.getrandbits(16)}" alt="">'
                          f"<p>{r.rng.choice(_pool(r, 'asides'))}</p></div>")],
}

UNCERTAIN: dict[str, list[Form]] = {
    "ab-section": [
        lambda r: ("mid", r.rng.choice([
            f"<h3>{r.vocab['label3']}</h3><p>{_pool(r, 'asides')[0]}</p>",
            f"<h3>{r.vocab['label2'].title()}</h3><p>{_pool(r, 'asides')[1]}</p>"])),
        lambda r: ("aside", r.rng.choice([f"<p>{_pool(r, 'asides')[2]}</p>",
                                          f"<p>{_pool(r, 'asides')[3]}</p>"]))],
    "banner-sometimes": [
        lambda r: ("top", f"<p>{_pool(r, 'asides')[4]}</p>" if r.rng.random() < 0.5 else ""),
        lambda r: ("footer", f"<p>Help us improve: {r.vocab['label2']}</p>"
                   if r.rng.random() < 0.4 else "")],
    "hero-3": [
        lambda r: ("top", r.rng.choice([f"<h2>{t}</h2>" for t in _pool(r, "asides")[:3]])),
        lambda r: ("aside", r.rng.choice([f"<blockquote>{t}</blockquote>"
                                          for t in _pool(r, "related")[:3]]))],
    "varlen-list": [
        lambda r: ("aside", "<div>" + "".join(
            f"<p>{t}</p>" for t in r.rng.sample(_pool(r, "pool"), r.rng.randint(2, 5)))
            + "</div>"),
        lambda r: ("mid", "<section>" + "".join(
            f"<div>{t}</div>" for t in r.rng.sample(_pool(r, "related"), r.rng.randint(1, 4)))
            + "</section>")],
}

SLOW: dict[str, list[Form]] = {
    "generated-date": [
        lambda r: ("footer", f"<p>Page generated {3 + r.revision} March 2026</p>"),
        lambda r: ("top", f"<small>Build 2026.{r.revision + 40}.{_weekly(r).randint(100, 999)}"
                          "</small>")],
    "visitors-today": [
        lambda r: ("top", f"<p>{r.revision * 137 + 1000} {r.vocab['label4']} today</p>"),
        lambda r: ("aside", f"<p>{r.vocab['label3']}: {_weekly(r).randint(10, 99)} new this "
                            "week</p>")],
    "exchange-rate": [
        lambda r: ("aside", f"<p>1 EUR = {1 + _weekly(r).random():.4f} USD</p>"),
        lambda r: ("footer", f"<p>{r.vocab['label6']} index {_weekly(r).randint(1000, 9999)} "
                             "points</p>")],
    "most-read-weekly": [
        lambda r: ("aside", "<h3>Most read</h3><ol>" + "".join(
            f"<li>{t}</li>" for t in _weekly(r).sample(_pool(r, "pool"), 3)) + "</ol>"),
        lambda r: ("mid", "<p>Most read: " + ", ".join(
            _weekly(r).sample(_pool(r, "related"), 2)) + "</p>")],
}

#: ``--kinds`` names.
KIND_SETS = {"unseen": UNSEEN, "uncertain": UNCERTAIN, "slow": SLOW, "fresh": FRESH}


class HeavyWorld(World):
    """The world with heavy templates: a mega-menu of 390 links, 400 strings of inline
    data, 60 boilerplate regions and a sitemap of 80 links on every page (about 60 kB),
    the same at every request."""

    def _page(self, org: Org, page: str, req: Req) -> str:
        html = super()._page(org, page, req)
        rng = random.Random(org.id)  # the organization's template: no noise in it
        menu = "".join(
            f'<li class="menu-item"><a href="/{org.id}/section-{i}/{w}">{w.title()}</a><ul>'
            + "".join(f'<li><a href="/{org.id}/section-{i}/{w}/{j}">{words(rng, 3)}</a></li>'
                      for j in range(12)) + "</ul></li>"
            for i, w in enumerate(words(rng, 30).split()))
        data = "<script>window.__DATA__=" + repr([words(rng, 8) for _ in range(400)]) + \
            "</script>"
        regions = "".join(f'<div class="region"><p>{words(rng, 25)}</p></div>'
                          for _ in range(60))
        sitemap = "".join(f'<a href="/{org.id}/legal/{k}">{words(rng, 2)}</a> '
                          for k in range(80))
        html = html.replace("<header>", f"<header><nav class='mega'><ul>{menu}</ul></nav>{data}",
                            1)
        html = html.replace("<footer>", f"<footer><div class='sitemap'>{sitemap}</div>", 1)
        return html.replace("<aside>", f"<aside><div class='boiler'>{regions}</div>", 1)
