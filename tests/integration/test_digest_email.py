"""Email digests delivered to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from core.records import Change
from pipeline.cli.group import cli
from pipeline.config import parse_config
from pipeline.digest import deliver_owed
from storage.db import Store
from storage.outbox import delivery_counts
from tests.integration.digest_support import (
    XSS_ATTRIBUTE,
    XSS_SCRIPT,
    config_text,
    database_with_one_change,
    feed_change,
    free_port,
    page_change,
    record_change,
    self_signed_certificate,
    smtp_server,
    started,
    web_site,
)

DOC_URL = "https://unidir.org/files/ai-security-2026.pdf"
DOC_TITLE = "AI Security Report 2026"


def test_digest_parts_headers_grouping_excerpts_and_urls(store: Store, tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "feeds"))
        started(config, store)
        page_id = record_change(store, "unidir-pubs",
                                page_change(DOC_TITLE, DOC_URL, f"{DOC_TITLE} (PDF)"))
        feed_id = record_change(store, "unidir-feed", feed_change(DOC_TITLE, DOC_URL))
        oecd_id = record_change(store, "oecd-news", Change(
            kind="text", summary="2 line(s) added, 0 removed",
            diff="+Call for experts on AI incidents\n+Deadline: 1 March", significance=0.35))
        report = deliver_owed(config, store, datetime(2026, 11, 28, 12, 0, tzinfo=UTC))

    assert report.ok and report.channels[0].delivered == 3
    assert len(mailbox.messages) == 1
    received = mailbox.messages[0]
    assert received.mail_from == "govwatch@example.org"
    assert sorted(received.recipients) == ["analyst@example.org", "second@example.org"]
    message = received.message
    # The text and HTML alternatives, then the chain heads as an attachment.
    assert message.get_content_type() == "multipart/mixed"
    body, heads = message.iter_parts()
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    assert heads.get_content_type() == "application/json"
    assert heads.get_filename() == "heads.json"
    assert message["Subject"] == "[govwatch] 3 changes: OECD, UNIDIR"
    assert message["Date"] == "Sat, 28 Nov 2026 12:00:00 +0000"
    assert message["List-Id"] == "govwatch digest <digest.govwatch.example.org>"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(
        "@example.org>")
    text, html = received.part("plain"), received.part("html")

    # Grouped by organization (by name), then monitor; each change once, in both parts.
    assert received.change_ids() == [oecd_id, page_id, feed_id]
    assert text.index("== OECD ==") < text.index("== UNIDIR ==")
    assert text.index("-- UNIDIR publications") < text.index("-- UNIDIR news feed")
    for part in (text, html):
        for url in ("https://oecd.ai/en/news", "https://unidir.org/publications",
                    "https://unidir.org/feed/", DOC_URL):
            assert url in part
        assert "significance 0.35" in part and "significance 0.80" in part
        assert "Call for experts on AI incidents" in part
    assert "+ Call for experts on AI incidents" in text
    assert "- Old teaser" in text and "+ AI Security Report 2026 (PDF)" in text
    # The document announced on the listing page and in the feed appears once, naming both.
    assert text.count(DOC_URL) == 1
    assert html.count(f'href="{DOC_URL}"') == 1 and html.count(f">{DOC_URL}<") == 1
    for part in (text, html):
        assert "announced by: UNIDIR publications (page), UNIDIR news feed (feed)" in part
    assert "style=" in html and "<style" not in html  # inline CSS only
    assert delivery_counts(store)[("email", "delivered")] == 3


def test_fetched_text_is_escaped_in_the_html_part(store: Store, tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "feeds"))
        started(config, store)
        record_change(store, "unidir-feed", feed_change(XSS_SCRIPT, "https://unidir.org/x"))
        record_change(store, "oecd-news", Change(
            kind="text", summary=XSS_ATTRIBUTE, diff=f"+{XSS_SCRIPT}\n-{XSS_ATTRIBUTE}",
            detail={"links_added": [["javascript:alert(1)", XSS_ATTRIBUTE]]}))
        deliver_owed(config, store)
    html = mailbox.messages[0].part("html")
    for raw in (XSS_SCRIPT, XSS_ATTRIBUTE, "<img", "<script"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:' not in html  # only http(s) URLs become links
    text = mailbox.messages[0].part("plain")
    assert XSS_SCRIPT in text  # plain text shows the title as it is


def test_routes_send_each_audience_its_organizations(store: Store, tmp_path: Path) -> None:
    routes = ("    routes:\n      oecd: [oecd-desk@example.org, analyst@example.org]\n"
              "      unidir: [unidir-desk@example.org]")
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "f", email_extra=routes))
        started(config, store)
        unidir = record_change(store, "unidir-feed", feed_change("A", "https://unidir.org/a"))
        oecd = record_change(store, "oecd-news", Change(kind="text", summary="s", diff="+x"))
        deliver_owed(config, store)
    by_recipients = {m.recipients: m for m in mailbox.messages}
    assert set(by_recipients) == {("analyst@example.org", "second@example.org"),
                                  ("oecd-desk@example.org",), ("unidir-desk@example.org",)}
    assert by_recipients[("analyst@example.org", "second@example.org")].change_ids() == [
        oecd, unidir]
    assert by_recipients[("oecd-desk@example.org",)].change_ids() == [oecd]
    unidir_only = by_recipients[("unidir-desk@example.org",)]
    assert unidir_only.change_ids() == [unidir]
    assert unidir_only.message["Subject"] == "[govwatch] 1 change: UNIDIR"
    assert len({m.message["Message-ID"] for m in mailbox.messages}) == 3


def test_below_min_significance_is_skipped_not_owed(store: Store, tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "f",
                                          email_extra="    min_significance: 0.5"))
        started(config, store)
        minor = record_change(store, "oecd-news", Change("text", "typo", "+a", {}, 0.1))
        major = record_change(store, "oecd-news", Change("text", "new call", "+b", {}, 0.9))
        deliver_owed(config, store)
        deliver_owed(config, store)
    assert [m.change_ids() for m in mailbox.messages] == [[major]]
    state = store.db.execute("SELECT state FROM deliveries WHERE channel = 'email' AND "
                             "change_id = ?", [minor]).fetchone()[0]
    assert state == "skipped"


def test_starttls_with_login_password_from_env_and_private_ca(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    cert, key = self_signed_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    monkeypatch.setenv("GOVWATCH_TEST_SMTP_PASSWORD", "s3cret-relay")
    smtp = (f"security: starttls, username: govwatch, password_env: GOVWATCH_TEST_SMTP_PASSWORD,"
            f" ca_file: '{cert}'")
    with smtp_server(tls_context=server_tls, require_starttls=True, authenticator=True,
                     auth_require_tls=True) as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "f", smtp=smtp))
        started(config, store)
        change_id = record_change(store, "oecd-news", Change("text", "s", "+over TLS"))
        report = deliver_owed(config, store)
        assert report.ok, report
        assert mailbox.logins == [("govwatch", "s3cret-relay")]
        assert [m.change_ids() for m in mailbox.messages] == [[change_id]]

        # Without the CA the relay's certificate is refused and the change stays owed.
        untrusted = parse_config(config_text(mailbox.port, tmp_path / "f",
                                             smtp=smtp.replace(f", ca_file: '{cert}'", "")))
        record_change(store, "oecd-news", Change("text", "s2", "+again"))
        failed = deliver_owed(untrusted, store, channel="email")
        assert not failed.ok and "CERTIFICATE_VERIFY_FAILED" in (failed.channels[0].error or "")
        assert delivery_counts(store)[("email", "pending")] == 1
        assert len(mailbox.messages) == 1


def test_implicit_tls(store: Store, tmp_path: Path) -> None:
    import ssl

    cert, key = self_signed_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with smtp_server(ssl_context=server_tls) as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "f",
                                          smtp=f"security: tls, ca_file: '{cert}'"))
        started(config, store)
        change_id = record_change(store, "oecd-news", Change("text", "s", "+implicit"))
        assert deliver_owed(config, store).ok
    assert [m.change_ids() for m in mailbox.messages] == [[change_id]]


def test_missing_password_variable_is_a_reported_failure(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOVWATCH_TEST_SMTP_PASSWORD", raising=False)
    smtp = "security: starttls, username: govwatch, password_env: GOVWATCH_TEST_SMTP_PASSWORD"
    config = parse_config(config_text(free_port(), tmp_path / "f", smtp=smtp))
    started(config, store)
    record_change(store, "oecd-news", Change("text", "s", "+x"))
    report = deliver_owed(config, store, channel="email")
    assert "GOVWATCH_TEST_SMTP_PASSWORD" in (report.channels[0].error or "")
    row = store.db.execute("SELECT state, attempts, last_error FROM deliveries "
                           "WHERE channel = 'email'").fetchone()
    assert row[0] == "pending" and row[1] == 1 and "is not set" in row[2]


SITE_PAGE = "<html><body><main><h1>Publications</h1>{items}</main></body></html>"
SITE_FEED = ('<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
             '<link>{base}/</link><description>d</description>{items}</channel></rss>')


def serve(pages: dict[str, tuple[str, bytes]], base: str, page_items: list[str],
          feed_items: list[str]) -> None:
    links = "".join(f'<p><a href="/docs/{i}.pdf">{i}</a></p>' for i in page_items)
    entries = "".join(f"<item><title>{i}</title><link>{base}/docs/{i}.pdf</link>"
                      f"<guid>{i}</guid></item>" for i in feed_items)
    pages["/publications"] = ("text/html", SITE_PAGE.format(items=links).encode())
    pages["/feed"] = ("application/rss+xml", SITE_FEED.format(base=base, items=entries).encode())


def site_config(base: str, port: int, feed_dir: Path, digest: str = "after-run") -> str:
    return f"""
