"""Scenarios of ``benchmarks/masking_probe.py``: dates and times, amounts, templates
and slow noise."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from benchmarks.masking_world import (
    T0,
    Render,
    Scenario,
    Site,
    cap,
    fmt,
    links,
    scenario,
    sentence,
    title,
    word,
)


def _dated(site: Site, line_of: Callable[[bool], str]) -> Render:
    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        stamp = f"<p>{word(req)} {req.getrandbits(32):x}</p>"
        return site.html([*site.p(0, 6), f"<p>{line_of(edited)}</p>", *site.p(6, 30), stamp])
    return render


@scenario
def date_moved_to_today(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("deadline moved from 2 December to the fetch's date", _dated(
        site, lambda e: f"{label}: {'7' if e else '2'} December 2026"), "7 December")


@scenario
def date_moved_yesterday_to_today(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("deadline moved from the day before to the fetch's date", _dated(
        site, lambda e: f"{label}: {'7' if e else '6'} December 2026"), "7 December",
        documented="bare date moved between the fetch's date and the day before")


@scenario
def date_moved_today_to_tomorrow(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("deadline moved from the fetch's date to the next day", _dated(
        site, lambda e: f"{label}: {'8' if e else '7'} December 2026"), "8 December",
        at=T0.replace(hour=13), documented="bare date moved between fetch's date and next")


@scenario
def iso_date_edit(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("ISO date edited to the fetch's date", _dated(
        site, lambda e: f"{label} {'2026-12-07' if e else '2026-11-30'}"), "2026-12-07")


@scenario
def year_first_date_edit(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("year-first date edited (2026/12/05 -> 2026/12/08)", _dated(
        site, lambda e: f"{label} {'2026/12/08' if e else '2026/12/05'}"), "2026/12/08")


@scenario
def agenda_time_edit(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("agenda time edited (14:00 -> 15:30), fetch at 09:01", _dated(
        site, lambda e: f"{label} starts {'15:30' if e else '14:00'}"), "15:30")


@scenario
def agenda_time_near_fetch(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("agenda time edited (09:00 -> 09:30), fetch at 09:01", _dated(
        site, lambda e: f"{label} starts at {'09:30' if e else '09:00'}"), "09:30")


@scenario
def agenda_datetime_today(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("today's session moved (7 December 2026, 14:00 -> 15:30)", _dated(
        site, lambda e: f"{label}: 7 December 2026, {'15:30' if e else '14:00'}"), "15:30")


@scenario
def agenda_datetime_tomorrow(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("tomorrow's session moved (8 December 2026 10:00 -> 11:30)", _dated(
        site, lambda e: f"{label}: 8 December 2026 {'11:30' if e else '10:00'}"), "11:30")


@scenario
def agenda_time_with_seconds(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    return Scenario("livestream time with seconds edited (14:00:00 -> 15:30:00)", _dated(
        site, lambda e: f"{label} live at {'15:30:00' if e else '14:00:00'} CET"), "15:30:00")


@scenario
def amount_beside_clock(rng: random.Random) -> Scenario:
    site, label, stamp, ref = Site.make(rng), cap(word(rng)), word(rng), word(rng)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        line = (f"<p>{label}: EUR {'45' if edited else '40'},000 · {stamp} "
                f"{at:%Y-%m-%d %H:%M:%S} UTC ({ref} {req.getrandbits(24):x})</p>")
        return site.html([*site.p(0, 6), line, *site.p(6, 30)])
    return Scenario("amount edited in a line with a clock and a request id", render,
                    "45,000")


@scenario
def amount_right_before_counter(rng: random.Random) -> Scenario:
    site, label, unit = Site.make(rng), cap(word(rng)), word(rng)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        line = (f"<p>{label}: EUR {'45' if edited else '40'},000 {fmt(req.randint(100, 9999))} "
                f"{unit}</p>")
        return site.html([*site.p(0, 6), line, *site.p(6, 30)])
    return Scenario("amount edited right before a counter ('EUR 40,000 1,234 views')",
                    render, "45,000")


@scenario
def template_line_gets_a_clause(rng: random.Random) -> Scenario:
    site, a, b = Site.make(rng), cap(word(rng)), word(rng)
    clause = f"{word(rng)} {word(rng, 10, 12)}"

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        line = f"<p>{a} by {fmt(req.randint(100, 9999))} {b}{', ' + clause if edited else ''}</p>"
        return site.html([*site.p(0, 6), line, *site.p(6, 30)])
    return Scenario("'Seen by * visitors' gains a clause", render, clause.split()[-1])


@scenario
def inline_list_sentence_after_edited(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng)) + ":"
    pool = [title(rng, 2) for _ in range(8)]
    tail_old = f"{cap(word(rng))} {word(rng)}."
    tail_new = f"{cap(word(rng, 10, 12))} {word(rng)}."

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        tail = tail_new if edited else tail_old
        line = f"<p>{label} {', '.join(req.sample(pool, 3))}. {tail}</p>"
        return site.html([*site.p(0, 6), line, *site.p(6, 30)])
    return Scenario("sentence after a list sampled in one line edited", render,
                    tail_new.split()[0])


@scenario
def shared_label_elsewhere(rng: random.Random) -> Scenario:
    """A request token after a label, and a fact after the same label elsewhere."""
    site, label = Site.make(rng), cap(word(rng)) + ":"
    old_v, new_v = f"{word(rng)}-{rng.randint(10, 99)}", f"{word(rng)}-{rng.randint(10, 99)}"

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        return site.html([*site.p(0, 6), f"<p>{label} {new_v if edited else old_v}</p>",
                          *site.p(6, 30), f"<p>{label} {req.getrandbits(40):x}</p>"])
    return Scenario("fact edited after a label a token line also uses", render, new_v)


@scenario
def number_edit_in_counter_shaped_line(rng: random.Random) -> Scenario:
    """A per-request counter learned somewhere; a count of the same shape elsewhere."""
    site, label, unit = Site.make(rng), cap(word(rng)), word(rng)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        return site.html([*site.p(0, 6), f"<p>{label} {'18' if edited else '17'} {unit}</p>",
                          *site.p(6, 30), f"<p>{label} {req.randint(100, 9999)} {unit}</p>"])
    return Scenario("count edited in a line shaped as a learned counter", render, "18")


@scenario
def edit_with_template_change(rng: random.Random) -> Scenario:
    site, new_word = Site.make(rng), word(rng, 10, 12)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        footer = [*site.footer, f"{word(req)} {req.getrandbits(32):x}"]
        if at >= T0 - timedelta(hours=12):
            footer[0] = "New footer " + footer[0]
        main = [*site.p(0, 10)]
        if edited:
            main[4] = main[4].replace("</p>", f" {new_word}</p>")
        return site.html([*main, *site.p(10, 30)], footer)
    return Scenario("paragraph edited after a footer change and a footer token", render,
                    new_word)


@scenario
def edit_in_footer_text_beside_token(rng: random.Random) -> Scenario:
    site, new_word = Site.make(rng), word(rng, 10, 12)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        footer = [*site.footer, f"{word(req)} {req.getrandbits(32):x}"]
        return site.html([*site.p(0, 10), *site.p(10, 30),
                          f"<p>{site.paras[-1] if not edited else new_word}</p>"], footer)
    return Scenario("last content line replaced right before a footer token", render, new_word)


@scenario
def recurring_daily_line_then_insert(rng: random.Random) -> Scenario:
    """A daily counter (two copies agree) becomes slow noise; then a sentence after it."""
    site, label, added = Site.make(rng), cap(word(rng)), sentence(rng)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        daily = f"<p>{label} {fmt(1000 + int(at.timestamp()) // 3600 % 977 * 7)}</p>"
        return site.html([*site.p(0, 6), daily, *([f"<p>{added}</p>"] if edited else []),
                          *site.p(6, 30)])
    return Scenario("sentence after a promoted slow counter", render, added.split()[0])


@scenario
def recurring_daily_line_edited(rng: random.Random) -> Scenario:
    site, label, unit = Site.make(rng), cap(word(rng)), word(rng)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        count = fmt(1000 + int(at.timestamp()) // 3600 % 977 * 7)
        daily = f"<p>{label} {count} {unit}{' ' + 'closed' if edited else ''}</p>"
        return site.html([*site.p(0, 6), daily, *site.p(6, 30)])
    return Scenario("promoted slow counter line gains a word", render, "closed")


@scenario
def recurring_most_read_then_insert(rng: random.Random) -> Scenario:
    site, added = Site.make(rng), sentence(rng)
    pool = [title(rng, 4) for _ in range(20)]

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        daily = random.Random(int(at.timestamp()) // 3600)
        most = [f"<p>{t}</p>" for t in daily.sample(pool, 3)]
        if edited:
            most.insert(1, f"<p>{added}</p>")
        return site.html([*site.p(0, 6), "<h3>" + site.paras[6][:20] + "</h3>", *most,
                          *site.p(7, 30)])
    return Scenario("sentence into a promoted slow 'most read' block", render,
                    added.split()[0])


@scenario
def rotating_tips_new_line_between(rng: random.Random) -> Scenario:
    site, added = Site.make(rng), sentence(rng)
    pool = [sentence(rng, 3, 6) for _ in range(6)]

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        tips = [f"<p>{t}</p>" for t in req.sample(pool, 3)]
        if edited:
            tips.insert(2, f"<p>{added}</p>")
        return site.html([*site.p(0, 6), *tips, *site.p(6, 30)])
    return Scenario("sentence between items of a rotating run", render, added.split()[0])


@scenario
def rotating_item_text_becomes_content(rng: random.Random) -> Scenario:
    """A rotating aside draws sentences of the page's own pool; the page then adds one of
    them as a paragraph of its own."""
    site = Site.make(rng)
    pool = [sentence(rng, 3, 6) for _ in range(6)]
    promoted_line = pool[0]

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        aside = [f"<li>{t}</li>" for t in req.sample(pool[1:], 2)]
        main = [*site.p(0, 10), f"<ul>{''.join(aside)}</ul>", *site.p(10, 30)]
        if edited:
            main.insert(3, f"<p>{promoted_line}</p>")
        return site.html(main)
    return Scenario("line added that an aside once showed", render, promoted_line.split()[0])


@scenario
def static_list_beside_sampled_list_edited(rng: random.Random) -> Scenario:
    site = Site.make(rng)
    pool = [site.doc() for _ in range(8)]
    static = [site.doc() for _ in range(3)]
    renamed = static[1][1] + " " + word(rng, 10, 12)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        shown = [(u, renamed if edited and t == static[1][1] else t) for u, t in static]
        return site.html([*site.p(0, 6), links(req.sample(pool, 3)), links(shown),
                          *site.p(6, 30)])
    return Scenario("item of a static list beside a sampled list edited", render,
                    renamed.split()[-1])


@scenario
def cards_new_card(rng: random.Random) -> Scenario:
    site, cls = Site.make(rng), word(rng)
    pool = [site.doc() for _ in range(8)]
    new = site.doc()

    def card(u: str, t: str) -> str:
        blurb = f"{t[:12]} {word(random.Random(t))}"
        return f'<div class="{cls}"><a href="{u}">{t}</a><p>{blurb}</p></div>'

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        cards = [card(u, t) for u, t in req.sample(pool, 3)]
        if edited:
            cards.append(card(*new))
        return site.html([*site.p(0, 6), "<div>" + "".join(cards) + "</div>", *site.p(6, 30)])
    return Scenario("new card added to a sampled card list", render, new[1])
