"""What changes by itself on a source, learned from the source, never from its wording.

Two copies of a page fetched moments apart differ only in what changes by itself: a
counter, a request number, a session id, a rotating block. ``learn`` turns such a pair
into ``Volatile`` facts, each saying where on the page and what:

- ``line``: one line whose differing words are wildcards (``Viewed * times``), found
  after the line it follows (its anchor);
- ``slot``: the lines between two stable lines, whatever they are (a rotating block);
- ``link`` and ``link-slot``: the same over a page's links, in document order;
- ``param``: a query parameter of the links under one path, whatever its value;
- ``field``: a field of a feed's entries or of a PDF's metadata.

``Noise`` applies what a monitor has learned, plus the clocks of each side
(``monitors.clocks``), so that comparing two versions sees only what the publisher
changed. Nothing here knows a word, a class name or a parameter name: the same code
learns a footer in Finnish and a counter phrased in a way nobody listed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from difflib import SequenceMatcher
from functools import cached_property, lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.records import Volatile
from monitors.clocks import ClockBudget, fold, mask_clocks

#: A learned wildcard: exactly one word.
WILD = "\u2217"
#: A learned wildcard for a run of words (two versions of a line of different lengths).
WILD_RUN = "\u2217\u2217"
LINE, SLOT, PARAM, FIELD = "line", "slot", "param", "field"
# The same as LINE and SLOT, over a page's links in document order (keyed by URL).
LINK, LINK_SLOT = "link", "link-slot"
KINDS = (LINE, SLOT, LINK, LINK_SLOT, PARAM, FIELD)
#: A slot masks at most this many lines: a rotating block, not a page.
MAX_SLOT_LINES = 12
#: In a slot's ``what``: the line that ends it, then how many lines it held (folded lines
#: never contain a tab).
SLOT_SIZE = "\t"
#: Two versions of one line share at least this share of their words.
SAME_LINE_SHARE = 0.5



def words(line: str) -> str:
    """Whitespace folded to single spaces (``clocks.fold``)."""
    return fold(line)


def shared_lines(a: Iterable[str], b: Iterable[str]) -> frozenset[str]:
    """Lines (folded) found in both versions."""
    return frozenset(words(line) for line in a) & frozenset(words(line) for line in b)


def line_template(a: str, b: str) -> str | None:
    """Two versions of one line as a template (differing words become wildcards), or None
    when they are not versions of one line (fewer than half their words in common)."""
    wa, wb = a.split(), b.split()
    matcher = SequenceMatcher(None, wa, wb, autojunk=False)
    common = sum(size for _, _, size in matcher.get_matching_blocks())
    if common < SAME_LINE_SHARE * max(len(wa), len(wb), 1):
        return None
    if len(wa) == len(wb):
        return " ".join(x if x == y else WILD for x, y in zip(wa, wb, strict=True))
    out: list[str] = []
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "equal":
            out.extend(wa[i1:i2])
        elif not out or out[-1] != WILD_RUN:
            out.append(WILD_RUN)
    return " ".join(out)


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


def matches(template: str, line: str) -> bool:
    return _pattern(template).fullmatch(line + " ") is not None


def _literal(template: str) -> bool:
    """A template that says something of its own (a word with letters) matches anywhere;
    one of wildcards and numbers only matches after its anchor."""
    return any(any(c.isalpha() for c in w) for w in template.split(" ")
               if w not in (WILD, WILD_RUN))


@dataclass(frozen=True)
class Noise:
    """What a monitor has learned, ready to apply to one version's lines and links."""

    learned: frozenset[Volatile] = frozenset()
    #: Lines, by their words, that the site's template shares (organization-wide).
    template: frozenset[str] = field(default_factory=frozenset)
    #: Links (normalized URLs) that the site's template shares: never new documents.
    template_links: frozenset[str] = field(default_factory=frozenset)

    def _by_place(self, kind: str) -> dict[str, list[str]]:
        """What was learned of one kind, by where, in a fixed order."""
        grouped: dict[str, list[str]] = {}
        for item in sorted(self.learned):
            if item.kind == kind:
                grouped.setdefault(item.where, []).append(item.what)
        return grouped

    @cached_property
    def _lines(self) -> dict[str, list[str]]:
        return self._by_place(LINE)

    @cached_property
    def _anywhere(self) -> list[str]:
        return sorted({v.what for v in self.learned if v.kind == LINE and _literal(v.what)})

    @cached_property
    def _slots(self) -> dict[str, dict[str, int]]:
        """Slots by the line before them: the line that ends each, and how many lines it
        held in the copies that taught it."""
        slots: dict[str, dict[str, int]] = {}
        for where, whats in self._by_place(SLOT).items():
            for what in whats:
                after, _, size = what.rpartition(SLOT_SIZE)
                ends = slots.setdefault(where, {})
                ends[after] = max(ends.get(after, 0), int(size))
        return slots

    @cached_property
    def _params(self) -> dict[str, list[str]]:
        return self._by_place(PARAM)

    def key(self, line: str, anchor: str) -> str:
        """A line as it compares: clocks already masked, then the learned templates."""
        for template in self._lines.get(anchor, ()):
            if matches(template, line):
                return template
        for template in self._anywhere:
            if matches(template, line):
                return template
        return line

    def comparable(self, lines: Sequence[str], at: datetime | None = None,
                   shared: Collection[str] = frozenset()) -> list[tuple[str, str]]:
        """One version's lines as ``(key, line)``: whitespace folded and the clocks of
        ``at`` (its fetch time) masked in the key, learned lines keyed by their template,
        learned slots left out, empty lines dropped.

        Lines in ``shared`` (as folded by ``words``) are in both versions compared: equal
        whatever a clock in them says, so only the lines that differ pay for reading
        dates, and the cost follows the size of the change, not of the page."""
        keyed: list[tuple[str, str]] = []
        folded = [words(line) for line in lines]
        budget = ClockBudget()  # one for the whole version: a page may be all dates
        masked = [line if line in shared else mask_clocks(line, at, budget)
                  for line in folded]
        index, anchor = 0, ""
        while index < len(masked):
            ends = self._slots.get(anchor)
            if ends:
                skip = _slot_length(masked, index, ends, self, anchor)
                if skip:
                    index += skip
                    continue
            key = self.key(masked[index], anchor)
            if key:
                keyed.append((key, lines[index]))
                anchor = key
            index += 1
        return keyed

    @cached_property
    def links(self) -> Noise:
        """What is learned of the links, as lines and slots over their URLs."""
        kinds = {LINK: LINE, LINK_SLOT: SLOT}
        return Noise(frozenset(Volatile(kinds[v.kind], v.where, v.what)
                               for v in self.learned if v.kind in kinds))

    @cached_property
    def fields(self) -> frozenset[tuple[str, str]]:
        """Volatile fields as (where, name): ("entry", "updated"), ("pdf", "producer")."""
        return frozenset((v.where, v.what) for v in self.learned if v.kind == FIELD)

    def link_key(self, url: str) -> str:
        """A link as it compares: learned volatile parameters of its path left out."""
        if not self._params:
            return url
        parts = urlsplit(url)
        names = self._params.get(_scope(url))
        if not names or not parts.query:
            return url
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if k not in names]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))


