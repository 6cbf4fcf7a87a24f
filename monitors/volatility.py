"""What changes by itself on a source, learned from the source, never from its wording.

Two copies of a page fetched moments apart differ only in what changes by itself: a
counter, a request number, a session id, a rotating block. ``learn`` turns such a pair
into ``Volatile`` facts, each saying where on the page and what:

- ``line``: one line whose differing words are wildcards (``Viewed * times``), found
  after the line it follows (its anchor);
- ``slot``: the lines between two stable lines, whatever they are (a rotating block);
- ``rotating``: a whole line seen in one copy and not in the other, inside a slot (an
  item of a list drawn at random from a pool): left out wherever it shows, so a list
  that samples the pool differently at each request is known after a few checks, even
  when the lines around it are themselves items of the pool;
- ``link``, ``link-slot`` and ``link-rotating``: the same over a page's links, in
  document order;
- ``param``: a query parameter of the links under one path, whatever its value;
- ``segment``: the path segment of the links right after a prefix, whatever it is;
- ``field``: a field of a feed's entries or of a PDF's metadata.

``Noise`` applies what a monitor has learned, plus the clocks of each side
(``monitors.clocks``), so that comparing two versions sees only what the publisher
changed. Nothing here knows a word, a class name or a parameter name: the same code
learns a footer in Finnish and a counter phrased in a way nobody listed.
"""

from __future__ import annotations

