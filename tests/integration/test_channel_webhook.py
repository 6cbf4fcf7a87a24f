"""The webhook channel against a real HTTP receiver on 127.0.0.1.

The receiver checks every signature and takes each Idempotency-Key once, as a careful
service would; the tests count what it took, and what it was sent.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from pipeline.cli.group import cli
from pipeline.config import Config, parse_config
from pipeline.digest import deliver_owed
from storage.db import Store
from storage.outbox import delivery_counts
from tests.integration.digest_support import (
    ORGANIZATIONS,
    feed_change,
    free_port,
    page_change,
    record_change,
    record_failure,
    started,
)
from tests.integration.receiver_support import SECRET, Receiver, receiver

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def webhook_config(url: str, per: str = "digest", extra: str = "") -> Config:
    return parse_config(ORGANIZATIONS + f"""
notifications:
  alert_after_failures: 2
  webhook:
    url: {url}
    secret_env: GOVWATCH_WEBHOOK_SECRET
    per: {per}
    attempts: 2
    backoff: 0.01s
    timeout: 5s
{extra}
""")


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVWATCH_WEBHOOK_SECRET", SECRET)


def taken_change_ids(target: Receiver) -> list[int]:
    return [c["change_id"] for post in target.taken for c in post.json["changes"]]


@pytest.mark.parametrize("per", ["digest", "change"])
def test_down_for_two_runs_then_up_delivers_each_change_once(
        store: Store, per: str) -> None:
    target = Receiver(free_port())
    config = webhook_config(target.url, per)
    started(config, store)
    first = [record_change(store, "oecd-news", page_change("Call", "https://oecd.ai/c", "x")),
             record_change(store, "unidir-feed", feed_change("Report", "https://unidir.org/r"))]

    # Run 1: nothing listens on the port (connection refused).
    report = deliver_owed(config, store, NOW)
    assert not report.ok and "ConnectError" in str(report.channels[0].error)
    # Per digest, both are in the one digest fixed; per change, the first is fixed and the
    # second waits: nothing more is fixed while the receiver is down.
    counts = delivery_counts(store)
    assert (counts[("webhook", "sending")], counts.get(("webhook", "pending"), 0)) == (
        (2, 0) if per == "digest" else (1, 1))

    # Run 2: the receiver is there but answers 503.
    second = record_change(store, "oecd-news", page_change("Draft", "https://oecd.ai/d", "y"))
    target.answer = 503
    with receiver(target):
        report = deliver_owed(config, store, NOW)
    assert not report.ok and "HTTP 503" in str(report.channels[0].error)
    refused_keys = [p.headers["idempotency-key"] for p in target.posts]
    assert target.taken == [] and target.bad_signatures == 0

    # Run 3: up. Everything owed arrives, each change in exactly one taken POST.
    target.answer = 200
    with receiver(target):
        report = deliver_owed(config, store, NOW)
        assert report.ok, report
        again = deliver_owed(config, store, NOW)  # nothing left: nothing sent
    assert again.channels[0].messages_sent == 0
    assert sorted(taken_change_ids(target)) == sorted([*first, second])
    assert Counter(taken_change_ids(target)).most_common(1)[0][1] == 1
    assert target.bad_signatures == 0
    sent_keys = [p.headers["idempotency-key"] for p in target.posts]
    assert len(set(sent_keys)) == len(sent_keys) - len(refused_keys), \
        "each POST that was refused is sent again, once taken, under the same key"
    assert set(refused_keys) <= {p.headers["idempotency-key"] for p in target.taken}
    expected_posts = 1 + 1 if per == "digest" else 3
    assert len(target.taken) == expected_posts
    assert delivery_counts(store)[("webhook", "delivered")] == 3
    # The body names each change's id and its monitor's URL.
    urls = {c["change_id"]: c["monitor_url"] for p in target.taken for c in p.json["changes"]}
    assert urls == {first[0]: "https://oecd.ai/en/news", first[1]: "https://unidir.org/feed/",
                    second: "https://oecd.ai/en/news"}


def test_a_4xx_is_recorded_failed_with_the_reason_and_not_resent(store: Store) -> None:
    target = Receiver(free_port(), answer=422, answer_body=b"unknown field: per")
    config = webhook_config(target.url, "change")
    started(config, store)
    refused = record_change(store, "oecd-news", page_change("A", "https://oecd.ai/a", "a"))
    with receiver(target):
        report = deliver_owed(config, store, NOW)
        assert len(target.posts) == 1, "a 4xx is not tried again within the run"
        target.answer = 200
        later = record_change(store, "oecd-news", page_change("B", "https://oecd.ai/b", "b"))
        after = deliver_owed(config, store, NOW)
    part = report.channels[0]
    assert part.error is None and len(part.failed) == 1
    assert "HTTP 422" in part.failed[0] and "unknown field: per" in part.failed[0]
    state, error = store.db.execute(
        "SELECT state, last_error FROM deliveries WHERE change_id = ?", [refused]).fetchone()
    assert state == "failed" and "HTTP 422" in error and "unknown field: per" in error
    assert store.db.execute("SELECT state FROM digest_messages WHERE last_error = ?",
                            [error]).fetchone() == ("failed",)
    # The next run sends only the new change: the refused one is never sent again.
    assert after.ok and taken_change_ids(target) == [later]
    assert len(target.posts) == 2


def test_a_wrong_secret_is_refused_by_the_receiver(store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVWATCH_WEBHOOK_SECRET", "not-the-shared-secret")
    target = Receiver(free_port())
    config = webhook_config(target.url)
    started(config, store)
    change_id = record_change(store, "oecd-news", page_change("A", "https://oecd.ai/a", "a"))
    with receiver(target):
        report = deliver_owed(config, store, NOW)
    assert target.bad_signatures == 1 and target.taken == []
    assert "HTTP 401" in report.channels[0].failed[0]
    assert store.db.execute("SELECT state FROM deliveries WHERE change_id = ?",
                            [change_id]).fetchone() == ("failed",)


def test_a_missing_secret_fixes_nothing_and_sends_nothing(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVWATCH_WEBHOOK_SECRET")
    target = Receiver(free_port())
    config = webhook_config(target.url)
    started(config, store)
    record_change(store, "oecd-news", page_change("A", "https://oecd.ai/a", "a"))
    with receiver(target):
        report = deliver_owed(config, store, NOW)
    assert "GOVWATCH_WEBHOOK_SECRET" in str(report.channels[0].error)
    assert target.posts == [] and delivery_counts(store)[("webhook", "pending")] == 1


def test_alerts_go_out_and_the_cli_delivers(store: Store, tmp_path: Path) -> None:
    target = Receiver(free_port())
    config_path = tmp_path / "config.yaml"
    config_path.write_text(ORGANIZATIONS + f"""