NO_NOISE = Noise()


def _slot_length(keys: Sequence[str], start: int, ends: dict[str, int], noise: Noise,
                 anchor: str) -> int:
    """How many lines from ``start`` a learned slot covers: up to the first line that
    ends it, or to the page's end for a slot that ends there; never more lines than the
    slot was seen to hold, so a sentence added beside a rotating line is not masked."""
    for offset in range(min(MAX_SLOT_LINES + 1, len(keys) - start + 1)):
        end = "" if start + offset == len(keys) else noise.key(keys[start + offset], anchor)
        if end in ends:
            return offset if offset <= ends[end] else 0
        if start + offset == len(keys):
            return 0
    return 0


def _scope(url: str) -> str:
    """Where a parameter is learned: scheme, host and the path's directory."""
    parts = urlsplit(url)
    directory = parts.path.rsplit("/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{directory}/"


def learn_lines(a: Sequence[str], b: Sequence[str], noise: Noise = NO_NOISE,
                at_a: datetime | None = None, at_b: datetime | None = None
                ) -> set[Volatile]:
    """What differs between two copies' lines fetched moments apart, as Volatile facts.

    The copies are first seen through what is already known (``noise``), so what is
    learned adds to it. Lines in another order teach nothing: order is never a change.
    """
    shared = shared_lines(a, b)
    ka = [key for key, _ in noise.comparable(a, at_a, shared)]
    kb = [key for key, _ in noise.comparable(b, at_b, shared)]
    if sorted(ka) == sorted(kb):
        return set()
    learned: set[Volatile] = set()
    matcher = SequenceMatcher(None, ka, kb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        before = ka[i1 - 1] if i1 > 0 else ""
        after = ka[i2] if i2 < len(ka) else ""
        templates = _pair(ka[i1:i2], kb[j1:j2])
        if templates is None:
            # A slot is known by a stable line on at least one side; two copies that
            # share nothing around the difference say nothing about where noise is.
            size = max(i2 - i1, j2 - j1)
            if (before or after) and size <= MAX_SLOT_LINES:
                learned.add(Volatile(SLOT, before, f"{after}{SLOT_SIZE}{size}"))
            continue
        anchor = before
        for template in templates:
            learned.add(Volatile(LINE, anchor, template))
            anchor = template
    return learned


def _pair(old: Sequence[str], new: Sequence[str]) -> list[str] | None:
    """Templates of a block whose lines changed one for one, else None (a slot)."""
    if len(old) != len(new):
        return None
    templates = []
    for a, b in zip(old, new, strict=True):
        template = line_template(a, b)
        if template is None:
            return None
        templates.append(template)
    return templates


def learn_links(a: Iterable[str], b: Iterable[str]) -> set[Volatile]:
    """Query parameters whose values differ between two copies' links to one path."""
    def by_path(urls: Iterable[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for url in urls:
            parts = urlsplit(url)
            if parts.query:
                target = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
                found.setdefault(target, dict(parse_qsl(parts.query, keep_blank_values=True)))
        return found

    old, new = by_path(a), by_path(b)
    learned: set[Volatile] = set()
    for target in old.keys() & new.keys():
        for name in old[target].keys() & new[target].keys():
            if old[target][name] != new[target][name]:
                learned.add(Volatile(PARAM, _scope(target), name))
    return learned


def learn_link_order(a: Sequence[str], b: Sequence[str], noise: Noise = NO_NOISE
                     ) -> set[Volatile]:
    """Links (comparable URLs, in document order) that differ between two copies."""
    kinds = {LINE: LINK, SLOT: LINK_SLOT}
    return {Volatile(kinds[v.kind], v.where, v.what)
            for v in learn_lines(a, b, noise.links)}


def learn_fields(where: str, a: dict[str, dict[str, str]], b: dict[str, dict[str, str]],
                 at_a: datetime | None = None, at_b: datetime | None = None
                 ) -> set[Volatile]:
    """Fields whose values differ between two copies of the same records (by key)."""
    learned: set[Volatile] = set()
    for key in a.keys() & b.keys():
        for name in a[key].keys() & b[key].keys():
            before = mask_clocks(words(str(a[key][name])), at_a)
            after = mask_clocks(words(str(b[key][name])), at_b)
            if before != after:
                learned.add(Volatile(FIELD, where, name))
    return learned
