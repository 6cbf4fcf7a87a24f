"""Hostile fetched text at every output edge, on loopback (issue 18, findings 2 and 7).

A page and a feed on 127.0.0.1 carry titles with a control character (``&#1;``), raw ESC
and BEL, a colour sequence, an OSC 8 hyperlink, a window-title OSC, a newline followed by
a forged log line, a right-to-left override and 20 kB of text. ``govwatch run`` runs as
cron runs it (a process, its stdout and stderr captured) with the email channel on a real
SMTP server (aiosmtpd) and the feed channel on disk, twice in a row after the change.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest

from core.records import Change
from pipeline.config import parse_config
from pipeline.digest import deliver_owed
from pipeline.health import channel_alerts
from storage.db import Store
from tests.conftest import QUICK_CONFIRM
from tests.integration.conftest import Site
from tests.integration.digest_support import (
    Mailbox,
    config_text,
    free_port,
    record_change,
    smtp_server,
    started,
)

pytestmark = pytest.mark.integration
GOVWATCH = str(Path(sys.executable).parent / "govwatch")

FORGED = "ERROR a/fake: forged line"
HOSTILE = ("Hostile \x01 title \x1b[31mred\x1b[0m \x07 "
           "\x1b]8;;http://evil.example/\x1b\\click here\x1b]8;;\x1b\\ "
           "\x1b]0;owned window\x07 \u202egnp.exe\n" + FORGED)
# In XML a control character can only come as a reference (raw, the feed is not XML).
HOSTILE_XML = (HOSTILE.replace("\x01", "&#1;").replace("\x1b", "&#27;")
               .replace("\x07", "&#7;"))
LONG = " ".join(f"word{i}" for i in range(2500))  # about 20 kB on one line
#: What no output may carry: escape, bell, the control itself, 8-bit CSI, the override.
FORBIDDEN = ("\x1b", "\x07", "\x01", "\x9b", "\u202e")


def page(extra: str = "") -> str:
    return ("<html><head><title>Publications</title></head><body><h1>Publications</h1>"
            f"<ul><li><a href='/old.pdf'>Old report</a></li>{extra}</ul></body></html>")


def feed(extra: str = "") -> str:
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            "<title>News</title><link>http://127.0.0.1/</link><description>d</description>"
            "<item><title>Old item</title><link>http://127.0.0.1/old</link><guid>old</guid>"
            f"<description>old</description></item>{extra}</channel></rss>")


HOSTILE_ITEMS = (
    f"<item><title>{HOSTILE_XML}</title><link>http://127.0.0.1/new</link><guid>new</guid>"
    f"<description>{LONG}</description></item>"
    f"<item><title>{LONG}</title><link>http://127.0.0.1/long</link><guid>long</guid>"
    "<description>short</description></item>")
HOSTILE_LINKS = (f"<li><a href='/evil.pdf'>{HOSTILE}</a></li>"
                 f"<li><a href='/long.pdf'>{LONG}</a></li>")


@dataclass
class Deployment:
    site: Site
    mailbox: Mailbox
    config: Path
    db: Path
    feeds: Path

    def govwatch(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([GOVWATCH, "--config", str(self.config), *args],
                              capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def deployment(site: Site, tmp_path: Path) -> Iterator[Deployment]:
    site.set("/pubs", page())
    site.set("/feed.xml", feed(), content_type="application/rss+xml")
    with smtp_server() as mailbox:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
database: {tmp_path / 'gw.db'}
defaults: {{confirm_pause: {QUICK_CONFIRM}}}
retention: {{keep_versions: 1}}
organizations:
  - id: a
    name: Agency
    monitors:
      - {{id: pubs, kind: page, url: "{site.url('/pubs')}"}}
      - {{id: news, kind: feed, url: "{site.url('/feed.xml')}"}}
notifications:
  email:
    smtp: {{host: 127.0.0.1, port: {mailbox.port}, security: none, timeout: 10s}}
    from: govwatch@example.org
    to: [analyst@example.org]
  feed:
    directory: {tmp_path / 'feeds'}
""", encoding="utf-8")
        yield Deployment(site, mailbox, config, tmp_path / "gw.db", tmp_path / "feeds")


