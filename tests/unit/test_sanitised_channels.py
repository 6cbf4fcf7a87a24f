"""Random hostile text through the channels' own composition: every feed entry is XML that
feedparser reads without complaint, every email part carries nothing a terminal obeys,
and single-line fields stay one clipped line."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import feedparser
from feedgen.feed import FeedGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.sanitise import LINE_LIMIT
from notifications.config import EmailSettings
from notifications.digest import Digest
from notifications.feeds import alert_entry, change_entry, xml_checked
from notifications.mail import EmailNotifier
from storage.outbox import OwedAlert, OwedChange

SPECIAL = list("\x1b[]\\;08m\x07\x9b\x9c\x9d\r\n\x85\x0b\u2028\u202e\u2066\ud800\ufffe\x00\x01")
HOSTILE = st.text(st.sampled_from(SPECIAL) | st.characters(min_codepoint=0), max_size=60)
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                    "\ud800-\udfff\ufffe\uffff]")


def hostile_change(title: str, summary: str, line: str) -> OwedChange:
    url = "https://unidir.example/doc.pdf"
    return OwedChange(
        change_id=7, org_id="unidir", org_name="UNIDIR", monitor_id="feed",
        monitor_name="UNIDIR feed", monitor_url="https://unidir.example/feed",
        monitor_kind="feed", kind="feed", summary=summary, diff=f"+{line}\n-{line}",
        detail={"entries_added": [{"link": url, "title": title}],
                "documents": [{"url": url, "title": title}],
                "entries_removed": [{"title": title, "link": url}]},
        significance=0.5, reasons=("new entry",), detected_at="2026-12-07T05:00:00+00:00")


def hostile_alert(error: str) -> OwedAlert:
    return OwedAlert(alert_id=3, org_id="unidir", org_name="UNIDIR", monitor_id="feed",
                     monitor_name="UNIDIR feed", monitor_url="https://unidir.example/feed",
                     kind="failing", failures=3, error=error,
                     created_at="2026-12-07T05:00:00+00:00")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE, HOSTILE, HOSTILE, HOSTILE)
def test_a_feed_of_hostile_entries_is_valid_xml(title: str, summary: str, line: str,
                                                error: str) -> None:
    entries = [xml_checked(change_entry("tag:x.invalid,2026:t", hostile_change(
                   title, summary, line), with_org=True)),
               xml_checked(alert_entry("tag:x.invalid,2026:t", hostile_alert(error),
                                       with_org=False))]
    generator = FeedGenerator()
    generator.id("tag:x.invalid,2026:t/feed")
    generator.title("t")
    generator.link(href="https://x.invalid/feed.atom", rel="self")
    generator.description("d")
    for entry in entries:
        assert len(entry.title) <= LINE_LIMIT and "\n" not in entry.title
        assert not UNSAFE.search(entry.title + entry.content)
        item = generator.add_entry()
        item.id(entry.id)
        item.title(entry.title)
        item.link(href=entry.link)
        item.updated(entry.updated)
        item.content(entry.content, type="html")
    for data in (generator.atom_str(), generator.rss_str()):
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert len(parsed.entries) == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE, HOSTILE, HOSTILE, HOSTILE)
def test_an_email_of_hostile_changes_carries_nothing_a_terminal_obeys(
    title: str, summary: str, line: str, error: str,
) -> None:
    settings_ = EmailSettings.model_validate({
        "smtp": {"host": "127.0.0.1"}, "from": "govwatch@example.org",
        "to": ["analyst@example.org"]})
    notifier = EmailNotifier(settings_)
    digest = Digest("email", datetime(2026, 12, 7, tzinfo=UTC),
                    changes=(hostile_change(title, summary, line),),
                    alerts=(hostile_alert(error),))
    [message] = notifier.compose(digest)
    mime = message_from_bytes(message.body, policy=default)
    assert isinstance(mime, EmailMessage)
    assert len(str(mime["Subject"])) <= LINE_LIMIT
    for subtype in ("plain", "html"):
        part = mime.get_body(preferencelist=(subtype,))
        assert isinstance(part, EmailMessage)
        text = part.get_content().replace("\r\n", "\n")  # the SMTP policy writes CRLF
        assert not UNSAFE.search(text), (subtype, text)
        assert max(len(line) for line in text.splitlines()) < 2 * LINE_LIMIT + 200
