"""What a rendered page costs the plain pages of the same run: neither their turn nor CPU.

A plain page with a change is judged with its site's other pages once they are all
fetched (``pipeline.templates``); a rendered page is not one of them, or every plain
change of the host would wait for the browser. And a run's rendered pages start once its
plain checks have ended (``pipeline.cycle.PlainFirst``), so that the browser's CPU does
not slow them down.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import Config, parse_config
from pipeline.cycle import CheckReport, run_cycle, select_monitors
from storage.db import Store
from tests.integration.conftest import Hold, Site, within
from tests.integration.jsapp_support import grants, needs_browser, serve_app

pytestmark = pytest.mark.integration


def make_config(monitors: list[dict[str, Any]], defaults: dict[str, Any] | None = None,
                **top: Any) -> Config:
    document = {
        "defaults": {"every": "1h", "timeout": "20s", **(defaults or {})},
        "organizations": [{"id": "ministry", "name": "Ministry", "monitors": monitors}],
        **top,
    }
    return parse_config(json.dumps(document), "test-config.yaml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "govwatch.db") as opened:
        yield opened


def notice(n: int, subject: str) -> str:
    return (f"<html><head><title>Notice {n}</title></head><body><main><h1>Notice {n}</h1>"
            f"<p>The ministry publishes notice {n} about {subject}, with the decision and "
            "its reasons, for anyone to read.</p></main></body></html>")


def monitors(site: Site, app_url: str) -> list[dict[str, Any]]:
    plain = [{"id": f"notice{n}", "kind": "page", "url": site.url(f"/notice{n}.html")}
             for n in (1, 2, 3)]
    return [*plain, {"id": "app", "kind": "page", "url": app_url, "render": "browser"}]


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.05)


@needs_browser
async def test_plain_pages_do_not_wait_for_a_rendered_page_of_their_site(
    site: Site, store: Store
) -> None:
    """notice1 changes, and the rendered page of the same host is held mid-render: the
    change is judged and recorded without waiting for it; and the rendered page started
    only once every plain check had ended."""
    for n in (1, 2, 3):
        site.set(f"/notice{n}.html", notice(n, "the water board"))
    config = make_config(monitors(site, serve_app(site, grants(100))))
    store.sync_monitors(config.organizations)
    first = await run_cycle(config, store, select_monitors(config, store, run_all=True))
    assert {c.outcome for c in first.checks} == {"new"}, first.checks

    site.set("/notice1.html", notice(1, "the school meals programme"))
    held = Hold(json.dumps(grants(100)), content_type="application/json")
    site.route("/api/grants.json", held.handle)
    app_fetched_before = site.hits("/app.html")
    app_seen_by_plain: dict[str, int] = {}
    recorded = asyncio.Event()

    def on_check(report: CheckReport) -> None:
        if report.monitor_id.startswith("notice"):  # what the app had asked for by then
            app_seen_by_plain[report.monitor_id] = site.hits("/app.html") - app_fetched_before
        if report.monitor_id == "notice1":
            recorded.set()

    running = asyncio.ensure_future(run_cycle(
        config, store, select_monitors(config, store, run_all=True), on_check=on_check))
    try:
        await within(recorded.wait(), "notice1 recorded while the rendered page waits")
        await within(until(lambda: held.arrived >= 1), "the rendered page asks for its data")
        assert held.answered == 0  # the page is in the browser, notice1 was judged
    finally:
        held.release()
        report = await within(running, "the cycle ends once the page is answered")
    checks = {c.monitor_id: c for c in report.checks}
    assert checks["notice1"].outcome == "changed" and checks["notice1"].change_id is not None
    assert (checks["app"].outcome, checks["app"].error) == ("unchanged", None)
    # The rendered page started once every plain check had ended.
    assert app_seen_by_plain == {"notice1": 0, "notice2": 0, "notice3": 0}
    assert site.hits("/app.html") > app_fetched_before


async def test_waiting_rendered_checks_hold_nothing_the_plain_pages_need(
    site: Site, store: Store, tmp_path: Path
) -> None:
    """Rendered monitors listed first, one fetch at a time (``concurrency`` and
    ``per_host`` 1): while they wait for their turn they hold no fetch or host slot (else
    this run would never end), and every plain page is recorded before a rendered page is
    even fetched. No browser is needed: without one the rendered checks fail once they
    start, after the plain ones."""
    for n in (1, 2, 3, 4):
        site.set(f"/notice{n}.html", notice(n, "the water board"))
    for n in (1, 2):
        site.set(f"/app{n}.html", "<html><body><div id='root'></div></body></html>")
    rendered = [{"id": f"app{n}", "kind": "page", "url": site.url(f"/app{n}.html"),
                 "render": "browser"} for n in (1, 2)]
    plain = [{"id": f"notice{n}", "kind": "page", "url": site.url(f"/notice{n}.html")}
             for n in (1, 2, 3, 4)]
    config = make_config([*rendered, *plain], {"concurrency": 1, "per_host": 1},
                         browser={"executable": str(tmp_path / "no-such-chromium")})
    store.sync_monitors(config.organizations)
    recorded: list[tuple[str, int]] = []  # each check as recorded: the app pages fetched by then

    def on_check(report: CheckReport) -> None:
        recorded.append((report.monitor_id, site.hits("/app1.html") + site.hits("/app2.html")))

    report = await within(
        run_cycle(config, store, select_monitors(config, store, run_all=True),
                  on_check=on_check),
        "the run ends: the waiting rendered checks hold no slot")

    order = [monitor_id for monitor_id, _ in recorded]
    assert sorted(order[:4]) == ["notice1", "notice2", "notice3", "notice4"], order
    assert sorted(order[4:]) == ["app1", "app2"], order
    assert [fetched for _, fetched in recorded[:4]] == [0, 0, 0, 0]
    checks = {c.monitor_id: c for c in report.checks}
    assert {checks[f"notice{n}"].outcome for n in (1, 2, 3, 4)} == {"new"}
    assert {checks[f"app{n}"].outcome for n in (1, 2)} == {"error"}
    assert all((checks[f"app{n}"].error or "").startswith("RenderFailed: no browser")
               for n in (1, 2))
