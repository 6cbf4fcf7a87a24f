"""The Apprise channel through Apprise's own generic ``json://`` target, to a real HTTP
receiver on 127.0.0.1 (as a Slack or ntfy endpoint would be reached)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from notifications import outbox as protocol
from notifications.base import OrganizationInfo
from notifications.chat import AppriseNotifier, fingerprint
from notifications.config import AppriseSettings
from pipeline.config import Config, parse_config
from pipeline.digest import deliver_owed
from storage.db import Store
from storage.outbox import delivery_counts
from tests.integration.digest_support import (
    ORGANIZATIONS,
    XSS_SCRIPT,
    feed_change,
    free_port,
    page_change,
    record_change,
    started,
)
from tests.integration.receiver_support import Receiver, receiver

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
VARIABLE = "GOVWATCH_APPRISE_URLS"


def apprise_config() -> Config:
    return parse_config(ORGANIZATIONS + f"""
notifications:
  apprise:
    urls_env: {VARIABLE}
""")


def json_url(target: Receiver, path: str = "chat") -> str:
    return f"json://127.0.0.1:{target.port}/{path}"


def messages(target: Receiver) -> list[tuple[str, str]]:
    """(title, message) of what the receiver took, in order."""
    return [(post.json["title"], post.json["message"]) for post in target.taken]


def test_down_for_two_runs_then_up_sends_each_organization_once(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    target = Receiver(free_port(), secret=None)
    monkeypatch.setenv(VARIABLE, json_url(target))
    config = apprise_config()
    started(config, store)
    oecd = record_change(store, "oecd-news", page_change("Call for experts",
                                                          "https://oecd.ai/call", "x"))
    unidir = record_change(store, "unidir-feed", feed_change("AI Security Report",
                                                             "https://unidir.org/r"))
    report = deliver_owed(config, store, NOW)               # 1: connection refused
    assert not report.ok and "Connection error" in str(report.channels[0].error)
    target.answer = 503
    with receiver(target):
        report = deliver_owed(config, store, NOW)           # 2: 503
    assert not report.ok and target.taken == [] and len(target.posts) == 1
    target.answer = 200
    with receiver(target):
        report = deliver_owed(config, store, NOW)           # 3: up
        again = deliver_owed(config, store, NOW)
    assert report.ok and again.channels[0].messages_sent == 0
    titles = Counter(title for title, _ in messages(target))
    assert titles == Counter({"govwatch: OECD (1 change)": 1, "govwatch: UNIDIR (1 change)": 1})
    texts = dict(messages(target))
    assert "New document: Call for experts https://oecd.ai/call" in texts[
        "govwatch: OECD (1 change)"]
    assert "OECD.AI news: 1 line(s) added, 1 removed https://oecd.ai/en/news" in texts[
        "govwatch: OECD (1 change)"]
    assert "AI Security Report https://unidir.org/r" in texts["govwatch: UNIDIR (1 change)"]
    assert delivery_counts(store)[("apprise", "delivered")] == 2
    assert {oecd, unidir} == {row[0] for row in store.db.execute(
        "SELECT change_id FROM deliveries WHERE channel = 'apprise' AND state = 'delivered'")}
    # The stored messages name their target without the URL (a token may be in it).
    stored = [row[0] for row in store.db.execute("SELECT recipients FROM digest_messages")]
    assert stored and all(json_url(target) not in r and fingerprint(json_url(target)) in r
                          for r in stored)


def test_two_services_each_get_each_organization_once(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """One service down does not make the other receive twice when it comes back."""
    up, down = Receiver(free_port(), secret=None), Receiver(free_port(), secret=None)
    monkeypatch.setenv(VARIABLE, f"{json_url(up, 'a')}  {json_url(down, 'b')}")
    config = apprise_config()
    started(config, store)
    record_change(store, "oecd-news", page_change("Call", "https://oecd.ai/call", "x"))
    with receiver(up):
        first = deliver_owed(config, store, NOW)
        with receiver(down):
            second = deliver_owed(config, store, NOW)
    assert not first.ok and second.ok
    assert [title for title, _ in messages(up)] == ["govwatch: OECD (1 change)"]
    assert [title for title, _ in messages(down)] == ["govwatch: OECD (1 change)"]


def test_the_change_page_is_linked_when_the_site_is_public(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    target = Receiver(free_port(), secret=None)
    monkeypatch.setenv(VARIABLE, json_url(target))
    config = apprise_config()
    started(config, store)
    change_id = record_change(store, "oecd-news", page_change(XSS_SCRIPT, "javascript:x", "x"))
    assert config.notifications.apprise is not None
    notifier = AppriseNotifier(config.notifications.apprise,
                               (OrganizationInfo("oecd", "OECD"),),
                               "https://watch.example.org/govwatch/")
    with receiver(target):
        report = protocol.deliver(store, [notifier], 3, NOW)
    assert report.ok
    (title, text), = messages(target)
    assert title == "govwatch: OECD (1 change)"
    assert f"https://watch.example.org/govwatch/change/{change_id}.html" in text
    assert "https://oecd.ai/en/news" not in text  # the change page, rather than the source
    assert f"New document: {XSS_SCRIPT}" in text and "javascript:x" not in text


def test_a_url_that_left_the_variable_is_recorded_failed(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Receiver(free_port(), secret=None), Receiver(free_port(), secret=None)
    monkeypatch.setenv(VARIABLE, json_url(old))
    config = apprise_config()
    started(config, store)
    record_change(store, "oecd-news", page_change("Call", "https://oecd.ai/call", "x"))
    assert not deliver_owed(config, store, NOW).ok          # old is down: stays sending
    monkeypatch.setenv(VARIABLE, json_url(new))
    with receiver(new):
        report = deliver_owed(config, store, NOW)
    assert report.channels[0].failed and "no longer in GOVWATCH_APPRISE_URLS" in (
        report.channels[0].failed[0])
    assert delivery_counts(store)[("apprise", "failed")] == 1 and new.posts == []


def test_missing_variable_fixes_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    config = apprise_config()
    started(config, store)
    record_change(store, "oecd-news", page_change("Call", "https://oecd.ai/call", "x"))
    report = deliver_owed(config, store, NOW)
    assert VARIABLE in str(report.channels[0].error)
    assert delivery_counts(store)[("apprise", "pending")] == 1


def test_settings_need_the_variable_name() -> None:
    with pytest.raises(ValueError, match="urls_env"):
        AppriseSettings.model_validate({"enabled": True})
