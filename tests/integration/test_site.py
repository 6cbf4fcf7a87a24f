"""The archive site written from a real store: pages, links, escaping, incremental builds,
the run that writes it and the command that builds it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from core.records import Change, Redirect
from notifications.site.build import MANIFEST, site_lock
from pipeline.cli.group import cli
from pipeline.cli.monitoring import publishing_notes
from pipeline.site import site_stage, write_site
from storage.chain import current_heads
from storage.db import Store
from storage.records import Check
from tests.integration.digest_support import record_change
from tests.integration.site_support import (
    FEED_URL,
    SITE_URL,
    check_links,
    record_history,
    site_config,
)

pytestmark = pytest.mark.integration


def stamps(directory: Path) -> dict[str, int]:
    """Each file's inode: an atomic rewrite replaces it, an untouched file keeps it."""
    return {p.relative_to(directory).as_posix(): p.stat().st_ino
            for p in directory.rglob("*") if p.is_file()}


def test_every_page_is_there_linked_escaped_and_under_a_strict_policy(
    store: Store, tmp_path: Path
) -> None:
    history = record_history(store, site_config(tmp_path))
    report = write_site(history.config, store)
    directory = tmp_path / "site"
    assert report.full and report.changes == 5

    expected = {"index.html", "style.css", "heads.json", "verify.html",
                "org/oecd/index.html", "org/oecd/1.html", "org/unidir/index.html",
                "monitor/oecd-news.html", "monitor/unidir-pubs.html",
                "monitor/unidir-feed.html"}
    expected |= {f"change/{n}.html" for n in (history.deadline, history.hostile,
                                              history.document, history.entry, history.later)}
    assert expected <= set(stamps(directory))

    checked = check_links(directory)
    assert checked.internal == {}, f"internal links that resolve to no file: {checked.internal}"
    assert checked.scripts == 0
    assert all(policy == ["default-src 'none'; style-src 'self'; img-src 'self'; "
                          "base-uri 'none'; form-action 'none'"]
               for policy in checked.csp.values()), checked.csp
    assert all(link.startswith(("https://", "http://")) for link in checked.external)
    assert "https://unidir.org/annual.pdf" in checked.external
    everything = b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())
    assert b"file://" not in everything and b"javascript:alert(1)\"" not in everything
    assert b"<script" not in everything and b"<img" not in everything

    hostile = (directory / f"change/{history.hostile}.html").read_text()
    assert "<title>UNIDIR publications: &lt;script&gt;alert(1)&lt;/script&gt; - govwatch" \
        in hostile
    assert 'href="javascript:' not in hostile and "javascript:alert(1)" in hostile

    deadline = (directory / f"change/{history.deadline}.html").read_text()
    assert "due by <del>1 May</del> <ins>3 June</ins> 2026." in deadline
    assert '<span class="del">-Comments are due by 1 May 2026.</span>' in deadline
    assert "dates changed" in deadline and "0.90" in deadline
    assert f'href="../change/{history.later}.html"' in deadline  # next change of the monitor
    assert "check 1 of this monitor's chain" in deadline
    later = (directory / f"change/{history.later}.html").read_text()
    assert f'href="../change/{history.deadline}.html"' in later
    assert "check 2 of this monitor's chain" in later

    index = (directory / "index.html").read_text()
    assert index.index(">OECD</a>") < index.index(">UNIDIR</a>")
    assert "Annual report" in index and "1 failing" in index
    assert (json.loads((directory / "heads.json").read_text())
            == {"heads": current_heads(store.db)})
    verify = (directory / "verify.html").read_text()
    assert "govwatch verify --against heads.json" in verify
    assert "https://watch.example.org/govwatch/heads.json" in verify
    feed_monitor = (directory / "monitor/unidir-feed.html").read_text()
    assert "HTTP 503" in feed_monitor and "every 6h" in feed_monitor