def assert_clean(output: str, what: str) -> None:
    """No character a terminal obeys, no line of its own made from a fetched newline."""
    for character in FORBIDDEN:
        assert character not in output, f"{what} carries {character!r}"
    forged = [line for line in output.splitlines() if line.startswith(FORGED)]
    assert not forged, f"{what} has a forged line: {forged}"


def test_hostile_titles_reach_no_output_raw_and_break_no_channel(
    deployment: Deployment,
) -> None:
    first = deployment.govwatch("run", "--all")
    assert first.returncode == 0, first.stderr
    deployment.site.set("/pubs", page(HOSTILE_LINKS))
    deployment.site.set("/feed.xml", feed(HOSTILE_ITEMS), content_type="application/rss+xml")

    # Twice in a row: the run that finds the change, then one that only regenerates (with
    # JSON lines, which must escape what a terminal would obey and stay parseable).
    for attempt in ("finds the change", "after it"):
        json_lines = ("--log-format", "json") if attempt == "after it" else ()
        result = deployment.govwatch(*json_lines, "run", "--all")
        assert result.returncode == 0, (attempt, result.stdout, result.stderr)
        if json_lines:
            assert all(json.loads(line) for line in result.stdout.splitlines())
        assert "Traceback" not in result.stderr and "FAILED" not in result.stdout, attempt
        assert_clean(result.stdout + result.stderr, f"run that {attempt}")
        assert all(len(line) < 1000 for line in result.stdout.splitlines()), attempt
        if attempt == "finds the change":
            assert "CHANGE #" in result.stdout and "[U+202E]" in result.stdout
            assert "pruned 2 bodies" in result.stdout

    with sqlite3.connect(deployment.db) as db:
        states = db.execute("SELECT channel, state, last_error FROM deliveries").fetchall()
        change_ids = [row[0] for row in db.execute("SELECT id FROM changes ORDER BY id")]
        first_check = db.execute("SELECT min(id) FROM checks WHERE monitor_id = 'pubs'"
                                 ).fetchone()[0]
        snapshot = db.execute("SELECT last_snapshot_hash FROM monitors WHERE id = 'pubs'"
                              ).fetchone()[0]
    assert states and all(state == "delivered" and error is None
                          for _, state, error in states), states
    assert len(change_ids) == 2

    for name in ("govwatch.atom", "govwatch.rss", "org/a.atom", "org/a.rss"):
        parsed = feedparser.parse((deployment.feeds / name).read_bytes())
        assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
        titles = [entry.title for entry in parsed.entries]
        assert len(titles) == 2, (name, titles)
        text = json.dumps([(e.title, e.get("summary", "")) for e in parsed.entries],
                          ensure_ascii=False)
        assert_clean(text, name)
        assert "[U+202E]" in text and "\ufffd" in text, name
        assert all(len(title) <= 300 for title in titles), (name, [len(t) for t in titles])

    assert len(deployment.mailbox.messages) == 1
    received = deployment.mailbox.messages[0]
    assert len(received.message["Subject"]) <= 300
    for subtype in ("plain", "html"):
        body = received.part(subtype)
        assert_clean(body, f"the email's {subtype} part")
        assert "[U+202E]gnp.exe" in body and "click here" in body
        assert "evil.example" not in body  # the OSC 8 target went with its sequence
        assert max(len(line) for line in body.splitlines()) < 1000
    assert "\n" + FORGED not in received.part("plain")

    for args in (("show", str(change_ids[0])), ("show", str(change_ids[1])), ("timeline",),
                 ("history", "pubs"), ("history", "news"), ("search", "Hostile"),
                 ("diff", "pubs", "--from", str(first_check)), ("show", snapshot)):
        shown = deployment.govwatch(*args)
        assert shown.returncode == 0, (args, shown.stderr)
        assert_clean(shown.stdout + shown.stderr, " ".join(args))
        if args[0] not in ("show", "diff"):  # the whole text there; one line a change here
            assert max(map(len, shown.stdout.splitlines())) < 1000, args
    assert "[U+202E]" in deployment.govwatch("timeline").stdout
    assert "[U+202E][gnp].exe" in deployment.govwatch("search", "gnp").stdout  # [match]

    health = deployment.govwatch("health")
    assert health.returncode == 0, health.stdout
    assert "healthy" in health.stdout


