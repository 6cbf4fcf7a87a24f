"""An updated feed entry's fields, word by word, in `govwatch show`, the email digest (read
back from a real SMTP server) and the feed channel (read back with feedparser)."""

from __future__ import annotations

from pathlib import Path

import feedparser
from click.testing import CliRunner

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from pipeline.cli.group import cli
from pipeline.config import parse_config
from pipeline.digest import deliver_owed
from storage.db import Store
from tests.integration.digest_support import (
    config_text,
    free_port,
    record_change,
    smtp_server,
    started,
)
from tests.integration.feed_field_support import ENTRY_LINK, updated_entry_change

TITLE_WORDS = "[-Draft-] {+Final+} <script>alert(1)</script> rules"
SUMMARY_WORDS = ("Comments are welcome until [-1-] {+15+} March from all member states "
                 "{+and observers+}")
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_show_prints_each_changed_field_under_its_entry(store: Store, tmp_path: Path) -> None:
    started(parse_config(config_text(free_port(), tmp_path / "feeds")), store)
    change_id = record_change(store, "unidir-feed", updated_entry_change())
    result = CliRunner().invoke(cli, ["--db", str(store.path), "show", str(change_id)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    heading = lines.index(
        f"  ~ Final <script>alert(1)</script> rules <{ENTRY_LINK}> (title, summary)")
    assert lines[heading + 1:heading + 3] == [f"      title: {TITLE_WORDS}",
                                              f"      summary: {SUMMARY_WORDS}"]
    # The diff is no longer silent about the summary.
    assert "+  Comments are welcome until 15 March from all member states and observers" in lines


def test_email_shows_the_word_diff_escaped(store: Store, tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "feeds"))
        started(config, store)
        change_id = record_change(store, "unidir-feed", updated_entry_change())
        report = deliver_owed(config, store)
    assert report.ok and len(mailbox.messages) == 1
    received = mailbox.messages[0]
    assert received.change_ids() == [change_id]
    text, html = received.part("plain").replace("\r\n", "\n"), received.part("html")

    assert f"         title: {TITLE_WORDS}\n" in text
    assert f"         summary: {SUMMARY_WORDS}\n" in text
    assert f"~ Final <script>alert(1)</script> rules\n         {ENTRY_LINK}\n" in text
    # The field diffs replace the diff lines, which would say the same twice.
    assert "+ Comments are welcome" not in text

    assert "<script" not in html
    assert (f'title: <del style="color:#82071e;background-color:#ffebe9;">Draft</del> '
            f'<ins style="color:#116329;background-color:#e6ffec;">Final</ins> '
            f"{ESCAPED_SCRIPT} rules</div>") in html
    assert ('summary: Comments are welcome until <del style="color:#82071e;'
            'background-color:#ffebe9;">1</del> <ins style="color:#116329;'
            'background-color:#e6ffec;">15</ins> March from all member states '
            '<ins style="color:#116329;background-color:#e6ffec;">and observers</ins></div>'
            ) in html
    assert f'<a href="{ENTRY_LINK}" style="color:#0b5cad;">Final {ESCAPED_SCRIPT} rules</a>' \
        in html


def test_feed_channel_shows_the_word_diff_escaped(store: Store, tmp_path: Path) -> None:
    directory = tmp_path / "feeds"
    config = parse_config(config_text(free_port(), directory))
    started(config, store)
    record_change(store, "unidir-feed", updated_entry_change())
    assert deliver_owed(config, store, channel="feed").ok
    for name in ("govwatch.atom", "govwatch.rss", "org/unidir.atom", "org/unidir.rss"):
        raw = (directory / name).read_text()
        # The content is HTML escaped by the template, then XML-escaped: never an element.
        assert "<script" not in raw and "&amp;lt;script&amp;gt;" in raw
        parsed = feedparser.parse(raw)
        assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
        [entry] = parsed.entries
        content = entry.summary
        assert "<script" not in content
        assert f"<li>title: <del>Draft</del> <ins>Final</ins> {ESCAPED_SCRIPT} rules</li>" \
            in content, content
        assert ("<li>summary: Comments are welcome until <del>1</del> <ins>15</ins> March "
                "from all member states <ins>and observers</ins></li>") in content
        assert f'<a href="{ENTRY_LINK}">Final {ESCAPED_SCRIPT} rules</a>' in content
