"""Status signals and captures through whole cycles (network faked at the transport)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from monitors.signals import is_challenge
from pipeline.config import Config, parse_config
from pipeline.cycle import CycleReport, run_cycle, select_monitors
from storage.db import Store
from tests import fakes
from tests.conftest import QUICK_CONFIRM

URL = "https://www.ohchr.org/en/b-tech"
PAGE = ("<html><head><title>B-Tech Project | OHCHR</title></head><body><main><h1>B-Tech</h1>"
        "<p>The B-Tech Project provides guidance on the UN Guiding Principles.</p>"
        "<a href='/en/b-tech/papers'>Foundational papers</a></main></body></html>")
NOT_FOUND = ("<html><head><title>Page not found | OHCHR</title></head>"
             "<body><p>Sorry, we could not find that page.</p></body></html>")
CHALLENGE = ("<html><head><title>Just a moment...</title></head><body>"
             "<script src='/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1'></script>"
             "</body></html>")
JS_SHELL = ("<html><head><title>AI Hub</title><script src='/app.js'></script></head>"
            "<body><div id='root'></div><noscript>Please enable JavaScript.</noscript>"
            "</body></html>")
HOME = "<html><head><title>OHCHR</title></head><body><p>Welcome to OHCHR</p></body></html>"

Respond = Callable[[respx.Router], None]


def config(**options: Any) -> Config:
    extra = "".join(f", {k}: {v}" for k, v in options.items())
    return parse_config(
        f"defaults: {{confirm_pause: {QUICK_CONFIRM}}}\n"
        "organizations:\n  - id: ohchr\n    name: OHCHR\n    monitors:\n"
        f"      - {{id: btech, kind: page, url: '{URL}'{extra}}}\n"
    )


def page(router: respx.Router) -> None:
    router.get(URL).respond(200, html=PAGE)


def status(code: int, body: str = "") -> Respond:
    return lambda router: router.get(URL).respond(code, html=body)


def redirect_to(target: str, body: str = PAGE) -> Respond:
    def respond(router: respx.Router) -> None:
        router.get(URL).respond(301, headers={"Location": target})
        router.get(target).respond(200, html=body)
    return respond


async def cycles(store: Store, steps: list[Respond], cfg: Config | None = None) -> list[Any]:
    cfg = cfg or config()
    seen = []
    for respond in steps:
        router = fakes.router()
        respond(router)
        monitors = select_monitors(cfg, store, run_all=True)
        report: CycleReport = await run_cycle(
            cfg, store, monitors, transport=httpx.MockTransport(router.async_handler))
        (check,) = report.checks
        change = store.db.table("changes").get(check.change_id) if check.change_id else None
        state = store.monitor_state("btech")
        seen.append((check.outcome, change["kind"] if change else None,
                     state.consecutive_failures))
    return seen


SCENARIOS = {
    "404 is removed once, then unchanged, then restored": (
        [page, status(404, NOT_FOUND), status(404, NOT_FOUND), page],
        [("new", None, 0), ("changed", "removed", 0), ("unchanged", None, 0),
         ("changed", "restored", 0)],
    ),
    "410 is removed too": (
        [page, status(410)], [("new", None, 0), ("changed", "removed", 0)],
    ),
    "403 is blocked once, never compared, counted as failing": (
        [page, status(403, "Forbidden"), status(403, "Forbidden"), page],
        [("new", None, 0), ("blocked", "blocked", 1), ("blocked", None, 2),
         ("changed", "restored", 0)],
    ),
    "429 is blocked": ([page, status(429)], [("new", None, 0), ("blocked", "blocked", 1)]),
    "a bot-wall challenge with 503 is blocked": (
        [page, status(503, CHALLENGE)], [("new", None, 0), ("blocked", "blocked", 1)],
    ),
    "a redirect to the home page is a soft 404": (
        [page, redirect_to("https://www.ohchr.org/", HOME),
         redirect_to("https://www.ohchr.org/", HOME)],
        [("new", None, 0), ("changed", "soft-404", 0), ("unchanged", None, 0)],
    ),
    "a not-found title is a soft 404": (
        [page, status(200, NOT_FOUND)], [("new", None, 0), ("changed", "soft-404", 0)],
    ),
    "a JavaScript shell needs JS": (
        [page, status(200, JS_SHELL)], [("new", None, 0), ("changed", "needs-js", 0)],
    ),
    "a redirect moving to another path is reported": (
        [redirect_to("https://www.ohchr.org/en/business/b-tech"),
         redirect_to("https://www.ohchr.org/en/business/b-tech"),
         redirect_to("https://www.ohchr.org/en/digital/b-tech")],
        [("new", None, 0), ("unchanged", None, 0), ("changed", "redirected", 0)],
    ),
    "a server error is an error and keeps the baseline": (
        [page, status(500), status(502), page],
        [("new", None, 0), ("error", None, 1), ("error", None, 2), ("unchanged", None, 0)],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_status_signals(store: Store, name: str) -> None:
    steps, expected = SCENARIOS[name]
    assert await cycles(store, steps) == expected


async def test_restored_page_is_compared_with_the_last_real_version(store: Store) -> None:
    edited = PAGE.replace("guidance", "updated guidance")
    await cycles(store, [page, status(404, NOT_FOUND),
                         lambda router: router.get(URL).respond(200, html=edited)])
    change = store.db.execute(
        "SELECT kind, diff, reasons FROM changes ORDER BY id DESC LIMIT 1").fetchone()
    assert change[0] == "text"
    assert "+The B-Tech Project provides updated guidance" in change[1]
    assert "back after removed" in change[2]


async def test_min_significance_keeps_minor_changes_quiet(store: Store) -> None:
    cfg = config(min_significance=0.5)
    renamed = PAGE.replace("<main>", "<nav>Menu</nav><main>")
    renamed2 = PAGE.replace("<main>", "<nav>Main menu</nav><main>")
    steps: list[Respond] = [lambda r: r.get(URL).respond(200, html=renamed),
                            lambda r: r.get(URL).respond(200, html=renamed2)]
    await cycles(store, steps, cfg)
    row = store.db.execute("SELECT notable, significance FROM changes").fetchone()
    assert row[0] == 0 and row[1] < 0.5


LISTING = ("<html><body><main><ul>{}</ul></main></body></html>")


def listing(*links: tuple[str, str]) -> str:
    return LISTING.format("".join(f"<li><a href='{u}'>{t}</a></li>" for u, t in links))


async def test_new_documents_are_captured_once_on_the_monitors_host(store: Store) -> None:
    cfg = config(capture_new_documents="true")
    pdf = b"%PDF-1.7 the new report"

    def second(router: respx.Router) -> None:
        router.get(URL).respond(200, html=listing(
            ("/docs/new.pdf", "New report"), ("https://elsewhere.org/x.pdf", "Elsewhere"),
            ("/docs/old.pdf", "Old report")))
        router.get("https://www.ohchr.org/docs/new.pdf").respond(
            200, content=pdf, headers={"Content-Type": "application/pdf"})

    first: Respond = lambda r: r.get(URL).respond(  # noqa: E731
        200, html=listing(("/docs/old.pdf", "Old report")))
    await cycles(store, [first, second], cfg)
    rows = list(store.db.query("SELECT * FROM captures"))
    assert [(r["url"], r["title"], r["status"]) for r in rows] == [
        ("https://www.ohchr.org/docs/new.pdf", "New report", 200)]
    assert store.load_body(rows[0]["snapshot_hash"]) == pdf
    change_id = store.db.execute("SELECT id FROM changes").fetchone()[0]
    assert rows[0]["change_id"] == change_id


async def test_capture_hosts_allow_other_hosts_and_failures_are_recorded(store: Store) -> None:
    cfg = config(capture_new_documents="true", capture_hosts="[elsewhere.org]")

    def second(router: respx.Router) -> None:
        router.get(URL).respond(200, html=listing(
            ("https://elsewhere.org/x.pdf", "Elsewhere"), ("/gone.pdf", "Gone")))
        router.get("https://elsewhere.org/x.pdf").respond(200, content=b"%PDF-1.4 x")
        router.get("https://www.ohchr.org/gone.pdf").respond(404)

    await cycles(store, [lambda r: r.get(URL).respond(200, html=listing()), second], cfg)
    rows = {r["url"]: r for r in store.db.query("SELECT * FROM captures")}
    assert rows["https://elsewhere.org/x.pdf"]["snapshot_hash"] is not None
    assert rows["https://www.ohchr.org/gone.pdf"]["error"] == "HTTP 404 Not Found"
    assert rows["https://www.ohchr.org/gone.pdf"]["snapshot_hash"] is None


async def test_a_page_that_stays_gone_raises_no_failure_alert(store: Store) -> None:
    from storage.alerts import scan_alerts

    blocked_or_gone: list[Respond] = [page, status(404, NOT_FOUND), status(404, NOT_FOUND),
                                      status(410), status(404, NOT_FOUND)]
    await cycles(store, blocked_or_gone)
    assert scan_alerts(store, threshold=3) == 0
    assert store.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
    # A source that really fails three times in a row does raise one.
    await cycles(store, [status(500), status(500), status(500)])
    assert scan_alerts(store, threshold=3) == 1


CF_JSD = ("<script>(function(){var a=document.createElement('script');a.nonce='';"
          "a.src='/cdn-cgi/challenge-platform/h/b/scripts/jsd/e0c90b6a3ed1/main.js';"
          "document.getElementsByTagName('head')[0].appendChild(a);})();</script>")
WALLS = {
    "Cloudflare's managed challenge": CHALLENGE,
    "Cloudflare's block page": "<html><head><title>Attention Required! | Cloudflare</title>",
    "Cloudflare's 1020": "<title>Access denied | www.ohchr.org used Cloudflare to restrict "
                         "access</title>",
    "a challenge known by its options, whatever its title":
        "<title>ohchr.org</title><script>window._cf_chl_opt={cvId: '3'};</script>",
    "Akamai, in capitals": "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>"
                           "You don't have permission to access this server.</BODY></HTML>",
    "Imperva's block page": "<html><body><iframe id=\"main-iframe\" src=\"/_Incapsula_Resource"
                            "?CWUDNSAI=9\">Request unsuccessful. Incapsula incident ID: "
                            "0-12345</iframe></body></html>",
    "DDoS-Guard": "<html><head><title>DDoS-Guard</title></head></html>",
}
NOT_WALLS = {
    "a page": PAGE,
    "a page behind Cloudflare that loads its bot detection":
        PAGE.replace("</body>", CF_JSD + "</body>"),
    "a page behind Imperva that loads its script":
        PAGE.replace("<head>", "<head><script src='/_Incapsula_Resource?SWJIYLWA=719d34d3'>"
                               "</script>"),
    "a form with a Turnstile widget":
        PAGE.replace("</main>", "<div class='cf-turnstile' id='cf-chl-widget-x1'></div></main>"),
    "a title that only starts like a wall's":
        PAGE.replace("B-Tech Project | OHCHR", "Access denied? Data rights under the AI Act"),
    "a wall's title deep in a page's text": "<p>x</p>" * 2000 + "<title>Just a moment...</title>",
    "no body": "",
}


@pytest.mark.parametrize("body", list(WALLS.values()), ids=list(WALLS))
def test_bot_wall_interstitials_are_recognized(body: str) -> None:
    assert is_challenge(body.encode())


@pytest.mark.parametrize("body", list(NOT_WALLS.values()), ids=list(NOT_WALLS))
def test_pages_that_only_load_a_walls_scripts_are_not_walls(body: str) -> None:
    assert not is_challenge(body.encode())


def test_a_rendered_page_never_needs_js() -> None:
    from monitors import MonitorConfig, build_monitor
    from monitors.signals import NEEDS_JS, content_signal

    monitor = build_monitor(MonitorConfig(id="m", kind="page", url=URL), "o")
    shell = monitor.extract(JS_SHELL.encode(), content_type="text/html", url=URL)
    assert content_signal("page", shell) == NEEDS_JS
    # What a browser rendered is all there is: little text is little text.
    assert content_signal("page", shell, rendered=True) is None


@pytest.mark.parametrize("template", ["email.txt", "email.html", "entry.html"])
def test_a_needs_js_alert_reads_as_advice_in_every_digest_form(template: str) -> None:
    from datetime import UTC, datetime

    from monitors.signals import ADVICE, NEEDS_JS
    from notifications.digest import Digest, sections
    from notifications.links import SiteLinks
    from notifications.render import render
    from storage.outbox import OwedAlert

    alert = OwedAlert(1, "ohchr", "OHCHR", "app", "Grants app", URL, NEEDS_JS, 0,
                      ADVICE[NEEDS_JS], "2026-12-07T06:00:00.000+00:00")
    digest = Digest("email", datetime(2026, 12, 7, tzinfo=UTC), alerts=(alert,))
    links = SiteLinks()  # no archive site
    values: dict[str, Any] = {"subject": "s", "counts": "1 alert", "list_id": "l",
                              "sections": sections(digest), "heads": 0,
                              "heads_url": links.heads, "page": links.change,
                              "site": links.index}
    if template == "entry.html":
        values = {"org_name": "OHCHR", "monitor_name": "Grants app", "monitor_url": URL,
                  "change": None, "alert": alert, "lines": (), "more_lines": 0}
    text = render(template, **values)
    assert "browser" in text.lower() and "render: browser" in text
    assert "Recovered" not in text and "RECOVERED" not in text
