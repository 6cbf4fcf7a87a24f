"""Slow noise, learned from a monitor's history: what a fetch moments later cannot show.

A "page generated on" stamp that moves once a day, a daily counter, a "most read" line:
two copies fetched a second apart are the same, so the confirming copy learns nothing,
and each check announces the line again. Such a line is known by its history instead:
at each confirmed change, every place where the words of a line changed in place is
noted (``recurring``: the line's template, after the line it follows). A page often
stamps itself in more than one place (a build number at the top, a date in the footer),
and a stamp moves at the check that also brings a new document: each place is noted on
its own, beside whatever else changed. A place noted at nearly every check since it was
first noted (``storage.noise``) is then masked like a line learned from two copies; a
line edited now and then never is.

What is never noted: lines added, removed or replaced whole (new sentences, a new or
withdrawn document's line), and anything at a check that changed the words of more than
``RECURRING_PLACES`` lines (an edited page). So a region that changes often is never
masked for carrying new documents or new text; only the words of lines that keep
changing.

A real edit of a line that learned facts hang on (a slot after "Budget: EUR 40,000", whose
amount is then edited) carries them to the edited line (``carried_lines``): what was
known noise next to the line stays known, instead of being announced with the next edit
of the page and learned again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from difflib import SequenceMatcher

from core.records import Volatile
from monitors.linetemplates import line_template
from monitors.normalize import comparable_pair
from monitors.volatility import NO_NOISE, Noise, words

#: A noted place, not yet applied: (recurring, the line it follows, the line's template).
RECURRING = "recurring"
#: A noted place is applied once it was noted at this many checks...
RECURRING_AFTER = 3
#: ...and at all but this many of the monitor's checks from the first to the last time.
RECURRING_MISSES = 1
#: A check that changed the words of more lines than this edited the page: nothing is
#: noted (a page stamps itself in a few places: a build, a date, a counter).
RECURRING_PLACES = 6


def recurring_lines(old: Sequence[str], new: Sequence[str], noise: Noise = NO_NOISE,
                    old_at: datetime | None = None, new_at: datetime | None = None
                    ) -> set[Volatile]:
    """The places where the words of a line changed in place, each a ``recurring`` fact
    (the line's template, after the line it follows). Lines added, removed or replaced
    whole are new text and never noted, whatever else changed; a check that changed the
    words of more than ``RECURRING_PLACES`` lines edited the page, and notes nothing."""
    before, after = _keys(old, new, noise, old_at, new_at)
    templates: dict[int, str] = {}  # by the line's index in the new version
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, before, after,
                                               autojunk=False).get_opcodes():
        if tag != "replace":
            continue  # equal, or lines only added or removed
        start = j1  # lines pair in order: each with the first later line of one template
        for i in range(i1, i2):
            for j in range(start, j2):
                template = line_template(before[i], after[j])
                if template is not None:
                    templates[j], start = template, j + 1
                    break
    if len(templates) > RECURRING_PLACES:
        return set()
    # Each place is the line it follows in the new version, as later versions show it; a
    # line after another that changed too follows that line's template, the words it will
    # be keyed by once that place is learned as well.
    return {Volatile(RECURRING, templates.get(j - 1, after[j - 1] if j > 0 else ""), template)
            for j, template in templates.items()}


def promoted(noted: int, checks: int) -> bool:
    """A place noted at ``noted`` of the ``checks`` of its monitor from the first time it
    was noted to the last changes at nearly every check: it is noise for its monitor."""
    return noted >= RECURRING_AFTER and noted >= checks - RECURRING_MISSES


def carried_lines(old: Sequence[str], new: Sequence[str], noise: Noise = NO_NOISE,
                  old_at: datetime | None = None, new_at: datetime | None = None
                  ) -> set[Volatile]:
    """What is learned at the lines a real change edited, carried to their new wording. A
    line is edited, not replaced, when the two share a template (``line_template``)."""
    anchors = noise.anchors
    if not anchors or anchors.isdisjoint({words(line) for line in old}
                                         - {words(line) for line in new}):
        return set()  # no line that facts hang on is gone: nothing to carry, no keying
    before, after = _keys(old, new, noise, old_at, new_at)
    facts: set[Volatile] = set()
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, before, after,
                                               autojunk=False).get_opcodes():
        if tag != "replace":
            continue
        start = j1  # lines pair in order: the first edit of each line, past the last one
        for edited in before[i1:i2]:
            for j in range(start, j2):
                if line_template(edited, after[j]) is not None:
                    facts |= noise.carried(edited, after[j])
                    start = j + 1
                    break
    return facts


def _keys(old: Sequence[str], new: Sequence[str], noise: Noise, old_at: datetime | None,
          new_at: datetime | None) -> tuple[list[str], list[str]]:
    pair = comparable_pair(old, new, noise=noise, old_at=old_at, new_at=new_at)
    return [key for key, _ in pair.old], [key for key, _ in pair.new]
