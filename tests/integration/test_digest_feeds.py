"""Atom and RSS feeds written from the database, read back with feedparser."""

from __future__ import annotations

from pathlib import Path

import feedparser

from core.records import Change
from pipeline.config import Config, parse_config
from pipeline.digest import deliver_owed, start_channels
from storage.db import Store
from storage.outbox import delivery_counts
from tests.integration.digest_support import (
    XSS_ATTRIBUTE,
    XSS_SCRIPT,
    config_text,
    feed_change,
    free_port,
    page_change,
    record_change,
)

FEED_FILES = ("govwatch.atom", "govwatch.rss", "org/oecd.atom", "org/oecd.rss",
              "org/unidir.atom", "org/unidir.rss")


def feed_config(directory: Path, extra: str = "") -> Config:
    text = config_text(free_port(), directory)
    return parse_config(text.replace(f"    directory: {directory}\n",
                                     f"    directory: {directory}\n{extra}"))


def setup(store: Store, config: Config) -> None:
    store.sync_monitors(config.organizations)
    start_channels(config, store)


def parse_all(directory: Path) -> dict[str, feedparser.FeedParserDict]:
    parsed = {}
    for name in FEED_FILES:
        result = feedparser.parse((directory / name).read_bytes())
        assert result.bozo == 0, (name, result.get("bozo_exception"))
        parsed[name] = result
    return parsed


def test_every_feed_is_valid_and_atom_has_the_rfc4287_elements(
    store: Store, tmp_path: Path
) -> None:
    directory = tmp_path / "feeds"
    config = feed_config(directory, "    public_url: https://watch.example.org/feeds/")
    setup(store, config)
    doc = "https://unidir.org/doc.pdf"
    page_id = record_change(store, "unidir-pubs", page_change("Report", doc, "Report"))
    oecd_id = record_change(store, "oecd-news", Change("text", "2 lines", "+a\n+b"))
    report = deliver_owed(config, store, channel="feed")
    assert report.ok and report.channels[0].delivered == 2

    parsed = parse_all(directory)
    atom, rss = parsed["govwatch.atom"], parsed["govwatch.rss"]
    assert atom.version == "atom10" and rss.version == "rss20"
    assert atom.feed.id.startswith("tag:govwatch.invalid,")
    assert atom.feed.updated and atom.feed.author == "govwatch"
    assert {"rel": "self", "href": "https://watch.example.org/feeds/govwatch.atom"} in [
        {"rel": link.rel, "href": link.href} for link in atom.feed.links]
    for name, feed in (("govwatch.atom", atom), ("govwatch.rss", rss)):
        assert [e.id for e in feed.entries] == [
            f"{atom.feed.id.removesuffix('/feed/all')}/{name}/change/{n}"
            for n in (oecd_id, page_id)]
        by_id = {e.id.rsplit("/", 1)[1]: e for e in feed.entries}
        assert by_id[str(page_id)].link == doc  # one new document: its URL
        assert by_id[str(oecd_id)].link == "https://oecd.ai/en/news"  # else the monitor's
        assert by_id[str(page_id)].title == "UNIDIR - New document: Report"
        assert "+ a" in by_id[str(oecd_id)].summary
        assert "https://oecd.ai/en/news" in by_id[str(oecd_id)].summary
        detected = store.db.execute(
            "SELECT substr(detected_at, 12, 8) FROM changes WHERE id = ?", [oecd_id]
        ).fetchone()[0]
        assert by_id[str(oecd_id)].published_parsed[:6] == (
            2026, 11, 28, *(int(x) for x in detected.split(":")))
    assert all(entry.updated for entry in atom.entries)
    raw_rss = (directory / "govwatch.rss").read_text()
    assert raw_rss.count('isPermaLink="false"') == 2
    def relative(entry_id: str) -> str:
        return entry_id.rsplit("/", 2)[1] + "/" + entry_id.rsplit("/", 1)[1]

    assert [relative(e.id) for e in parsed["org/oecd.atom"].entries] == \
        [relative(rss.entries[0].id)]
    assert [relative(e.id) for e in parsed["org/unidir.rss"].entries] == \
        [relative(rss.entries[1].id)]
    assert parsed["org/oecd.atom"].feed.title == "govwatch: OECD"
    assert sorted(p.name for p in directory.rglob(".*")) == []  # no temporary file left