import re
from collections import Counter
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
#: A path segment of the links under one prefix, whatever it is (a session in the path).
SEGMENT = "segment"
# The same as LINE and SLOT, over a page's links in document order (keyed by URL).
ROTATING = "rotating"
LINK, LINK_SLOT, LINK_ROTATING = "link", "link-slot", "link-rotating"
KINDS = (LINE, SLOT, ROTATING, LINK, LINK_SLOT, LINK_ROTATING, PARAM, SEGMENT, FIELD)
#: Differences between two copies separated by at most this many equal lines are one
#: slot: two samples of one list share some items, in places that are chance.
SLOT_GAP = 2
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
    """Two versions of one line as a template, or None when they are not versions of one
    line (fewer than half their words in common).

    The words from the first to the last that differ become one wildcard: ``*`` for one
    word (a counter), ``**`` for a run (a list of titles sampled in one line); the words
    around keep the line's place. Words the two copies happen to share in between are
    chance (two samples of one pool), not evidence of a stable word."""
    wa, wb = a.split(), b.split()
    matcher = SequenceMatcher(None, wa, wb, autojunk=False)
    common = sum(size for _, _, size in matcher.get_matching_blocks())
    if common < SAME_LINE_SHARE * max(len(wa), len(wb), 1):
        return None
    shortest = min(len(wa), len(wb))
    prefix = 0
    while prefix < shortest and wa[prefix] == wb[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and wa[-1 - suffix] == wb[-1 - suffix]:
        suffix += 1
    if prefix == len(wa) == len(wb):
        return a
    one_word = len(wa) - prefix - suffix == 1 == len(wb) - prefix - suffix
    return " ".join([*wa[:prefix], WILD if one_word else WILD_RUN, *wa[len(wa) - suffix:]])


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


def _specificity(template: str) -> tuple[int, str]:
    """How many words a template fixes (fewer: more general), then the template."""
    return sum(w not in (WILD, WILD_RUN) for w in template.split(" ")), template


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
    #: Lines (by their words) of the version stored before a difference: when learning
    #: from two fresh copies, a line also there is not taken into a slot.
    stable: frozenset[str] = field(default_factory=frozenset)

    def _by_place(self, kind: str) -> dict[str, list[str]]:
        """What was learned of one kind, by where, in a fixed order."""
        grouped: dict[str, list[str]] = {}
        for item in sorted(self.learned):
            if item.kind == kind:
                grouped.setdefault(item.where, []).append(item.what)
        return grouped

    @cached_property
    def _lines(self) -> dict[str, list[str]]:
        """Templates by anchor, the most general first: two versions of one line that
        different templates match must compare under the same one."""
        return {where: sorted(whats, key=_specificity)
                for where, whats in self._by_place(LINE).items()}

    @cached_property
    def _anywhere(self) -> list[str]:
        return sorted({v.what for v in self.learned if v.kind == LINE and _literal(v.what)},
                      key=_specificity)

    @cached_property
    def _slots(self) -> dict[str, dict[str, int]]:
        """Slots by the line before them: the line that ends each, and how many lines it
        held in the copies that taught it. A slot that starts or ends at a line since known
        to rotate is not applied: its place comes and goes, and what stands there later
        (a document added where an item was) is not the slot's."""
        slots: dict[str, dict[str, int]] = {}
        for where, whats in self._by_place(SLOT).items():
            if where in self._rotating:
                continue
            for what in whats:
                after, _, size = what.rpartition(SLOT_SIZE)
                if after in self._rotating:
                    continue
                ends = slots.setdefault(where, {})
                ends[after] = max(ends.get(after, 0), int(size))
        return slots

    @cached_property
    def _rotating(self) -> frozenset[str]:
        return frozenset(v.what for v in self.learned if v.kind == ROTATING)

    @cached_property
    def _params(self) -> dict[str, list[str]]:
        return self._by_place(PARAM)

    def templates_after(self, anchor: str) -> list[str]:
        return self._lines.get(anchor, [])

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
                   shared: Collection[str] = frozenset(), *, drop_rotating: bool = True
                   ) -> list[tuple[str, str]]:
        """One version's lines as ``(key, line)``: whitespace folded and the clocks of
        ``at`` (its fetch time) masked in the key, learned lines keyed by their template,
        learned slots left out, empty lines dropped.

        Lines in ``shared`` (as folded by ``words``) are in both versions compared: equal
        whatever a clock in them says, so only the lines that differ pay for reading
        dates, and the cost follows the size of the change, not of the page."""
        return [(key, line) for key, line, in_slot in
                self.keyed(lines, at, shared, drop_rotating=drop_rotating) if not in_slot]

    def keyed(self, lines: Sequence[str], at: datetime | None = None,
              shared: Collection[str] = frozenset(), *, drop_rotating: bool = True
              ) -> list[tuple[str, str, bool]]:
        """``comparable``, with the lines a learned slot covers kept and marked (True)."""
        keyed: list[tuple[str, str, bool]] = []
        folded = [words(line) for line in lines]
        budget = ClockBudget()  # one for the whole version: a page may be all dates
        masked = [line if line in shared else mask_clocks(line, at, budget)
                  for line in folded]
        rotating = self._rotating_run(masked) if drop_rotating else [False] * len(masked)
        index, anchor = 0, ""
        while index < len(masked):
            ends = self._slots.get(anchor)
            if ends:
                skip = _slot_length(masked, index, ends, self, anchor)
                if skip:
                    keyed.extend((self.key(masked[i], anchor), lines[i], True)
                                 for i in range(index, index + skip)
                                 if masked[i] and not rotating[i])
                    index += skip
                    continue
            key = self.key(masked[index], anchor)
            if key and not rotating[index]:
                keyed.append((key, lines[index], False))
                anchor = key
            index += 1
        return keyed

    def _rotating_run(self, masked: Sequence[str]) -> list[bool]:
        """Which lines are items of a rotating list: lines learned as such, and a line
        between two of them (an item of the same list not yet seen to rotate)."""
        if not self._rotating:
            return [False] * len(masked)
        known = [line in self._rotating for line in masked]
        return [known[i] or (0 < i < len(known) - 1 and known[i - 1] and known[i + 1])
                for i in range(len(known))]

    @cached_property
    def links(self) -> Noise:
        """What is learned of the links, as lines and slots over their URLs."""
        kinds = {LINK: LINE, LINK_SLOT: SLOT, LINK_ROTATING: ROTATING}
        return Noise(frozenset(Volatile(kinds[v.kind], v.where, v.what)
                               for v in self.learned if v.kind in kinds), stable=self.stable)

    @cached_property
    def fields(self) -> frozenset[tuple[str, str]]:
        """Volatile fields as (where, name): ("entry", "updated"), ("pdf", "producer")."""
        return frozenset((v.where, v.what) for v in self.learned if v.kind == FIELD)

    @cached_property
    def _segments(self) -> list[str]:
        return sorted({v.where for v in self.learned if v.kind == SEGMENT}, key=len,
                      reverse=True)

    def link_key(self, url: str) -> str:
        """A link as it compares: learned volatile path segments and parameters of its
        path left out."""
        for prefix in self._segments:
            if url.startswith(prefix):
                rest = url[len(prefix):]
                cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0),
                          default=len(rest))
                url = f"{prefix}{WILD}{rest[cut:]}"
                break
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
    """How many lines from ``start`` a learned slot covers: up to a line that ends it
    (the farthest one), or to the page's end for a slot that ends there; never more lines
    than the slot was seen to hold, so a sentence added beside a rotating line is not
    masked."""
    covered = 0
    for offset in range(min(MAX_SLOT_LINES + 1, len(keys) - start + 1)):
        end = "" if start + offset == len(keys) else noise.key(keys[start + offset], anchor)
        if end in ends and offset <= ends[end]:
            covered = offset
    return covered


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
    # Rotating items stay in place here: a slot's size counts every line it held.
    keyed_a = noise.comparable(a, at_a, shared, drop_rotating=False)
    ka = [key for key, _ in keyed_a]
    kb = [key for key, _ in noise.comparable(b, at_b, shared, drop_rotating=False)]
    if sorted(ka) == sorted(kb):
        return set()
    # Blocks are joined across equal lines only where the version stored before shows
    # those lines were not there: without it, nothing is joined.
    stood = [not noise.stable or words(line) in noise.stable for _, line in keyed_a]
    learned: set[Volatile] = set()
    shown = Counter(ka)
    shown.subtract(kb)
    for parts in _differences(ka, kb, stood):
        paired = [_pair(ka[i1:i2], kb[j1:j2]) for i1, i2, j1, j2 in parts]
        if all(templates is not None for templates in paired):
            for (i1, _, _, _), templates in zip(parts, paired, strict=True):
                anchor = ka[i1 - 1] if i1 > 0 else ""
                for template in templates or ():
                    template = _generalized(template, noise.templates_after(anchor))
                    learned.add(Volatile(LINE, anchor, template))
                    anchor = template
            continue
        i1, j1, i2, j2 = parts[0][0], parts[0][2], parts[-1][1], parts[-1][3]
        before = ka[i1 - 1] if i1 > 0 else ""
        after = ka[i2] if i2 < len(ka) else ""
        # A slot is known by a stable line on at least one side; two copies that share
        # nothing around the difference say nothing about where noise is.
        size = max(i2 - i1, j2 - j1)
        if (before or after) and size <= MAX_SLOT_LINES:
            learned.add(Volatile(SLOT, before, f"{after}{SLOT_SIZE}{size}"))
            # In one copy and not the other, over the whole page: a line both show,
            # elsewhere, only moved (order is never a change).
            learned.update(Volatile(ROTATING, "", line)
                           for line in {*ka[i1:i2], *kb[j1:j2]} if shown[line])
    return learned


