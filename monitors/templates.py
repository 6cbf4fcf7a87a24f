"""What an organization's pages on one host share: the site's template, learned.

A line or a link that appears on at least two of an organization's pages on the same
host belongs to the site (header, navigation, footer, sidebars), not to one page's own
content. Nothing here knows a tag or a word: a template is what the pages have in common.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from monitors.normalize import normalize_url
from monitors.volatility import words

#: A line or link on this many of the organization's pages on one host is its template.
SHARED_BY = 2


@dataclass(frozen=True, slots=True)
class PageContent:
    """One page monitor's latest stored content, as the template learning sees it."""

    url: str
    lines: Sequence[str]
    links: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class SiteTemplate:
    lines: frozenset[str] = field(default_factory=frozenset)
    links: frozenset[str] = field(default_factory=frozenset)


NO_TEMPLATE = SiteTemplate()


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def shared(pages: Iterable[PageContent], by: int = SHARED_BY) -> SiteTemplate:
    """Lines (word-folded) and links (normalized) on at least ``by`` of ``pages``; one
    page alone shares nothing.

    Lines and links are counted as the pages give them (extraction folded the lines'
    whitespace already), and only those shared are folded or normalized, not the hundreds
    of each page's own content: two spellings of one link count apart, which can only
    leave a link out of the template, never put one in."""
    line_counts: Counter[str] = Counter()
    link_counts: Counter[str] = Counter()
    for page in pages:
        line_counts.update(set(page.lines))
        link_counts.update(set(page.links))
    least = max(by, 2)
    lines = (words(k) for k, n in line_counts.items() if n >= least)
    return SiteTemplate(
        lines=frozenset(line for line in lines if line),
        links=frozenset(normalize_url(k) for k, n in link_counts.items() if n >= least),
    )


def site_templates(pages: Iterable[tuple[str, PageContent]]
                   ) -> dict[tuple[str, str], SiteTemplate]:
    """Each (organization, host)'s template from ``(org_id, page)`` pairs; only pages on
    the same host of the same organization are compared."""
    groups: dict[tuple[str, str], list[PageContent]] = {}
    for org_id, page in pages:
        groups.setdefault((org_id, host_of(page.url)), []).append(page)
    return {key: shared(group) for key, group in groups.items() if len(group) >= SHARED_BY}
