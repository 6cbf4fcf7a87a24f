"""Notification settings: the issue's keys load as written, defaults, and bad values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from core.errors import ConfigError
from pipeline.config import parse_config

CASES = Path(__file__).parent / "cases" / "notify_config_errors.yaml"
ORG = ('organizations:\n  - {id: oecd, name: OECD, monitors: '
       '[{id: a, kind: page, url: "https://oecd.ai/"}]}\n')

# The block of the issue, verbatim: deployments rely on these key names.
ISSUE_BLOCK = """
notifications:
  email:
    enabled: true
    smtp: {host: mail.example.org, port: 587, security: starttls, username: govwatch, password_env: GOVWATCH_SMTP_PASSWORD}
    from: govwatch@example.org
    to: [analyst@example.org]
  feed:
    enabled: true
    directory: feeds
    formats: [atom, rss]
    max_entries: 200
digest: after-run
"""  # noqa: E501


def _cases() -> list[dict[str, Any]]:
    return list(YAML(typ="safe").load(CASES.read_text(encoding="utf-8")))


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_bad_notification_config_names_the_line(case: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(case["yaml"], "site.yaml")
    message = str(caught.value)
    assert message.startswith(f"site.yaml:{case['line']}:"), message
    for fragment in case["expect"]:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_the_issue_block_loads_with_its_defaults() -> None:
    config = parse_config(ORG + ISSUE_BLOCK)
    email, feed = config.notifications.email, config.notifications.feed
    assert email is not None and feed is not None
    assert email.sender == "govwatch@example.org" and email.to == ("analyst@example.org",)
    assert email.smtp.security == "starttls" and email.smtp.effective_port == 587
    assert email.smtp.password_env == "GOVWATCH_SMTP_PASSWORD"
    assert email.routes == {} and email.min_significance == 0.0
    assert feed.formats == ("atom", "rss") and feed.max_entries == 200
    assert config.notifications.alert_after_failures == 3
    assert config.digest == "after-run"
    assert list(config.notifications.enabled_channels()) == ["email", "feed"]


@pytest.mark.parametrize(("value", "expected"), [("08:00", "08:00"), ('"23:59"', "23:59"),
                                                 ("after-run", "after-run")])
def test_digest_schedule_values(value: str, expected: str) -> None:
    assert parse_config(ORG + f"digest: {value}\n").digest == expected


def test_no_notifications_by_default_and_ports_by_security() -> None:
    config = parse_config(ORG)
    assert config.notifications.enabled_channels() == {}
    for security, port in (("tls", 465), ("none", 25)):
        text = ORG + ("notifications:\n  email:\n    smtp: {host: h, security: " + security +
                      "}\n    from: a@b.org\n    to: [c@d.org]\n    enabled: false\n")
        email = parse_config(text).notifications.email
        assert email is not None and email.smtp.effective_port == port
        assert parse_config(text).notifications.enabled_channels() == {}


def test_shipped_config_writes_feeds_and_keeps_email_off() -> None:
    from pipeline.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "config.yaml").config
    assert list(config.notifications.enabled_channels()) == ["feed"]
    assert config.notifications.email is not None
    assert config.notifications.email.smtp.password_env == "GOVWATCH_SMTP_PASSWORD"


CONTRACT = """
notifications:
  webhook:
    enabled: true
    url: https://hooks.example.org/govwatch
    secret_env: GOVWATCH_WEBHOOK_SECRET             # HMAC-SHA256 of the body, hex, sent as
                                                    # X-Govwatch-Signature: sha256=<hex>
  apprise:
    enabled: true
    urls_env: GOVWATCH_APPRISE_URLS                 # one or more Apprise URLs, space-separated
"""


def test_the_issue_contract_for_webhook_and_apprise_loads() -> None:
    config = parse_config(ORG + CONTRACT)
    webhook, apprise = config.notifications.webhook, config.notifications.apprise
    assert webhook is not None and apprise is not None
    assert webhook.url == "https://hooks.example.org/govwatch"
    assert webhook.secret_env == "GOVWATCH_WEBHOOK_SECRET" and webhook.per == "digest"
    assert apprise.urls_env == "GOVWATCH_APPRISE_URLS"
    assert list(config.notifications.enabled_channels()) == ["webhook", "apprise"]


@pytest.mark.parametrize("bad", [
    "  webhook: {url: 'ftp://hooks.example.org/x'}\n",
    "  webhook: {url: 'https://h.example.org/', secret_env: 'not a name'}\n",
    "  webhook: {url: 'https://h.example.org/', attempts: 0}\n",
    "  apprise: {urls_env: 'slack://token/token'}\n",
])
def test_bad_webhook_and_apprise_settings_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_config(ORG + "notifications:\n" + bad)
