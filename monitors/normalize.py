"""Pure normalization applied before comparing: what a reader would not call a change.

Everything here maps values to values and is tested with tables of cases
(tests/unit/cases/normalize.yaml).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from monitors.clocks import differing_zones
from monitors.volatility import NO_NOISE, Noise, shared_lines

# Site furniture by what HTML says it is (not by class names): a change only there is a
# template change. What an organization's pages share is learned on top of this.
TEMPLATE_SELECTORS = (
    "header, nav, footer, [role=banner], [role=navigation], [role=contentinfo]"
)


# A link w3lib would give back unchanged: lower-case host, a valid port, a path of
# characters it never escapes, no dot segment, no query, fragment or ";" session.
_CANONICAL_ALREADY = re.compile(
    r"https?://([a-z0-9.-]+)(?::(0|[1-9][0-9]{0,4}))?(/[A-Za-z0-9._~!$&'()*+,=:@/-]*)?\Z")


@lru_cache(maxsize=8192)
def normalize_url(url: str) -> str:
    """Canonical form of a link: no fragment, sorted query, escaped as w3lib does."""
    simple = _CANONICAL_ALREADY.match(url)
    if (simple is not None and "/." not in url and int(simple.group(2) or 0) <= 65535
            and not _numeric_host(simple.group(1))):
        # Most links of official sites; w3lib takes 30 us for each (tested to agree).
        return url if simple.group(3) else url + "/"
    return _canonical(url)


# An IPv4 address as URL parsers write it back: four decimal parts, no leading zero.
_DOTTED_QUAD = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                          r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\Z")


def _numeric_host(host: str) -> bool:
    """A host whose last label is a number, which URL parsers read as an IPv4 address
    (``0`` is ``0.0.0.0``, ``127.1`` is ``127.0.0.1``): w3lib says how to write it,
    unless it is written that way already."""
    last = host.rstrip(".").rpartition(".")[2]
    return (last.isdigit() or last.startswith("0x")) and _DOTTED_QUAD.match(host) is None


def _canonical(url: str) -> str:
    from w3lib.url import canonicalize_url  # 25 ms to import, needed once links are read

    try:
        cleaned = urlunsplit(urlsplit(url.strip())._replace(fragment=""))
        return canonicalize_url(cleaned)
    except ValueError:  # a port that is not a number, or out of range: keep it as written
        return url.strip()


def apply_ignores(line: str, patterns: Sequence[re.Pattern[str]]) -> str:
    for pattern in patterns:
        line = pattern.sub("", line)
    return line.strip()


@dataclass(frozen=True, slots=True)
class ComparablePair:
    """Both versions' lines as ``(key, original)``: lines with equal keys are equal."""

    old: list[tuple[str, str]]
    new: list[tuple[str, str]]

    def same_lines(self) -> bool:
        """The same lines, in any order: a reordering is not a change."""
        return sorted(k for k, _ in self.old) == sorted(k for k, _ in self.new)


def comparable_pair(
    old: Sequence[str], new: Sequence[str], *, noise: Noise = NO_NOISE,
    old_at: datetime | None = None, new_at: datetime | None = None,
    removed: Iterable[str] = (), new_removed: Iterable[str] | None = None,
    ignore: Sequence[re.Pattern[str]] = (),
    content: Collection[str] = frozenset(),
) -> ComparablePair:
    """Both versions' comparable lines: ``removed`` lines (regions the user ignores; for
    the new version ``new_removed`` when given) left out once each, ``ignore`` patterns
    applied, then what ``noise`` knows of the source (its learned volatile lines and
    slots, and each side's clocks). Lines in ``content`` (by their words: the titles of
    documents added or withdrawn) are never covered by a slot or a rotating list."""
    removed = tuple(removed)
    old_kept = _kept(old, removed, ignore)
    new_kept = _kept(new, removed if new_removed is None else new_removed, ignore)
    shared = shared_lines((c for c, _ in old_kept), (c for c, _ in new_kept))
    zones = differing_zones([c for c, _ in old_kept], [c for c, _ in new_kept], shared,
                            old_at, new_at)
    before = _keyed(old_kept, noise, old_at, shared, zones)
    after = _keyed(new_kept, noise, new_at, shared, zones)
    # A learned slot covers whatever stands in its place; a line it covers on one side
    # that the other side shows as content is content on both (a footer line that moved
    # into the slot's place), never noise on one side only.
    shown_before = {key for key, _, in_slot in before if not in_slot} | set(content)
    shown_after = {key for key, _, in_slot in after if not in_slot} | set(content)
    return ComparablePair(
        [(key, line) for key, line, in_slot in before if not in_slot or key in shown_after],
        [(key, line) for key, line, in_slot in after if not in_slot or key in shown_before])


def _kept(lines: Sequence[str], removed: Iterable[str], ignore: Sequence[re.Pattern[str]]
          ) -> list[tuple[str, str]]:
    """(cleaned, original) per line that counts: ``removed`` lines left out once each,
    ``ignore`` patterns applied."""
    to_drop = Counter(removed)
    kept: list[str] = []
    for line in lines:
        if to_drop[line] > 0:
            to_drop[line] -= 1
            continue
        kept.append(line)
    return [(apply_ignores(line, ignore) if ignore else line, line) for line in kept]


def _keyed(kept: list[tuple[str, str]], noise: Noise, at: datetime | None,
           shared: frozenset[str], zones: frozenset[timedelta] | None
           ) -> list[tuple[str, str, bool]]:
    originals = dict(kept)
    keyed = noise.keyed([cleaned for cleaned, _ in kept], at, shared, zones=zones)
    return [(key, originals.get(line, line), in_slot) for key, line, in_slot in keyed]


def compile_ignores(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)
