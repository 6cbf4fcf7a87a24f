"""What a feed learns from two copies fetched moments apart: ids and links that change by
themselves, in forms drawn at random here (token alphabets, parameter names, where the
token sits), so that no list in the code can know them."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from xml.sax.saxutils import escape

import pytest

from core.records import Extracted
from monitors import MonitorConfig, build_monitor
from monitors.base import Monitor
from monitors.volatility import Noise

TITLES = ["Report on water quality", "Call for evidence on AI", "Annual review",
          "Guidance on general-purpose models"]
#: An entry: (title, link, id), given the entry's number and a token drawn per request.
Entry = Callable[[int, str], tuple[str, str, str]]


def token(rng: random.Random) -> str:
    alphabet = rng.choice([string.hexdigits.lower(), string.ascii_letters, string.digits])
    return "".join(rng.choices(alphabet, k=rng.randint(8, 24)))


def feed_body(entries: list[tuple[str, str, str]]) -> bytes:
    items = "".join(f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
                    f"<guid isPermaLink='false'>{escape(guid)}</guid>"
                    f"<description>About {escape(title)}.</description></item>"
                    for title, link, guid in entries)
    return ("<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
            f"<link>https://x.example/</link><description>d</description>{items}"
            "</channel></rss>").encode()


def forms(rng: random.Random) -> dict[str, Entry]:
    param, prefix = "".join(rng.choices(string.ascii_lowercase, k=5)), rng.choice(["urn", "tag"])
    return {
        "an id with a token, a plain link": lambda n, t: (
            TITLES[n], f"https://x.example/news/{n}", f"{prefix}:{n}:{t}"),
        "an id and a link with a token parameter": lambda n, t: (
            TITLES[n], f"https://x.example/news/{n}?{param}={t}",
            f"https://x.example/news/{n}?{param}={t}"),
        "an id and a link with a token in the path": lambda n, t: (
            TITLES[n], f"https://x.example/{t}/news/{n}", f"https://x.example/{t}/news/{n}"),
        "an id with a token first, no link": lambda n, t: (TITLES[n], "", f"{t}-{n}"),
        # Every entry links to one page, and its id is drawn at each request: the entries
        # are then known by their titles.
        "an id that is a token, one link for all": lambda n, t: (
            TITLES[n], f"https://x.example/{param}", f"{t}{n}"),
    }


def monitor() -> Monitor:
    return build_monitor(MonitorConfig(id="f", kind="feed", url="https://x.example/f"), "o")


def read(entries: Entry, rng: random.Random, count: int = 3) -> Extracted:
    return monitor().extract(feed_body([entries(n, token(rng)) for n in range(count)]),
                             content_type="application/rss+xml")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("form", ["an id with a token, a plain link",
                                  "an id and a link with a token parameter",
                                  "an id and a link with a token in the path",
                                  "an id with a token first, no link",
                                  "an id that is a token, one link for all"])
def test_ids_and_links_that_change_by_themselves_are_learned_and_a_new_entry_still_shows(
        form: str, seed: int) -> None:
    rng = random.Random(f"{seed}-{form}")
    entries = forms(rng)[form]
    feed = monitor()
    stored, new, again = read(entries, rng), read(entries, rng), read(entries, rng)
    assert feed.compare(stored, new) is not None  # two files alone cannot tell
    noise = Noise(frozenset(feed.learn(new, again)))
    assert feed.compare(stored, new, noise) is None
    published = read(entries, rng, count=4)
    change = feed.compare(stored, published, noise)
    assert change is not None
    assert change.summary == f"1 new entry: {TITLES[3]}"


def test_entries_that_share_one_link_keep_their_ids_as_identity() -> None:
    """Every entry links to the same page: ids alone tell them apart, so they are never
    learned as changing by themselves, and a new entry is one new entry."""
    feed = monitor()

    def entries(count: int) -> Extracted:
        body = feed_body([(TITLES[n], "https://x.example/news", f"urn:item:{n}")
                          for n in range(count)])
        return feed.extract(body, content_type="application/rss+xml")

    learned = feed.learn(entries(3), entries(3))
    assert learned == set()
    change = feed.compare(entries(3), entries(4), Noise(frozenset(learned)))
    assert change is not None and change.summary == f"1 new entry: {TITLES[3]}"


def test_an_id_republished_alone_is_not_taken_for_noise() -> None:
    """Two copies whose entries keep their ids teach nothing about ids, even when one
    entry's title is edited between them."""
    feed = monitor()

    def entries(title: str) -> Extracted:
        rows = [(TITLES[0], "https://x.example/a", "urn:a"), (title, "https://x.example/b",
                                                              "urn:b")]
        return feed.extract(feed_body(rows), content_type="application/rss+xml")

    assert not any(v.what == "id" for v in feed.learn(entries("Old"), entries("New")))


def counted(rng: random.Random) -> Callable[[str, int], str]:
    """A count of readers around a summary, in a form drawn here."""
    label = " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 8)))
                     for _ in range(rng.randint(1, 3)))
    return rng.choice([lambda text, n: f"{text} {label} {n}.",
                       lambda text, n: f"{n} {label}: {text}",
                       lambda text, n: f"{text} ({n} {label})"])


def summaries(rng: random.Random, form: Callable[[str, int], str],
              texts: list[str]) -> Extracted:
    rows = [(TITLES[n], f"https://x.example/news/{n}", f"urn:{n}") for n in range(len(texts))]
    items = "".join(f"<item><title>{escape(t)}</title><link>{link}</link><guid>{guid}</guid>"
                    f"<description>{escape(form(text, rng.randint(2, 99_999)))}</description>"
                    "</item>" for (t, link, guid), text in zip(rows, texts, strict=True))
    body = ("<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
            f"<link>https://x.example/</link><description>d</description>{items}"
            "</channel></rss>").encode()
    return monitor().extract(body, content_type="application/rss+xml")


@pytest.mark.parametrize("seed", range(12))
def test_a_count_in_a_summary_is_learned_around_its_words_and_an_edit_still_shows(
        seed: int) -> None:
    """The summary is not volatile as a whole: learning it so hid "Deadline extended"."""
    rng = random.Random(seed)
    form = counted(rng)
    texts = ["Water samples from twelve rivers.", "Bids for the bridge are open.",
             "The consultation runs until 30 June."]
    feed = monitor()
    stored = summaries(rng, form, texts)
    noise = Noise(frozenset(feed.learn(summaries(rng, form, texts),
                                       summaries(rng, form, texts))))
    assert feed.compare(stored, summaries(rng, form, texts), noise) is None
    edited = [*texts[:2], "The consultation runs until 31 July."]
    change = feed.compare(stored, summaries(rng, form, edited), noise)
    assert change is not None, noise.learned
    assert change.summary == f"1 updated: {TITLES[2]}"
    (update,) = change.detail["entries_updated"]
    assert "31 July" in update["changes"]["summary"]["words"]


def test_a_summary_that_is_only_a_token_is_volatile_as_a_whole() -> None:
    rng = random.Random(3)
    feed = monitor()
    learned = feed.learn(summaries(rng, lambda _text, n: f"{n:x}", ["a"]),
                         summaries(rng, lambda _text, n: f"{n:x}", ["a"]))
    assert any(v.what == "summary" for v in learned), learned
