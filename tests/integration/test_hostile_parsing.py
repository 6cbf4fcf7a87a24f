"""Every parse is bounded, whatever the kind and however small the cycle: a page or feed
that would take its parser minutes is stopped at ``parse_timeout``.

A cycle of a few monitors has no worker pool, yet each body is parsed in a worker process
that can be stopped: in the main process a parser that runs for minutes would hold the
event loop, the other monitors and the run's lock. The bodies here are small enough to
fetch (under ``max_bytes``) and slow to read:

- a page with one element of 500,000 attributes (4 MB): lexbor's cost grows with the
  square of one element's attributes (40,000 took 2.7 s, this one minutes);
- a feed of a million unclosed elements (3 MB): feedparser, in pure Python, took 35 s;
- a page whose copies alternate between two kinds of line (32 kB): learning what differs
  between two copies took difflib 144 s, and looking for recurring edits between two
  versions over two minutes.

Each cycle is bounded (60 s) and the normal page and feed beside the hostile source are
recorded as usual. No PDF is among them: a PDF starts a worker, which the other bodies of
its cycle would then use too, and here no body may find a worker it did not ask for.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.cycle import run_cycle, select_monitors
from storage.db import Store
from storage.records import CONFIRM
from tests.integration.conftest import Site, within
from tests.integration.hostile_server import (
    Behaviour,
    Connection,
    HostileServer,
    hostile_server,
    respond,
)
from tests.integration.hostile_support import (
    CYCLE_BOUND,
    NORMAL_FEED,
    NORMAL_PAGE,
    Cycle,
    make_config,
)

pytestmark = pytest.mark.integration
#: Far below the minutes these bodies take, far above what the normal monitors beside them
#: take in a worker on a loaded machine.
DEADLINE = "5s"


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with hostile_server() as server:
        yield server


async def run_with_others(
    store: Store, site: Site, monitors: list[dict[str, Any]], **defaults: Any
) -> Cycle:
    """One cycle of ``monitors`` beside a normal page and feed, which it checks."""
    site.set("/ok/page.html", NORMAL_PAGE)
    site.set("/ok/feed.xml", NORMAL_FEED, content_type="application/rss+xml")
    normal = [{"id": "ok-page", "kind": "page", "url": site.url("/ok/page.html")},
              {"id": "ok-feed", "kind": "feed", "url": site.url("/ok/feed.xml")}]
    config = make_config([*monitors, *normal], **defaults)
    store.sync_monitors(config.organizations)
    report = await within(
        run_cycle(config, store, select_monitors(config, store, run_all=True)),
        "a cycle beside a body that parses for minutes", CYCLE_BOUND)
    cycle = Cycle(report, store)
    for monitor_id in ("ok-page", "ok-feed"):
        row = cycle.row(monitor_id)
        assert row["error"] is None and row["outcome"] in ("new", "not-modified"), row
    if cycle.outcome("ok-page") == "new":
        assert "The normal page of this cycle." in cycle.content("ok-page").text
        assert [e["title"] for e in cycle.content("ok-feed").data["entries"]] == [
            "First notice"]
    return cycle


def attribute_page(attributes: int = 500_000) -> bytes:
    names = " ".join(f"a{n}=1" for n in range(attributes))
    return f"<html><body><div {names}>One element</div></body></html>".encode()


def unclosed_feed(elements: int = 1_000_000) -> bytes:
    return (b"<rss version='2.0'><channel><title>Deep</title><item><title>t</title>"
            + b"<x>" * elements)


def alternating_page(copy: int, lines: int = 4000) -> bytes:
    """Lines of "a" and "b", in an order that differs from one copy to the next."""
    def letter(n: int) -> str:
        return "ab"[(n * copy + n // 7 if copy < 3 else n // copy) % 2]

    shown = "".join(f"<p>{letter(n)}</p>" for n in range(lines))
    return f"<html><body>{shown}</body></html>".encode()


def each_time_another() -> Behaviour:
    """``alternating_page``, another copy on every request."""
    counter = itertools.count(1)

    def behave(conn: Connection) -> None:
        body = alternating_page(next(counter))
        respond(body)(conn)
    return behave


@pytest.mark.parametrize(("kind", "path", "body", "content_type"), [
    ("page", "/attributes.html", attribute_page(), "text/html; charset=utf-8"),
    ("feed", "/unclosed.xml", unclosed_feed(), "application/rss+xml"),
], ids=["page-500k-attributes", "feed-1m-unclosed-elements"])
async def test_a_body_that_parses_for_minutes_is_stopped_at_parse_timeout(
    hostile: HostileServer, site: Site, store: Store, kind: str, path: str, body: bytes,
    content_type: str,
) -> None:
    url = hostile.route(path, respond(body, content_type=content_type))
    cycle = await run_with_others(store, site, [{"id": "slow", "kind": kind, "url": url}],
                                  parse_timeout=DEADLINE)

    assert cycle.outcome("slow") == "error"
    assert cycle.error("slow") == (
        f"ExtractError: parsing the {kind} {url} took longer than parse_timeout "
        f"({DEADLINE}); it was stopped")
    assert cycle.body("slow") == body  # the evidence is kept
    # The killed worker was replaced: the next cycle parses again.
    again = await run_with_others(store, site, [], parse_timeout=DEADLINE)
    assert again.outcome("ok-page") in ("new", "not-modified")


async def test_learning_from_two_copies_is_stopped_at_parse_timeout(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    url = hostile.route("/alternating.html", each_time_another())
    cycle = await run_with_others(store, site, [{"id": "flip", "kind": "page", "url": url}],
                                  parse_timeout=DEADLINE)

    # The check itself is recorded; only the confirming copy, which could not be
    # compared with it in time, is unusable.
    assert cycle.outcome("flip") == "new"
    assert cycle.content("flip").text.splitlines()[:3] == ["a", "b", "a"]
    copies = list(store.db.query(
        "SELECT note FROM checks WHERE monitor_id = 'flip' AND outcome = ?", [CONFIRM]))
    assert copies == [{"note": "confirming copy unusable: Overrun"}]

    # The next check compares another copy with the stored one. Looking for slow noise
    # in the two took difflib minutes; a change that adds and removes thousands of lines
    # is no stamp, and is not read for one: the check is recorded within the deadline.
    again = await run_with_others(store, site, [{"id": "flip", "kind": "page", "url": url}],
                                  parse_timeout=DEADLINE)
    assert again.outcome("flip") in ("changed", "unchanged")
    assert again.content("flip").text.count("\n") == 3999


async def test_markup_of_unclosed_tags_is_scanned_in_linear_time(
    hostile: HostileServer, site: Site, store: Store
) -> None:
    # 100,000 "<a " and no ">": the depth scan searched the rest of the text for each
    # one (60 kB took 17 s). The deadline is far above what the scan now takes.
    body = b"<html><body><p>Before the tags</p>" + b"<a " * 100_000
    url = hostile.route("/unclosed.html", respond(body))
    cycle = await run_with_others(store, site, [{"id": "open", "kind": "page", "url": url}],
                                  parse_timeout="30s")

    assert cycle.outcome("open") == "new"
    assert cycle.content("open").text.splitlines()[0] == "Before the tags"