notifications:
  alert_after_failures: 2
  webhook: {{url: "{target.url}", secret_env: GOVWATCH_WEBHOOK_SECRET}}
""")
    started(parse_config(config_path.read_text()), store)
    record_failure(store, "oecd-news", "2026-11-28T10:00:00.000+00:00", "ConnectFailed: x")
    record_failure(store, "oecd-news", "2026-11-28T10:05:00.000+00:00", "ConnectFailed: x")
    change_id = record_change(store, "unidir-pubs", page_change("R", "https://unidir.org/r", "r"))
    with receiver(target):
        result = CliRunner().invoke(cli, ["--config", str(config_path), "--db", str(store.path),
                                          "digest", "--channel", "webhook"])
    assert result.exit_code == 0, result.output
    assert "digest webhook: 2 item(s) delivered, 1 message(s) sent" in result.output
    body = target.taken[0].json
    assert [c["change_id"] for c in body["changes"]] == [change_id]
    assert [(a["monitor_id"], a["kind"], a["failures"]) for a in body["alerts"]] == [
        ("oecd-news", "failing", 2)]
    assert target.taken[0].headers["content-type"] == "application/json"


# -- the documented schema -----------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"
_TYPES = {"integer": (int,), "string": (str,), "number": (int, float), "boolean": (bool,),
          "array": (list,), "string or null": (str, type(None))}


def documented_fields() -> dict[str, str]:
    """field path -> type, from the table under "The webhook body" in notifications.md."""
    text = DOCS.read_text()
    section = text[text.index("### The webhook body"):]
    section = section[: section.index("\n## ")]
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+?) \|", section, re.MULTILINE)
    return dict(rows)


def fields_of(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every field path of a JSON value (``changes[].documents[].url``) -> one value."""
    found: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        found[path] = item
        children = item if isinstance(item, list) else []
        for child in children:
            if isinstance(child, dict):
                found.update(fields_of(child, f"{path}[]."))
    return found


