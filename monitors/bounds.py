"""What one HTML document may cost to parse: a tag budget and a nesting limit.

Both bounds act on the markup *before* lexbor sees it, because the cost is in the parse:

- **Size.** A parsed tree costs about 250 bytes per tag (plus the text), so a 20 MB page
  of tiny elements took 660 MB and 4 s. Markup past ``MAX_TAGS`` tags is not parsed: the
  cut falls just before a ``<``, the parser closes what is open, and the extracted
  content records where it stopped. The raw body is stored whole either way.
- **Depth.** The HTML5 tree builder searches the stack of open elements for many start
  tags (``<div>`` looks for an open ``<p>`` to close), so deep nesting costs depth
  squared: 100,000 nested ``<div>`` took 25 s. Start tags that would nest deeper than
  ``MAX_DEPTH`` are dropped with their end tags, keeping their text; Chromium caps its
  tree depth at 512 the same way. Only documents with more than ``SCAN_ABOVE_TAGS`` tags
  can be slow, so smaller ones skip the scan (it costs about a microsecond per tag).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

MAX_TAGS = 300_000
MAX_DEPTH = 512
SCAN_ABOVE_TAGS = 20_000

# Elements that never hold children.
_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "keygen", "basefont", "bgsound", "frame",
})
# Elements whose end tag is implied by a sibling (<p>, <li>, table cells...): the parser
# closes them itself, so counting them would see depth that is not there.
_IMPLIED_END = frozenset({
    "p", "li", "dd", "dt", "option", "optgroup", "rb", "rp", "rt", "rtc", "tr", "td", "th",
    "thead", "tbody", "tfoot", "caption", "colgroup", "html", "head", "body",
})
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")


@dataclass(frozen=True, slots=True)
class Bounds:
    """What bounding did to one document (both 0 for any normal page)."""

    #: Characters of markup left unparsed past the tag budget.
    cut_chars: int = 0
    #: Start and end tags dropped because they nested deeper than MAX_DEPTH.
    flattened_tags: int = 0

    def notes(self) -> dict[str, int]:
        """What was bounded, for the extracted content (empty for a normal page)."""
        notes = {}
        if self.cut_chars:
            notes["unparsed_chars"] = self.cut_chars
        if self.flattened_tags:
            notes["flattened_tags"] = self.flattened_tags
        return notes


def cut_to_budget(
    html: str, max_tags: int = MAX_TAGS, *, tags: int | None = None
) -> tuple[str, int]:
    """``html`` up to its ``max_tags``-th ``<``, and how many characters were left out.
    ``tags``: the number of ``<`` in ``html``, if the caller has counted them."""
    if (html.count("<") if tags is None else tags) <= max_tags:
        return html, 0
    end = _offset_of_nth(html, "<", max_tags)
    return html[:end], len(html) - end


def flatten_deep(
    html: str, max_depth: int = MAX_DEPTH, scan_above: int = SCAN_ABOVE_TAGS, *,
    tags: int | None = None,
) -> tuple[str, int]:
    """``html`` without the tags that nest deeper than ``max_depth``, and how many.
    ``tags``: the number of ``<`` in ``html``, if the caller has counted them."""
    if (html.count("<") if tags is None else tags) <= scan_above:
        return html, 0
    # No tag ends after the last ">": scanning there, each "<a" would search the rest of
    # the text for one (60 kB of "<a " took 17 s). Up to it, each search ends at a match.
    end = html.rfind(">") + 1
    # First pass on plain tuples (fast); spans are only needed when something goes.
    drops = _too_deep(_TAG.findall(html, 0, end), max_depth)
    if not drops:
        return html, 0
    pieces = []
    position = 0
    for index, match in enumerate(_TAG.finditer(html, 0, end)):
        if index in drops:
            pieces.append(html[position:match.start()])
            position = match.end()
    pieces.append(html[position:])
    return "".join(pieces), len(drops)


def _offset_of_nth(text: str, char: str, n: int) -> int:
    """Index of the ``n``-th (0-based) ``char`` in ``text``: a binary search over counts."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high) // 2
        if text.count(char, 0, middle + 1) > n:
            high = middle
        else:
            low = middle + 1
    return low


def _too_deep(tags: list[tuple[str, str, str]], max_depth: int) -> set[int]:
    """Indexes of the tags to drop, from (end-slash, name, self-closing-slash) tuples.

    A stack of open element names, closed the way a parser closes them: an end tag pops
    up to its element, and an end tag with nothing open to close is ignored.
    """
    stack: list[str] = []
    open_count: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    drops: set[int] = set()
    for index, (closing, raw_name, self_closing) in enumerate(tags):
        name = raw_name.lower()
        if name in _VOID or name in _IMPLIED_END:
            continue
        if closing:
            if skipped[name]:
                skipped[name] -= 1
                drops.add(index)
            elif open_count[name]:
                while stack:
                    top = stack.pop()
                    open_count[top] -= 1
                    if top == name:
                        break
        elif self_closing:  # SVG and MathML content closes itself
            continue
        elif len(stack) >= max_depth:
            skipped[name] += 1
            drops.add(index)
        else:
            stack.append(name)
            open_count[name] += 1
    return drops
