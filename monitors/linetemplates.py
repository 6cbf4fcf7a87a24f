"""Templates of one line: the words two versions of it share, with wildcards where they
differ (``line_template``), and whether a line fits one (``matches``). What a monitor
learns of its lines (``monitors.volatility``) is made of these."""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import pairwise

#: A learned wildcard: exactly one word.
WILD = "\u2217"
#: A learned wildcard for a run of words (two versions of a line of different lengths).
WILD_RUN = "\u2217\u2217"
#: Two versions of one line share at least this share of their words.
SAME_LINE_SHARE = 0.5
#: Longer lines are never templates (their words are not matched one by one).
MAX_TEMPLATE_CHARS = 20_000
#: Words that changed in place, run by run, up to this many each (a count, a short
#: token): the words between two such runs are kept in the template.
MAX_TOKEN_WORDS = 3
#: ... when at least this many words stand between two runs.
MIN_WORDS_BETWEEN = 2
#: One number written in groups of three digits split by spaces ("12 408", as French,
#: Swiss and SI style write it; extraction folds no-break and thin spaces to spaces):
#: one word, so that a counter that carries into its next group is still one token.
_GROUPED = r"\d{1,3}(?: \d{3})+(?!\d)\S*"
_WORDS = re.compile(_GROUPED + r"|\S+")
_ONE_WORD = re.compile(f"(?:{_GROUPED}|\\S+) ")


def words_of(line: str) -> list[str]:
    """A line's words as templates count them: split at whitespace, but a number
    written in spaced groups of digits is one word."""
    return _WORDS.findall(line)


