"""Scenarios of ``benchmarks/masking_probe.py``: edits beside learned lines, slots,
lists and links."""

from __future__ import annotations

import random
from datetime import datetime

from benchmarks.masking_world import (
    Scenario,
    Site,
    cap,
    fmt,
    links,
    month,
    scenario,
    sentence,
    title,
    word,
)


@scenario
def counter_then_deadline_in_one_line(rng: random.Random) -> Scenario:
    site, label, unit = Site.make(rng), cap(word(rng)), word(rng)
    old_d = f"{rng.randint(1, 28)} {month(rng)} 2027"
    new_d = f"{rng.randint(1, 28)} December 2027"

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        count = fmt(req.randint(1000, 9999))
        line = f"<p>{label}: {new_d if edited else old_d} · {unit} {count}</p>"
        return site.html([*site.p(0, 5), line, *site.p(5, 30)])
    return Scenario("deadline edited beside a counter", render, new_d.split()[0])


@scenario
def counter_before_deadline(rng: random.Random) -> Scenario:
    site, label, unit, today = Site.make(rng), cap(word(rng)), cap(word(rng)), word(rng)
    old_d, new_d = f"{rng.randint(1, 28)} June 2027", f"{rng.randint(1, 28)} July 2027"

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        line = (f"<p>{unit} {fmt(req.randint(1000, 99999))} ({req.randint(1, 99)} {today}) "
                f"· {label}: {new_d if edited else old_d}</p>")
        return site.html([*site.p(0, 4), line, *site.p(4, 30)])
    return Scenario("deadline after a counter 'N (M today)'", render, "July")


@scenario
def deadline_before_served_stamp(rng: random.Random) -> Scenario:
    """A per-request stamp whose changing words stand one word apart: a run wildcard."""
    site, label, by, unit = Site.make(rng), cap(word(rng)), word(rng), word(rng, 1, 2)
    old_d, new_d = f"{rng.randint(1, 28)} June 2027", f"{rng.randint(1, 28)} July 2027"

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        line = (f"<p>{label}: {new_d if edited else old_d} · {by} {word(req, 2, 3)}-"
                f"{req.randint(1, 9)} in 0.{req.randint(10, 99)} {unit}</p>")
        return site.html([*site.p(0, 4), line, *site.p(4, 30)])
    return Scenario("deadline before a stamp 'by node-3 in 0.12 s'", render, "July")


@scenario
def deadline_after_inline_sample(rng: random.Random) -> Scenario:
    """A line that samples a pool, with a fact after it: items overlap, so a template."""
    site, label, fact = Site.make(rng), cap(word(rng)) + ":", cap(word(rng)) + ":"
    pool = [title(rng, 2) for _ in range(4)]

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        line = (f"<p>{label} {' · '.join(req.sample(pool, 3))} · {fact} "
                f"{'14' if edited else '30'} June 2027</p>")
        return site.html([*site.p(0, 4), line, *site.p(4, 30)])
    return Scenario("fact after a list sampled in one line (overlapping samples)", render,
                    "14 June")


@scenario
def two_counters_around_fact(rng: random.Random) -> Scenario:
    site = Site.make(rng)
    a, b, c = cap(word(rng)), cap(word(rng)), cap(word(rng))

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        line = (f"<p>{a} {req.randint(10, 999)} · {c}: EUR {'96' if edited else '40'},000 "
                f"· {b} {req.randint(10, 999)}</p>")
        return site.html([*site.p(0, 10), line, *site.p(10, 40)])
    return Scenario("amount between two counters", render, "96,000")


@scenario
def sentence_after_counter_line(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), f"{cap(word(rng))} {word(rng)}"
    added = sentence(rng)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        main = [*site.p(0, 6), f"<p>{label} {fmt(req.randint(100, 99999))}</p>",
                *([f"<p>{added}</p>"] if edited else []), *site.p(6, 40)]
        return site.html(main)
    return Scenario("sentence inserted right after a counter line", render, added.split()[0])


@scenario
def paragraph_between_two_noises(rng: random.Random) -> Scenario:
    site, label = Site.make(rng), cap(word(rng))
    new_word = word(rng, 10, 12)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        para = site.paras[7] if not edited else site.paras[7].replace(" ", f" {new_word} ", 1)
        main = [*site.p(0, 6), f"<p>{label} {fmt(req.randint(100, 99999))}</p>", f"<p>{para}</p>",
                f"<p>{word(req)}-{req.getrandbits(40):x}</p>", *site.p(8, 40)]
        return site.html(main)
    return Scenario("paragraph edited between two noisy lines", render, new_word)


def _slot_page(site: Site, req: random.Random, size: int, extra: str | None,
               where: int = -1) -> list[str]:
    aside = [f"<p>{sentence(req, 3, 7)}</p>" for _ in range(size)]
    if extra is not None:
        aside.insert(where if where >= 0 else len(aside), f"<p>{extra}</p>")
    return [*site.p(0, 8), "<h2>" + site.paras[8][:30] + "</h2>", *aside,
            f"<p>{site.paras[9]}</p>", *site.p(10, 40)]


@scenario
def sentence_inside_slot(rng: random.Random) -> Scenario:
    site, added, size = Site.make(rng), sentence(rng), rng.randint(1, 3)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        return site.html(_slot_page(site, req, size, added if edited else None))
    return Scenario("sentence added at the end of a slot", render, added.split()[0])


