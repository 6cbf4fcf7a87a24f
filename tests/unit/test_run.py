"""A whole cycle through run_cycle, with the network faked at the transport by respx."""

from __future__ import annotations

import sys

import httpx
import pytest
import respx

from monitors.base import Monitor
from pipeline.config import Config, parse_config
from pipeline.cycle import CycleReport, run_cycle, select_monitors
from storage.db import Store
from tests import fakes
from tests.conftest import QUICK_CONFIRM

CONFIG = parse_config(f"defaults: {{confirm_pause: {QUICK_CONFIRM}}}\n" + """
organizations:
  - id: unidir
    name: UNIDIR
    monitors:
      - {id: pubs, kind: page, url: "https://unidir.org/publications", select: main}
      - {id: feed, kind: feed, url: "https://unidir.org/feed/"}
      - {id: poster, kind: pdf, url: "https://unidir.org/poster.pdf"}
      - {id: broken, kind: page, url: "https://down.example/"}
      - {id: off, kind: page, url: "https://unidir.org/off", enabled: false}
""")

PAGE = "<html><body><nav>Menu</nav><main><h1>Publications</h1><ul>{items}</ul></main></body></html>"
RSS = ('<rss version="2.0"><channel><title>UNIDIR</title>{items}</channel></rss>')


def site(router: respx.Router, items: list[str], pdf: bytes = b"%PDF-1.4 v1") -> None:
    links = "".join(f'<li><a href="/p/{i}">{i}</a></li>' for i in items)
    entries = "".join(f"<item><title>{i}</title><link>https://unidir.org/p/{i}</link></item>"
                      for i in items)
    router.get("https://unidir.org/publications").respond(200, html=PAGE.format(items=links))
    router.get("https://unidir.org/feed/").respond(
        200, text=RSS.format(items=entries), headers={"Content-Type": "application/rss+xml"})
    router.get("https://unidir.org/poster.pdf").respond(
        200, content=pdf, headers={"Content-Type": "application/pdf"})
    router.get("https://down.example/").mock(side_effect=httpx.ConnectError("refused"))


async def cycle(config: Config, store: Store, router: respx.Router) -> CycleReport:
    monitors = select_monitors(config, store, run_all=True)
    transport = httpx.MockTransport(router.async_handler)
    return await run_cycle(config, store, monitors, transport=transport)


def outcomes(report: CycleReport) -> dict[str, str]:
    return {check.monitor_id: check.outcome for check in report.checks}


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker-process"])
async def test_three_cycles_new_changed_unchanged(store: Store, workers: int) -> None:
    config = CONFIG.model_copy(update={
        "defaults": CONFIG.defaults.model_copy(update={"workers": workers})})
    router = fakes.router()
    site(router, ["Report A", "Report Z"])
    first = await cycle(config, store, router)
    assert outcomes(first) == {"pubs": "new", "feed": "new", "poster": "new", "broken": "error"}
    assert first.changes == []

    router = fakes.router()
    site(router, ["Report B", "Report A", "Report Z"], pdf=b"%PDF-1.4 v2")
    second = await cycle(config, store, router)
    assert outcomes(second) == {
        "pubs": "changed", "feed": "changed", "poster": "changed", "broken": "error"}
    summaries = {c.monitor_id: c.summary for c in second.changes}
    assert summaries["feed"] == "1 new entry: Report B"
    assert summaries["pubs"] == "1 new document: Report B"
    # A new PDF edition with the same text is kept, not announced.
    assert [(c.monitor_id, c.summary[:16]) for c in second.muted] == [
        ("poster", "PDF: new edition")]
    page_change = store.db.table("changes").get(
        next(c.change_id for c in second.changes if c.monitor_id == "pubs"))
    assert "+Report B" in page_change["diff"]
    assert "Menu" not in page_change["diff"], "select: main leaves the nav out"
    # The second version is stored against the first, wherever it was evaluated.
    assert "Report B" in store.load_content(page_change["to_content"]).text
    for table, digest in (("snapshots", page_change["to_snapshot"]),
                          ("contents", page_change["to_content"])):
        form = store.db.execute(f"SELECT compression, base FROM {table} WHERE hash = ?",
                                [digest]).fetchone()
        first = page_change["from_snapshot" if table == "snapshots" else "from_content"]
        assert form == ("zstd-delta", first), (table, form)

    third = await cycle(config, store, router)
    assert outcomes(third) == {
        "pubs": "unchanged", "feed": "unchanged", "poster": "unchanged", "broken": "error"}
    assert store.monitor_state("broken").consecutive_failures == 3
    # 12 checks; a confirming copy for each first check (3: what changes by itself is
    # learned from the start) and for each difference that would be announced (2: the
    # PDF's new edition is known not to be, so nothing could overturn it).
    assert store.db.table("checks").count == 17
    assert store.db.execute("SELECT count(*) FROM checks WHERE outcome = 'confirm'"
                            ).fetchone() == (5,)
    assert store.db.table("changes").count == 3


