"""Health: heartbeat freshness and staleness alerts, and the exit code of `govwatch health`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from pipeline.cli.group import cli
from pipeline.config import parse_config
from pipeline.health import health
from storage.db import Store
from storage.records import Check, iso
from storage.runs import RunRecord, record_run

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
YAML = """
database: {db}
defaults: {{stale_after: 3d, expect_run_every: 1h}}
organizations:
  - id: eu
    name: EU
    expect_change_every: 7d
    monitors:
      - {{id: news, kind: page, url: "https://eu.example/news"}}
      - {{id: dead, kind: page, url: "https://eu.example/dead"}}
"""


def seeded(tmp_path: Path) -> tuple[Path, Store]:
    db = tmp_path / "gw.db"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(YAML.format(db=db), encoding="utf-8")
    store = Store(db)
    store.sync_monitors(parse_config(config_file.read_text()).organizations)
    return config_file, store


def check(store: Store, monitor: str, when: datetime, outcome: str) -> None:
    store.record(Check(monitor_id=monitor, started_at=iso(when), duration_ms=1,
                       url="https://eu.example/", outcome=outcome,
                       error="boom" if outcome == "error" else None))


def run_at(store: Store, when: datetime) -> None:
    record_run(store, RunRecord("cron", 1, iso(when - timedelta(minutes=1)), iso(when)))


def test_fresh_run_and_healthy_sources(tmp_path: Path) -> None:
    config_file, store = seeded(tmp_path)
    config = parse_config(config_file.read_text())
    healthy, alerts, _ = health(config, store, NOW)
    assert not healthy and [a.message for a in alerts] == ["no run has finished yet"]
    check(store, "news", NOW - timedelta(hours=2), "new")
    check(store, "dead", NOW - timedelta(hours=2), "new")
    run_at(store, NOW - timedelta(minutes=20))
    assert health(config, store, NOW)[:2] == (True, [])
    healthy, alerts, _ = health(config, store, NOW + timedelta(hours=1))
    assert not healthy and alerts[0].kind == "no-run"
    assert "more than expect_run_every 1h ago" in alerts[0].message
    store.close()


def test_stale_monitor_and_organization_without_change(tmp_path: Path) -> None:
    config_file, store = seeded(tmp_path)
    config = parse_config(config_file.read_text())
    check(store, "news", NOW - timedelta(days=10), "new")
    check(store, "news", NOW - timedelta(hours=1), "unchanged")
    check(store, "dead", NOW - timedelta(days=5), "new")
    check(store, "dead", NOW - timedelta(days=1), "error")
    run_at(store, NOW - timedelta(minutes=5))
    healthy, alerts, _ = health(config, store, NOW)
    assert not healthy
    assert {(a.kind, a.subject) for a in alerts} == {("stale-monitor", "dead"),
                                                     ("no-change", "eu")}
    stale = next(a for a in alerts if a.kind == "stale-monitor")
    assert stale.message == ("eu/dead: no successful check since "
                             f"{iso(NOW - timedelta(days=5))} (stale_after 3d)")
    store.close()


def test_health_command_exit_codes(tmp_path: Path) -> None:
    config_file, store = seeded(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config_file), "health"])
    assert result.exit_code == 1
    assert "ALERT no-run: no run has finished yet" in result.output
    run_at(store, datetime.now(UTC))
    result = runner.invoke(cli, ["--config", str(config_file), "health", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["healthy"] is True
    store.close()