def test_a_build_rewrites_only_what_new_checks_and_changes_touch(
    store: Store, tmp_path: Path
) -> None:
    history = record_history(store, site_config(tmp_path))
    directory = tmp_path / "site"
    write_site(history.config, store)
    before = stamps(directory)

    again = write_site(history.config, store)
    assert (again.full, again.written) == (False, 0)
    assert stamps(directory) == before

    newest = record_change(store, "oecd-news", Change("text", "third", "+third"))
    report = write_site(history.config, store)
    after = stamps(directory)
    rewritten = {name for name in after if after[name] != before.get(name)}
    assert not report.full and report.changes == 1
    assert rewritten == {f"change/{newest}.html", f"change/{history.later}.html",
                         "monitor/oecd-news.html", "org/oecd/index.html", "org/oecd/1.html",
                         "index.html", "heads.json", "verify.html", MANIFEST}
    assert f'href="../change/{newest}.html"' in \
        (directory / f"change/{history.later}.html").read_text()
    assert not list(directory.rglob("*.tmp"))

    # Another history written into the same directory is written whole.
    with Store(tmp_path / "other.db") as other:
        record_history(other, history.config)
        extra = [record_change(other, "unidir-pubs", Change("text", "only here", f"+{n}"))
                 for n in range(2)]
        assert write_site(history.config, other).full
    assert (directory / f"change/{extra[-1]}.html").is_file()
    assert write_site(history.config, store).full
    assert not (directory / f"change/{extra[-1]}.html").exists()
    (directory / "notes.html").write_text("the operator's own file")

    # A monitor renamed in the config changes what many pages show: everything again.
    store.db.execute("UPDATE monitors SET name = 'OECD AI news' WHERE id = 'oecd-news'")
    assert write_site(history.config, store).full
    assert "OECD AI news" in (directory / f"change/{history.deadline}.html").read_text()
    assert (directory / "notes.html").read_text() == "the operator's own file"


def test_timeline_pages_are_numbered_from_the_oldest(store: Store, tmp_path: Path) -> None:
    config = site_config(tmp_path)
    config = config.model_copy(update={"site": config.site.model_copy(  # type: ignore[union-attr]
        update={"page_size": 5})})
    record_history(store, config)
    ids = [record_change(store, "oecd-news", Change("text", f"edit {n}", f"+{n}"))
           for n in range(9)]  # 11 changes of OECD: pages of 5, 5 and 1
    directory = tmp_path / "site"
    write_site(config, store)
    first = (directory / "org/oecd/1.html").read_text()
    newest = (directory / "org/oecd/index.html").read_text()
    assert newest == (directory / "org/oecd/3.html").read_text()
    assert f"#{ids[-1]} edit 8" in newest and "edit 7" not in newest
    assert 'href="../../org/oecd/2.html"' in newest and "newer changes" not in newest
    assert "deadline moved" in first and 'href="../../org/oecd/2.html"' in first
    two = stamps(directory)["org/oecd/2.html"]
    record_change(store, "oecd-news", Change("text", "edit 9", "+9"))
    write_site(config, store)
    assert stamps(directory)["org/oecd/2.html"] == two, "a full page is never rewritten"
    assert check_links(directory).internal == {}


def test_run_writes_the_site_and_the_command_builds_one_anywhere(
    site: Any, tmp_path: Path
) -> None:
    site.set("/guidance", "<html><body><main><p>Edition 1</p></main></body></html>")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {tmp_path / 'gw.db'}\n"
        "organizations:\n  - id: aisi\n    name: AI Security Institute\n    monitors:\n"
        f"      - {{id: guidance, kind: page, url: '{site.url('/guidance')}', select: main}}\n"
        f"site:\n  directory: {tmp_path / 'site'}\n")
    runner = CliRunner()
    first = runner.invoke(cli, ["--config", str(config), "run", "--all"])
    assert first.exit_code == 0 and f"site {tmp_path / 'site'}: full build" in first.output
    site.set("/guidance", "<html><body><main><p>Edition 2</p></main></body></html>")
    second = runner.invoke(cli, ["--config", str(config), "run", "--all"])
    assert "update, 1 new change page(s)" in second.output, second.output
    page = (tmp_path / "site/change/1.html").read_text()
    assert "Edition <del>1</del> <ins>2</ins>" in page
    assert (tmp_path / "site/monitor/guidance.txt").read_text() == "Edition 2"

    checked = runner.invoke(cli, ["--config", str(config), "check-config"])
    assert "no site.public_url: links inside the site are relative" in checked.output

    elsewhere = tmp_path / "copy"
    built = runner.invoke(cli, ["--config", str(config), "site", "--output", str(elsewhere)])
    assert built.exit_code == 0, built.output
    assert "full build, 1 new change page(s)" in built.output
    assert (elsewhere / "change/1.html").read_bytes() == page.encode()
    assert check_links(elsewhere).internal == {}