def line_template(a: str, b: str, *, items: bool = False) -> str | None:
    """Two versions of one line as a template, or None when they are not versions of one
    line (fewer than half their words in common).

    Where only short runs of words changed in place, each becomes a wildcard and the
    words between them stay (two counters around a deadline). Otherwise the words from
    the first to the last that differ become one wildcard: ``*`` for one word (a
    counter), ``**`` for a run (a list of titles sampled in one line); the words around
    keep the line's place. Words two samples of one pool happen to share in between are
    chance, not evidence of a stable word. With ``items``, so are the items of the list
    the two samples happened to share at its ends (``_list_ends``)."""
    if max(len(a), len(b)) > MAX_TEMPLATE_CHARS:
        return None  # a paragraph the size of a document: matching its words is quadratic
    wa, wb = words_of(a), words_of(b)
    matcher = SequenceMatcher(None, wa, wb, autojunk=False)
    common = sum(size for _, _, size in matcher.get_matching_blocks())
    if common < SAME_LINE_SHARE * max(len(wa), len(wb), 1):
        return None
    runs = [(tag, i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes()
            if tag != "equal"]
    if not runs:
        return a
    if len(runs) > 1 and all(tag == "replace" and i2 - i1 == j2 - j1 <= MAX_TOKEN_WORDS
                             for tag, i1, i2, j1, j2 in runs) and all(
               later[1] - earlier[2] >= MIN_WORDS_BETWEEN
               for earlier, later in pairwise(runs)) and not (items and _items_between(wa, runs)):
        # Tokens that changed in place, each as long in both (a count of views, another
        # of comments): the words between them stood in both copies, and stay fixed (a
        # deadline between two counters is content). One word between two tokens is
        # kept only by chance as often (an item two samples of a list share).
        template = list(wa)
        for _, i1, i2, _, _ in reversed(runs):
            template[i1:i2] = [WILD if i2 - i1 == 1 else WILD_RUN]
        return " ".join(template)
    prefix, suffix = common_ends(wa, wb)
    one_word = len(wa) - prefix - suffix == 1 == len(wb) - prefix - suffix
    if items and not one_word:
        prefix, suffix = _list_ends(wa, wb, prefix, suffix)
    return " ".join([*wa[:prefix], WILD if one_word else WILD_RUN, *wa[len(wa) - suffix:]])


def _separator(word: str) -> str | None:
    """What ends an item of a list written in one line: a word of punctuation only
    (``·``, ``|``), or a word's last character when that is punctuation (``,``)."""
    if not any(c.isalnum() for c in word):
        return word
    return word[-1] if not word[-1].isalnum() else None


def _list_ends(wa: Sequence[str], wb: Sequence[str], prefix: int, suffix: int
               ) -> tuple[int, int]:
    """``prefix`` and ``suffix`` (words two samples of a list in one line share at its
    ends) without the items of that list they hold: the runs that differ are items of a
    list with one separator (in both runs, or right beside them), and an item beside
    them, no longer than theirs and split from them by that separator, was shared by
    chance. Words that are no such item (the label before the list, a sentence after
    it) stay."""
    run_a, run_b = wa[prefix:len(wa) - suffix], wb[prefix:len(wb) - suffix]
    marks = {_separator(w) for w in run_a} & {_separator(w) for w in run_b}
    mark = next(iter(marks - {None})) if len(marks - {None}) == 1 else None
    before = after = mark is not None
    if not marks - {None}:
        # One item differs, and the list's separator stands beside it: the same on both
        # sides, or twice on one. Once, on one side, it is as likely a label's ":" or one
        # fact after another ("Deadline: 30 June · Budget: 4,000"), and those stay.
        head, tail = wa[:prefix], wa[len(wa) - suffix:]
        mark_before = _separator(head[-1]) if head else None
        mark_after = tail[0] if tail and _separator(tail[0]) == tail[0] else None
        both = mark_before is not None and mark_before == mark_after
        before = both or (mark_before is not None and _marks(head, mark_before) > 1)
        after = both or (mark_after is not None and _marks(tail, mark_after) > 1)
        if before == after and not both:
            return prefix, suffix
        mark = mark_before if before else mark_after
    if mark is None:
        return prefix, suffix  # no list, or not one way of writing it
    longest = max(len(item) for run in (run_a, run_b) for item in _items(run, mark))
    if after and suffix:
        suffix -= _items_after(wa[len(wa) - suffix:], mark, longest)
    if before and prefix:
        prefix -= _items_before(wa[prefix - 1::-1], mark, longest)
    return prefix, suffix


def _items_between(wa: Sequence[str], runs: Sequence[tuple[str, int, int, int, int]]
                   ) -> bool:
    """Whether the words between runs that changed in place are each one item of a list
    the runs are items of too ("A · B · C" and "D · B · E"): split from them by one
    separator, and no longer than they are. Then B was shared by chance. Words between
    two counters ("Views 12 · Deadline: 30 June · Comments 4") are no such item: the
    counters are not split from the words before them."""
    longest = max(i2 - i1 for _, i1, i2, _, _ in runs)
    marks = set()
    for (_, _, end, _, _), (_, start, _, _, _) in pairwise(runs):
        between = list(wa[end:start])
        if between[0] == between[-1] and _separator(between[0]) == between[0]:
            mark, item = between[0], between[1:-1]  # "A · B · C"
        else:
            ends = _separator(wa[end - 1])  # "A, B, C"
            if ends is None or _separator(between[-1]) != ends:
                return False
            mark, item = ends, [*between[:-1], between[-1][:-1]]
        if not 0 < len(item) <= longest or any(_separator(w) for w in item if w):
            return False
        marks.add(mark)
    return len(marks) == 1


def _marks(words: Sequence[str], mark: str) -> int:
    return sum(word == mark or _separator(word) == mark for word in words)


def _items(words: Sequence[str], mark: str) -> list[list[str]]:
    items: list[list[str]] = [[]]
    for word in words:
        if word == mark:
            items.append([])
            continue
        items[-1].append(word)
        if _separator(word) == mark:
            items.append([])
    return [item for item in items if item] or [[]]


def _items_after(words: Sequence[str], mark: str, longest: int) -> int:
    """How many of ``words`` (after the run, to the line's end) are whole items: each
    ended by ``mark``, or by the line's end; none longer than ``longest``."""
    taken, at = 0, 1 if words[0] == mark else 0
    while at < len(words):
        end = at
        while end < len(words) and words[end] != mark and _separator(words[end]) != mark:
            end += 1
        if end < len(words) and words[end] != mark:
            end += 1  # the word that carries the mark is the item's last
        if not 0 < end - at <= longest:
            break
        if end < len(words) and words[end] == mark:
            end += 1
        taken = at = end
    return taken


def _items_before(words: Sequence[str], mark: str, longest: int) -> int:
    """How many of ``words`` (before the run, nearest first) are whole items: each split
    from the run or the next item by ``mark``, and started after a word that ends
    something (another item, the label's ``:``); none longer than ``longest``. The label
    itself stays, and so do words with nothing before them that ends them."""
    standalone = words[0] == mark
    if not standalone and _separator(words[0]) != mark:
        return 0  # the run does not start an item of this list
    taken, at = 0, 1 if standalone else 0
    while at < len(words):
        end = at + 1  # an item's first word seen (its last, in the line)
        while end < len(words) and _separator(words[end]) is None:
            end += 1
        if end == len(words) or end - at > longest:
            break
        taken = end
        if words[end] == mark:
            at = end + 1  # the separator between two items goes with the earlier one
        elif _separator(words[end]) == mark and not standalone:
            at = end
        else:
            break  # the label: the list's first item is taken
        if at < len(words) and words[at - 1] == mark:
            taken = at
    return taken


def common_ends(wa: Sequence[str], wb: Sequence[str]) -> tuple[int, int]:
    """How many words two versions share at their start, then at their end (not
    overlapping)."""
    shortest = min(len(wa), len(wb))
    prefix = 0
    while prefix < shortest and wa[prefix] == wb[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and wa[-1 - suffix] == wb[-1 - suffix]:
        suffix += 1
    return prefix, suffix


@lru_cache(maxsize=4096)
def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for word in template.split(" "):
        if word == WILD:
            parts.append(_ONE_WORD.pattern)
        elif word == WILD_RUN:
            parts.append(r"(?:\S+ )*")
        else:
            parts.append(re.escape(word) + " ")
    return re.compile("".join(parts))


@lru_cache(maxsize=4096)
def _needle(template: str) -> str:
    """The template's longest fixed word: a line without it cannot match."""
    return max((w for w in template.split(" ") if w not in (WILD, WILD_RUN)), key=len,
               default="")


def matches(template: str, line: str) -> bool:
    # A substring test spares the regex for nearly every line of a page.
    return _needle(template) in line and _pattern(template).fullmatch(line + " ") is not None


def specificity(template: str) -> tuple[int, str]:
    """How many words a template fixes (fewer: more general), then the template."""
    return sum(w not in (WILD, WILD_RUN) for w in template.split(" ")), template


def literal(template: str) -> bool:
    """A template that says something of its own (a word with letters) matches anywhere;
    one of wildcards and numbers only matches after its anchor."""
    return any(any(c.isalpha() for c in w) for w in template.split(" ")
               if w not in (WILD, WILD_RUN))
