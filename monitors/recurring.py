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

from collections.abc import Collection, Sequence
from datetime import datetime
from difflib import SequenceMatcher

from core.records import Volatile
from monitors.linetemplates import line_template
from monitors.normalize import comparable_pair
from monitors.volatility import MAX_SLOT_LINES, NO_NOISE, SLOT_GAP, SLOT_SIZE, Noise, words

#: A noted place, not yet applied: (recurring, the line it follows, the line's template).
RECURRING = "recurring"
#: A noted block of whole lines, not yet applied: (recurring-slot, the line it follows,
#: the line that ends it, a tab, how many lines it held), a ``slot`` once learned.
RECURRING_SLOT = "recurring-slot"
#: A noted place is applied once it was noted at this many checks...
RECURRING_AFTER = 3
#: ...and at all but this many of the monitor's checks from the first to the last time.
RECURRING_MISSES = 1
#: A check that changed the words of more lines than this edited the page: nothing is
#: noted (a page stamps itself in a few places: a build, a date, a counter).
RECURRING_PLACES = 6


def recurring_lines(old: Sequence[str], new: Sequence[str], noise: Noise = NO_NOISE,
                    old_at: datetime | None = None, new_at: datetime | None = None,
                    content: Collection[str] = ()) -> set[Volatile]:
    """The places where the words of a line changed in place, each a ``recurring`` fact
    (the line's template, after the line it follows), and the blocks of two lines or more
    all replaced whole by as many others, each a ``recurring-slot`` (a list of titles
    redrawn once a day). Lines only added or removed are never noted, nor one line
    replaced whole (a new sentence), nor a block showing a line of ``content`` (a new or
    withdrawn document's text); a check that changed more than ``RECURRING_PLACES``
    places edited the page, and notes nothing."""
    before, after = _keys(old, new, noise, old_at, new_at)
    templates: dict[int, str] = {}  # by the line's index in the new version
    # Runs of lines replaced whole, as (old start, old end, new start, new end): a list
    # redrawn from a pool keeps an item now and then, which splits the run.
    runs: list[list[int]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, before, after,
                                               autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if max(i2 - i1, j2 - j1) > MAX_SLOT_LINES:
            return set()  # a passage rewritten: the page was edited, and pairing costs
        # Lines pair in order, each with the first later line it shares a template with,
        # among as many as the block gained lines (an edited line keeps its order).
        start, paired, reach = j1, {}, max(0, (j2 - j1) - (i2 - i1)) + 1
        for i in range(i1, i2):
            for j in range(start, min(j2, start + reach)):
                template = line_template(before[i], after[j], items=True)
                if template is not None:
                    paired[j], start = template, j + 1
                    break
        templates.update(paired)
        if len(templates) > RECURRING_PLACES:
            return set()
        if paired:
            runs.append([-1, -1, -1, -1])  # an edit in place ends a run
        elif runs and runs[-1][0] >= 0 and j1 - runs[-1][3] <= SLOT_GAP \
                and i1 - runs[-1][1] == j1 - runs[-1][3]:
            runs[-1][1], runs[-1][3] = i2, j2  # across the items both versions happen to show
        else:
            runs.append([i1, i2, j1, j2])
    # A list redrawn whole (two lines or more, as many as before, none a document's): one
    # line replaced whole is a new sentence, lines added or removed are new text.
    documents = content_lines(content)
    blocks = [(j1, j2) for i1, i2, j1, j2 in runs
              if j1 >= 0 and 2 <= i2 - i1 == j2 - j1 <= MAX_SLOT_LINES
              and documents.isdisjoint(after[j1:j2])]
    if len(templates) + len(blocks) > RECURRING_PLACES:
        return set()

    def place(j: int) -> str:
        """The line at ``j`` of the new version as later versions key it: a line that
        changed in place, by its template (the words it is keyed by once learned)."""
        return templates.get(j, after[j]) if 0 <= j < len(after) else ""

    return ({Volatile(RECURRING, place(j - 1), template) for j, template in templates.items()}
            | {Volatile(RECURRING_SLOT, place(j1 - 1), f"{place(j2)}{SLOT_SIZE}{j2 - j1}")
               for j1, j2 in blocks if j1 > 0 or j2 < len(after)})


def too_edited(change_detail: dict[str, object]) -> bool:
    """Whether a change added and removed more lines than the places ``recurring_lines``
    notes could: a page edited at length, not stamped (and not worth reading again)."""
    changed = [change_detail.get(key) for key in ("added", "removed")]
    return sum(len(lines) for lines in changed if isinstance(lines, list)) > 2 * MAX_SLOT_LINES


def content_lines(texts: Collection[str]) -> frozenset[str]:
    return frozenset(words(text) for text in texts)


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
