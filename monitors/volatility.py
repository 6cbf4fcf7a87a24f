"""What changes by itself on a source, learned from the source, never from its wording.

Two copies of a page fetched moments apart differ only in what changes by itself: a
counter, a request number, a session id, a rotating block. ``monitors.learning`` turns a pair
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

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.records import Volatile
from monitors.clocks import CLOCK, ClockBudget, fold, mask_clocks
from monitors.linetemplates import WILD, literal, matches, specificity
from monitors.urlparts import MATRIX, link_scope, path_parameters

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
#: A slot masks at most this many lines: a rotating block, not a page. A sidebar of a
#: few sampled widgets stacked is one block, and 12 lines did not hold it.
MAX_SLOT_LINES = 24
#: In a slot's ``what``: the line that ends it, then how many lines it held (folded lines
#: never contain a tab).
SLOT_SIZE = "\t"
#: Lines up to this long are folded inline (longer ones by ``clocks.fold``, in slices).
FOLD_INLINE = 100_000


def words(line: str) -> str:
    """Whitespace folded to single spaces (``clocks.fold``)."""
    return fold(line)


def shared_lines(a: Iterable[str], b: Iterable[str]) -> frozenset[str]:
    """Lines (folded) found in both versions."""
    def folded(lines: Iterable[str]) -> frozenset[str]:
        return frozenset(" ".join(line.split()) if len(line) <= FOLD_INLINE else words(line)
                         for line in lines)
    return folded(a) & folded(b)


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
    #: A template with a word of its own fits above its anchor too (links: a list's
    #: order is never a change, so a link's place says nothing).
    literals_anywhere: bool = False

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
        return {where: sorted(whats, key=specificity)
                for where, whats in self._by_place(LINE).items()}

    @cached_property
    def _anywhere(self) -> list[tuple[str, frozenset[str]]]:
        """Templates with a word of their own, the most general first, each with the lines
        it was learned after."""
        anchors: dict[str, set[str]] = {}
        for v in self.learned:
            if v.kind == LINE and literal(v.what):
                anchors.setdefault(v.what, set()).add(v.where)
        return sorted(((what, frozenset(where)) for what, where in anchors.items()),
                      key=lambda pair: specificity(pair[0]))

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
    def _clock_words(self) -> frozenset[str] | None:
        """For each learned line that names a clock, its longest word besides the clock
        and the wildcards: a line without any of them cannot read as one of those lines.
        None when one names nothing else (every line may read as it)."""
        found: set[str] = set()
        for fact in self.learned:
            for text in (fact.where, fact.what):
                for line in text.split(SLOT_SIZE):
                    if CLOCK not in line:
                        continue
                    fixed = [w for w in line.split() if CLOCK not in w and WILD not in w]
                    if not fixed:
                        return None
                    found.add(max(fixed, key=len))
        return frozenset(found)

    @cached_property
    def _rotating(self) -> frozenset[str]:
        return frozenset(v.what for v in self.learned if v.kind == ROTATING)

    def rotates(self, line: str) -> bool:
        """Whether ``line`` (a key) is known as an item of a rotating list."""
        return line in self._rotating

    @cached_property
    def anchors(self) -> frozenset[str]:
        """The lines learned facts hang on: where templates and slots start, where slots
        end."""
        return frozenset({v.where for v in self.learned if v.kind in (LINE, SLOT)}
                         | {v.what.rpartition(SLOT_SIZE)[0] for v in self.learned
                            if v.kind == SLOT}) - {""}

    def carried(self, old: str, new: str) -> set[Volatile]:
        """What is learned at line ``old`` (templates and slots after it, slots that end at
        it), placed at ``new``: the line an edit made of it."""
        facts: set[Volatile] = set()
        for fact in self.learned:
            if fact.kind in (LINE, SLOT) and fact.where == old:
                facts.add(Volatile(fact.kind, new, fact.what))
            if fact.kind == SLOT:
                after, _, size = fact.what.rpartition(SLOT_SIZE)
                if after == old:
                    facts.add(Volatile(SLOT, fact.where, f"{new}{SLOT_SIZE}{size}"))
        return facts

    @cached_property
    def _params(self) -> dict[str, list[str]]:
        return self._by_place(PARAM)

    def templates_after(self, anchor: str) -> list[str]:
        return self._lines.get(anchor, [])

    def key(self, line: str, anchor: str,
            placed: Callable[[frozenset[str]], bool] | None = None) -> str:
        """A line as it compares: clocks already masked, then the learned templates. A
        template with a word of its own fits away from its anchor too (a stamp whose line
        before it changed), where ``placed`` allows it (by the lines it was learned after).
        """
        for template in self._lines.get(anchor, ()):
            if matches(template, line):
                return template
        for template, anchors in self._anywhere:
            if (placed is None or placed(anchors)) and matches(template, line):
                return template
        return line

    def comparable(self, lines: Sequence[str], at: datetime | None = None,
                   shared: Collection[str] = frozenset(), *, drop_rotating: bool = True,
                   zones: Collection[timedelta] | None = None) -> list[tuple[str, str]]:
        """One version's lines as ``(key, line)``: whitespace folded and the clocks of
        ``at`` (its fetch time) masked in the key, learned lines keyed by their template,
        learned slots left out, empty lines dropped.

        Lines in ``shared`` (as folded by ``words``) are in both versions compared: equal
        whatever a clock in them says, so only the lines that differ pay for reading
        dates, and the cost follows the size of the change, not of the page."""
        return [(key, line) for key, line, in_slot in
                self.keyed(lines, at, shared, drop_rotating=drop_rotating, zones=zones)
                if not in_slot]

    def keyed(self, lines: Sequence[str], at: datetime | None = None,
              shared: Collection[str] = frozenset(), *, drop_rotating: bool = True,
              zones: Collection[timedelta] | None = None) -> list[tuple[str, str, bool]]:
        """``comparable``, with the lines a learned slot covers kept and marked (True);
        ``zones``: where stamps without a zone may be read (``clocks.agreed_zones``)."""
        keyed: list[tuple[str, str, bool]] = []
        folded = [" ".join(line.split()) if len(line) <= FOLD_INLINE else words(line)
                  for line in lines]  # inline: a call per line cost more than the folding
        budget = ClockBudget()  # one for the whole version: a page may be all dates
        # A line both versions show is equal whatever its clock says; but where what was
        # learned names a clock (a block that ends at "Updated ⌚"), a line that may be
        # that one must read as learned even when both versions show the same time.
        clock_words = self._clock_words
        if clock_words is None:
            shared = ()
        elif clock_words:
            shared = {line for line in shared if not any(w in line for w in clock_words)}
        masked = [line if line in shared else mask_clocks(line, at, budget, zones)
                  for line in folded]
        known, between = (self._rotating_run(masked) if drop_rotating
                          else ([False] * len(masked), [False] * len(masked)))
        # A template away from its anchor fits below that line, or anywhere once the line
        # is gone; never above it: a content line of the same shape ("Ref: C-2026-17" at
        # the top, a "Ref: *" token learned at the page's end) is compared as written.
        present, reached = {"", *masked}, {""}

        def placed(anchors: frozenset[str]) -> bool:
            return self.literals_anywhere or not (anchors.isdisjoint(reached)
                                                  and not anchors.isdisjoint(present))

        index, anchor, slot_tried = 0, "", False
        while index < len(masked):
            # A slot starts right after its anchor, never after the items that follow it:
            # tried again past each of them, it would stretch by as many lines.
            ends = None if slot_tried else self._slots.get(anchor)
            slot_tried = True
            if ends:
                skip = _slot_length(masked, index, ends, self, anchor)
                if skip:
                    keyed.extend((self.key(masked[i], anchor), lines[i], True)
                                 for i in range(index, index + skip) if masked[i])
                    index += skip
                    continue
            key = self.key(masked[index], anchor, placed)
            reached.update((key, masked[index]))
            if key:
                # Items of a rotating list are covered like a slot's lines: content again
                # where the other version shows the same key as content
                # (``normalize.comparable_pair``): "5 min. ago", once seen to rotate, is
                # still "* min. ago" beside a version that shows "21 min. ago".
                keyed.append((key, lines[index], known[index] or between[index]))
                if not known[index]:
                    anchor, slot_tried = key, False
            index += 1
        return keyed

    def _rotating_run(self, masked: Sequence[str]) -> tuple[list[bool], list[bool]]:
        """Which lines are items of a rotating list: lines learned as such, and lines
        between two of them (an item of the same list not yet seen to rotate)."""
        if not self._rotating:
            return [False] * len(masked), [False] * len(masked)
        known = [line in self._rotating for line in masked]
        if self.literals_anywhere:
            # A link stands in its rotating box beside another of its items; alone among
            # links that stay (a document once sampled into a "related" box, now in the
            # page's own listing), it is the page's own.
            known = [known[i] and ((i > 0 and known[i - 1])
                                   or (i + 1 < len(known) and known[i + 1]))
                     for i in range(len(known))]
        between = [not known[i] and 0 < i < len(known) - 1 and known[i - 1] and known[i + 1]
                   for i in range(len(known))]
        return known, between

    @cached_property
    def links(self) -> Noise:
        """What is learned of the links, as lines and slots over their URLs."""
        kinds = {LINK: LINE, LINK_SLOT: SLOT, LINK_ROTATING: ROTATING}
        return Noise(frozenset(Volatile(kinds[v.kind], v.where, v.what)
                               for v in self.learned if v.kind in kinds), stable=self.stable,
                     literals_anywhere=True)

    @cached_property
    def fields(self) -> frozenset[tuple[str, str]]:
        """Fields volatile as a whole, as (where, name): ("entry", "updated"), ("pdf",
        "producer")."""
        return frozenset((v.where, v.what) for v in self.learned
                         if v.kind == FIELD and SLOT_SIZE not in v.what)

    @cached_property
    def _field_templates(self) -> dict[tuple[str, str], list[str]]:
        """Templates of a field's value (``name``, a tab, the template), by (where, name):
        the words of a summary around a counter."""
        found: dict[tuple[str, str], list[str]] = {}
        for where, whats in self._by_place(FIELD).items():
            for what in whats:
                name, tab, template = what.partition(SLOT_SIZE)
                if tab:
                    found.setdefault((where, name), []).append(template)
        return found

    def same_field(self, where: str, name: str, before: str, after: str) -> bool:
        """Whether two values of a field (words folded) differ only where a learned
        template of that field has a wildcard."""
        return before == after or any(
            matches(template, before) and matches(template, after)
            for template in self._field_templates.get((where, name), ()))

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
        names = self._params.get(link_scope(url))
        path, matrix = path_parameters(parts.path)
        if not names or not (parts.query or matrix):
            return url
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if k not in names]
        segment = "".join(f";{name}={value}" for name, value in matrix
                          if f"{MATRIX}{name}" not in names)
        return urlunsplit((parts.scheme, parts.netloc, path + segment, urlencode(kept), ""))


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
