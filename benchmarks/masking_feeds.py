"""Scenarios of ``benchmarks/masking_probe.py``: feeds and PDFs."""

from __future__ import annotations

import random
from datetime import datetime

from benchmarks.masking_world import (
    Scenario,
    scenario,
    sentence,
    title,
    word,
)
from tests.pdfs import make_pdf


@scenario
def feed_title_edited_summary_counter(rng: random.Random) -> Scenario:
    entries = [(f"https://site.example/n/{word(rng)}", title(rng, 5), sentence(rng))
               for _ in range(6)]
    new_title = title(rng, 5)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        items = "".join(
            f"<item><guid>{u}</guid><link>{u}</link>"
            f"<title>{new_title if edited and n == 2 else t}</title>"
            f"<description>{s} {req.randint(100, 9999)} views</description>"
            f"<pubDate>Mon, 0{n + 1} Dec 2026 09:00:00 GMT</pubDate></item>"
            for n, (u, t, s) in enumerate(entries))
        return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title>"
                f"<link>https://site.example/</link><description>d</description>{items}"
                f"</channel></rss>").encode()
    return Scenario("feed entry title edited while its summary counter ticks", render,
                    new_title.split()[0], kind="feed")


@scenario
def feed_title_with_counter_edited(rng: random.Random) -> Scenario:
    entries = [(f"https://site.example/n/{word(rng)}", title(rng, 5)) for _ in range(6)]
    new_word = word(rng, 10, 12)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        items = "".join(
            f"<item><link>{u}</link>"
            f"<title>{t}{' ' + new_word if edited and n == 1 else ''} "
            f"({req.randint(10, 999)})</title>"
            f"<description>{t}</description></item>"
            for n, (u, t) in enumerate(entries))
        return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title>"
                f"<link>https://site.example/</link><description>d</description>{items}"
                f"</channel></rss>").encode()
    return Scenario("feed title with a counter gains a word", render, new_word, kind="feed")


@scenario
def feed_volatile_ids_entry_replaced(rng: random.Random) -> Scenario:
    entries = [(f"https://site.example/n/{word(rng)}", title(rng, 5)) for _ in range(6)]
    new = (f"https://site.example/n/{word(rng)}", title(rng, 5))

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        shown = [*entries[:2], new, *entries[3:]] if edited else entries
        items = "".join(
            f"<item><guid isPermaLink='false'>{req.getrandbits(40):x}</guid><link>{u}</link>"
            f"<title>{t}</title><description>{t}</description></item>" for u, t in shown)
        return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title>"
                f"<link>https://site.example/</link><description>d</description>{items}"
                f"</channel></rss>").encode()
    return Scenario("feed with per-request ids: one entry replaced", render,
                    new[1].split()[0], kind="feed")


@scenario
def feed_param_link_and_title(rng: random.Random) -> Scenario:
    param = word(rng, 2, 4)
    entries = [(f"https://site.example/n/{word(rng)}", title(rng, 5)) for _ in range(5)]
    new_path = f"https://site.example/n/{word(rng)}"

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        items = "".join(
            f"<item><link>{new_path if edited and n == 0 else u}?{param}={req.getrandbits(30):x}"
            f"</link><title>{t}</title><updated>{at.isoformat()}</updated></item>"
            for n, (u, t) in enumerate(entries))
        return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title>"
                f"<link>https://site.example/</link><description>d</description>{items}"
                f"</channel></rss>").encode()
    return Scenario("feed entry moved to another path while its parameter ticks", render,
                    new_path.rsplit("/", 1)[1], kind="feed")


@scenario
def pdf_text_edit_with_metadata_tick(rng: random.Random) -> Scenario:
    lines = [sentence(rng, 4, 8) for _ in range(20)]
    new_word, name = word(rng, 10, 12), title(rng, 3)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        shown = list(lines)
        if edited:
            shown[5] = shown[5][:-1] + f" {new_word}."
        shown.append(f"Printed {at:%Y-%m-%d %H:%M:%S} ref {req.getrandbits(24):x}")
        return make_pdf([shown[:12], shown[12:]], title=name,
                        modified=f"D:{at:%Y%m%d%H%M%S}")
    return Scenario("PDF line edited while its metadata and a print stamp tick", render,
                    new_word, kind="pdf")


@scenario
def pdf_amount_in_stamped_line(rng: random.Random) -> Scenario:
    lines = [sentence(rng, 4, 8) for _ in range(20)]

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        shown = [*lines, f"Total EUR {'52' if edited else '50'},000 · run {req.getrandbits(24):x}"]
        return make_pdf([shown], modified=f"D:{at:%Y%m%d%H%M%S}")
    return Scenario("PDF amount edited in a line with a run token", render, "52,000",
                    kind="pdf")


