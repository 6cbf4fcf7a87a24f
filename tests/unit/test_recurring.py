"""Slow noise from history: the places of a change confined to the words of a few lines
are noted, and each is learned once it changed at nearly every check; nothing else is."""

from __future__ import annotations

import pytest

from core.records import Extracted, Volatile
from monitors import MonitorConfig, build_monitor
from monitors.linetemplates import WILD, WILD_RUN
from monitors.recurring import RECURRING, RECURRING_SLOT, promoted, recurring_lines

PAGE = ["Annual report", "The board adopted the plan.", "Most read today: A, B, C",
        "Page generated on 5 December 2026", "Contact"]


def edited(index: int, line: str | None, lines: list[str] = PAGE) -> list[str]:
    out = list(lines)
    if line is None:
        del out[index]
    else:
        out[index] = line
    return out


@pytest.mark.parametrize(("new", "expected"), [
    (edited(3, "Page generated on 6 December 2026"),
     {Volatile(RECURRING, "Most read today: A, B, C", f"Page generated on {WILD} December 2026")}),
    (edited(2, "Most read today: D, B, E"),
     {Volatile(RECURRING, "The board adopted the plan.", f"Most read today: {WILD_RUN}")}),
    # Two places changed in place: each is noted, and each is learned only if it keeps
    # changing (a real edit beside a stamp is noted once).
    (edited(3, "Page generated on 6 December 2026",
            edited(1, "The board adopted the new plan.")),
     {Volatile(RECURRING, "Annual report", f"The board adopted the {WILD_RUN} plan."),
      Volatile(RECURRING, "Most read today: A, B, C", f"Page generated on {WILD} December 2026")}),
    # Two lines in a row: the second follows the first's template, the words it will be
    # keyed by once that place is learned too.
    (edited(3, "Page generated on 6 December 2026", edited(2, "Most read today: D, B, E")),
     {Volatile(RECURRING, "The board adopted the plan.", f"Most read today: {WILD_RUN}"),
      Volatile(RECURRING, f"Most read today: {WILD_RUN}",
               f"Page generated on {WILD} December 2026")}),
    # The words of more lines than a page stamps itself in: the page was edited.
    ([f"Item {n}: {n} votes" for n in range(8)], set()),
    # A whole line replaced, added or removed: new text, never slow noise; a stamp
    # that moved beside it is still noted.
    (edited(1, "Nothing in common with what was there"), set()),
    # A list redrawn whole (two lines or more): a block, learned as a slot if it keeps
    # being redrawn.
    (["Annual report", "Quokka sightings rise", "Axolotl habitats shrink",
      "Page generated on 5 December 2026", "Contact"],
     {Volatile(RECURRING_SLOT, "Annual report", "Page generated on 5 December 2026\t2")}),
    (["Annual report", "The board adopted the plan.", "Page generated on 6 December 2026",
      "Contact"],
     {Volatile(RECURRING, "The board adopted the plan.",
               f"Page generated on {WILD} December 2026")}),
    (edited(1, None), set()),
    ([*PAGE, "A sentence added at the end."], set()),
    (list(PAGE), set()),
])
def test_only_lines_whose_words_changed_in_place_are_noted(new: list[str],
                                                          expected: set[Volatile]) -> None:
    old = [f"Item {n}: {n + 1} votes" for n in range(8)] if len(new) == 8 else PAGE
    assert recurring_lines(old, new) == expected


@pytest.mark.parametrize(("noted", "checks", "learned"), [
    (1, 1, False), (2, 2, False), (3, 3, True), (3, 4, True), (3, 5, False),
    (10, 11, True), (10, 12, False),
])
def test_a_place_is_learned_when_it_changed_at_nearly_every_check(
        noted: int, checks: int, learned: bool) -> None:
    assert promoted(noted, checks) is learned


def test_a_new_document_is_never_noted_and_a_stamp_beside_it_is() -> None:
    monitor = build_monitor(MonitorConfig(id="m", kind="page", url="https://s.example/"), "o")
    old = monitor.extract(b"<main><p>Most read: A</p><ul><li><a href='/a'>Doc A</a></li>"
                          b"</ul></main>")
    published = monitor.extract(b"<main><p>Most read: B</p><ul><li><a href='/a'>Doc A</a>"
                                b"</li><li><a href='/n'>New strategy</a></li></ul></main>")
    change = monitor.compare(old, published)
    assert change is not None and change.detail["links_added"]
    assert monitor.recurring(old, published, change) == {
        Volatile(RECURRING, "", f"Most read: {WILD}")}
    withdrawn = monitor.extract(b"<main><p>Most read: A</p><ul></ul></main>")
    change = monitor.compare(old, withdrawn)
    assert change is not None and change.detail["links_removed"]
    assert monitor.recurring(old, withdrawn, change) == set()
    same_links = monitor.extract(b"<main><p>Most read: B</p><a href='/a'>Doc A</a></main>")
    change = monitor.compare(old, same_links)
    assert change is not None
    assert monitor.recurring(old, same_links, change) == {
        Volatile(RECURRING, "", f"Most read: {WILD}")}


def test_a_feed_entry_is_never_slow_noise() -> None:
    monitor = build_monitor(MonitorConfig(id="f", kind="feed", url="https://s.example/f"), "o")
    old, new = Extracted("a"), Extracted("b")
    change = monitor.compare(old, new)
    assert change is None or monitor.recurring(old, new, change) == set()


def test_a_page_edited_at_length_notes_nothing() -> None:
    monitor = build_monitor(MonitorConfig(id="m", kind="page", url="https://s.example/"), "o")
    lines = [f"Paragraph {n} says the plan is on track." for n in range(60)]
    old = monitor.extract(("<main>" + "".join(f"<p>{line}</p>" for line in lines)
                           + "<p>Build 7</p></main>").encode())
    rewritten = [f"Paragraph {n} now says something else entirely." for n in range(60)]
    new = monitor.extract(("<main>" + "".join(f"<p>{line}</p>" for line in rewritten)
                           + "<p>Build 8</p></main>").encode())
    change = monitor.compare(old, new)
    assert change is not None
    assert monitor.recurring(old, new, change) == set()
