"""``render: browser``: pages built by JavaScript, rendered in the system's Chromium.

A real app on the test site (tests/integration/jsapp_support.py) builds its page from a
JSON endpoint the test changes between cycles; real cycles render it in a real browser
and record into a real SQLite file. Nothing of govwatch is mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pipeline.config import Config, parse_config
from pipeline.fetch.browser import OWNER_ENV
from storage.db import Store
from tests.integration.conftest import Hold, Site, within
from tests.integration.cycle_support import cycle
from tests.integration.jsapp_support import (
    APP,
    RESTLESS,
    SHELL,
    grants,
    needs_browser,
    serve_app,
    set_data,
)

pytestmark = pytest.mark.integration


def make_config(monitors: list[dict[str, Any]], **top: Any) -> Config:
    document = {
        "defaults": {"every": "1h", "timeout": "20s"},
        "organizations": [{"id": "ministry", "name": "Ministry", "monitors": monitors}],
        **top,
    }
    return parse_config(json.dumps(document), "test-config.yaml")


def row(store: Store, sql: str, params: list[Any]) -> dict[str, Any]:
    rows = list(store.db.query(sql, params))
    assert len(rows) == 1, f"{sql} {params}: {len(rows)} rows"
    return rows[0]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "govwatch.db") as opened:
        yield opened


@needs_browser
async def test_first_cycle_records_the_rendered_text(site: Any, store: Store) -> None:
    url = serve_app(site, grants(100))
    config = make_config([{"id": "grants", "kind": "page", "url": url, "render": "browser"}])

    report = await cycle(config, store)

    [check] = report.checks
    assert (check.outcome, check.error) == ("new", None)
    stored = row(store, "SELECT * FROM checks WHERE id = ?", [check.check_id])
    content = store.load_content(stored["content_hash"])
    assert "Water board: 100 EUR" in content.text
    assert "School meals: 40 EUR" in content.text
    assert content.data["title"] == "Grants register"
    assert [site.url("/grants/1"), "Water board: 100 EUR"] in content.data["links"]
    # Both bodies are in the audit trail: the DOM that was compared, the HTML served.
    dom = store.load_body(stored["snapshot_hash"]).decode()
    served = store.load_body(stored["served_snapshot_hash"]).decode()
    assert "Water board: 100 EUR" in dom and "Water board" not in served
    assert '<div id="root"></div>' in served
    # Each render (the check, and the confirming copy of a first check) fetched the
    # document once, by govwatch, and its data once, by the page; no image.
    renders = int(store.db.execute("SELECT count(*) FROM checks").fetchone()[0])
    assert renders == 2
    assert site.hits("/app.html") == site.hits("/api/grants.json") == renders
    assert site.hits("/logo.png") == 0


@needs_browser
async def test_cycles_learn_the_apps_noise_and_report_a_changed_value(
    site: Any, store: Store
) -> None:
    url = serve_app(site, grants(100))
    config = make_config([{"id": "grants", "kind": "page", "url": url, "render": "browser"}])
    await cycle(config, store)

    # Unchanged data: every render has another session id and time, which a confirming
    # copy (rendered again) shows to change by themselves.
    second = (await cycle(config, store)).checks[0]
    assert second.outcome == "unchanged" and second.change_id is None
    learned = [r["what"] for r in store.db.query(
        "SELECT what FROM volatility WHERE monitor_id = 'grants'")]
    assert learned, "nothing learned from the confirming copy"
    assert site.hits("/api/grants.json") >= 3  # the copy was rendered, not re-read

    third = (await cycle(config, store)).checks[0]
    assert third.outcome == "unchanged" and third.change_id is None

    set_data(site, grants(250))
    changed = (await cycle(config, store)).checks[0]
    assert changed.outcome == "changed" and changed.change_id is not None
    change = row(store, "SELECT * FROM changes WHERE id = ?", [changed.change_id])
    diff = change["diff"]
    assert "-Water board: 100 EUR" in diff and "+Water board: 250 EUR" in diff
    assert [line for line in diff.splitlines() if line.startswith(("+", "-"))
            and not line.startswith(("+++", "---"))] == [
        "-Water board: 100 EUR", "+Water board: 250 EUR"]


def plain_page(site: Site) -> dict[str, Any]:
    site.set("/plain.html", "<html><body><main><h1>Notices</h1><p>Notice one, published "
             "by the ministry.</p></main></body></html>")
    return {"id": "plain", "kind": "page", "url": site.url("/plain.html")}


@needs_browser
async def test_a_page_that_never_settles_fails_at_its_deadline(
    site: Site, store: Store
) -> None:
    site.set("/ticker.html", RESTLESS)
    site.set("/api/tick.json", "{}", content_type="application/json")
    config = make_config([
        {"id": "ticker", "kind": "page", "url": site.url("/ticker.html"),
         "render": "browser", "timeout": "3s"},
        plain_page(site),
    ])

    report = await within(cycle(config, store), "a cycle with a restless page")

    checks = {c.monitor_id: c for c in report.checks}
    assert checks["plain"].outcome == "new"
    assert checks["ticker"].outcome == "error"
    assert checks["ticker"].error is not None
    assert checks["ticker"].error.startswith("RenderFailed: page not rendered within its "
                                             "deadline of 3s")
    assert site.hits("/api/tick.json") > 3  # it was rendering, polling all along


async def test_without_a_browser_only_rendered_pages_fail_and_say_what_to_install(
    site: Site, store: Store, tmp_path: Path
) -> None:
    url = serve_app(site, grants(100))
    config = make_config(
        [{"id": "grants", "kind": "page", "url": url, "render": "browser"}, plain_page(site)],
        browser={"executable": str(tmp_path / "no-such-chromium")})

    report = await cycle(config, store)

    checks = {c.monitor_id: c for c in report.checks}
    assert checks["plain"].outcome == "new"
    assert checks["grants"].outcome == "error"
    error = checks["grants"].error or ""
    assert error.startswith("RenderFailed: no browser to render the page: browser.executable")
    assert "apt-get install chromium" in error


def kill_our_browser(how: signal.Signals = signal.SIGKILL) -> int:
    """Signal every process of the browsers this test process launched (SIGKILL)."""
    mine = f"{OWNER_ENV}={os.getpid()}-".encode()
    killed = 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(item.startswith(mine) for item in environ):
            try:
                os.kill(int(entry.name), how)
                killed += 1
            except OSError:
                pass
    return killed


def held_then_later(site: Site, prefix: str) -> tuple[str, Hold, Hold]:
    """An app under ``prefix`` with its data held, and ``/later/app.html`` held."""
    url = serve_app(site, grants(100), prefix=prefix)
    data = site.hold(f"{prefix}/api/grants.json", json.dumps(grants(100)))
    later_doc = site.hold("/later/app.html", SHELL.replace("/app.js", "/later/app.js"))
    serve_app(site, grants(7), prefix="/later-data")
    site.set("/later/app.js", APP.replace("/api/", "/later-data/api/"),
             content_type="application/javascript")
    return url, data, later_doc


@needs_browser
async def test_a_browser_killed_mid_cycle_fails_only_its_own_check(
    site: Site, store: Store
) -> None:
    """One page at a time: ``held`` is in the browser (its data held back by the server)
    when the browser is killed; ``later`` (its document held until then) is rendered by
    the browser launched again; the plain page never notices."""
    held_url, data, later_doc = held_then_later(site, "/held")
    config = make_config([
        {"id": "held", "kind": "page", "url": held_url, "render": "browser"},
        {"id": "later", "kind": "page", "url": site.url("/later/app.html"),
         "render": "browser"},
        plain_page(site),
    ], browser={"pages": 1})

    running = asyncio.create_task(cycle(config, store))
    await asyncio.to_thread(data.wait, lambda h: h.arrived >= 1, "the held page rendering")
    assert kill_our_browser() > 0
    later_doc.release()
    report = await within(running, "the cycle after the browser was killed")

    checks = {c.monitor_id: c for c in report.checks}
    assert checks["plain"].outcome == "new"
    assert checks["held"].outcome == "error"
    assert "the browser crashed or was killed" in (checks["held"].error or "")
    assert (checks["later"].outcome, checks["later"].error) == ("new", None)
    content = store.load_content(row(store, "SELECT content_hash FROM checks WHERE id = ?",
                                     [checks["later"].check_id])["content_hash"])
    assert "Water board: 7 EUR" in content.text


@needs_browser
async def test_both_bodies_are_exported_verified_and_pruned_together(
    site: Site, store: Store, tmp_path: Path
) -> None:
    from warcio.archiveiterator import ArchiveIterator

    from pipeline.export import write_warc
    from storage.audit import export_checks
    from storage.integrity import verify
    from storage.records import utc_now
    from storage.retention import prune_bodies

    url = serve_app(site, grants(100))
    config = make_config([{"id": "grants", "kind": "page", "url": url, "render": "browser"}])
    first = (await cycle(config, store)).checks[0]
    set_data(site, grants(250))
    last = (await cycle(config, store)).checks[0]
    assert last.outcome == "changed"

    assert verify(store).ok, verify(store).problems
    warc = tmp_path / "history.warc"
    with warc.open("wb") as out:
        write_warc(store, export_checks(store), out, gzip=False, filename=warc.name)
    with warc.open("rb") as stream:
        records = [(r.rec_type, r.content_stream().read()) for r in ArchiveIterator(stream)]
    responses = [body for kind, body in records if kind == "response"]
    conversions = [body for kind, body in records if kind == "conversion"]
    # What the server sent is the response (the same shell every time: one response, then
    # revisits); each DOM a browser built from it is a conversion, in the order of the
    # checks and their confirming copies (each render has its own session id).
    doms = [store.load_body(r["snapshot_hash"]) for r in store.db.query(
        "SELECT snapshot_hash FROM checks ORDER BY id")]
    assert len(responses) == 1 and b'<div id="root"></div>' in responses[0]
    assert conversions == doms and len(set(doms)) == len(doms) == 4
    assert [b"100 EUR" in c for c in conversions] == [True, True, False, False]
    assert all(b"250 EUR" in c for c in conversions[2:])

    first_row = row(store, "SELECT * FROM checks WHERE id = ?", [first.check_id])
    last_row = row(store, "SELECT * FROM checks WHERE id = ?", [last.check_id])
    # The shell is the same in every check, so it stays while the current check needs it.
    assert first_row["served_snapshot_hash"] == last_row["served_snapshot_hash"]
    prune_bodies(store, keep_days=None, keep_versions=1, now=utc_now())
    pruned = {r["hash"] for r in store.db.query(
        "SELECT hash FROM snapshots WHERE body IS NULL")}
    assert first_row["snapshot_hash"] in pruned
    assert last_row["snapshot_hash"] not in pruned
    assert last_row["served_snapshot_hash"] not in pruned
    assert verify(store).ok, verify(store).problems


@needs_browser
@pytest.mark.parametrize("limit", ["per_host", "host_delay"])
async def test_the_pages_own_requests_wait_their_turn_at_its_host(
    site: Site, store: Store, limit: str
) -> None:
    """The per-host gate holds every request to the host, the document govwatch fetches
    and each request of the page in the browser. The page loads three scripts, which a
    browser asks for at once: with ``per_host: 1`` the server never has two of them in
    hand; with ``host_delay: 1s`` their starts are a second apart."""
    scripts = ("/s1.js", "/s2.js", "/s3.js")
    site.set("/scripts.html", "<html><head><title>Scripts</title></head><body><main>"
             + "".join(f'<script src="{path}"></script>' for path in scripts)
             + "</main></body></html>")
    arrivals: list[float] = []
    in_hand = [0, 0]  # now, most at once

    async def script(request: web.Request) -> web.Response:
        arrivals.append(time.monotonic())
        in_hand[0] += 1
        in_hand[1] = max(in_hand)
        await asyncio.sleep(0.3)  # long enough for the others to arrive, were they sent
        in_hand[0] -= 1
        line = f"<p>Loaded {request.path}, one of the three scripts of the page.</p>"
        return web.Response(text=f"document.querySelector('main').innerHTML += '{line}';",
                            content_type="application/javascript")

    for path in scripts:
        site.route(path, script)
    polite = {"per_host": 1} if limit == "per_host" else {"host_delay": "1s"}
    config = make_config([{"id": "scripts", "kind": "page", "url": site.url("/scripts.html"),
                           "render": "browser", "robots": False, **polite}])

    [check] = (await cycle(config, store)).checks

    assert (check.outcome, check.error) == ("new", None)
    content = row(store, "SELECT content_hash FROM checks WHERE id = ?", [check.check_id])
    assert "Loaded /s3.js" in store.load_content(content["content_hash"]).text
    # Two renders: the check and its confirming copy (a first check is copied too).
    assert len(arrivals) == 6
    if limit == "per_host":
        assert in_hand[1] == 1
    else:
        # Starts two seconds apart at least; the server sees them up to the time the
        # first took on its way (well under a second) sooner.
        ordered = sorted(arrivals)
        for render in (ordered[:3], ordered[3:]):
            assert render[-1] - render[0] >= 1.0, render


@needs_browser
async def test_robots_txt_applies_to_the_page_url(site: Site, store: Store) -> None:
    url = serve_app(site, grants(100))
    site.set("/robots.txt", "User-agent: *\nDisallow: /app.html\n", content_type="text/plain")
    config = make_config([{"id": "grants", "kind": "page", "url": url, "render": "browser"}])

    [check] = (await cycle(config, store)).checks

    assert check.outcome == "error"
    assert (check.error or "").startswith("RobotsDisallowed: ")
    assert site.hits("/app.html") == 0 and site.hits("/app.js") == 0


@needs_browser
@pytest.mark.parametrize(("limits", "message"), [
    ({"max_requests": 1}, "the page made more than 1 requests (browser.max_requests): not compared "
     "half-rendered"),
    ({"max_dom_bytes": 300}, "the rendered DOM exceeds browser.max_dom_bytes (300)"),
])
async def test_a_page_past_its_caps_fails_instead_of_being_compared(
    site: Site, store: Store, limits: dict[str, int], message: str
) -> None:
    url = serve_app(site, grants(100))
    config = make_config([{"id": "grants", "kind": "page", "url": url, "render": "browser"}],
                         browser=limits)

    [check] = (await cycle(config, store)).checks

    assert check.outcome == "error"
    assert check.error == f"RenderFailed: {message}"


@needs_browser
async def test_a_hung_browser_fails_its_page_and_is_replaced(site: Site, store: Store) -> None:
    """The browser stops answering (SIGSTOP) while ``stuck`` is in it: that page fails at
    its deadline, the hung browser is killed, and ``later`` gets a new one."""
    stuck_url, data, later_doc = held_then_later(site, "/stuck")
    config = make_config([
        {"id": "stuck", "kind": "page", "url": stuck_url, "render": "browser",
         "timeout": "3s"},
        {"id": "later", "kind": "page", "url": site.url("/later/app.html"),
         "render": "browser"},
    ], browser={"pages": 1})

    running = asyncio.create_task(cycle(config, store))
    await asyncio.to_thread(data.wait, lambda h: h.arrived >= 1, "the stuck page rendering")
    assert kill_our_browser(signal.SIGSTOP) > 0
    later_doc.release()
    report = await within(running, "the cycle after the browser hung", seconds=90)

    checks = {c.monitor_id: c for c in report.checks}
    assert checks["stuck"].outcome == "error"
    assert (checks["stuck"].error or "").startswith(
        "RenderFailed: page not rendered within its deadline of 3s")
    assert (checks["later"].outcome, checks["later"].error) == ("new", None)


@needs_browser
async def test_wait_for_reads_a_page_that_never_idles_once_its_content_is_there(
    site: Site, store: Store
) -> None:
    """A page that polls for ever never reaches network idle; with ``wait_for`` it is
    read as soon as the selector is in the DOM."""
    site.set("/live.html", RESTLESS.replace(
        "<script>", "<script>setTimeout(() => document.getElementById('root').innerHTML ="
        " '<p class=\"figure\">Reservoir level: 82 percent of capacity, measured at the "
        "main dam by the water board.</p>', 300);\n"))
    config = make_config([{"id": "live", "kind": "page", "url": site.url("/live.html"),
                           "render": "browser", "wait_for": "p.figure", "timeout": "10s"}])

    [check] = (await cycle(config, store)).checks

    assert (check.outcome, check.error) == ("new", None)
    content = row(store, "SELECT content_hash FROM checks WHERE id = ?", [check.check_id])
    assert "Reservoir level: 82 percent" in store.load_content(content["content_hash"]).text