def test_the_site_command_needs_a_directory(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("organizations:\n  - id: o\n    name: O\n    monitors:\n"
                      "      - {id: m, kind: page, url: 'https://example.org/'}\n"
                      f"database: {tmp_path / 'gw.db'}\n")
    Store(tmp_path / "gw.db").close()
    result = CliRunner().invoke(cli, ["--config", str(config), "site"])
    assert result.exit_code == 2 and "give --output DIR" in result.output
    # A database and a directory are enough: no config is read.
    built = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.yaml"), "--db",
                                     str(tmp_path / "gw.db"), "site", "--output",
                                     str(tmp_path / "out")])
    assert built.exit_code == 0, built.output
    assert (tmp_path / "out/index.html").is_file()


def test_a_change_page_shows_the_redirects_and_a_monitor_its_learned_noise(
    store: Store, tmp_path: Path
) -> None:
    history = record_history(store, site_config(tmp_path))
    recorded = store.record(Check(
        monitor_id="oecd-news", started_at="2026-11-28T13:00:00.000+00:00", duration_ms=9,
        url="https://oecd.ai/en/news", final_url="https://www.oecd.ai/en/news",
        redirects=(Redirect(301, "https://www.oecd.ai/en/news"),), outcome="changed",
        status=200, headers={"content-type": "text/html; charset=utf-8"}, bytes=2048),
        change=Change("text", "moved", "+moved"))
    store.db.table("volatility").insert({
        "monitor_id": "oecd-news", "kind": "slot", "place": "after 'Latest'",
        "what": "<b>rotating</b> teaser", "first_seen_at": "2026-11-28T10:00:00+00:00",
        "last_seen_at": "2026-11-28T12:00:00+00:00", "seen": 4, "learned_by_check": 1})
    write_site(history.config, store)
    directory = tmp_path / "site"
    page = (directory / f"change/{recorded.change_id}.html").read_text()
    assert "<li>301 <span class=\"mono\">https://www.oecd.ai/en/news</span></li>" in page
    assert "HTTP 200, 2048 bytes" in page and "text/html; charset=utf-8" in page
    assert "check 3 of this monitor's chain" in page
    monitor = (directory / "monitor/oecd-news.html").read_text()
    assert "&lt;b&gt;rotating&lt;/b&gt; teaser" in monitor and "after &#39;Latest&#39;" in monitor
    assert "Nothing learned as noise" in (directory / "monitor/unidir-pubs.html").read_text()


def test_the_site_stage_steps_aside_and_says_what_public_urls_leave_out(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    history = record_history(store, site_config(tmp_path, site_url=None, feed_url=None))
    with site_lock(tmp_path / "site"):  # another process writes the site right now
        assert site_stage(history.config, store) is None
    assert "another govwatch process is writing the site" in caplog.text
    assert not (tmp_path / "site/index.html").exists()
    report = site_stage(history.config, store)
    assert report is not None and report.full and report.changes == 5

    notes = publishing_notes(history.config)
    assert any("no site.public_url" in note for note in notes)
    assert any("no notifications.feed.public_url: the feeds have no self link, and the "
               "global RSS feed no channel link" in note for note in notes)
    served = publishing_notes(site_config(tmp_path))
    assert served == [f"site: {tmp_path / 'site'}, served at {SITE_URL}; digests and feeds "
                      "link each change to its page",
                      f"feeds: {tmp_path / 'feeds'}, served at {FEED_URL}"]
