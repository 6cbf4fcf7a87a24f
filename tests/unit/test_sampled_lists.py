"""A list sampled from a pool at each request (``<ul>``/``<ol>``, cards that share a class,
or written in one line: "See also: a · b · c"), its items linked or not: two copies
fetched moments apart that show different items teach that the whole list is noise, the
items they happened to share included, from the first difference on. What stands beside
the list (a sentence, a document, another list) still shows when edited.

Names, items, markup and sizes are drawn at random per seed: no list in the code knows
them."""

from __future__ import annotations

import random
import string

import pytest

from core.records import Extracted
from monitors import MonitorConfig, build_monitor
from monitors.lists import link_runs
from monitors.volatility import Noise

MONITOR = build_monitor(MonitorConfig(id="p", kind="page", url="https://x.example/"), "o")


def word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9)))


def phrase(rng: random.Random, low: int = 2, high: int = 5) -> str:
    return " ".join(word(rng) for _ in range(rng.randint(low, high))).capitalize()


class Site:
    """One page: content, a static list of documents, a list sampled at each request,
    perhaps a line that changes at each request right before it, another static list
    right after it."""

    def __init__(self, seed: int, form: str = "list") -> None:
        rng = random.Random(seed)
        self.seed = seed
        self.one_line = form == "one-line"  # the list written in one line: "Label: a, b, c"
        self.cards = form == "cards"  # one <div class=...> per item, a link and a line
        self.mark = rng.choice([",", " ·", " |", ";"])
        self.pool = [phrase(rng) for _ in range(rng.randint(5, 9))]
        # In one line, two items one of which differs read as two facts ("Deadline: 30
        # June · Budget: 4,000"), whose words around the difference are kept.
        self.size = rng.randint(3 if self.one_line else 2, min(4, len(self.pool) - 2))
        self.tag = rng.choice(["ul", "ol"])
        self.linked = rng.random() < 0.5
        self.item_class = word(rng)
        self.heading = phrase(rng, 1, 3)
        self.tip = rng.random() < 0.5  # a line drawn at each request right before the list
        self.paragraphs = [phrase(rng, 8, 14) + "." for _ in range(rng.randint(2, 5))]
        self.documents = [phrase(rng) for _ in range(rng.randint(2, 5))]
        self.contacts = [phrase(rng) for _ in range(3)]
        self.extra = ""  # a sentence right after the sampled list
        self.news = ""  # an item of no pool, put in the sampled list

    def copy(self, request: str) -> Extracted:
        rng = random.Random(f"{self.seed}-{request}")
        items = rng.sample(self.pool, self.size) + ([self.news] if self.news else [])
        shown = [(f'<a href="/more/{item.replace(" ", "-").lower()}">{item}</a>' if self.linked
                  else item) for item in items]
        if self.one_line:
            sampled = f"<p>{self.heading}: " + f"{self.mark} ".join(shown) + "</p>"
        elif self.cards:  # each card links to what it is about
            sampled = "<div>" + "".join(
                f'<div class="{self.item_class}"><h4><a href="/c/{item.replace(" ", "-")}">'
                f"{item}</a></h4><p>About {item.lower()}.</p></div>" for item in items) + "</div>"
        else:
            sampled = f"<{self.tag}>" + "".join(f'<li class="{self.item_class}">{item}</li>'
                                                for item in shown) + f"</{self.tag}>"
        documents = "".join(f'<li><a href="/docs/{d.replace(" ", "-").lower()}.pdf">{d}</a>'
                            "</li>" for d in self.documents)
        tip = f"<p>{phrase(rng, 4, 7)}</p>" if self.tip else ""
        body = (
            "<html><body><main>" + "".join(f"<p>{p}</p>" for p in self.paragraphs)
            + f"<ul>{documents}</ul>"
            + f"<aside><h3>{self.heading}</h3>{tip}{sampled}"
            + (f"<p>{self.extra}</p>" if self.extra else "")
            + "<ul>" + "".join(f"<li>{c}</li>" for c in self.contacts) + "</ul></aside>"
            "</main></body></html>")
        return MONITOR.extract(body.encode(), content_type="text/html",
                               url="https://x.example/")

    def items(self, copy: Extracted) -> frozenset[str]:
        return frozenset(item for item in self.pool if item in copy.text)


