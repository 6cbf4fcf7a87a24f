"""Digests publish the chain heads; muted changes stay out; the daemon's digest job delivers."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from core.records import Change
from pipeline.cli.group import cli
from pipeline.config import parse_config
from pipeline.digest import deliver_due as daemon_digest_job
from pipeline.digest import deliver_owed, start_channels
from storage.chain import current_heads
from storage.db import Store
from storage.records import utc_now
from tests.integration.digest_support import config_text, record_change, smtp_server


def test_email_digest_carries_every_chain_head_and_they_verify(
    store: Store, tmp_path: Path
) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "feeds"))
        store.sync_monitors(config.organizations)
        start_channels(config, store)
        record_change(store, "oecd-news", Change("text", "new call", "+b", {}, 0.9))
        record_change(store, "unidir-pubs", Change("text", "new report", "+c", {}, 0.9))
        deliver_owed(config, store)
    message = mailbox.messages[0].message
    text = mailbox.messages[0].part("plain")
    html = mailbox.messages[0].part("html")
    attachments = [(part.get_filename(), part.get_content()) for part in
                   message.iter_attachments()]
    assert [name for name, _ in attachments] == ["heads.json"]
    published = json.loads(attachments[0][1])
    assert published["heads"] == current_heads(store.db)
    assert set(published["heads"]) == {"oecd-news", "unidir-pubs"}
    # The body says so in one line and no longer carries the hashes themselves.
    for part in (text, html):
        assert "2 monitor(s) attached as heads.json" in " ".join(part.split())
        assert not any(head in part for head in published["heads"].values())
    heads_file = tmp_path / "heads.json"
    heads_file.write_text(json.dumps(published))
    # The history still verifies against what the digest published...
    result = CliRunner().invoke(cli, ["--db", str(store.path), "verify", "--against",
                                      str(heads_file)])
    assert result.exit_code == 0, result.output
    # ...and deleting the newest check (fixing the head, as a forger would) is caught.
    newest = store.db.execute("SELECT max(id) FROM checks WHERE monitor_id = 'oecd-news'"
                              ).fetchone()[0]
    store.close()
    with sqlite3.connect(tmp_path / "govwatch.db") as forger:  # foreign keys off by default
        forger.execute("DELETE FROM changes WHERE check_id = ?", [newest])
        forger.execute("DELETE FROM checks WHERE id = ?", [newest])
        forger.execute("UPDATE monitors SET chain_head = NULL WHERE id = 'oecd-news'")
    forger.close()
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "govwatch.db"), "verify",
                                      "--against", str(heads_file)])
    assert result.exit_code == 1
    assert "oecd-news" in result.output


def test_feed_channel_writes_the_heads_beside_the_feeds(store: Store, tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "feeds"))
        store.sync_monitors(config.organizations)
        start_channels(config, store)
        record_change(store, "oecd-news", Change("text", "new call", "+b", {}, 0.9))
        deliver_owed(config, store, channel="feed")
    heads = json.loads((tmp_path / "feeds" / "heads.json").read_text())
    assert heads == {"heads": current_heads(store.db)}


def test_changes_muted_by_their_monitor_are_not_delivered(store: Store, tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "f"))
        store.sync_monitors(config.organizations)
        start_channels(config, store)
        muted = record_change(store, "oecd-news", Change("text", "menu", "+a", {}, 0.1))
        store.db.execute("UPDATE changes SET notable = 0 WHERE id = ?", [muted])
        loud = record_change(store, "oecd-news", Change("text", "new call", "+b", {}, 0.9))
        deliver_owed(config, store)
    assert [m.change_ids() for m in mailbox.messages] == [[loud]]


def test_the_daemon_digest_job_delivers_what_is_owed(store: Store, tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "feeds"))
        store.sync_monitors(config.organizations)
        change = record_change(store, "oecd-news", Change("text", "x", "+b", {}, 0.9))
        # Nothing is owed for changes recorded before the channels started.
        assert daemon_digest_job(config, store, utc_now()) == 2
        assert mailbox.messages == []
        later = record_change(store, "oecd-news", Change("text", "y", "+c", {}, 0.9))
        assert daemon_digest_job(config, store, utc_now()) == 2
    assert [m.change_ids() for m in mailbox.messages] == [[later]]
    assert later > change


def test_the_daemon_digest_job_survives_a_dead_relay(store: Store, tmp_path: Path) -> None:
    config = parse_config(config_text(1, tmp_path / "feeds"))
    store.sync_monitors(config.organizations)
    start_channels(config, store)
    record_change(store, "oecd-news", Change("text", "x", "+b", {}, 0.9))
    daemon_digest_job(config, store, utc_now())
    owed = store.db.execute("SELECT count(*) FROM deliveries WHERE channel = 'email' "
                            "AND state != 'delivered'").fetchone()[0]
    assert owed == 1