def test_entry_ids_never_change_when_feeds_are_regenerated(
    store: Store, tmp_path: Path
) -> None:
    directory = tmp_path / "feeds"
    config = feed_config(directory)
    setup(store, config)
    record_change(store, "oecd-news", Change("text", "one", "+1"))
    deliver_owed(config, store, channel="feed")
    before = {name: [e.id for e in feed.entries] for name, feed in parse_all(directory).items()}
    feed_ids = {name: feed.feed.get("id") for name, feed in parse_all(directory).items()}
    atom_before = (directory / "govwatch.atom").read_bytes()

    deliver_owed(config, store, channel="feed")  # nothing new: the same files again
    assert (directory / "govwatch.atom").read_bytes() == atom_before
    record_change(store, "unidir-feed", feed_change("Two", "https://unidir.org/two"))
    store.close()
    with Store(store.path) as reopened:  # another process, same database
        deliver_owed(config, reopened, channel="feed")
    after = {name: [e.id for e in feed.entries] for name, feed in parse_all(directory).items()}
    assert after["govwatch.atom"][1:] == before["govwatch.atom"]
    assert after["govwatch.rss"][1:] == before["govwatch.rss"]
    assert after["org/oecd.atom"] == before["org/oecd.atom"]
    assert {name: feed.feed.get("id") for name, feed in parse_all(directory).items()} == feed_ids


def test_configured_id_prefix_and_max_entries(store: Store, tmp_path: Path) -> None:
    directory = tmp_path / "feeds"
    config = feed_config(directory, "    max_entries: 2\n"
                                    "    id_prefix: 'tag:example.org,2026:govwatch'\n"
                                    "    formats: [atom]")
    setup(store, config)
    ids = [record_change(store, "oecd-news", Change("text", f"c{n}", f"+{n}")) for n in range(3)]
    deliver_owed(config, store, channel="feed")
    feed = feedparser.parse((directory / "govwatch.atom").read_bytes())
    assert feed.bozo == 0
    assert [e.id for e in feed.entries] == [
        f"tag:example.org,2026:govwatch/govwatch.atom/change/{n}" for n in reversed(ids[1:])]
    assert not (directory / "govwatch.rss").exists()


def test_fetched_text_is_escaped_in_every_feed(store: Store, tmp_path: Path) -> None:
    directory = tmp_path / "feeds"
    config = feed_config(directory)
    setup(store, config)
    record_change(store, "unidir-feed", feed_change(XSS_SCRIPT, "https://unidir.org/x"))
    record_change(store, "oecd-news", Change(
        kind="text", summary=XSS_ATTRIBUTE, diff=f"+{XSS_SCRIPT}\n-{XSS_ATTRIBUTE}",
        detail={"links_added": [["javascript:alert(1)", XSS_ATTRIBUTE]]}))
    deliver_owed(config, store, channel="feed")
    parsed = parse_all(directory)
    for name in FEED_FILES:
        raw = (directory / name).read_text()
        # Text constructs are XML-escaped once; HTML content is escaped by the template
        # first, so its markup can never become an element in a reader.
        assert "<script" not in raw and "<img" not in raw
        assert "&lt;script&gt;" not in raw.split("<title>", 1)[0]
        if name.startswith("govwatch") or "oecd" in name:
            assert "&amp;lt;img src=x onerror=alert(1)&amp;gt;" in raw
        assert 'href="javascript:' not in raw and "&lt;a href=&quot;javascript" not in raw
    titles = [e.title for e in parsed["govwatch.atom"].entries]
    assert f"UNIDIR - New document: {XSS_SCRIPT}" in titles  # a title is text, shown as is
    contents = " ".join(e.summary for e in parsed["govwatch.rss"].entries)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in contents


def test_unwritable_directory_keeps_the_changes_owed(store: Store, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the feed directory should be")
    config = feed_config(blocker / "feeds")
    setup(store, config)
    record_change(store, "oecd-news", Change("text", "c", "+1"))
    report = deliver_owed(config, store, channel="feed")
    assert not report.ok and "cannot write feeds" in (report.channels[0].error or "")
    assert delivery_counts(store) == {("feed", "sending"): 1}

    fixed = feed_config(tmp_path / "feeds")
    assert deliver_owed(fixed, store, channel="feed").ok
    assert delivery_counts(store) == {("feed", "delivered"): 1}
    assert len(parse_all(tmp_path / "feeds")["govwatch.atom"].entries) == 1