def test_a_real_body_has_exactly_the_documented_fields_and_types(store: Store) -> None:
    target = Receiver(free_port())
    config = webhook_config(target.url)
    started(config, store)
    record_failure(store, "oecd-news", "2026-11-28T10:00:00.000+00:00", "ConnectFailed: x")
    record_failure(store, "oecd-news", "2026-11-28T10:05:00.000+00:00", "ConnectFailed: x")
    change_id = record_change(store, "unidir-pubs",
                              page_change("Report", "https://unidir.org/r", "Report (PDF)"))
    with receiver(target):
        assert deliver_owed(config, store, NOW).ok
    body = target.taken[0].json
    documented = documented_fields()
    actual = fields_of(body)
    assert body["schema_version"] == 1 and body["delivery_id"] == (
        target.taken[0].headers["idempotency-key"])
    assert body["changes"][0]["change_id"] == change_id
    assert body["changes"][0]["monitor_url"] == "https://unidir.org/publications"
    assert sorted(actual) == sorted(documented), "the body and the docs disagree"
    wrong = [f"{path}: {type(actual[path]).__name__}, documented {kind}"
             for path, kind in documented.items()
             if not isinstance(actual[path], _TYPES[kind])
             or (kind in ("integer", "number") and isinstance(actual[path], bool))]
    assert not wrong


def test_killed_after_the_receiver_took_it_resends_under_the_same_key(tmp_path: Path) -> None:
    """The one duplicate window: the receiver answered 200, the process died before the
    commit. The resend is the same bytes under the same Idempotency-Key, so a receiver
    that remembers keys takes the change once."""
    target = Receiver(free_port())
    config_path = tmp_path / "config.yaml"
    config_path.write_text(ORGANIZATIONS + f"""
notifications:
  webhook: {{url: "{target.url}", secret_env: GOVWATCH_WEBHOOK_SECRET, per: change}}
""")
    db = tmp_path / "govwatch.db"
    with Store(db) as store:
        started(parse_config(config_path.read_text()), store)
        change_id = record_change(store, "oecd-news", page_change("A", "https://oecd.ai/a", "a"))
    command = [sys.executable, "-c", "from pipeline.cli.main import main; main()",
               "--config", str(config_path), "--db", str(db), "digest"]
    environment = {**os.environ, "GOVWATCH_WEBHOOK_SECRET": SECRET}
    with receiver(target):
        crashed = subprocess.run(
            command, env={**environment, "GOVWATCH_TEST_CRASH_AFTER_SEND": "1"},
            capture_output=True, timeout=60, check=False, cwd=tmp_path)
        assert crashed.returncode == 137, crashed.stderr
        with Store(db) as store:
            assert delivery_counts(store) == {("webhook", "sending"): 1}
        again = subprocess.run(command, env=environment, capture_output=True, timeout=60,
                               check=False, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
    first, resent = target.posts
    assert first.body == resent.body
    assert first.headers["idempotency-key"] == resent.headers["idempotency-key"]
    assert taken_change_ids(target) == [change_id]
    with Store(db) as store:
        assert delivery_counts(store) == {("webhook", "delivered"): 1}


@pytest.mark.integration
def test_govwatch_run_with_the_receiver_down_twice_then_up(site: Any, tmp_path: Path) -> None:
    """Three `govwatch run`s, each finding a change: refused, 503, then up."""
    target = Receiver(free_port())
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database: {tmp_path / 'govwatch.db'}\n"
        "organizations:\n  - id: aisi\n    name: AI Security Institute\n    monitors:\n"
        f"      - {{id: guidance, kind: page, url: '{site.url('/guidance')}'}}\n"
        f"notifications:\n  webhook:\n    url: {target.url}\n"
        "    secret_env: GOVWATCH_WEBHOOK_SECRET\n    per: change\n    attempts: 2\n"
        "    backoff: 0.01s\n")

    def run(edition: int) -> str:
        site.set("/guidance", f"<main><h1>Guidance</h1><p>Edition {edition}</p></main>")
        result = CliRunner().invoke(cli, ["--config", str(config), "run", "--all"])
        return result.output

    run(0)                                                    # the first version: no change
    assert "CHANGE #1" in run(1) and target.posts == []       # refused
    target.answer = 503
    with receiver(target):
        assert "CHANGE #2" in run(2)
        assert target.taken == [] and len(target.posts) == 2  # one POST, tried twice
        target.answer = 200
        third = run(3)
    assert "CHANGE #3" in third and "digest webhook: 3 item(s) delivered" in third
    assert taken_change_ids(target) == [1, 2, 3]
    assert [p.json["changes"][0]["monitor_url"] for p in target.taken] == [
        site.url("/guidance")] * 3
    assert target.bad_signatures == 0