def _differences(ka: Sequence[str], kb: Sequence[str], stood: Sequence[bool]
                 ) -> list[list[tuple[int, int, int, int]]]:
    """The blocks that differ between two copies, as ``(i1, i2, j1, j2)``, grouped: blocks
    at most ``SLOT_GAP`` equal lines apart are one group, unless a line between them
    ``stood`` in the version before (it is not chance)."""
    groups: list[list[tuple[int, int, int, int]]] = []
    matcher = SequenceMatcher(None, ka, kb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        last = groups[-1][-1] if groups else None
        if (last is not None and i1 - last[1] <= SLOT_GAP and j1 - last[3] <= SLOT_GAP
                and not any(stood[last[1]:i1])):
            groups[-1].append((i1, i2, j1, j2))
        else:
            groups.append([(i1, i2, j1, j2)])
    return groups


def _generalized(template: str, known: Iterable[str]) -> str:
    """A template learned where others of the same line were learned before, widened to
    what they all share: each pair of copies shows some of the words that vary."""
    for other in known:
        merged = line_template(other, template)
        if merged is not None:
            template = " ".join(w for i, w in enumerate(merged.split(" "))
                                if not (w == WILD_RUN and i and merged.split(" ")[i - 1]
                                        in (WILD, WILD_RUN)))
    return template


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


def learn_path_segments(a: Iterable[str], b: Iterable[str]) -> set[Volatile]:
    """Path segments that differ between two copies' links where the rest of each link is
    the same (``/s8f3a/docs/report.pdf`` and ``/s91c2/docs/report.pdf``): learned when at
    least two different links show it, so that two documents of one folder are never
    taken for one link whose name changes."""
    first, second = list(dict.fromkeys(a)), list(dict.fromkeys(b))
    only_a = [url for url in first if url not in set(second)]
    only_b = [url for url in second if url not in set(first)]
    seen: dict[str, set[str]] = {}
    for url in only_a:
        parts = urlsplit(url)
        segments = parts.path.split("/")
        for i in range(1, len(segments)):
            head, rest = "/".join(segments[:i]), "/".join(segments[i + 1:])
            for other in only_b:
                theirs = urlsplit(other)
                mine = theirs.path.split("/")
                if ((theirs.scheme, theirs.netloc, theirs.query) == (parts.scheme,
                                                                    parts.netloc, parts.query)
                        and len(mine) == len(segments) and mine[i] != segments[i]
                        and "/".join(mine[:i]) == head and "/".join(mine[i + 1:]) == rest):
                    prefix = f"{parts.scheme}://{parts.netloc}{head}/"
                    seen.setdefault(prefix, set()).add(rest)
    return {Volatile(SEGMENT, prefix, "") for prefix, rests in seen.items() if len(rests) > 1}


def learn_link_order(a: Sequence[str], b: Sequence[str], noise: Noise = NO_NOISE
                     ) -> set[Volatile]:
    """Links (comparable URLs, in document order) that differ between two copies."""
    kinds = {LINE: LINK, SLOT: LINK_SLOT, ROTATING: LINK_ROTATING}
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
