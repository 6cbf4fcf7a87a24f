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


def line_template(a: str, b: str) -> str | None:
    """Two versions of one line as a template, or None when they are not versions of one
    line (fewer than half their words in common).

    Where only short runs of words changed in place, each becomes a wildcard and the
    words between them stay (two counters around a deadline). Otherwise the words from
    the first to the last that differ become one wildcard: ``*`` for one word (a
    counter), ``**`` for a run (a list of titles sampled in one line); the words around
    keep the line's place. Words two samples of one pool happen to share in between are
    chance, not evidence of a stable word."""
    if max(len(a), len(b)) > MAX_TEMPLATE_CHARS:
        return None  # a paragraph the size of a document: matching its words is quadratic
    wa, wb = a.split(), b.split()
    matcher = SequenceMatcher(None, wa, wb, autojunk=False)
    common = sum(size for _, _, size in matcher.get_matching_blocks())
    if common < SAME_LINE_SHARE * max(len(wa), len(wb), 1):
        return None
    runs = [(tag, i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes()
            if tag != "equal"]
    if not runs:
        return a
    if all(tag == "replace" and i2 - i1 == j2 - j1 <= MAX_TOKEN_WORDS
           for tag, i1, i2, j1, j2 in runs) and all(
               later[1] - earlier[2] >= MIN_WORDS_BETWEEN
               for earlier, later in pairwise(runs)):
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
    return " ".join([*wa[:prefix], WILD if one_word else WILD_RUN, *wa[len(wa) - suffix:]])


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
            parts.append(r"\S+ ")
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
