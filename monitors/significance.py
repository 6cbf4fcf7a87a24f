"""How much a change should matter to a reader: a score in [0, 1] with its reasons.

Pure and deliberately simple, so a reader can predict it: each kind of evidence sets a
floor, the amount of changed text adds to it, and changes confined to site furniture
(header, navigation, footer) are capped low.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Floors per kind of evidence: a new document or a page disappearing outranks any edit.
NEW_DOCUMENT = 0.8
NEW_ENTRY = 0.8
STATUS_FLIP = 0.9
LINKS_CHANGED = 0.5
UPDATED_ENTRY = 0.4
REMOVED_ENTRY = 0.3
METADATA_ONLY = 0.2
TEMPLATE_ONLY_CAP = 0.15
TEXT_BASE = 0.2


@dataclass
class Evidence:
    """Facts about a change, gathered by a kind's compare; scored by :func:`score`."""

    lines_changed: int = 0
    lines_total: int = 0
    #: How much text changed, in lines (``edit_size``); ``lines_changed`` when None.
    edit_size: float | None = None
    links_added: int = 0
    links_removed: int = 0
    documents: int = 0
    entries_added: int = 0
    entries_updated: int = 0
    entries_removed: int = 0
    template_only: bool = False
    metadata_only: bool = False
    status: str | None = None
    notes: list[str] = field(default_factory=list)


def score(evidence: Evidence) -> tuple[float, tuple[str, ...]]:
    floor = 0.0
    reasons: list[str] = []
    if evidence.status:
        floor = max(floor, STATUS_FLIP)
        reasons.append(f"status: {evidence.status}")
    if evidence.documents:
        floor = max(floor, NEW_DOCUMENT)
        reasons.append(f"{evidence.documents} new document(s)")
    if evidence.entries_added:
        floor = max(floor, NEW_ENTRY)
        reasons.append(f"{evidence.entries_added} new entr{_plural(evidence.entries_added)}")
    if evidence.entries_updated:
        floor = max(floor, UPDATED_ENTRY)
        reasons.append(f"{evidence.entries_updated} entr{_plural(evidence.entries_updated)} "
                       "updated")
    if evidence.entries_removed:
        floor = max(floor, REMOVED_ENTRY)
        reasons.append(f"{evidence.entries_removed} entr{_plural(evidence.entries_removed)} "
                       "removed")
    if evidence.links_added or evidence.links_removed:
        floor = max(floor, LINKS_CHANGED)
        reasons.append(f"links: {evidence.links_added} added, {evidence.links_removed} removed")
    if evidence.metadata_only:
        floor = max(floor, METADATA_ONLY)
        reasons.append("metadata only")
    text_share = 0.0
    if evidence.lines_changed:
        size = evidence.lines_changed if evidence.edit_size is None else evidence.edit_size
        share = size / max(evidence.lines_total, 1)
        text_share = min(1.0, TEXT_BASE + share)
        reasons.append(f"{evidence.lines_changed} line(s) changed ({share:.0%} of the text)")
    value = max(floor, text_share)
    if evidence.template_only and not (evidence.status or evidence.documents):
        value = min(value, TEMPLATE_ONLY_CAP)
        reasons.append("only in template regions (header, navigation, footer)")
    reasons.extend(evidence.notes)
    return round(min(1.0, value), 3), tuple(reasons)


#: Longer pairs of lines are not weighed word by word (the words of a 20 MB paragraph).
MAX_WEIGHED_CHARS = 40_000


def edit_size(runs: Iterable[tuple[Sequence[str], Sequence[str]]]) -> float:
    """How many lines' worth of text changed, over runs of (removed, added) lines.

    A line added or removed counts whole; a line edited (the removed and added lines at
    the same place of a run sharing at least half their words, on average) counts the
    share of its words that changed. A view counter ticking changes half of
    "1,204 views"; a caption removed is a whole line."""
    size = 0.0
    for removed, added in runs:
        size += abs(len(removed) - len(added))
        for old, new in zip(removed, added, strict=False):
            if len(old) + len(new) > MAX_WEIGHED_CHARS:
                size += 2.0  # a paragraph the size of a document counts whole
                continue
            a, b = Counter(old.split()), Counter(new.split())
            total, common = a.total() + b.total(), (a & b).total()
            size += (total - 2 * common) / total if total and common * 4 >= total else 2.0
    return size


def _plural(count: int) -> str:
    return "y" if count == 1 else "ies"