async def test_disabled_monitors_are_not_selected(store: Store) -> None:
    ids = [m.id for m in select_monitors(CONFIG, store, run_all=True)]
    assert "off" not in ids and len(ids) == 4


async def test_due_monitors_only_unless_named(store: Store) -> None:
    router = fakes.router()
    site(router, ["A"])
    await cycle(CONFIG, store, router)
    assert select_monitors(CONFIG, store) == []
    named = select_monitors(CONFIG, store, monitor_ids=["feed"])
    assert [m.id for m in named] == ["feed"]
    by_org = select_monitors(CONFIG, store, run_all=True, org_ids=["unidir"])
    assert len(by_org) == 4
    assert select_monitors(CONFIG, store, run_all=True, org_ids=["other"]) == []


async def test_an_extract_failure_keeps_the_raw_body_as_evidence(store: Store) -> None:
    router = fakes.router()
    site(router, ["A"])
    router.get("https://unidir.org/feed/").respond(200, html="<html>Maintenance</html>")
    report = await cycle(CONFIG, store, router)
    feed = next(c for c in report.checks if c.monitor_id == "feed")
    assert feed.outcome == "error"
    assert (feed.error or "").startswith("ExtractError: invalid feed")
    row = store.db.table("checks").get(feed.check_id)
    assert store.load_body(row["snapshot_hash"]) == b"<html>Maintenance</html>"
    assert store.monitor_state("feed").last_snapshot_hash is None


async def test_empty_200_is_an_error_not_a_blank_version(store: Store) -> None:
    router = fakes.router()
    site(router, ["A"])
    router.get("https://unidir.org/publications").respond(200, content=b"")
    report = await cycle(CONFIG, store, router)
    pubs = next(c for c in report.checks if c.monitor_id == "pubs")
    assert pubs.outcome == "error" and "empty body" in (pubs.error or "")


@pytest.mark.skipif(sys.platform != "linux", reason="start methods of Linux")
@pytest.mark.parametrize(("threads", "method"), [(1, "fork"), (2, "forkserver"),
                                                 (5, "forkserver")])
def test_workers_are_forked_only_from_a_single_threaded_parent(threads: int,
                                                                method: str) -> None:
    from pipeline.pool import start_method

    assert start_method(threads) == method


def _monitors(urls: list[str]) -> list[Monitor]:
    from monitors import MonitorConfig, build_monitor

    return [build_monitor(MonitorConfig(id=f"m{n}", kind="page", url=url), "o")
            for n, url in enumerate(urls)]


@pytest.mark.parametrize(("first", "keep_body"), [(True, True), (True, False),
                                                  (False, True), (False, False)])
def test_a_packed_outcome_carries_what_the_writer_needs(first: bool, keep_body: bool) -> None:
    from core.records import FetchResult
    from pipeline import stages
    from pipeline.jobs import pack_outcome
    from storage.blobs import COMPRESSION, BlobCodec
    from storage.records import MonitorState, PackedContent

    monitor = _monitors(["http://127.0.0.1:8000/p"])[0]
    body = b"<html><body><p>" + b"Statement on AI. " * 200 + b"</p></body></html>"
    fetched = FetchResult("m0", "http://127.0.0.1:8000/p", "2026-11-28T10:00:00+00:00", 5,
                          status=200, headers={"content-type": "text/html"}, body=body)
    state = MonitorState("m0", None, None, None if first else "f" * 64, None, None, None, 0)
    outcome = stages.evaluate(monitor, fetched, MonitorState("m0", None, None, None, None,
                                                             None, None, 0), lambda h: None)
    packed = pack_outcome(outcome, state, keep_body=keep_body)
    assert packed.snapshot is not None and outcome.snapshot is not None
    assert packed.snapshot.hash == outcome.snapshot.hash
    if first or keep_body:
        assert packed.snapshot.size == len(body)
    if first:  # compressed whole, the raw body left behind whatever keep_body says
        assert packed.snapshot.body == b""
        assert packed.snapshot.compressed is not None
        assert BlobCodec().unpack(packed.snapshot.compressed, COMPRESSION) == body
    else:      # the store makes a delta from the raw body, if the caller lacks it
        assert packed.snapshot.compressed is None
        assert packed.snapshot.body == (body if keep_body else b"")
    assert isinstance(packed.content, PackedContent)
    assert packed.content.hash == outcome.check.content_hash
