"""Politeness against real local servers: per-host limit, spacing, robots.txt, User-Agent."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime

import pytest

from pipeline import VERSION
from pipeline.config import Config, parse_config
from storage.db import Store
from tests.conftest import QUICK_CONFIRM
from tests.integration.cycle_support import cycle
from tests.integration.opsite import OpSite, serving

pytestmark = pytest.mark.integration


@pytest.fixture
def site() -> Iterator[OpSite]:
    with serving() as running:
        yield running


@pytest.fixture
def other() -> Iterator[OpSite]:
    with serving() as running:
        yield running


def config(defaults: str, monitors: list[str]) -> Config:
    lines = "".join(f"      - {m}\n" for m in monitors)
    return parse_config(f"defaults: {{confirm_pause: {QUICK_CONFIRM}, {defaults}}}\n"
                        f"organizations:\n  - id: o\n    name: O\n    monitors:\n{lines}")


async def test_per_host_limit_holds_per_host_not_globally(
    site: OpSite, other: OpSite, store: Store
) -> None:
    # Each answer waits until as many requests as the host's limit are in flight: the
    # limit is reached whatever the machine's speed, and never passed unless it is broken.
    for host, limit in ((site, 2), (other, 3)):
        for i in range(6):
            host.set(f"/p{i}", f"<p>{i}</p>", gather=limit)
    cfg = config("per_host: 2, concurrency: 32", [
        *(f"{{id: a{i}, kind: page, url: '{site.url(f'/p{i}')}'}}" for i in range(6)),
        *(f"{{id: b{i}, kind: page, url: '{other.url(f'/p{i}')}', per_host: 3}}"
          for i in range(6)),
    ])
    report = await cycle(cfg, store)
    assert report.counts["new"] == 12
    assert site.max_in_flight == 2
    assert other.max_in_flight == 3, "a monitor's own per_host applies to its host"


async def test_host_delay_spaces_request_starts(site: OpSite, store: Store) -> None:
    for i in range(4):
        site.set(f"/p{i}", f"<p>{i}</p>")
    cfg = config("per_host: 4, host_delay: 0s", [
        *(f"{{id: a{i}, kind: page, url: '{site.url(f'/p{i}')}', robots: false}}"
          for i in range(3)),
        f"{{id: a3, kind: page, url: '{site.url('/p3')}', robots: false, host_delay: 0.4s}}",
    ])
    report = await cycle(cfg, store)
    assert len(site.hits()) == 8, "each first check, and its confirming copy"
    # When each request was let go, as the fetcher recorded it (the server's arrival
    # times would add the machine's scheduling jitter to the gaps).
    starts = sorted(datetime.fromisoformat(str(row["started_at"])) for row in store.db.query(
        "SELECT started_at FROM checks WHERE id IN ({})".format(
            ",".join(str(check.check_id) for check in report.checks))))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3 and min(gaps) >= 0.399, \
        f"the host's longest host_delay applies to all: {gaps}"


async def test_robots_disallow_is_obeyed_and_cached(site: OpSite, store: Store) -> None:
    site.set("/robots.txt", "User-agent: *\nDisallow: /private\n", content_type="text/plain")
    for path in ("/private/report", "/public", "/news"):
        site.set(path, "<p>content</p>")
    cfg = config("per_host: 2", [
        f"{{id: secret, kind: page, url: '{site.url('/private/report')}'}}",
        f"{{id: public, kind: page, url: '{site.url('/public')}'}}",
        f"{{id: news, kind: page, url: '{site.url('/news')}'}}",
        f"{{id: optout, kind: page, url: '{site.url('/private/report')}', robots: false}}",
    ])
    report = await cycle(cfg, store)
    outcomes = {c.monitor_id: (c.outcome, c.error) for c in report.checks}
    assert outcomes["public"] == ("new", None) and outcomes["news"] == ("new", None)
    assert outcomes["optout"] == ("new", None), "robots: false opts out"
    outcome, error = outcomes["secret"]
    assert outcome == "error"
    assert error == (f"RobotsDisallowed: robots.txt at {site.url('/robots.txt')} disallows "
                     f"{site.url('/private/report')} for govwatch; not fetched")
    assert site.count("/private/report") == 2, \
        "only the opted-out monitor fetched it (its first check, and the confirming copy)"
    assert site.count("/robots.txt") == 1, "fetched once per host per run"

    await cycle(cfg, store)  # a new run: robots.txt comes from the database cache
    assert site.count("/robots.txt") == 1
    assert site.count("/private/report") == 3, "the opted-out monitor, once"
    row = store.db.table("robots").get(f"http://127.0.0.1:{site.base_url.rsplit(':', 1)[1]}")
    assert row["status"] == 200 and "Disallow: /private" in row["body"]


async def test_robots_5xx_disallows_but_4xx_allows(site: OpSite, other: OpSite,
                                                   store: Store) -> None:
    site.set("/robots.txt", "down", status=503)
    site.set("/page", "<p>x</p>")
    other.set("/page", "<p>y</p>")  # no robots.txt at all: 404
    cfg = config("per_host: 2", [
        f"{{id: a, kind: page, url: '{site.url('/page')}'}}",
        f"{{id: b, kind: page, url: '{other.url('/page')}'}}",
    ])
    report = await cycle(cfg, store)
    outcomes = {c.monitor_id: c for c in report.checks}
    assert outcomes["b"].outcome == "new"
    assert outcomes["a"].outcome == "error" and "answered HTTP 503" in (outcomes["a"].error or "")
    assert site.count("/page") == 0


async def test_user_agent_carries_the_contact(site: OpSite, store: Store) -> None:
    site.set("/page", "<p>x</p>")
    cfg = config("contact: 'https://example.org/govwatch-operator'",
                 [f"{{id: a, kind: page, url: '{site.url('/page')}'}}"])
    await cycle(cfg, store)
    agents = {hit.user_agent for hit in site.hits()}
    assert agents == {f"govwatch/{VERSION} (+https://example.org/govwatch-operator)"}
    assert {hit.path for hit in site.hits()} == {"/robots.txt", "/page"}