def test_a_failing_channel_is_recorded_and_makes_health_unhealthy(
    deployment: Deployment,
) -> None:
    assert deployment.govwatch("run", "--all").returncode == 0
    blocked = deployment.feeds.parent / "blocked"
    blocked.write_text("a file where the feed directory's parent should be")
    deployment.config.write_text(deployment.config.read_text().replace(
        f"directory: {deployment.feeds}", f"directory: {blocked / 'feeds'}"))
    deployment.site.set("/pubs", page("<li><a href='/new.pdf'>New report</a></li>"))

    result = deployment.govwatch("run", "--all")
    assert result.returncode == 0, result.stderr
    assert "digest feed: " in result.stdout and "FAILED, still owed: cannot write feeds" \
        in result.stdout
    assert "pruned 1 bodies" in result.stdout  # the failing channel kept no body from pruning
    assert "Traceback" not in result.stderr
    with sqlite3.connect(deployment.db) as db:
        feed_rows = db.execute("SELECT state, last_error FROM deliveries "
                               "WHERE channel = 'feed'").fetchall()
        email_rows = db.execute("SELECT state FROM deliveries WHERE channel = 'email'").fetchall()
    assert feed_rows and all(state in ("pending", "sending") and "cannot write feeds" in error
                             for state, error in feed_rows), feed_rows
    assert email_rows == [("delivered",)]

    health = deployment.govwatch("health")
    assert health.returncode == 1, health.stdout
    assert "UNHEALTHY" in health.stdout
    assert "ALERT channel-failed: feed: the delivery at" in health.stdout
    assert "cannot write feeds" in health.stdout

    # Fixed: the next run delivers what was owed and health is good again.
    blocked.unlink()
    assert deployment.govwatch("run", "--all").returncode == 0
    assert deployment.govwatch("health").returncode == 0


def test_an_entry_that_cannot_be_written_is_reported_and_the_rest_published(
    store: Store, tmp_path: Path,
) -> None:
    directory = tmp_path / "feeds"
    config = parse_config(config_text(free_port(), directory))
    started(config, store)
    broken = record_change(store, "oecd-news", Change("text", "broken", "+a"))
    fine = record_change(store, "unidir-pubs", Change("text", "fine", "+b"))
    # Stored data can be damaged (by hand, by a bug): a date that does not parse.
    store.db.execute("UPDATE changes SET detected_at = 'not a time' WHERE id = ?", [broken])

    report = deliver_owed(config, store, channel="feed")
    error = report.channels[0].error or ""
    assert f"change #{broken}: ValueError" in error and "1 item(s)" in error
    entries = feedparser.parse((directory / "govwatch.atom").read_bytes()).entries
    assert [entry.id.rsplit("/", 1)[1] for entry in entries] == [str(fine)]
    rows = dict(store.db.execute("SELECT change_id, last_error FROM deliveries").fetchall())
    assert rows[fine] is None and "ValueError" in rows[broken]
    assert [a.kind for a in channel_alerts(config, store)] == ["channel-failed"]
    assert f"change #{broken}" in channel_alerts(config, store)[0].message

    store.db.execute("UPDATE changes SET detected_at = '2026-11-28T09:00:00+00:00' "
                     "WHERE id = ?", [broken])
    assert deliver_owed(config, store, channel="feed").ok
    entries = feedparser.parse((directory / "govwatch.atom").read_bytes()).entries
    assert len(entries) == 2 and channel_alerts(config, store) == []
    assert store.db.execute("SELECT last_error FROM deliveries WHERE change_id = ?",
                            [broken]).fetchone() == (None,)
