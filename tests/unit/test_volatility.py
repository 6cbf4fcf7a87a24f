"""Noise is learned, not listed: pages whose noise is made up at random, in forms no code
can know, are judged by what two copies fetched moments apart show.

Each generated page has stable content (paragraphs, labelled dates and amounts, links)
and noise of random kinds: a number after a random label that changes at every request,
a random token, a rotating block of random lines, a volatile query parameter with a
random name, the same list in a random order. The learning sees one pair of fresh copies;
the comparison then sees an older version and a newer one.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.records import Extracted, Volatile
from monitors import MonitorConfig, build_monitor
from monitors.base import Monitor
from monitors.learning import learn_lines, learn_links, learn_path_segments
from monitors.linetemplates import WILD, WILD_RUN, line_template, matches
from monitors.normalize import comparable_pair
from monitors.volatility import (
    LINE,
    PARAM,
    ROTATING,
    SEGMENT,
    SLOT,
    Noise,
)

T0 = datetime(2026, 12, 7, 9, 0, 0, tzinfo=UTC)


def word(rng: random.Random, low: int = 3, high: int = 9) -> str:
    return "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(low, high)))


def phrase(rng: random.Random, words: int) -> str:
    return " ".join(word(rng) for _ in range(words))


@dataclass
class World:
    """One random site page: its stable content, and noise that differs per request."""

    rng: random.Random
    content: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    label: str = ""
    unit: str = ""
    param: str = ""
    aside: int = 1

    @classmethod
    def make(cls, seed: int) -> World:
        rng = random.Random(seed)
        world = cls(rng)
        world.content = [phrase(rng, rng.randint(4, 12)) for _ in range(rng.randint(4, 12))]
        world.content.append(f"{word(rng)}: {rng.randint(1, 28)} August {rng.randint(2024, 2030)}")
        world.content.append(f"{word(rng)} {word(rng)}: EUR {rng.randint(10, 9999)},000")
        world.links = [f"https://site.example/{word(rng)}/{word(rng)}.pdf"
                       for _ in range(rng.randint(2, 6))]
        world.kinds = rng.sample(["counter", "token", "rotating", "param", "order"],
                                 rng.randint(1, 5))
        world.label, world.unit = phrase(rng, rng.randint(1, 3)), word(rng)
        world.param = word(rng, 1, 6).lower()
        world.aside = rng.randint(1, 3)  # random lines, as many at every request
        return world

    def page(self, request: random.Random, content: list[str] | None = None) -> Extracted:
        lines = list(content or self.content)
        links = [[url, f"doc {n}"] for n, url in enumerate(self.links)]
        if "counter" in self.kinds:
            lines.insert(1, f"{self.label} {request.randint(1, 10**6):,} {self.unit}")
        if "token" in self.kinds:
            lines.append(f"{self.unit} {request.getrandbits(64):x}")
        if "rotating" in self.kinds:
            lines.insert(len(lines) // 2, "Stable heading of the aside")
            lines[len(lines) // 2 + 1:len(lines) // 2 + 1] = [
                phrase(request, 3) for _ in range(self.aside)]
        if "param" in self.kinds:
            links = [[f"{url}?{self.param}={request.getrandbits(32)}", text]
                     for url, text in links]
        if "order" in self.kinds:
            request.shuffle(links)
        return Extracted("\n".join(lines), {"links": links, "title": "t"})


def page_monitor(**options: object) -> Monitor:
    return build_monitor(MonitorConfig(id="m", kind="page", url="https://site.example/",
                                       **options), "org")


def learned_from_two_copies(monitor: Monitor, world: World, seed: int) -> Noise:
    """What two fresh copies teach, beside the version stored before them (``seed + 2``,
    the ``old`` of the tests)."""
    first = world.page(random.Random(seed))
    second = world.page(random.Random(seed + 1))
    before = world.page(random.Random(seed + 2))
    stable = frozenset(" ".join(line.split()) for line in before.text.splitlines())
    return Noise(frozenset(monitor.learn(first, second, Noise(stable=stable), T0,
                                         T0 + timedelta(seconds=1))))


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 10**9))
def test_noise_in_forms_nobody_listed_is_not_a_change_once_learned(seed: int) -> None:
    world, monitor = World.make(seed), page_monitor()
    noise = learned_from_two_copies(monitor, world, seed)
    old = world.page(random.Random(seed + 2))
    new = world.page(random.Random(seed + 3))
    change = monitor.compare(old, new, noise, old_at=T0 - timedelta(hours=6), new_at=T0)
    assert change is None, (world.kinds, change.summary if change else None, noise.learned)


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 10**9), edit=st.sampled_from(["paragraph", "date", "amount",
                                                         "added", "removed"]))
def test_a_real_edit_is_never_masked_by_what_was_learned(seed: int, edit: str) -> None:
    world, monitor = World.make(seed), page_monitor()
    noise = learned_from_two_copies(monitor, world, seed)
    edited = list(world.content)
    rng = random.Random(seed)
    if edit == "paragraph":
        edited[0] = edited[0] + " " + word(rng)
    elif edit == "date":
        edited[-2] = edited[-2].replace("August", "September")
    elif edit == "amount":
        edited[-1] = edited[-1].replace(",000", ",500")
    elif edit == "added":
        edited.insert(2, phrase(rng, 6))
    else:
        del edited[0]
    old = world.page(random.Random(seed + 2))
    new = world.page(random.Random(seed + 3), content=edited)
    change = monitor.compare(old, new, noise, old_at=T0 - timedelta(hours=6), new_at=T0)
    assert change is not None, (world.kinds, edit, noise.learned)


@pytest.mark.parametrize(("a", "b", "template"), [
    ("Seen by 1,234 visitors", "Seen by 1,240 visitors", f"Seen by {WILD} visitors"),
    ("x 1 y", "x 2 y", f"x {WILD} y"),
    # The words from the first difference to the last are one run, shared words between
    # included: two samples of one list share items by chance.
    ("See also: a b · c d", "See also: c d · a b", f"See also: {WILD_RUN}"),
    ("Most read: A, B, C", "Most read: D, B, E", f"Most read: {WILD_RUN}"),
    # Tokens changed in place with words between them: those words stay (a deadline
    # between two counters is content).
    ("Yes 60% · No 40%", "Yes 55% · No 45%", f"Yes {WILD} · No {WILD}"),
    ("Views 12 · Deadline: 30 June 2026 · Comments 4",
     "Views 19 · Deadline: 30 June 2026 · Comments 7",
     f"Views {WILD} · Deadline: 30 June 2026 · Comments {WILD}"),
    ("Statement on AI", "Budget for 2027 adopted", None),  # not versions of one line
    # A number in spaced groups of digits is one word: the counter is one wildcard.
    ("consulted 13 105 times", "consulted 13 106 times", f"consulted {WILD} times"),
    ("Rooms 101 and 102", "Rooms 101 and 103", f"Rooms 101 and {WILD}"),
])
def test_two_versions_of_a_line_make_a_template(a: str, b: str, template: str | None) -> None:
    assert line_template(a, b) == template
    if template is not None:
        assert matches(template, a) and matches(template, b)


def test_a_counter_in_spaced_groups_is_learned_whole_so_its_carry_is_noise_too() -> None:
    """Two copies moments apart show the last group tick; the version before shows the
    counter as it was a thousand views ago, and the wildcard covers that too, and
    nothing past the counter."""
    template = line_template("consulted 13 105 times", "consulted 13 106 times")
    assert template is not None
    assert matches(template, "consulted 12 408 times")
    assert matches(template, "consulted 998 times")
    assert not matches(template, "consulted 12 408 times today")
    assert not matches(template, "consulted 4 5 times")  # two numbers, not one in groups


@pytest.mark.parametrize(("a", "b", "template"), [
    # Items two samples of a list in one line shared at its ends, split from what
    # differs by the list's separator and no longer than its items: chance.
    ("See also: Bo ta, Zi mu, De fo", "See also: Ga re, Ep fi, De fo", f"See also: {WILD_RUN}"),
    ("See also: Zi mu, Bo ta, Ep fi", "See also: Zi mu, Bo ta, Ga re", f"See also: {WILD_RUN}"),
    ("Read: Ab cd · Ef gh · Ij kl", "Read: Ab cd · Mn op · Ij kl", f"Read: {WILD_RUN}"),
    ("Read: Ab cd · Ef gh · Ij kl", "Read: Ab cd · Ef gh · Mn op", f"Read: {WILD_RUN}"),
    ("Read: Ab cd · Ef gh · Ij kl · Mn", "Read: Op qr · Ef gh · St uv · Mn", f"Read: {WILD_RUN}"),
    ("Read: Ab cd, Ef gh, Ij kl, Mn op", "Read: Qr st, Ef gh, Uv wx, Mn op", f"Read: {WILD_RUN}"),
    ("Yes 60% · No 40%", "Yes 55% · No 45%", f"Yes {WILD} · No {WILD}"),
    # The label before the list and a sentence after it stay.
    ("Most read: Ab, Cd, Ef. Updated daily", "Most read: Gh, Ij, Ef. Updated daily",
     f"Most read: {WILD_RUN} Ef. Updated daily"),
    ("Ab cd, Ef gh, Ij", "Ab cd, Kl mn, Ij", f"Ab cd, {WILD_RUN}"),
    # A date that differs beside a label, or beside another fact, is no list's item: the
    # words around it stay.
    ("Deadline: 30 June 2026", "Deadline: 31 October 2026", f"Deadline: {WILD_RUN} 2026"),
    ("Deadline: 30 June 2026 · Budget: EUR 40,000", "Deadline: 1 May 2026 · Budget: EUR 40,000",
     f"Deadline: {WILD_RUN} 2026 · Budget: EUR 40,000"),
    ("Views 12 · Deadline: 30 June 2026 · Comments 4",
     "Views 19 · Deadline: 30 June 2026 · Comments 7",
     f"Views {WILD} · Deadline: 30 June 2026 · Comments {WILD}"),
])
def test_items_a_sampled_line_shared_by_chance_are_not_kept(a: str, b: str, template: str
                                                            ) -> None:
    assert line_template(a, b, items=True) == template
    assert matches(template, a) and matches(template, b)


def test_a_slot_needs_a_stable_line_beside_it() -> None:
    assert learn_lines(["a", "b"], ["c", "d", "e"]) == set()
    assert learn_lines(["top", "a", "end"], ["top", "x", "y", "end"]) == {
        Volatile(SLOT, "top", "end\t2"), Volatile(ROTATING, "", "a"),
        Volatile(ROTATING, "", "x"), Volatile(ROTATING, "", "y")}


def test_differences_a_few_equal_lines_apart_are_one_slot() -> None:
    # Two samples of one list share an item by chance: the slot spans both differences.
    # The version stored before did not show "b": it is not a stable line.
    before = Noise(stable=frozenset(["top", "x", "y", "z", "end"]))
    learned = learn_lines(["top", "a", "b", "c", "end"], ["top", "d", "b", "e", "end"], before)
    assert Volatile(SLOT, "top", "end\t3") in learned
    assert {v.what for v in learned if v.kind == ROTATING} == {"a", "c", "d", "e"}
    # Shown before, or nothing known of before: "b" may be content between two noises.
    for witness in (Noise(stable=frozenset(["top", "b", "end"])), Noise()):
        learned = learn_lines(["top", "a", "b", "c", "end"], ["top", "d", "b", "e", "end"],
                              witness)
        assert Volatile(SLOT, "top", "b\t1") in learned
        assert not [v for v in learned if v.kind == SLOT and v.what.endswith("3")]


def test_lines_only_moved_between_two_copies_never_rotate() -> None:
    # A footer served in a random order, beside a line that does change.
    learned = learn_lines(["Home", "Tip one", "Privacy", "Terms", "Contact"],
                          ["Home", "Terms", "Advice two", "Contact", "Privacy"])
    assert {v.what for v in learned if v.kind == ROTATING} <= {"Tip one", "Advice two"}


def test_a_paragraph_between_two_noises_is_never_learned() -> None:
    # The first check of a monitor learns from two copies with no version before them.
    a = ["Agency: policy", "Updated 14 seconds ago", "Overview", "The board met.",
         "Comments (59)", "Key dates"]
    b = ["Agency: policy", "Updated 56 seconds ago", "Overview", "The board met.",
         "Comments (73)", "Key dates"]
    noise = Noise(frozenset(learn_lines(a, b)))
    assert {v.kind for v in noise.learned} == {LINE}
    edited = [*a[:3], "The board met again.", *a[4:]]
    assert "The board met again." in [k for k, _ in noise.comparable(edited)]


@pytest.mark.parametrize("one_line", [False, True])
@pytest.mark.parametrize("seed", range(30))
def test_a_list_sampled_from_a_pool_is_learned_and_edits_beside_it_still_show(
        seed: int, one_line: bool) -> None:
    rng = random.Random(seed)
    pool = [phrase(rng, rng.randint(2, 5)) for _ in range(rng.randint(5, 9))]
    label, size = phrase(rng, rng.randint(1, 2)), rng.randint(2, 4)
    content = [phrase(rng, rng.randint(4, 10)) for _ in range(rng.randint(3, 6))]

    def page(request: random.Random, lines: list[str]) -> list[str]:
        items = request.sample(pool, size)
        shown = [f"{label} " + " · ".join(items)] if one_line else items
        return [lines[0], *shown, *lines[1:]]

    noise, falses = Noise(), []
    old = page(random.Random(f"{seed}-0"), content)
    for check in range(1, 17):
        new = page(random.Random(f"{seed}-{check}"), content)
        if not _same(noise, old, new):
            copy = page(random.Random(f"{seed}-{check}-copy"), content)
            witness = Noise(noise.learned, stable=frozenset(old))
            noise = Noise(noise.learned | frozenset(learn_lines(new, copy, witness)))
            if not _same(noise, old, new):
                falses.append(check)
        old = new
    # Each check sees two fresh copies: an item is learned once it shows in one and not
    # the other, so the list is known after a few checks, not at once.
    assert len([c for c in falses if c > 6]) <= 1, (falses, noise.learned)
    edited = [content[0] + " " + word(rng), *content[1:]]  # the line before the list
    assert not _same(noise, old, page(random.Random(f"{seed}-edit"), edited))
    edited = [content[0], content[1] + " " + word(rng), *content[2:]]  # the line after
    assert not _same(noise, old, page(random.Random(f"{seed}-edit"), edited))
    added = [content[0], phrase(rng, 6), *content[1:]]  # a sentence right after the list
    assert not _same(noise, old, page(random.Random(f"{seed}-edit"), added))
    removed = [content[0], *content[2:]]  # the line after the list withdrawn
    assert not _same(noise, old, page(random.Random(f"{seed}-edit"), removed))


def _same(noise: Noise, old: list[str], new: list[str]) -> bool:
    return sorted(k for k, _ in noise.comparable(old)) == \
        sorted(k for k, _ in noise.comparable(new))


def test_a_slot_never_masks_more_lines_than_it_was_seen_to_hold() -> None:
    noise = Noise(frozenset(learn_lines(["top", "Subscribe to our newsletter", "end"],
                                        ["top", "Visit the museum shop today", "end"])))
    assert [k for k, _ in noise.comparable(["top", "Read our annual report", "end"])] == [
        "top", "end"]
    added = [k for k, _ in noise.comparable(
        ["top", "Read our annual report", "This page moved to a new address", "end"])]
    assert added == ["top", "Read our annual report", "This page moved to a new address",
                     "end"]


def test_a_line_added_beside_a_rotating_line_shows_once_it_is_known_to_rotate() -> None:
    noise = Noise()
    for a, b in (("Visit the shop today", "Our podcast is out"),
                 ("Read the annual report", "Follow us elsewhere")):
        noise = Noise(noise.learned | frozenset(learn_lines(
            ["Overview", "The board met.", a, "Key dates"],
            ["Overview", "The board met.", b, "Key dates"], noise)))
    assert Volatile(ROTATING, "", "Our podcast is out") in noise.learned
    old = ["Overview", "The board met.", "Our podcast is out", "Key dates"]
    moved = ["Overview", "The board met.", "This page moved to a new address.",
             "Visit the shop today", "Key dates"]
    assert "This page moved to a new address." in [k for k, _ in noise.comparable(moved)]
    assert _same(noise, old, ["Overview", "The board met.", "A new tip", "Key dates"])


def test_a_slot_that_ends_at_a_rotating_line_does_not_take_a_document_added_there() -> None:
    # Copies of a listing whose "most read" items follow its last document.
    x, y, k, z = "Budget talks resume", "Ministers meet in Rome", "Elections ahead", "Floods"
    noise = Noise(frozenset(learn_lines(["Reports", "Report B", x, k, "End"],
                                        ["Reports", "Report B", y, k, "End"])))
    assert Volatile(SLOT, "Report B", f"{k}\t1") in noise.learned
    noise = Noise(noise.learned | frozenset(learn_lines(
        ["Reports", "Report B", y, z, "End"], ["Reports", "Report B", y, k, "End"], noise)))
    assert Volatile(ROTATING, "", k) in noise.learned
    published = ["Reports", "Report B", "Report C", k, y, "End"]
    assert "Report C" in [key for key, _ in noise.comparable(published)]


def test_a_line_a_slot_covers_on_one_side_only_is_content_on_both() -> None:
    noise = Noise(frozenset({Volatile(SLOT, "Report B", "Email this page\t2")}))
    old = ["Report B", "Privacy", "Yes 9% No 91%", "Email this page", "Terms"]
    new = ["Report B", "Yes 40% No 60%", "Email this page", "Privacy", "Terms"]
    pair = comparable_pair(old, new, noise=noise)
    assert pair.same_lines()  # the footer line moved into the slot's place: no change
    assert "Privacy" in [key for key, _ in pair.old]


def test_a_template_of_wildcards_only_counts_after_its_anchor() -> None:
    noise = Noise(frozenset({Volatile(LINE, "Views", WILD)}))
    assert [k for k, _ in noise.comparable(["Views", "123"])] == ["Views", WILD]
    assert [k for k, _ in noise.comparable(["Budget", "123"])] == ["Budget", "123"]


def test_a_session_in_the_path_is_learned_from_two_links_that_show_it() -> None:
    a = ["https://s.example/o/s8f3a/docs/one.pdf", "https://s.example/o/s8f3a/docs/two.pdf",
         "https://s.example/contact"]
    b = ["https://s.example/o/s91c2/docs/one.pdf", "https://s.example/o/s91c2/docs/two.pdf",
         "https://s.example/contact"]
    learned = learn_path_segments(a, b)
    assert learned == {Volatile(SEGMENT, "https://s.example/o/", "")}
    noise = Noise(frozenset(learned))
    assert noise.link_key(a[0]) == noise.link_key(b[0]) != noise.link_key(a[1])
    assert noise.link_key("https://s.example/o/s0000/docs/three.pdf") == \
        f"https://s.example/o/{WILD}/docs/three.pdf"
    assert noise.link_key(a[2]) == a[2]


@pytest.mark.parametrize(("a", "b"), [
    # One document replaced by another in one folder: two links, not one that changes.
    (["https://s.example/docs/a.pdf"], ["https://s.example/docs/b.pdf"]),
    # One link only shows the difference: not enough to say it is a session.
    (["https://s.example/s1/docs/a.pdf"], ["https://s.example/s2/docs/a.pdf"]),
    (["https://s.example/docs/a.pdf", "https://s.example/docs/b.pdf"],
     ["https://s.example/docs/a.pdf", "https://s.example/docs/c.pdf"]),
])
def test_documents_of_one_folder_are_never_a_volatile_segment(a: list[str], b: list[str]
                                                             ) -> None:
    assert learn_path_segments(a, b) == set()


def test_a_parameter_is_learned_for_its_path_only() -> None:
    learned = learn_links(["https://s.example/a/doc?q1=5&id=3"],
                          ["https://s.example/a/doc?q1=6&id=3"])
    assert learned == {Volatile(PARAM, "https://s.example/a/", "q1")}
    noise = Noise(frozenset(learned))
    assert noise.link_key("https://s.example/a/doc?q1=7&id=3") == "https://s.example/a/doc?id=3"
    assert noise.link_key("https://s.example/b/doc?q1=7") == "https://s.example/b/doc?q1=7"


def test_a_line_a_known_slot_covered_in_one_copy_is_still_learned() -> None:
    # In the first copy the tip sits inside a slot learned before; in the second it does
    # not. Hidden in one copy only, the tip was never learned, and showed at the next check.
    noise = Noise(frozenset({Volatile(SLOT, "Report B", "Item 2\t2")}))
    a = ["Reports", "Report B", "Tip: one two three", "Item 2", "Item 1", "End"]
    b = ["Reports", "Report B", "Tip: four five six", "Item 3", "Item 1", "Item 2", "End"]
    learned = learn_lines(a, b, noise)
    assert Volatile(ROTATING, "", "Tip: one two three") in learned
    assert Volatile(ROTATING, "", "Tip: four five six") in learned


def test_items_known_to_rotate_never_split_a_slot_though_the_version_before_showed_them(
        ) -> None:
    before = ["Reports", "Report B", "Tip X", "I1", "I2", "I3", "End"]
    noise = Noise(frozenset(Volatile(ROTATING, "", item) for item in ("I1", "I2", "I3")),
                  stable=frozenset(before))
    a = ["Reports", "Report B", "Tip A", "I2", "I3", "I4", "End"]
    b = ["Reports", "Report B", "Tip B", "I2", "I3", "I5", "End"]
    learned = learn_lines(a, b, noise)
    assert Volatile(SLOT, "Report B", "End\t4") in learned
    later = ["Reports", "Report B", "Tip C", "I5", "I1", "I6", "End"]
    assert _same(Noise(noise.learned | frozenset(learned)), a, later)
    # A document added there makes the block longer than the slot ever held: it shows.
    published = ["Reports", "Report B", "Report C", "Tip C", "I5", "I1", "I6", "End"]
    assert "Report C" in [k for k, _ in Noise(frozenset(learned)).comparable(published)]


def test_a_line_guessed_to_rotate_is_content_where_the_other_version_shows_it() -> None:
    noise = Noise(frozenset(Volatile(ROTATING, "", item) for item in ("X", "Y", "P")))
    old = ["A", "Stays", "P", "End"]
    new = ["A", "X", "Stays", "Y", "End"]  # "Stays" sits between two rotating items
    pair = comparable_pair(old, new, noise=noise)
    assert pair.same_lines() and "Stays" in [k for k, _ in pair.new]
    fresh = ["A", "X", "Never seen", "Y", "End"]  # an item of the list not yet seen
    assert comparable_pair(old[:1] + old[2:], fresh, noise=noise).same_lines()


@pytest.mark.parametrize(("new_line", "carried"), [
    ("Budget: EUR 96,000", {Volatile(SLOT, "Budget: EUR 96,000", "©\t1"),
                            Volatile(SLOT, "Funding", "Budget: EUR 96,000\t1"),
                            Volatile(LINE, "Budget: EUR 96,000", f"Seen {WILD} times")}),
    ("The programme has closed for good.", set()),  # replaced, not edited: nothing follows
])
def test_what_was_learned_at_a_line_follows_an_edit_of_it(new_line: str,
                                                          carried: set[Volatile]) -> None:
    learned = frozenset({Volatile(SLOT, "Budget: EUR 40,000", "©\t1"),
                         Volatile(SLOT, "Funding", "Budget: EUR 40,000\t1"),
                         Volatile(LINE, "Budget: EUR 40,000", f"Seen {WILD} times")})
    old = Extracted("Funding\nBudget: EUR 40,000\nSeen 4 times\nAside A\n©")
    new = Extracted(f"Funding\n{new_line}\nSeen 5 times\nAside A\n©")
    assert page_monitor().carried(old, new, Noise(learned)) == carried


def test_what_was_learned_at_a_line_follows_it_when_lines_are_added_beside_the_edit(
        ) -> None:
    learned = frozenset({Volatile(SLOT, "Budget: EUR 40,000", "©\t2")})
    old = Extracted("Funding\nBudget: EUR 40,000\n©")
    new = Extracted("Funding\nBudget: EUR 96,000\nRate 1.234\nMost read: A, B\n©")
    assert page_monitor().carried(old, new, Noise(learned)) == {
        Volatile(SLOT, "Budget: EUR 96,000", "©\t2")}


def test_a_slot_ends_at_lines_that_stay_not_at_an_item_of_its_list() -> None:
    # "I1" is known to rotate, and both copies happen to show it first: the slot starts
    # at the budget line, so it still applies when I1 is not drawn.
    noise = Noise(frozenset({Volatile(ROTATING, "", "I1")}))
    a = ["Funding", "Budget: EUR 9,000", "I1", "I2", "I3", "©"]
    b = ["Funding", "Budget: EUR 9,000", "I1", "I4", "I5", "©"]
    learned = learn_lines(a, b, noise)
    assert Volatile(SLOT, "Budget: EUR 9,000", "©\t3") in learned
    wiser = Noise(noise.learned | frozenset(learned))
    assert _same(wiser, a, ["Funding", "Budget: EUR 9,000", "I6", "I2", "I4", "©"])
    assert not _same(wiser, a, ["Funding", "Budget: EUR 9,000", "I6", "I2", "I4",
                                "The budget was cut by half.", "©"])


def test_a_withdrawn_document_is_never_covered_by_the_slot_beside_it() -> None:
    # Learned from two copies without "Report B": the slot after "Report A" is wide enough
    # to cover it in the version before. Its link is withdrawn, so its line is content.
    monitor = page_monitor()
    noise = Noise(frozenset({Volatile(SLOT, "Report A", "End\t3")}))
    old = monitor.extract(b"<main><a href='/a.pdf'>Report A</a><p><a href='/b.pdf'>Report B"
                          b"</a></p><p>Tip: one two</p><p>Item 1</p><p>End</p></main>")
    new = monitor.extract(b"<main><a href='/a.pdf'>Report A</a><p>Tip: three four</p>"
                          b"<p>Item 2</p><p>End</p></main>")
    change = monitor.compare(old, new, noise)
    assert change is not None and change.detail["removed"] == ["Report B"]
    assert "Report B" in change.summary


def test_two_templates_of_one_line_merge_into_the_words_they_share() -> None:
    # Two pairs of copies of a "most read" line sampled from a pool, each pair sharing
    # other items by chance: together they show every item varies.
    first = learn_lines(["Rate", "Most read: Alpha one, Beta two, Gamma three", "End"],
                        ["Rate", "Most read: Alpha one, Beta two, Delta four", "End"])
    noise = Noise(frozenset(first))
    second = learn_lines(["Rate", "Most read: Eps five, Zeta six, Gamma three", "End"],
                         ["Rate", "Most read: Eta seven, Theta, Gamma three", "End"], noise)
    # The items each pair shared at the list's ends are taken in at once (split from
    # the run by its separator); else the two templates merge.
    assert Volatile(LINE, "Rate", f"Most read: {WILD_RUN}") in first | second
    wiser = Noise(noise.learned | frozenset(second))
    assert _same(wiser, ["Rate", "Most read: Alpha one, Beta two, Gamma three", "End"],
                 ["Rate", "Most read: Iota, Kappa ten, Zeta six", "End"])
    assert not _same(wiser, ["Rate", "Most read: Alpha one", "End"],
                     ["Rate", "Consultation closed on 5 May.", "End"])


def test_a_fact_away_from_a_run_wildcard_is_an_edit_when_two_pairs_differ_there() -> None:
    """A counter of two words ticks (a run wildcard); the deadline after it stood in each
    pair of copies. The check that moved the deadline learns its line from its own
    copies: the two templates differ at the deadline, away from the run, so they are not
    merged over it and the edit shows (found by an outside probe of real edits)."""
    def line(views: str, deadline: str) -> list[str]:
        return ["Intro", f"Views {views} today) · Deadline: {deadline}", "End"]

    first = learn_lines(line("1,204 (3", "30 June 2027"), line("1,207 (4", "30 June 2027"))
    noise = Noise(frozenset(first))
    second = learn_lines(line("1,290 (9", "15 July 2027"), line("1,291 (10", "15 July 2027"),
                         noise)
    wiser = Noise(noise.learned | frozenset(second))
    assert not _same(wiser, line("1,204 (3", "30 June 2027"), line("1,290 (9", "15 July 2027"))
    assert _same(wiser, line("1,204 (3", "30 June 2027"), line("1,209 (7", "30 June 2027"))


def test_a_template_with_words_fits_below_its_anchor_or_where_it_is_gone_never_above() -> None:
    """A token learned at the page's end ("Ref: *" after the last paragraph) still fits
    when lines come between (a list grew) or when the paragraph before it is gone; a
    content line of the same shape above that paragraph is compared as written (found
    by an outside probe of real edits)."""
    noise = Noise(frozenset(learn_lines(["Ref: C-2026-17", "Body", "Last words", "Ref: 8f3a21"],
                                        ["Ref: C-2026-17", "Body", "Last words", "Ref: 91bc07"])))
    assert not _same(noise, ["Ref: C-2026-17", "Body", "Last words", "Ref: 8f3a21"],
                     ["Ref: C-2026-18", "Body", "Last words", "Ref: 77aa00"])
    assert _same(noise, ["Ref: C-2026-17", "Body", "Last words", "Ref: 8f3a21"],
                 ["Ref: C-2026-17", "Body", "Last words", "Ref: 77aa00"])
    assert _same(noise, ["Ref: C-2026-17", "Body", "Last words", "More", "Ref: 8f3a21"],
                 ["Ref: C-2026-17", "Body", "Last words", "More", "Ref: 5e5e5e"])
    # The paragraph it was learned after is gone: it fits wherever it stands.
    assert _same(noise, ["Ref: C-2026-17", "Body", "Other words", "Ref: 8f3a21"],
                 ["Ref: C-2026-17", "Body", "Other words", "Ref: 5e5e5e"])


def test_a_line_edited_among_shuffled_lines_is_learned_as_that_line() -> None:
    a = ["Report C", "Yes 99% · No 1%", "©", "Terms", "Privacy"]
    b = ["Report C", "Yes 5% · No 95%", "Privacy", "Terms", "©"]
    assert learn_lines(a, b) == {Volatile(LINE, "Report C", f"Yes {WILD} · No {WILD}")}
    noise = Noise(frozenset(learn_lines(a, b)))
    assert comparable_pair(["Report C", "Yes 65% · No 35%", "Terms", "Privacy", "©"],
                           a, noise=noise).same_lines()


def test_a_region_split_at_different_lines_by_different_checks_is_one_slot() -> None:
    # A sampled list after the last report: each pair of copies happens to share one item
    # at one place, a different one each time, so each learns two blocks around it.
    known = Noise(frozenset({Volatile(SLOT, "Report B", "Y\t2"),
                             Volatile(SLOT, "Y", "©\t2")}))
    a = ["Report B", "Tip: one", "P", "X", "Q", "Y", "©"]
    b = ["Report B", "Tip: two", "R", "X", "S", "T", "©"]
    learned = learn_lines(a, b, replace(known, stable=frozenset({"X", "Y", "Report B", "©"})))
    assert Volatile(SLOT, "Report B", "©\t5") in learned
    wiser = Noise(known.learned | frozenset(learned))
    assert _same(wiser, ["Report B", "Tip: three", "X", "Y", "Z", "W", "©"],
                 ["Report B", "Tip: four", "W", "V", "Y", "T", "©"])
    # A paragraph between two noises splits every check at the same line: never taken in.
    same_split = Noise(frozenset({Volatile(SLOT, "Report B", "X\t2"),
                                  Volatile(SLOT, "X", "©\t2")}))
    assert not any(v.what.startswith("©") and v.where == "Report B"
                   for v in learn_lines(a, b, replace(same_split, stable=frozenset(
                       {"X", "Report B", "©"}))))


def test_a_region_split_at_several_lines_is_one_slot_but_a_paragraph_every_way_passes_is_not(
        ) -> None:
    # The first check split the list at "N"; this one splits it at "L" and "G".
    known = Noise(frozenset({Volatile(SLOT, "Report B", "N\t2"),
                             Volatile(SLOT, "N", "©\t3")}), stable=frozenset(
        {"Report B", "Tip: x", "N", "L", "B", "G", "©"}))
    a = ["Report B", "Tip: alpha beta gamma", "L", "G", "B", "S", "©"]
    b = ["Report B", "Join us today, friends", "L", "B", "G", "F", "©"]
    learned = learn_lines(a, b, known)
    assert Volatile(SLOT, "Report B", "©\t5") in learned
    # A paragraph "P" between two noises: every check splits at it, so no way avoids it.
    paragraph = Noise(frozenset({Volatile(SLOT, "Report B", "P\t1"),
                                 Volatile(SLOT, "P", "©\t1")}), stable=frozenset(
        {"Report B", "P", "©"}))
    learned = learn_lines(["Report B", "Tip: alpha beta gamma", "P", "Ad 1", "©"],
                          ["Report B", "Join us today, friends", "P", "Buy now", "©"], paragraph)
    assert not any(v.kind == SLOT and v.where == "Report B" and v.what.startswith("©")
                   for v in learned)


def test_a_region_from_the_top_of_the_page_keeps_its_empty_start() -> None:
    known = Noise(frozenset({Volatile(SLOT, "", "N\t1"), Volatile(SLOT, "N", "Body\t1")}),
                  stable=frozenset({"N", "L", "Body"}))
    learned = learn_lines(["Ad one two", "L", "Promo x", "Body"],
                          ["Visit the shop", "L", "Sale today only", "Body"], known)
    assert Volatile(SLOT, "", "Body\t3") in learned


def _counters_around(rng: random.Random, fact: str) -> str:
    return f"{rng.randint(2, 99_999)} {LABELS[0]} · {fact} · {LABELS[1]} {rng.randint(1, 999)}"


LABELS = ("".join(random.Random(5).choices("abcdefghij", k=6)),
          "".join(random.Random(6).choices("klmnopqrs", k=5)).title())


@pytest.mark.parametrize("seed", range(8))
def test_a_fact_between_two_counters_is_never_learned_as_noise(seed: int) -> None:
    """Two counters tick in one line around a deadline: learned from the copies, and from
    copies again after the deadline moved, the edit of the deadline still shows."""
    rng = random.Random(seed)
    fact, moved = "Deadline: 30 June 2026", rng.choice(
        ["Deadline: 31 July 2026", "Deadline: 30 June 2027", "Deadline: extended"])

    def page(line_fact: str) -> list[str]:
        return ["Call for proposals", _counters_around(rng, line_fact), "Contact us"]

    stored = page(fact)
    noise = Noise(frozenset(learn_lines(page(fact), page(fact))))
    assert _same(noise, stored, page(fact))
    again = learn_lines(page(moved), page(moved), noise)
    assert not _same(Noise(noise.learned | frozenset(again)), stored, page(moved)), again


@pytest.mark.parametrize("seed", range(6))
def test_a_list_sampled_in_one_line_is_learned_across_checks(seed: int) -> None:
    """Items of a "see also" line, drawn from a pool and shuffled at each request: each
    pair of copies keeps some items in place by chance, and its template says so; two
    such templates merge (they differ only beside the run of items that varies)."""
    rng = random.Random(seed)
    pool = [" ".join("".join(rng.choices("abcdefghijklmnop", k=6)) for _ in range(3))
            for _ in range(7)]
    a, b, c, d, x, y = pool[:6]

    def page(*items: str) -> list[str]:
        return ["Report", "See also: " + " · ".join(items), "Contact"]

    noise = Noise(frozenset(learn_lines(page(a, b, c, d), page(b, a, c, d))))
    again = learn_lines(page(b, a, y, c), page(d, x, b, c), noise)
    assert _same(Noise(noise.learned | frozenset(again)), page(a, b, c, d), page(b, a, y, c))


@pytest.mark.parametrize("seed", range(6))
def test_a_session_in_the_links_last_segment_is_learned_and_a_new_document_shows(
        seed: int) -> None:
    """Every link ends in ``;name=token`` (a session a server without cookies writes into
    its links, name drawn here): learned as a parameter of the folder's links, so the
    same documents are the same links, and a new one is still new."""
    rng = random.Random(seed)
    name = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 12)))
    folder = f"https://s.example/{rng.choice(['docs', 'pub', 'files/2026'])}/"

    def links(*documents: str) -> list[str]:
        token = "".join(rng.choices(string.hexdigits, k=rng.randint(8, 32)))
        return [f"{folder}{d}.pdf;{name}={token}" for d in documents]

    noise = Noise(frozenset(learn_links(links("a", "b"), links("a", "b"))))
    keys = {noise.link_key(u) for u in links("a", "b")}
    assert keys == {noise.link_key(u) for u in links("a", "b")} == {
        f"{folder}a.pdf", f"{folder}b.pdf"}
    assert noise.link_key(links("c")[0]) == f"{folder}c.pdf"
    # A parameter that did not vary between the copies is part of the link.
    assert noise.link_key(f"{folder}a.pdf;version=2;{name}=x") == f"{folder}a.pdf;version=2"
    assert learn_links([f"{folder}a.pdf;version=1"], [f"{folder}a.pdf;version=1"]) == set()


_WORDS = st.sampled_from(["Ab", "cd", "Ef,", "gh;", "·", "|", "Ij:", "12", "3,4", "kl.", "Mn"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, min_size=1, max_size=12), st.lists(_WORDS, min_size=1, max_size=12))
def test_a_template_with_items_taken_in_still_fits_both_copies(a: list[str], b: list[str]
                                                                ) -> None:
    template = line_template(" ".join(a), " ".join(b), items=True)
    if template is not None:
        assert matches(template, " ".join(a)) and matches(template, " ".join(b)), template


@pytest.mark.parametrize("stamp", ["%H:%M:%S", "%d %B %Y"], ids=["second", "day"])
@pytest.mark.parametrize("seed", range(4))
def test_a_block_learned_beside_a_clock_applies_when_two_versions_show_one_time(
        seed: int, stamp: str) -> None:
    """A block of noise ends at a line with a clock. Two checks within the clock's
    resolution (the same second, the same day) show the same time there: the line must
    still read as it was learned, or the block is not found and its noise is announced."""
    rng = random.Random(seed)
    label, monitor = phrase(rng, 2), page_monitor()

    def page(at: datetime) -> Extracted:
        noise = phrase(rng, 5).capitalize() + "!"  # drawn at each request
        body = (f"<html><body><ul><li>Report on {label}</li></ul><p>{noise}</p>"
                f"<p>{label.title()}: {at:{stamp}}</p><p>Contact us.</p></body></html>")
        return monitor.extract(body.encode(), content_type="text/html",
                               url="https://site.example/")

    t1 = T0 + timedelta(hours=1)
    first, second = page(t1), page(t1 + timedelta(seconds=1.1))
    noise = Noise(frozenset(monitor.learn(first, second, Noise(), t1,
                                          t1 + timedelta(seconds=1.1))))
    # Two later checks 0.3 s apart, in one second (or one day) of the page's clock.
    later = T0 + timedelta(hours=2, microseconds=100_000)
    old, new = page(later), page(later + timedelta(milliseconds=300))
    assert monitor.compare(old, new, noise, old_at=later,
                           new_at=later + timedelta(milliseconds=300)) is None
    edited = monitor.extract(
        f"<html><body><ul><li>Report on {label}</li><li>Report on {phrase(rng, 3)}</li></ul>"
        f"<p>Contact us.</p></body></html>".encode(), content_type="text/html",
        url="https://site.example/")
    assert monitor.compare(old, edited, noise, old_at=later, new_at=later) is not None
