"""Learning what changes by itself from two copies of a source fetched moments apart.

Each function turns a pair of copies (their lines, links or fields) into ``Volatile``
facts that ``monitors.volatility.Noise`` applies; see that module for the kinds. The
copies are first seen through what is already known, so what is learned adds to it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from difflib import SequenceMatcher
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from core.records import Volatile
from monitors.clocks import differing_zones, mask_clocks
from monitors.linetemplates import WILD, WILD_RUN, common_ends, line_template
from monitors.lists import runs_among_kept, whole_lists
from monitors.urlparts import MATRIX, link_scope, path_parameters
from monitors.volatility import (
    FIELD,
    LINE,
    LINK,
    LINK_ROTATING,
    LINK_SLOT,
    MAX_SLOT_LINES,
    NO_NOISE,
    PARAM,
    ROTATING,
    SEGMENT,
    SLOT,
    SLOT_GAP,
    SLOT_SIZE,
    Noise,
    shared_lines,
    words,
)


def learn_lines(a: Sequence[str], b: Sequence[str], noise: Noise = NO_NOISE,
                at_a: datetime | None = None, at_b: datetime | None = None,
                lists_a: Iterable[Sequence[int]] = (), lists_b: Iterable[Sequence[int]] = ()
                ) -> set[Volatile]:
    """What differs between two copies' lines fetched moments apart, as Volatile facts.

    The copies are first seen through what is already known (``noise``), so what is
    learned adds to it. Lines in another order teach nothing: order is never a change.
    ``lists_a`` and ``lists_b`` are the runs of lines (first index, count) that are the
    items of one list in each copy: a slot that reaches into a list takes in all of it.
    """
    # Every clock is masked, in lines both copies show too: what is learned names a line
    # as any later version will read it (a stamp of the day is the same in two copies,
    # and another in the next check).
    # Rotating items and the lines of known slots stay in place here: a slot's size counts
    # every line it held, and a line a known slot happened to cover in one copy is still
    # seen to differ from the other.
    zones = differing_zones(a, b, shared_lines(a, b), at_a, at_b)
    keyed_a = [(key, line) for key, line, _ in noise.keyed(a, at_a, drop_rotating=False,
                                                            zones=zones)]
    ka = [key for key, _ in keyed_a]
    kb = [key for key, _, _ in noise.keyed(b, at_b, drop_rotating=False, zones=zones)]
    if sorted(ka) == sorted(kb):
        return set()
    shown = Counter(ka)
    shown.subtract(kb)
    # Blocks are joined across equal lines only where the version stored before shows
    # those lines were not there: without it, nothing is joined. A line that rotates (known
    # to, or seen in one copy only) stands nowhere, even when the version before showed it.
    stood = [not noise.stable or (words(line) in noise.stable
                                  and not _rotates(key, noise, shown))
             for key, line in keyed_a]
    moved = _edits_among_moved_lines(ka, kb, shown, noise)
    if moved is not None:
        return moved
    runs_a, runs_b = runs_among_kept(a, lists_a), runs_among_kept(b, lists_b)
    learned: set[Volatile] = set()
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
        i1, j1, i2, j2 = whole_lists(ka, kb, (parts[0][0], parts[-1][1]),
                                      (parts[0][2], parts[-1][3]), runs_a, runs_b)
        # A slot's ends are lines that stay: an item of the rotating list beside the
        # block, though both copies show it there, is taken in (it will not be there).
        while i1 and j1 and ka[i1 - 1] == kb[j1 - 1] and _rotates(ka[i1 - 1], noise, shown):
            i1, j1 = i1 - 1, j1 - 1
        while (i2 < len(ka) and j2 < len(kb) and ka[i2] == kb[j2]
               and _rotates(ka[i2], noise, shown)):
            i2, j2 = i2 + 1, j2 + 1
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
    return learned | _regions(ka, kb, learned, noise)


def _regions(ka: Sequence[str], kb: Sequence[str], learned: set[Volatile], noise: Noise
             ) -> set[Volatile]:
    """One slot over a noisy region that checks split at different lines: blocks learned
    now lead from A through lines X... to B, and blocks known (or learned now) lead from A
    to B through other lines only. A paragraph between two noises splits every check at
    the same line, which every way from A to B passes, and is never taken in; lines where
    the split falls by chance (items of a list that happened to be in both copies) are.
    The slot holds as many lines as the region holds now."""
    edges = _slot_edges((*noise.learned, *learned))
    regions: set[Volatile] = set()
    budget = MAX_SLOT_WAYS  # a monitor that learned many slots must not cost a search
    for start, firsts in _slot_edges(learned).items():
        for first in firsts:
            ways: list[tuple[str, tuple[str, ...]]] = [(first, (first,))]
            while ways and budget > 0:
                node, via = ways.pop()
                for end in edges.get(node, set()) - {start, *via}:
                    budget -= 1
                    size = max(_span(ka, start, end), _span(kb, start, end))
                    if 0 < size <= MAX_SLOT_LINES and _detour(edges, start, end, set(via)):
                        regions.add(Volatile(SLOT, _line(start),
                                             f"{_line(end)}{SLOT_SIZE}{size}"))
                    if len(via) < MAX_SLOT_HOPS:
                        ways.append((end, (*via, end)))
    return regions


#: The page's top (a slot's start) and end (a slot's end) as distinct graph nodes.
_TOP, _BOTTOM = "\x00top", "\x00end"
#: Lines a way from a slot's start to its end may pass, in ``_regions``...
MAX_SLOT_HOPS = 4
#: ...and how many ways are tried in all.
MAX_SLOT_WAYS = 1_000


def _line(node: str) -> str:
    return "" if node in (_TOP, _BOTTOM) else node


def _slot_edges(facts: Iterable[Volatile]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for fact in facts:
        if fact.kind == SLOT:
            end = fact.what.rpartition(SLOT_SIZE)[0]
            edges.setdefault(fact.where or _TOP, set()).add(end or _BOTTOM)
    return edges


def _detour(edges: dict[str, set[str]], start: str, end: str, avoid: set[str]) -> bool:
    """A way from ``start`` to ``end`` through at least one line, and none of ``avoid``."""
    frontier = [n for n in edges.get(start, ()) if n not in avoid and n != end]
    seen = set(frontier)
    while frontier:
        for following in edges.get(frontier.pop(), ()):
            if following == end:
                return True
            if following not in avoid and following not in seen and following != start:
                seen.add(following)
                frontier.append(following)
    return False


def _span(keys: Sequence[str], start: str, end: str) -> int:
    """How many lines stand between ``start`` (or the page's top) and the first ``end``
    after it (or the page's end); -1 when either is missing."""
    first = -1 if start == _TOP else (keys.index(start) if start in keys else None)
    if first is None:
        return -1
    if end == _BOTTOM:
        return len(keys) - first - 1
    last = next((i for i in range(first + 1, len(keys)) if keys[i] == end), None)
    return -1 if last is None else last - first - 1


def _edits_among_moved_lines(ka: Sequence[str], kb: Sequence[str], shown: Counter[str],
                             noise: Noise) -> set[Volatile] | None:
    """Templates of the lines that differ, when the rest of the two copies is only moved
    (a footer shuffled at each request beside a poll): each line in one copy only pairs,
    in page order, with one in the other copy, after the same line. None otherwise."""
    only_a = [(i, key) for i, key in enumerate(ka) if shown[key] > 0]
    only_b = [(j, key) for j, key in enumerate(kb) if shown[key] < 0]
    if not only_a or len(only_a) != len(only_b) or len(set(ka)) != len(ka) \
            or len(set(kb)) != len(kb):
        return None
    learned: set[Volatile] = set()
    for (i, a), (j, b) in zip(only_a, only_b, strict=True):
        anchor = ka[i - 1] if i > 0 else ""
        template = line_template(a, b, items=True)
        if template is None or anchor != (kb[j - 1] if j > 0 else ""):
            return None
        learned.add(Volatile(LINE, anchor, _generalized(template,
                                                        noise.templates_after(anchor))))
    return learned


def _rotates(key: str, noise: Noise, shown: Counter[str]) -> bool:
    """Known to rotate, or shown more often in one copy than in the other."""
    return noise.rotates(key) or shown[key] != 0


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
    what they all share: each pair of copies shows some of the words that vary. Never
    where both fix other words at one place: those stood in each pair of copies, so they
    were edited between them (a deadline moved), and an edit is not noise."""
    for other in known:
        if _edited(other, template):
            continue
        merged = line_template(other, template)
        if merged is None:
            # Both are templates of the one line after this anchor, and each pair of
            # copies showed other words varying ("Most read: A, B, **" and "Most read: **
            # C"): together they vary in everything between the words they share.
            merged = _frame(other, template)
        if merged is not None:
            template = " ".join(w for i, w in enumerate(merged.split(" "))
                                if not (w == WILD_RUN and i and merged.split(" ")[i - 1]
                                        in (WILD, WILD_RUN)))
    return template


def _edited(a: str, b: str) -> bool:
    """Whether two templates of a line differ somewhere that neither leaves open: words
    that differ with no wildcard among them or right beside them, in either. Beside a
    run wildcard (a list sampled in the line) the words its copies kept were chance;
    away from it (a deadline after a counter of two words) they stood in each pair."""
    wa, wb = a.split(" "), b.split(" ")
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        near = (*wa[max(i1 - 1, 0):i2 + 1], *wb[max(j1 - 1, 0):j2 + 1])
        if tag != "equal" and not any(w in (WILD, WILD_RUN) for w in near):
            return True
    return False


def _frame(a: str, b: str) -> str | None:
    """The words two templates share at their start and end around one run wildcard, or
    None when those words say nothing (no word with a letter)."""
    wa, wb = a.split(" "), b.split(" ")
    prefix, suffix = common_ends(wa, wb)
    fixed = [*wa[:prefix], *wa[len(wa) - suffix:]]
    if not any(c.isalpha() for w in fixed if w not in (WILD, WILD_RUN) for c in w):
        return None
    return " ".join([*wa[:prefix], WILD_RUN, *wa[len(wa) - suffix:]])


def _pair(old: Sequence[str], new: Sequence[str]) -> list[str] | None:
    """Templates of a block whose lines changed one for one, else None (a slot)."""
    if len(old) != len(new):
        return None
    templates = []
    for a, b in zip(old, new, strict=True):
        template = line_template(a, b, items=True)
        if template is None:
            return None
        templates.append(template)
    return templates


def learn_links(a: Iterable[str], b: Iterable[str]) -> set[Volatile]:
    """Parameters whose values differ between two copies' links to one path: of the query,
    or of the path's last segment (``report.pdf;jsessionid=...``, named ``;jsessionid``)."""
    def by_path(urls: Iterable[str]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for url in urls:
            parts = urlsplit(url)
            path, matrix = path_parameters(parts.path)
            if parts.query or matrix:
                target = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
                found.setdefault(target, {
                    **dict(parse_qsl(parts.query, keep_blank_values=True)),
                    **{f"{MATRIX}{name}": value for name, value in matrix}})
        return found

    old, new = by_path(a), by_path(b)
    learned: set[Volatile] = set()
    for target in old.keys() & new.keys():
        for name in old[target].keys() & new[target].keys():
            if old[target][name] != new[target][name]:
                learned.add(Volatile(PARAM, link_scope(target), name))
    return learned


def learn_path_segments(a: Iterable[str], b: Iterable[str]) -> set[Volatile]:
    """Path segments that differ between two copies' links where the rest of each link is
    the same (``/s8f3a/docs/report.pdf`` and ``/s91c2/docs/report.pdf``): learned when at
    least two different links show it, so that two documents of one folder are never
    taken for one link whose name changes."""
    first, second = dict.fromkeys(a), dict.fromkeys(b)
    only_a = [url for url in first if url not in second]
    only_b = [url for url in second if url not in first]
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


def learn_link_order(a: Sequence[str], b: Sequence[str], noise: Noise = NO_NOISE,
                     lists_a: Iterable[Sequence[int]] = (),
                     lists_b: Iterable[Sequence[int]] = ()) -> set[Volatile]:
    """Links (comparable URLs, in document order) that differ between two copies; the
    links of one list (``lists_a``, ``lists_b``) as in ``learn_lines``."""
    kinds = {LINE: LINK, SLOT: LINK_SLOT, ROTATING: LINK_ROTATING}
    return {Volatile(kinds[v.kind], v.where, v.what)
            for v in learn_lines(a, b, noise.links, lists_a=lists_a, lists_b=lists_b)}


def learn_fields(where: str, a: dict[str, dict[str, str]], b: dict[str, dict[str, str]],
                 at_a: datetime | None = None, at_b: datetime | None = None,
                 templated: Iterable[str] = ()) -> set[Volatile]:
    """Fields whose values differ between two copies of the same records (by key). A
    ``templated`` field (text a person reads) learns the words around what differs, as a
    template of that value, so an edit of its other words still shows; it is volatile as
    a whole only when the two values share too few words to be versions of one text."""
    templated = frozenset(templated)
    learned: set[Volatile] = set()
    for key in a.keys() & b.keys():
        for name in a[key].keys() & b[key].keys():
            if a[key][name] == b[key][name]:
                continue
            before = mask_clocks(words(str(a[key][name])), at_a)
            after = mask_clocks(words(str(b[key][name])), at_b)
            if before == after:
                continue
            template = line_template(before, after) if name in templated else None
            learned.add(Volatile(FIELD, where, name if template is None
                                 else f"{name}{SLOT_SIZE}{template}"))
    return learned


#: Where a source's redirect target is learned (``Volatile.where``), and its field.
RESPONSE, FINAL_URL = "response", "final_url"
_URL_PARTS = re.compile(r"([/;=?&#])")


def url_words(url: str) -> str:
    """A URL as words (its parts between ``/ ; = ? & #``, with them), so that a template
    of it is a line template."""
    return " ".join(part for part in _URL_PARTS.split(url) if part)


def learn_final_url(a: str | None, b: str | None) -> set[Volatile]:
    """Where two copies fetched moments apart were redirected to different URLs: the part
    that differs changes by itself (a session in the path, ``;jsessionid=...``). Learned
    only when it lies within one path segment that is not the page's own name (a
    segment followed by the same path, or a part of a segment that starts the same), so
    that a template never matches another page of the site."""
    if not a or not b or a == b:
        return set()
    wa, wb = url_words(a).split(" "), url_words(b).split(" ")
    prefix, suffix = common_ends(wa, wb)
    if "/" in wa[prefix:len(wa) - suffix] or "/" in wb[prefix:len(wb) - suffix]:
        return set()
    inside_a_segment = prefix > 0 and wa[prefix - 1] != "/"
    if not inside_a_segment and "/" not in wa[len(wa) - suffix:]:
        return set()
    template = line_template(" ".join(wa), " ".join(wb))
    if template is None:
        return set()
    return {Volatile(FIELD, RESPONSE, f"{FINAL_URL}{SLOT_SIZE}{template}")}