@scenario
def sentence_first_in_slot(rng: random.Random) -> Scenario:
    site, added, size = Site.make(rng), sentence(rng), rng.randint(1, 3)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        return site.html(_slot_page(site, req, size, added if edited else None, 0))
    return Scenario("sentence added at the start of a slot", render, added.split()[0])


@scenario
def slot_end_line_edited(rng: random.Random) -> Scenario:
    site, new_word = Site.make(rng), word(rng, 10, 12)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        main = _slot_page(site, req, 2, None)
        if edited:
            main = [m.replace(site.paras[9], site.paras[9][:-1] + f" {new_word}.") for m in main]
        return site.html(main)
    return Scenario("the line that ends a slot edited", render, new_word)


@scenario
def slot_anchor_removed(rng: random.Random) -> Scenario:
    site = Site.make(rng)
    heading = "<h2>" + site.paras[8][:30] + "</h2>"

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        main = _slot_page(site, req, 2, None)
        return site.html([m for m in main if not (edited and m == heading)])
    return Scenario("the only line of a slot's anchor removed", render, site.paras[8][:20])


def _related(site: Site, pool: list[tuple[str, str]], req: random.Random, k: int) -> str:
    return "<h3>" + site.paras[3][:25] + "</h3>" + links(req.sample(pool, k))


@scenario
def doc_added_beside_rotating_list(rng: random.Random) -> Scenario:
    site = Site.make(rng)
    pool = [site.doc() for _ in range(8)]
    new = site.doc()

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        docs = [new, *site.docs] if edited else site.docs
        return site.html([*site.p(0, 5), site.doclist(docs), _related(site, pool, req, 3),
                          *site.p(5, 30)])
    return Scenario("document added to a list beside a rotating one", render, new[1])


@scenario
def doc_added_into_rotating_list(rng: random.Random) -> Scenario:
    site = Site.make(rng)
    pool = [site.doc() for _ in range(8)]
    new = site.doc()

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        items = req.sample(pool, 3)
        if edited:
            items.insert(0, new)
        return site.html([*site.p(0, 5), "<h3>" + site.paras[3][:25] + "</h3>", links(items),
                          *site.p(5, 30)])
    return Scenario("new document added into a rotating list", render, new[1])


@scenario
def doc_removed_once_seen_in_related(rng: random.Random) -> Scenario:
    """The related box samples the site's documents, this page's included."""
    site = Site.make(rng)
    pool = [site.doc() for _ in range(6)] + site.docs[:3]
    gone = site.docs[1]

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        docs = [d for d in site.docs if not (edited and d == gone)]
        related = [d for d in req.sample(pool, 3) if not (edited and d == gone)]
        return site.html([*site.p(0, 5), site.doclist(docs), *site.p(5, 9),
                          "<h3>" + site.paras[3][:25] + "</h3>", links(related),
                          *site.p(9, 30)])
    return Scenario("document withdrawn that the related box once showed", render, gone[1])


@scenario
def doc_added_once_seen_in_related(rng: random.Random) -> Scenario:
    site = Site.make(rng)
    new = site.doc()
    pool = [site.doc() for _ in range(5)] + [new]

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        docs = [new, *site.docs] if edited else site.docs
        return site.html([*site.p(0, 5), site.doclist(docs), *site.p(5, 9),
                          "<h3>" + site.paras[3][:25] + "</h3>", links(req.sample(pool, 3)),
                          *site.p(9, 30)])
    return Scenario("document added that the related box had shown", render, new[1])


@scenario
def session_param_and_path_changed(rng: random.Random) -> Scenario:
    site, param = Site.make(rng), word(rng, 2, 5)
    old_url = site.docs[2][0]
    new_url = old_url.replace(".pdf", f"-{word(rng)}.pdf")

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        docs = [(new_url if edited and u == old_url else u, t) for u, t in site.docs]
        items = "".join(f'<li><a href="{u}?{param}={req.getrandbits(32):x}">{t}</a></li>'
                        for u, t in docs)
        return site.html([*site.p(0, 5), f"<ul>{items}</ul>", *site.p(5, 30)])
    return Scenario("link's path changed while its session parameter ticks", render,
                    new_url.rsplit("/", 1)[1], documented="")


@scenario
def session_segment_and_file_changed(rng: random.Random) -> Scenario:
    site = Site.make(rng)
    old_name = site.docs[0][0].rsplit("/", 1)[1]
    new_name = f"{word(rng)}-2027.pdf"

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        session = f"s{req.getrandbits(24):x}"
        docs = [(u.replace("/docs/", f"/{session}/docs/").replace(
            old_name, new_name if edited else old_name), t) for u, t in site.docs]
        return site.html([*site.p(0, 5), links(docs), *site.p(5, 30)])
    return Scenario("document renamed under a session path segment", render, new_name)


@scenario
def link_text_same_param_ticks(rng: random.Random) -> Scenario:
    site, param = Site.make(rng), word(rng, 2, 5)
    old_t = site.docs[1][1]
    new_t = old_t + " " + word(rng, 10, 12)

    def render(req: random.Random, at: datetime, edited: bool) -> bytes:
        items = "".join(f'<li><a href="{u}?{param}={req.getrandbits(32):x}">'
                        f"{new_t if edited and t == old_t else t}</a></li>"
                        for u, t in site.docs)
        return site.html([*site.p(0, 5), f"<ul>{items}</ul>", *site.p(5, 30)])
    return Scenario("link text edited while its parameter ticks", render, new_t.split()[-1])


