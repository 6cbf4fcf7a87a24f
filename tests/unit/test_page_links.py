"""A page's links as documents: a "featured" box that repeats one of the listed documents,
or an older one, drawn at random at each request, moves where a listed link first shows;
the documents that came or went are still exactly the ones listed or withdrawn."""

from __future__ import annotations

import random
import string

import pytest

from core.records import Extracted
from monitors import MonitorConfig, build_monitor
from monitors.volatility import Noise

MONITOR = build_monitor(MonitorConfig(id="p", kind="page", url="https://x.example/"), "o")


def slug(rng: random.Random) -> str:
    return "-".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 8)))
                    for _ in range(rng.randint(1, 3)))


def page(listed: list[str], featured: str) -> Extracted:
    items = "".join(f'<li><a href="/docs/{d}.pdf">{d.replace("-", " ")}</a></li>'
                    for d in listed)
    body = (f"<html><body><main><h1>Publications</h1><p>Featured: <a href='/docs/{featured}"
            f".pdf'>{featured.replace('-', ' ')}</a></p><ul>{items}</ul><p>Contact us.</p>"
            "</main></body></html>").encode()
    return MONITOR.extract(body, content_type="text/html", url="https://x.example/")


@pytest.mark.parametrize("seed", range(10))
def test_a_featured_box_repeating_a_listed_document_announces_only_what_came_or_went(
        seed: int) -> None:
    rng = random.Random(seed)
    listed = [slug(rng) for _ in range(rng.randint(3, 6))]
    # Each version features another document, listed or older (not listed): where a
    # listed document's link first shows moves with it.
    first, second, third = rng.sample(listed, 3)
    older = slug(rng)
    stored = page(listed, first)
    published = [*listed, slug(rng)]
    new = page(published, second)
    noise = Noise(frozenset(MONITOR.learn(new, page(published, older))))
    change = MONITOR.compare(stored, new, noise)
    assert change is not None
    assert [url for url, _ in change.detail["links_added"]] == [
        f"https://x.example/docs/{published[-1]}.pdf"], change.detail
    assert change.detail["links_removed"] == []

    gone = next(d for d in listed if d not in (second, third))
    kept = [d for d in published if d != gone]
    withdrawn = page(kept, third)
    noise = Noise(frozenset(MONITOR.learn(withdrawn, page(kept, older))))
    change = MONITOR.compare(new, withdrawn, noise)
    assert change is not None
    # Withdrawn: its line is always shown removed (a learned block never covers it); its
    # link too, unless a block learned over the moved links covers it in the old version.
    assert gone.replace("-", " ") in change.detail["removed"], change.detail
    assert [url for url, _ in change.detail["links_removed"]] in (
        [], [f"https://x.example/docs/{gone}.pdf"]), change.detail
    assert change.detail["links_added"] == []


def related(listed: list[str], box: list[str]) -> Extracted:
    items = "".join(f'<li><a href="/docs/{d}.pdf">{d.replace("-", " ")}</a></li>'
                    for d in listed)
    sampled = "".join(f'<li><a href="/docs/{d}.pdf">{d.replace("-", " ")}</a></li>'
                      for d in box)
    body = (f"<html><body><main><h1>Publications</h1><ul>{items}</ul><p>Contact us.</p>"
            f"</main><aside><h2>Related</h2><ul>{sampled}</ul></aside></body></html>").encode()
    return MONITOR.extract(body, content_type="text/html", url="https://x.example/")


@pytest.mark.parametrize("seed", range(10))
def test_a_document_once_sampled_into_a_related_box_is_new_when_the_page_lists_it(
        seed: int) -> None:
    """A box samples three of a pool at each request; one copy showed a document the
    page did not list yet, so it is known to rotate. When the page's own listing gains
    it, alone among links that stay, it is a new document (found by an outside probe
    of real edits)."""
    rng = random.Random(seed)
    listed, pool = [slug(rng) for _ in range(4)], [slug(rng) for _ in range(6)]
    fresh = pool[0]
    first = related(listed, [fresh, *pool[1:3]])
    noise = Noise(frozenset(MONITOR.learn(first, related(listed, pool[3:6]))))
    later = related([fresh, *listed], rng.sample(pool[1:], 3))
    change = MONITOR.compare(related(listed, pool[3:6]), later, noise)
    assert change is not None and change.quiet is None
    assert f"https://x.example/docs/{fresh}.pdf" in [u for u, _ in change.detail["links_added"]]