organizations:
  - id: unidir
    name: UNIDIR
    monitors:
      - {{id: pubs, name: Publications, kind: page, url: "{base}/publications"}}
      - {{id: news, name: News feed, kind: feed, url: "{base}/feed"}}
notifications:
  email:
    smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 5s}}
    from: govwatch@example.org
    to: [analyst@example.org]
  feed: {{directory: "{feed_dir}"}}
digest: "{digest}"
"""


def govwatch(config_path: Path, db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config_path), "--db", str(db), *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.integration
def test_smtp_down_for_two_runs_then_up_delivers_each_change_once(tmp_path: Path) -> None:
    with web_site() as (base, pages):
        smtp_down_then_up(base, pages, tmp_path)


def smtp_down_then_up(base: str, site: dict[str, tuple[str, bytes]], tmp_path: Path) -> None:
    port = free_port()  # nothing listens here until the relay "comes back"
    config_path = tmp_path / "config.yaml"
    config_path.write_text(site_config(base, port, tmp_path / "feeds"))
    db = tmp_path / "govwatch.db"

    serve(site, base, ["First"], ["First"])
    first = govwatch(config_path, db, "run", "--all")
    assert "checked 2: new 2" in first and "digest email: nothing owed" in first

    serve(site, base, ["Second", "First"], ["Second", "First"])
    second = govwatch(config_path, db, "run", "--all")
    assert second.count("CHANGE #") == 2 and "digest email: 0 item(s)" in second
    assert "FAILED, still owed" in second and "Connection refused" in second

    serve(site, base, ["Third", "Second", "First"], ["Second", "First"])
    third = govwatch(config_path, db, "run", "--all")
    assert third.count("CHANGE #") == 1 and "FAILED, still owed" in third

    with smtp_server(port) as mailbox:
        fourth = govwatch(config_path, db, "run", "--all")
        assert "digest email: 3 item(s) delivered, 1 message(s) sent" in fourth
        fifth = govwatch(config_path, db, "run", "--all")
        assert "digest email: nothing owed" in fifth
    with Store(db) as store:
        change_ids = [row[0] for row in store.db.execute("SELECT id FROM changes ORDER BY id")]
        attempts = store.db.execute(
            "SELECT attempts FROM deliveries WHERE channel = 'email' ORDER BY change_id")
        # Changes of run 2 failed twice then went; the change of run 3 failed once.
        assert [row[0] for row in attempts] == [3, 3, 2]
    assert len(change_ids) == 3
    assert len(mailbox.messages) == 1
    delivered = mailbox.messages[0].change_ids()
    assert Counter(delivered) == Counter(change_ids)  # each change exactly once
    text = mailbox.messages[0].part("plain")
    assert f"{base}/docs/Second.pdf" in text and f"{base}/publications" in text


@pytest.mark.integration
def test_crash_after_send_resends_with_the_same_message_id(tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config_path, db, change_id = database_with_one_change(
            mailbox.port, tmp_path, Change("text", "s", "+crash"))
        command = [sys.executable, "-c", "from pipeline.cli.main import main; main()",
                   "--config", str(config_path),
                   "--db", str(db), "digest", "--channel", "email"]
        crashed = subprocess.run(
            command, env={**os.environ, "GOVWATCH_TEST_CRASH_AFTER_SEND": "1"},
            capture_output=True, timeout=60, check=False, cwd=tmp_path)
        assert crashed.returncode == 137, crashed.stderr
        assert len(mailbox.messages) == 1  # the server accepted it; the commit never came
        with Store(db) as store:
            assert delivery_counts(store) == {("email", "sending"): 1}

        again = subprocess.run(command, capture_output=True, timeout=60, check=False,
                               cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "1 item(s) delivered, 1 message(s) sent" in again.stdout.decode()
        third = subprocess.run(command, capture_output=True, timeout=60, check=False,
                               cwd=tmp_path)
        assert "digest email: nothing owed" in third.stdout.decode()
    first, resent = mailbox.messages
    assert first.data == resent.data  # the same message, byte for byte
    assert first.message["Message-ID"] == resent.message["Message-ID"]
    assert first.change_ids() == resent.change_ids() == [change_id]
    with Store(db) as store:
        assert delivery_counts(store) == {("email", "delivered"): 1}
        assert store.db.execute("SELECT state FROM digests").fetchall() == [("sent",)]
