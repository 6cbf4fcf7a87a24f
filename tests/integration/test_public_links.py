"""Links out of govwatch: feeds and email digests with and without public URLs.

Every feed file is read back with feedparser; ids are checked across all the files (the
same change in two files must be two entries, as a reader subscribed to both keeps them).
"""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest

from pipeline.config import parse_config
from pipeline.digest import deliver_owed
from storage.db import Store
from tests.integration.digest_support import config_text, smtp_server
from tests.integration.site_support import (
    FEED_URL,
    SITE_URL,
    record_history,
    site_config,
)
from tests.integration.test_digest_feeds import FEED_FILES

pytestmark = pytest.mark.integration


def read_all(directory: Path) -> dict[str, feedparser.FeedParserDict]:
    parsed = {}
    for name in FEED_FILES:
        data = (directory / name).read_bytes()
        assert b"file://" not in data, name
        result = feedparser.parse(data)
        assert result.bozo == 0, (name, result.get("bozo_exception"))
        parsed[name] = result
    return parsed


def test_with_public_urls_feeds_link_to_themselves_and_to_the_change_pages(
    store: Store, tmp_path: Path
) -> None:
    config = site_config(tmp_path)
    history = record_history(store, config)
    assert deliver_owed(config, store, channel="feed").ok
    parsed = read_all(tmp_path / "feeds")

    ids: list[str] = []
    for name, feed in parsed.items():
        selves = [link for link in feed.feed.links if link.rel == "self"]
        assert [(s.href, s.type) for s in selves] == [(
            FEED_URL + name,
            "application/atom+xml" if name.endswith(".atom") else "application/rss+xml")]
        alternate = [link.href for link in feed.feed.links if link.rel == "alternate"]
        scope = name.removesuffix(".atom").removesuffix(".rss")
        assert alternate == [SITE_URL + ("index.html" if scope == "govwatch"
                                         else f"{scope}/index.html")], name
        for entry in feed.entries:
            assert f"/{name}/" in entry.id  # the file's own name: unique across files
            ids.append(entry.id)
            if "/change/" in entry.id:
                number = int(entry.id.rsplit("/", 1)[1])
                assert entry.link == f"{SITE_URL}change/{number}.html"
                assert f'<a href="{SITE_URL}change/{number}.html">View the full diff</a>' \
                    in entry.summary
    assert len(ids) == len(set(ids)), "an entry id repeats across the feed files"
    # The deadline change is in the global and OECD feeds, in both formats: four entries.
    assert len([i for i in ids if i.endswith(f"/change/{history.deadline}")]) == 4


def test_without_public_urls_nothing_links_to_a_file(store: Store, tmp_path: Path) -> None:
    config = site_config(tmp_path, site_url=None, feed_url=None)
    history = record_history(store, config)
    assert deliver_owed(config, store, channel="feed").ok
    parsed = read_all(tmp_path / "feeds")
    for name, feed in parsed.items():
        assert not [link for link in feed.feed.get("links", []) if link.rel == "self"], name
        for entry in feed.entries:
            assert entry.get("link", "https://").startswith("https://"), (name, entry.link)
            assert "View the full diff" not in entry.summary
    assert parsed["org/unidir.atom"].feed.link == "https://unidir.org/"  # its homepage
    # The global RSS feed has no page to stand for: no channel link rather than a file.
    assert "<link>" not in (tmp_path / "feeds/govwatch.rss").read_text().split("<item>")[0]
    entry = {e.id.rsplit("/", 1)[1]: e for e in parsed["govwatch.atom"].entries}
    assert entry[str(history.document)].link == "https://unidir.org/annual.pdf"


def test_the_email_links_each_change_to_its_page(store: Store, tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        text = config_text(mailbox.port, tmp_path / "feeds")
        config = parse_config(text + f"site:\n  directory: {tmp_path / 'site'}\n"
                                     f"  public_url: {SITE_URL}\n")
        history = record_history(store, config)
        assert deliver_owed(config, store, channel="email").ok
    plain, html = mailbox.messages[0].part("plain"), mailbox.messages[0].part("html")
    for change_id in (history.deadline, history.document, history.later):
        assert f"view the full diff: {SITE_URL}change/{change_id}.html" in plain
        assert f'<a href="{SITE_URL}change/{change_id}.html" style="color:#0b5cad;">View the ' \
               "full diff</a>" in html
    assert "govwatch show" not in plain and "file://" not in plain + html
    assert f"The current heads are published at {SITE_URL}heads.json" in plain


def test_without_a_site_the_email_names_the_command(store: Store, tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "feeds"))
        record_history(store, config)
        assert deliver_owed(config, store, channel="email").ok
    plain = mailbox.messages[0].part("plain")
    assert "`govwatch show ID` prints the full diff" in plain
    assert "view the full diff" not in plain and "file://" not in plain


def test_base_url_is_the_older_name_of_public_url(tmp_path: Path) -> None:
    text = config_text(1025, tmp_path / "feeds")
    old = parse_config(text + "    base_url: https://watch.example.org/old/\n")
    assert old.notifications.feed is not None
    assert old.notifications.feed.public_url == "https://watch.example.org/old/"
    with pytest.raises(Exception, match="older name"):
        parse_config(text + "    base_url: https://a.example.org/\n"
                            "    public_url: https://b.example.org/\n")
