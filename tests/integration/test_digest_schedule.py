"""Failure alerts, the dry run and the `digest` schedule, over a real SMTP relay."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from core.errors import FailureKind, LockHeld
from core.records import Change
from notifications.outbox import delivery_lock
from pipeline.cli.group import cli
from pipeline.config import parse_config
from pipeline.digest import deliver_owed, digest_stage
from storage.db import Store
from storage.outbox import delivery_counts
from tests.integration.digest_support import (
    config_text,
    database_with_one_change,
    free_port,
    record_change,
    record_failure,
    record_success,
    smtp_server,
    started,
)

T = "2026-11-28T{}:00.000+00:00"


def alert_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.startswith("! ")]


REFUSED = FailureKind.CONNECT_FAILED.message("refused")
TIMED_OUT = FailureKind.FETCH_TIMEOUT.message("30s")


def test_failing_monitor_is_alerted_once_and_once_more_when_it_recovers(
    store: Store, tmp_path: Path
) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "f"))
        started(config, store)
        record_failure(store, "oecd-news", T.format("10:00"), REFUSED)
        record_failure(store, "oecd-news", T.format("10:10"), REFUSED)
        deliver_owed(config, store)  # two failures: below the threshold, nothing to send
        assert mailbox.messages == []
        record_failure(store, "oecd-news", T.format("10:20"), TIMED_OUT)
        record_failure(store, "oecd-news", T.format("10:30"), TIMED_OUT)
        first = deliver_owed(config, store)
        assert first.alerts_recorded == 1
        record_failure(store, "oecd-news", T.format("10:40"), TIMED_OUT)
        deliver_owed(config, store)  # still failing: no second alert
        record_success(store, "oecd-news", T.format("10:50"))
        deliver_owed(config, store)
        deliver_owed(config, store)
    assert len(mailbox.messages) == 2
    failing, recovered = (m.part("plain") for m in mailbox.messages)
    assert alert_lines(failing) == [
        f"! FAILING: OECD.AI news failed 3 checks in a row since {T.format('10:20')}"]
    assert "last error: FetchTimeout: 30s" in failing
    assert "https://oecd.ai/en/news" in failing
    assert mailbox.messages[0].message["Subject"] == "[govwatch] 0 changes, 1 alert: OECD"
    assert alert_lines(recovered) == [
        f"! RECOVERED: OECD.AI news answers again ({T.format('10:50')})"]
    assert "Recovered:" in mailbox.messages[1].part("html")


def test_a_streak_between_two_digests_still_gives_both_alerts(
    store: Store, tmp_path: Path
) -> None:
    with smtp_server() as mailbox:
        config = parse_config(config_text(mailbox.port, tmp_path / "f",
                                          top_extra="  alert_after_failures: 2"))
        started(config, store)
        deliver_owed(config, store)
        for minute in ("00", "01"):
            record_failure(store, "unidir-feed", T.format(f"11:{minute}"), "HTTP 503")
        record_success(store, "unidir-feed", T.format("11:02"))
        record_change(store, "unidir-feed", Change("feed", "1 new entry: X", ""))
        deliver_owed(config, store)
    assert len(mailbox.messages) == 1
    assert [line.split(":")[0] for line in alert_lines(mailbox.messages[0].part("plain"))] == [
        "! FAILING", "! RECOVERED"]


def test_dry_run_prints_the_email_and_writes_nothing(tmp_path: Path) -> None:
    with smtp_server() as mailbox:
        config_path, db, change_id = database_with_one_change(
            mailbox.port, tmp_path, Change("text", "new call", "+Call"))
        before = hashlib.sha256(db.read_bytes()).hexdigest()
        args = ["--config", str(config_path), "--db", str(db), "digest", "--dry-run"]
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "Subject: [govwatch] 1 change: OECD" in result.output
        assert "To: analyst@example.org, second@example.org" in result.output
        assert f"* change #{change_id} [text]" in result.output
        assert "+ Call" in result.output and "https://oecd.ai/en/news" in result.output
        assert "feed: would add 1 change(s)" in result.output
        assert mailbox.messages == []
    with Store(db) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for table in ("deliveries", "digests", "digest_messages", "alerts"):
            assert store.db.table(table).count == 0, table
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not (tmp_path / "feeds").exists()


def test_a_time_of_day_sends_once_on_the_first_run_after_it(
    store: Store, tmp_path: Path
) -> None:
    port = free_port()
    config = parse_config(config_text(port, tmp_path / "f", top_extra='digest: "08:00"'))
    started(config, store)
    record_change(store, "oecd-news", Change("text", "c1", "+1"))

    def at(day: int, hour: int, minute: int) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=UTC)

    assert digest_stage(config, store, at(28, 7, 59)) is None
    down = digest_stage(config, store, at(28, 8, 5))  # due, but the relay is down
    assert down is not None and not down.ok
    with smtp_server(port) as mailbox:
        retried = digest_stage(config, store, at(28, 8, 20))  # retried the same day
        assert retried is not None and retried.ok
        record_change(store, "oecd-news", Change("text", "c2", "+2"))
        assert digest_stage(config, store, at(28, 12, 0)) is None  # once a day
        assert digest_stage(config, store, at(29, 7, 0)) is None
        assert digest_stage(config, store, at(29, 8, 0)) is not None
    assert [len(m.change_ids()) for m in mailbox.messages] == [1, 1]


def test_after_run_delivers_every_time(store: Store, tmp_path: Path) -> None:
    config = parse_config(config_text(free_port(), tmp_path / "f"))
    started(config, store)
    assert config.digest == "after-run"
    report = digest_stage(config, store, datetime(2026, 11, 28, 3, 0, tzinfo=UTC))
    assert report is not None and [c.channel for c in report.channels] == ["email", "feed"]


def test_digest_command_exits_1_and_keeps_the_change_when_the_relay_is_down(
    tmp_path: Path
) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(config_text(free_port(), tmp_path / "feeds"))
    db = tmp_path / "govwatch.db"
    with Store(db) as store:
        started(parse_config(config_path.read_text()), store)
        record_change(store, "oecd-news", Change("text", "c", "+1"))
    result = CliRunner().invoke(cli, ["--config", str(config_path), "--db", str(db), "digest",
                                      "--channel", "email"])
    assert result.exit_code == 1
    assert "digest email: 0 item(s) delivered, 0 message(s) sent; FAILED" in result.output
    assert "error: email: cannot reach SMTP server 127.0.0.1" in result.output
    with Store(db) as store:
        assert delivery_counts(store) == {("email", "pending"): 1}


def test_a_second_delivery_run_waits_for_the_lock(store: Store, tmp_path: Path) -> None:
    config = parse_config(config_text(free_port(), tmp_path / "f"))
    started(config, store)
    with delivery_lock(store):
        with pytest.raises(LockHeld, match="another govwatch process is delivering"):
            deliver_owed(config, store)
        assert digest_stage(config, store) is None  # a run goes on without its digest
