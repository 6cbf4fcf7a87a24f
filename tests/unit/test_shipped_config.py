"""The shipped ``config.yaml``: it validates, and it monitors what ``sources.csv`` says.

The source list lives in ``shared/sources.csv`` beside the clone (``<repo>/../shared``),
which CI provides read-only; the checks against it are skipped when it is absent.
No network is used.
"""

from __future__ import annotations

import csv
from collections import Counter
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from monitors import monitor_kinds
from pipeline.config import Config, load_config

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATH = REPO_ROOT / "config.yaml"
SOURCES_CSV = REPO_ROOT.parent / "shared" / "sources.csv"

MIN_ORGANIZATIONS = 15
MIN_MONITORS = 60
FEED_STATUSES = frozenset({"verified", "config", "pattern"})
FORBIDDEN_STATUSES = frozenset({"negative", "guess"})
CITED_KINDS = frozenset({"page", "pdf"})

# Official (non ``other-*``) rows of sources.csv that are deliberately not monitored.
EXCLUDED: dict[str, str] = {
    "https://www.caidp.org/resources/g7/": "cit. 11: third-party publisher (CAIDP, an NGO)",
    "https://g7g20-documents.org/database/document/2024-g7-italy-ministerial-meetings-"
    "science-and-technology-ministers-ministers-language-final-g7-digital-joint-ministerial-"
    "statement": "cit. 68: third-party G7/G20 Documents Database, not an official G7 site",
    "https://www.caidp.org/resources/g20/": "cit. 70: third-party publisher (CAIDP, an NGO)",
    "https://www.global-solutions-initiative.org/resources/g20-insights/": (
        "cit. 72: third-party publisher (Global Solutions Initiative / T20)"
    ),
    "https://arxiv.org/abs/2203.13357": "cit. 98: arXiv abstract page, an academic paper",
    "https://arxiv.org/abs/2401.03590": "cit. 99: arXiv abstract page, an academic paper",
    "https://unicri.it/taxonomy/term/112?combine=&page=3": (
        "cit. 14: page 3 of an unstable pager; page 0 is monitored, as the notes say"
    ),
    "https://documents.un.org/api/symbol/access?j=G2410322&t=doc": (
        "cit. 36: t=doc returns a binary Word file and no kind exists for it; "
        "the same document's PDF (t=pdf) is monitored instead"
    ),
    "https://search.worldbank.org/api/v3/wds?format=json&qterm=artificial%20intelligence"
    "&srt=docdt&order=desc&rows=20": (
        "World Bank Documents & Reports API returns JSON, not RSS/Atom; no JSON kind yet"
    ),
}

# Monitored URLs that are not a ``url`` of sources.csv, with where they come from.
ADDED: dict[str, str] = {
    "https://unicri.it/taxonomy/term/112": "cit. 14 page 0, named in the notes of cit. 14",
    "https://documents.un.org/api/symbol/access?j=G2410322&t=pdf": (
        "cit. 36 as PDF (t=pdf), the alternative its notes give"
    ),
    "https://unfccc.int/ttclear/misc_/StaticFiles/gnwoerk_static/Al4climateaction/"
    "28da5d97d7824d16b7f68a225c0e3493/a4553e8f70f74be3bc37c929b73d9974.pdf": (
        "cit. 19 raw 'Al' spelling, a disabled twin the notes ask to try too"
    ),
}


@cache
def shipped() -> Config:
    return load_config(CONFIG_PATH).config


def monitored_urls() -> set[str]:
    return {monitor.url for _, monitor in shipped().monitors()}


def source_rows() -> list[dict[str, str]]:
    if not SOURCES_CSV.is_file():
        pytest.skip(f"{SOURCES_CSV} not present (shared/ is not beside the clone)")
    with SOURCES_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def is_official(row: dict[str, str]) -> bool:
    return not row["org_id"].startswith("other-")


def is_dead(row: dict[str, str]) -> bool:
    return "DEAD LINK" in row["notes"]


def test_config_validates_and_is_large_enough() -> None:
    config = shipped()
    monitors = [monitor for _, monitor in config.monitors()]
    assert len(config.organizations) >= MIN_ORGANIZATIONS
    assert len(monitors) >= MIN_MONITORS
    assert config.database == "govwatch.db"
    assert config.defaults.every.total_seconds() == 6 * 3600


def test_kinds_urls_and_ids() -> None:
    config = shipped()
    kinds = set(monitor_kinds())
    monitors = [monitor for _, monitor in config.monitors()]
    for monitor in monitors:
        assert monitor.kind in kinds, monitor.id
        parts = urlsplit(monitor.url)
        assert parts.scheme in ("http", "https") and parts.netloc, monitor.id
        assert monitor.id == monitor.id.lower(), monitor.id
    for counter in (
        Counter(monitor.id for monitor in monitors),
        Counter(org.id for org in config.organizations),
        Counter(monitor.url for monitor in monitors),
    ):
        assert [key for key, n in counter.items() if n > 1] == []


def test_every_monitor_has_a_name_and_a_sane_schedule() -> None:
    for _, monitor in shipped().monitors():
        assert monitor.name, monitor.id
        assert monitor.every is not None
        assert 3600 <= monitor.every.total_seconds() <= 7 * 86400, monitor.id


def test_no_dead_negative_or_guessed_url_is_monitored() -> None:
    rows = source_rows()
    forbidden = {
        row["url"]: row["status"] if row["status"] in FORBIDDEN_STATUSES else "DEAD LINK"
        for row in rows
        if row["status"] in FORBIDDEN_STATUSES or is_dead(row)
    }
    assert forbidden, "sources.csv lists no dead, negative or guessed URL"
    assert {url: forbidden[url] for url in monitored_urls() & forbidden.keys()} == {}


def test_official_feeds_and_listings_are_monitored_or_excluded() -> None:
    wanted = {
        row["url"] for row in source_rows() if is_official(row) and row["status"] in FEED_STATUSES
    }
    missing = wanted - monitored_urls() - EXCLUDED.keys()
    assert sorted(missing) == []


def test_official_cited_sources_are_monitored_or_excluded() -> None:
    wanted = {
        row["url"]
        for row in source_rows()
        if is_official(row)
        and row["status"] == "cited"
        and row["kind"] in CITED_KINDS
        and not is_dead(row)
    }
    missing = wanted - monitored_urls() - EXCLUDED.keys()
    assert sorted(missing) == []


def test_no_non_official_source_is_monitored() -> None:
    unofficial = {row["url"] for row in source_rows() if not is_official(row)}
    assert sorted(monitored_urls() & unofficial) == []


def test_exclusions_and_additions_are_current() -> None:
    """Each EXCLUDED url is a csv row left out; each monitored url is in the csv or ADDED."""
    csv_urls = {row["url"] for row in source_rows()}
    urls = monitored_urls()
    assert sorted(EXCLUDED.keys() - csv_urls) == []
    assert sorted(EXCLUDED.keys() & urls) == []
    assert sorted(ADDED.keys() & csv_urls) == []
    assert sorted(urls - csv_urls - ADDED.keys()) == []
    assert sorted(ADDED.keys() - urls) == []
