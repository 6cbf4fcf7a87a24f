"""The lists of a page among its lines: a list sampled or shuffled at each request is one
unit of noise, whichever of its items two copies happen to share.

``monitors.html.lines_and_lists`` records where each short ``<ul>``, ``<ol>`` or
``<table>`` stands among a page's lines (``list_lines``); ``link_runs`` finds its links,
and links written in one line, among the page's links. ``learn_lines`` widens a slot
that reaches into a list to the whole list (``whole_lists``). The widening needs both
copies to stand between the same two lines afterwards, so a list is never joined to what
differs beside it by chance, and a static list beside the sampled one keeps its place.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

from core.records import Extracted
from monitors.volatility import MAX_SLOT_LINES


def runs_among_kept(lines: Sequence[str], runs: Iterable[Sequence[int]]
                     ) -> list[tuple[int, int]]:
    """Runs of ``lines`` (first index, count) as runs of the lines kept to compare (the
    empty ones dropped), as ``(start, stop)``; a run an empty line breaks is left out."""
    runs = list(runs)
    if not runs:
        return []
    kept_at: dict[int, int] = {}
    for index, line in enumerate(lines):
        if line.strip():
            kept_at[index] = len(kept_at)
    found = []
    for first, count in runs:
        if all(i in kept_at for i in range(first, first + count)):
            start = kept_at[first]  # kept lines stand together: no empty one between
            if kept_at[first + count - 1] - start == count - 1:
                found.append((start, start + count))
    return found


def whole_lists(ka: Sequence[str], kb: Sequence[str], span_a: tuple[int, int],
                 span_b: tuple[int, int], runs_a: Sequence[tuple[int, int]],
                 runs_b: Sequence[tuple[int, int]]) -> tuple[int, int, int, int]:
    """A differing block (``span_a`` of copy A, ``span_b`` of B) widened to the whole of
    each list it reaches into: the items both copies happened to show are the list's
    too. Widened only where both copies then stand between the same two lines, and
    never beyond ``MAX_SLOT_LINES``; else the block as it was."""
    (a1, a2), (b1, b2) = span_a, span_b
    for _ in range(MAX_SLOT_LINES):
        (c1, c2), (d1, d2) = _cover((a1, a2), runs_a), _cover((b1, b2), runs_b)
        # Lines only in one copy, which reach into a list there, stand in the other copy
        # where it shows none: at either end of its list is still in it.
        if (c1, c2) != (a1, a2) and b1 == b2:
            d1, d2 = _touching(b1, runs_b, _reached((a1, a2), runs_a, len(runs_b)))
        elif (d1, d2) != (b1, b2) and a1 == a2:
            c1, c2 = _touching(a1, runs_a, _reached((b1, b2), runs_b, len(runs_a)))
        # Lines one copy took in next to its block, the other shows next to its own (the
        # items the copies share): it takes them in as well, and then its own list.
        if c1 < a1 and d1 == b1 and kb[max(b1 - (a1 - c1), 0):b1] == ka[c1:a1]:
            d1 = b1 - (a1 - c1)
        elif d1 < b1 and c1 == a1 and ka[max(a1 - (b1 - d1), 0):a1] == kb[d1:b1]:
            c1 = a1 - (b1 - d1)
        if c2 > a2 and d2 == b2 and kb[b2:b2 + (c2 - a2)] == ka[a2:c2]:
            d2 = b2 + (c2 - a2)
        elif d2 > b2 and c2 == a2 and ka[a2:a2 + (d2 - b2)] == kb[b2:d2]:
            c2 = a2 + (d2 - b2)
        if (c1, c2, d1, d2) == (a1, a2, b1, b2):
            break
        a1, a2, b1, b2 = c1, c2, d1, d2
    # A line that differs right beside the list (a tip drawn at each request) is noise
    # too: the slot takes it in, up to lines both copies show.
    while a1 and b1 and ka[a1 - 1] != kb[b1 - 1] and max(a2 - a1, b2 - b1) < MAX_SLOT_LINES:
        a1, b1 = a1 - 1, b1 - 1
    while (a2 < len(ka) and b2 < len(kb) and ka[a2] != kb[b2]
           and max(a2 - a1, b2 - b1) < MAX_SLOT_LINES):
        a2, b2 = a2 + 1, b2 + 1
    (i1, i2), (j1, j2) = span_a, span_b
    if (a1, a2, b1, b2) == (i1, i2, j1, j2) or max(a2 - a1, b2 - b1) > MAX_SLOT_LINES:
        return i1, j1, i2, j2
    same_start = (ka[a1 - 1] if a1 else "") == (kb[b1 - 1] if b1 else "")
    same_end = (ka[a2] if a2 < len(ka) else "") == (kb[b2] if b2 < len(kb) else "")
    return (a1, b1, a2, b2) if same_start and same_end else (i1, j1, i2, j2)


def _cover(span: tuple[int, int], runs: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """``span`` widened to every run it reaches into: overlaps, or for an empty span
    (where lines only in the other copy stand), stands strictly inside."""
    start, stop = span
    for first, end in runs:
        if (first < stop and end > start) if stop > start else first < start < end:
            start, stop = min(start, first), max(stop, end)
    return start, stop


def _reached(span: tuple[int, int], runs: Sequence[tuple[int, int]], theirs: int
             ) -> frozenset[int] | None:
    """Which of its copy's lists (by rank) ``span`` reaches into; None when the other
    copy has another number of lists (ranks do not tell which list is which)."""
    if len(runs) != theirs:
        return None
    start, stop = span
    return frozenset(k for k, (first, end) in enumerate(runs) if first < stop and end > start)


def _touching(at: int, runs: Sequence[tuple[int, int]], ranks: frozenset[int] | None
              ) -> tuple[int, int]:
    """The list that lines only in the other copy, inserted at ``at``, belong to: the
    one of the same rank as the list they reach into there, else the only one ``at``
    touches. Between two lists that touch, with no rank to tell, none."""
    ends = [k for k, (first, end) in enumerate(runs) if first <= at <= end
            and (ranks is None or k in ranks)]
    return runs[ends[0]] if len(ends) == 1 else (at, at)


def link_runs(version: Extracted) -> list[list[int]]:
    """Where a page's lists stand among its links (``[first, count]``): the links of each
    short list (``list_lines``, recorded when the page was read), and the links written
    in one line of text ("See also: <a>A</a> · <a>B</a>"). A link stands at the line that
    shows its text: links and lines are both in document order."""
    text = version.text
    lines = text.splitlines()
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    in_list = {}
    for number, (first, count) in enumerate(version.data.get("list_lines", ())):
        in_list.update(dict.fromkeys(range(first, first + count), number))
    at = 0
    places: list[object] = []  # per link: its list, else its line, else None
    for _, shown in version.data.get("links", ()):
        index = _line_of(text, starts, shown, at) if shown else None
        if index is None:
            places.append(None)
            continue
        at = index
        places.append(("list", in_list[index]) if index in in_list else ("line", index))
    runs = []
    first = 0
    for index in range(1, len(places) + 1):
        if index == len(places) or places[index] is None or places[index] != places[first]:
            if places[first] is not None and 2 <= index - first <= MAX_SLOT_LINES:
                runs.append([first, index - first])
            first = index
    return runs


def _line_of(text: str, starts: list[int], shown: str, at: int) -> int | None:
    """The first line from ``at`` on that holds a link's text."""
    found = text.find(shown, starts[at])
    return None if found < 0 else bisect_right(starts, found) - 1