def checked(site: Site, noise: Noise, old: Extracted, request: str
            ) -> tuple[Noise, Extracted, bool]:
    """One check as a run makes it: a difference is confirmed on a second copy, and what
    differs between the two is learned before the check is judged again."""
    new = site.copy(request)
    if MONITOR.compare(old, new, noise) is None:
        return noise, new, False
    second = site.copy(f"{request}-copy")
    witness = Noise(noise.learned, stable=MONITOR.stood(old))
    noise = Noise(noise.learned | frozenset(MONITOR.learn(new, second, witness)))
    told = site.items(new) != site.items(second)  # the copies showed the list sampled
    if told:
        assert MONITOR.compare(old, new, noise) is None, (site.seed, request,
                                                            sorted(noise.learned))
    return noise, new, told


@pytest.mark.parametrize("form", ["list", "one-line", "cards"])
@pytest.mark.parametrize("seed", range(40))
def test_a_sampled_list_is_noise_from_the_first_pair_of_copies_that_shows_it(
        seed: int, form: str) -> None:
    site = Site(seed, form)
    noise, old = Noise(), site.copy("0")
    taught = 0
    for check in range(1, 9):
        noise, old, told = checked(site, noise, old, str(check))
        taught += told
    assert taught, "the list was never seen sampled: the test proves nothing"

    # A sentence added right after the list.
    site.extra = phrase(random.Random(seed), 6, 9) + "."
    change = MONITOR.compare(old, site.copy("sentence"), noise)
    assert change is not None and site.extra in change.detail["added"], change
    site.extra = ""
    if not site.one_line:  # a line sampled in its words has no count of items to exceed
        # An item of no pool put in the list: more lines than it was ever seen to hold.
        site.news = phrase(random.Random(seed + 3000), 6, 8)
        change = MONITOR.compare(old, site.copy("news"), noise)
        assert change is not None and site.news in change.detail["added"], change
        site.news = ""
    # The static list right after it, edited.
    edited = phrase(random.Random(seed + 1000))
    site.contacts[1] = edited
    change = MONITOR.compare(old, site.copy("contacts"), noise)
    assert change is not None and edited in change.detail["added"], change
    # A document published in the list before it.
    published = phrase(random.Random(seed + 2000))
    site.documents.insert(0, published)
    change = MONITOR.compare(old, site.copy("published"), noise)
    assert change is not None
    assert [d["title"] for d in change.detail["documents"]] == [published], change.detail


def test_a_lists_links_are_found_where_its_lines_are() -> None:
    """Links stand at the first line, from the last link's on, that shows their text: a
    list's items with more words than their links ("Title (3)"), links in one line far
    below the last one, and links that are one line each (a menu) are runs; a link whose
    text shows nowhere breaks a run."""
    filler = "".join(f"<p>{phrase(random.Random(n), 8, 12)}.</p>" for n in range(40))
    body = (
        "<html><body><ul><li><a href='/a'>Home</a></li><li><a href='/b'>About</a></li></ul>"
        + filler + "<ul><li><a href='/c'>Alpha one</a> (3)</li>"
        "<li><a href='/d'>Beta two</a> (12)</li></ul>" + filler
        + "<p>See also: <a href='/e'>Gamma</a> · <a href='/f'>Delta</a> · "
        "<a href='/g'>Eps</a></p><p><a href='/h'><img src='x.png' alt=''></a></p>"
        "<p><a href='/i'>Zeta</a></p></body></html>").encode()
    page = MONITOR.extract(body, content_type="text/html", url="https://x.example/")
    assert [url.rsplit("/", 1)[1] for url, _ in page.data["links"]] == list("abcdefghi")
    assert link_runs(page) == [[0, 2], [2, 2], [4, 3]]
